"""arcad's evidence configuration end to end: --collateral loaded once at start (and refused at
start when unreadable), $ARCA_COLLATERAL as fallback, --pcs-url answered from the on-disk cache
under DATA_DIR/collateral-cache, the verification cache's counters in /metrics, and arcad
surviving peers that reset TLS connections mid-handshake and mid-answer (SIGPIPE ignored).
No network: the PCS URL is a closed loopback port."""
import os
import shutil
import socket
import ssl
import struct
import subprocess
import time

from conftest import ARCAD, metrics
from launch_util import last_refusal, run_arca_run, write_program

VEC = os.environ.get("ARCA_TESTVECTORS") or os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "testvectors")
PHALA = os.path.join(VEC, "phala-dcap-qvl")


def start_fails(tmp_path, *args, env=None):
    e = dict(os.environ)
    e.pop("ARCA_COLLATERAL", None)
    e.pop("ARCA_SNP_CERTS", None)
    if env:
        e.update(env)
    sim = tmp_path / "sim"
    sim.mkdir(mode=0o700, exist_ok=True)
    r = subprocess.run([ARCAD, "--data-dir", str(tmp_path / "data"), "--client-listen",
                        "127.0.0.1:0", "--enclave-listen", "127.0.0.1:0", "--sim-dir", str(sim),
                        *args], capture_output=True, text=True, timeout=30, env=e)
    assert r.returncode != 0
    return r.stderr


def test_unreadable_collateral_refused_at_start(tmp_path):
    err = start_fails(tmp_path, "--collateral", "/nonexistent/collateral.json")
    assert "--collateral" in err and "/nonexistent/collateral.json" in err
    bad = tmp_path / "bad.json"
    bad.write_text("not collateral")
    err = start_fails(tmp_path, "--collateral", str(bad))
    assert "--collateral" in err and str(bad) in err
    # The environment variable is the flag's fallback, so it is checked the same way.
    err = start_fails(tmp_path, env={"ARCA_COLLATERAL": "/nonexistent/env-collateral"})
    assert "/nonexistent/env-collateral" in err
    err = start_fails(tmp_path, "--snp-certs", "/nonexistent/snp")
    assert "--snp-certs" in err and "/nonexistent/snp" in err


def fake_gramine(dir_, quote):
    os.makedirs(dir_)
    with open(os.path.join(dir_, "attestation_type"), "w") as f:
        f.write("dcap")
    open(os.path.join(dir_, "user_report_data"), "w").close()
    shutil.copy(quote, os.path.join(dir_, "quote"))


def send_sgx_quote(arcad, tmp_path, name):
    """Has arca-run present the SGX vector quote (through a fake Gramine tree) to arcad; the
    vector's REPORTDATA is fixed, so arcad refuses it: returns the audited reason."""
    prog = write_program(tmp_path, name + ".sh", "#!/bin/sh\necho ran > \"$1\"\n")
    g = str(tmp_path / (name + "-attestation"))
    fake_gramine(g, os.path.join(PHALA, "sgx_quote"))
    out = str(tmp_path / (name + ".out"))
    r = run_arca_run(arcad, name + "/app", prog, [out], tee="auto",
                     env={"ARCA_GRAMINE_DIR": g, "ARCA_TSM_DIR": "/nonexistent"})
    assert r.returncode != 0 and not os.path.exists(out)
    ev = last_refusal(arcad, name)
    assert ev["evidence_type"] == "sgx-dcap"
    return ev["reason"]


def counter(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    raise AssertionError("%s not in /metrics" % name)


def test_collateral_flag_used_and_cache_counters(arcad_factory, tmp_path):
    a = arcad_factory(["--collateral", os.path.join(PHALA, "sgx_quote_collateral.json")])
    m = metrics(a)
    assert counter(m, "arcad_collateral_cache_hits_total") == 0
    reason = send_sgx_quote(a, tmp_path, "col1")
    # The collateral was found (no "not configured"); the vector's is past its window today.
    assert "no DCAP collateral configured" not in reason
    assert "sgx-dcap evidence" in reason and "valid from" in reason
    m = metrics(a)
    # The shared cache was consulted (a miss: entries outside their window are not kept; the
    # hits of a warm cache are measured in unit.test_attest_collateral at the vector's time).
    assert counter(m, "arcad_collateral_cache_misses_total") >= 1
    assert a.alive()


def test_pcs_url_served_from_cache(arcad_factory, tmp_path):
    # Port 1 on loopback refuses at once: the PCS is "down", only the cache can answer.
    a = arcad_factory(["--pcs-url", "http://127.0.0.1:1"])
    reason = send_sgx_quote(a, tmp_path, "pcs1")
    assert "127.0.0.1:1" in reason
    cache = os.path.join(a.data, "collateral-cache", "pcs")
    os.makedirs(cache, exist_ok=True)
    for ca in ("processor", "platform"):
        shutil.copy(os.path.join(PHALA, "sgx_quote_collateral.json"),
                    os.path.join(cache, "sgx-00a067110000-%s.json" % ca))
    reason = send_sgx_quote(a, tmp_path, "pcs2")
    # Served from the cache (stale entries are served when the PCS is down), so the refusal
    # is now the verifier's, not the fetch's.
    assert "127.0.0.1:1" not in reason and "valid from" in reason


def reset(sock):
    """Closes with RST instead of FIN (SO_LINGER 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_survives_resets_mid_handshake_and_mid_answer(arcad_factory):
    a = arcad_factory(workers=1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for port in (a.enclave, a.client):
        for _ in range(20):
            # Mid-handshake: a ClientHello, then a reset while arcad sends its flight.
            raw = socket.create_connection(("127.0.0.1", port), timeout=5)
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            obj = ctx.wrap_bio(incoming, outgoing)
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
            raw.sendall(outgoing.read())
            time.sleep(0.005)
            reset(raw)
        for _ in range(20):
            # Mid-answer: pipelined requests, then a reset before reading the answers.
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5))
            s.sendall(b"POST /v1/challenge HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}" * 50)
            reset(s)
    time.sleep(0.5)
    assert a.alive(), a.logs()
    # Still answering.
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", a.enclave), timeout=5))
    s.sendall(b"POST /v1/challenge HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
              b"Connection: close\r\n\r\n{}")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    # Without a client certificate the answer is 401: what matters is that there is one.
    assert data.startswith(b"HTTP/1.1 401"), data
    assert "arcad_connections" in metrics(a)
