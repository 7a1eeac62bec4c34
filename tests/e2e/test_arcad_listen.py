"""arcad's listen addresses are checked before any state is created: a second arcad on a taken
port is refused (its SO_REUSEPORT listeners would otherwise join the first one's group and take
part of its connections), the client and enclave APIs may not share a port, and an address that
does not parse is a usage error (exit 2) that leaves no data directory behind."""
import os
import subprocess

from conftest import ARCAD, https_json


def run_arcad(tmp_path, *args):
    data = str(tmp_path / "second-data")
    sim = str(tmp_path / "sim2")
    os.makedirs(sim, mode=0o700, exist_ok=True)
    p = subprocess.run([ARCAD, "--data-dir", data, "--sim-dir", sim, "--workers", "1"] + list(args),
                       capture_output=True, text=True, timeout=30)
    return p, data


def test_taken_port_refused_and_first_keeps_serving(arcad_factory, tmp_path):
    first = arcad_factory()
    for flag, port in (("--client-listen", first.client), ("--enclave-listen", first.enclave)):
        other = "--enclave-listen" if flag == "--client-listen" else "--client-listen"
        p, data = run_arcad(tmp_path, flag, "127.0.0.1:%d" % port, other, "127.0.0.1:0")
        assert p.returncode == 1, (p.stdout, p.stderr)
        assert "%s 127.0.0.1:%d: cannot listen: Address already in use" % (flag, port) in p.stderr
        assert "arcad ready" not in p.stdout
        assert not os.path.exists(data), "state created before the address check"
    st, v = https_json(first, None, "GET", "/healthz")
    assert st == 200 and v["status"] == "ok"


def test_client_and_enclave_on_one_port(tmp_path):
    for client in ("127.0.0.1:45999", "0.0.0.0:45999"):
        p, data = run_arcad(tmp_path, "--client-listen", client,
                            "--enclave-listen", "127.0.0.1:45999")
        assert p.returncode == 2, (p.stdout, p.stderr)
        assert "the two APIs need different ports" in p.stderr
        assert not os.path.exists(data)


def test_metrics_on_an_api_port(tmp_path):
    p, data = run_arcad(tmp_path, "--client-listen", "127.0.0.1:45998",
                        "--enclave-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:45998")
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "--metrics-listen 127.0.0.1:45998: its port is already used" in p.stderr


def test_unparsable_address_is_usage_error(tmp_path):
    for bad in ("bogus", "127.0.0.1:99999", ""):
        p, data = run_arcad(tmp_path, "--client-listen", bad, "--enclave-listen", "127.0.0.1:0")
        assert p.returncode == 2, (bad, p.stdout, p.stderr)
        assert "--client-listen" in p.stderr
        assert not os.path.exists(data)
