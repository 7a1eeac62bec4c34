"""Attested launch with the simulation TEE, end to end: arcad + arca-run + an unmodified shell
program on loopback. Secrets arrive in the environment, the arguments and an injected file;
nothing of the host environment leaks in; pwd is set; the file never exists on disk."""
import os
import re

import pytest

from launch_util import (ARCA_RUN, KeyPair, attestation_events, measure, run_arca_run, session_yaml,
                         upload_session, write_program)


@pytest.fixture(scope="module")
def creator(tmp_path_factory):
    return KeyPair(str(tmp_path_factory.mktemp("creator")), "creator")


def parse_output(path):
    lines = open(path).read().splitlines()
    out = {"env": {}}
    for ln in lines:
        if ln.startswith("env:"):
            k, _, v = ln[4:].partition("=")
            out["env"][k] = v
        else:
            k, _, v = ln.partition("=")
            out[k] = v
    return out


def test_secrets_arrive(arcad, creator, tmp_path):
    prog = write_program(tmp_path)
    m = measure(prog)
    assert re.fullmatch(r"[0-9a-f]{64}", m)
    upload_session(arcad, creator, session_yaml("launch-ok", m))
    out = str(tmp_path / "out.txt")
    r = run_arca_run(arcad, "launch-ok/app", prog, [out],
                     env={"HOST_SECRET": "must-not-leak", "FROM_HOST": "pulled-in"})
    assert r.returncode == 0, r.stderr
    got = parse_output(out)
    pw = got["env"]["PW"]
    assert len(pw) == 24
    assert got["argv"] == "--pw %s" % pw  # @@1 (the output path) was $1; the secret in argv
    assert got["file"] == "password=" + pw                  # injected file, templated
    assert got["pwd"] == "/tmp"
    assert got["env"]["GREETING"] == "hello"
    assert got["env"]["FROM_HOST"] == "pulled-in"           # \@\@NAME from the host
    for k in ("HOST_SECRET", "ARCA_CAS_KEY", "ARCA_CONFIG_ID", "HOME"):
        assert k not in got["env"], k
    # The injected file never reached the disk, and the secret is in no log.
    assert not os.path.exists("/etc/arca-e2e/launch-ok")
    assert pw not in r.stderr and pw not in r.stdout
    assert pw not in arcad.logs()
    assert pw not in arcad.audit()
    ev = [e for e in attestation_events(arcad) if e["session"] == "launch-ok"]
    assert ev[-1]["outcome"] == "accepted"
    assert ev[-1]["measurement"] == m
    assert ev[-1]["evidence_type"] == "sim"


def test_scone_aliases_and_list_command(arcad, creator, tmp_path):
    prog = write_program(tmp_path)
    m = measure(prog)
    upload_session(arcad, creator, session_yaml(
        "launch-alias", m, command='["prog.sh", "@@1", "two words", "$$SCONE::pw$$"]'))
    out = str(tmp_path / "out.txt")
    r = run_arca_run(arcad, "ignored/app", prog, [out],
                     env={"ARCA_CAS_ADDR": "", "ARCA_CONFIG_ID": "",
                          "SCONE_CAS_ADDR": "127.0.0.1:%d" % arcad.enclave,
                          "SCONE_CONFIG_ID": "launch-alias/app"})
    assert r.returncode == 0, r.stderr
    got = parse_output(out)
    assert got["argv"] == "two words %s" % got["env"]["PW"]


def test_program_not_run_when_refused(arcad, creator, tmp_path):
    prog = write_program(tmp_path)
    other = write_program(tmp_path, "other.sh", open(prog).read() + "# changed\n")
    upload_session(arcad, creator, session_yaml("launch-other", measure(prog)))
    out = str(tmp_path / "out.txt")
    r = run_arca_run(arcad, "launch-other/app", other, [out])
    assert r.returncode != 0
    assert not os.path.exists(out)
    assert "refused" in r.stderr
    ev = [e for e in attestation_events(arcad) if e["session"] == "launch-other"][-1]
    assert ev["outcome"] == "refused"
    assert ev["measurement"] == measure(other)
    assert "simulation measurement differs" in ev["reason"]


def test_measure_cli(tmp_path):
    prog = write_program(tmp_path)
    import hashlib
    assert measure(prog) == hashlib.sha256(open(prog, "rb").read()).hexdigest()


def test_unprivileged_user_namespace(arcad, creator, tmp_path):
    """arca-run started by an ordinary user (nobody) still gets its private mount namespace,
    through an unprivileged user namespace, and the injected file appears for the program."""
    import shutil
    import subprocess
    import tempfile
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root to become nobody (setpriv)")
    d = tempfile.mkdtemp(prefix="arca-unpriv-")
    try:
        os.chmod(d, 0o777)
        prog = write_program(d)
        os.chmod(prog, 0o755)
        sim = os.path.join(d, "sim")
        os.mkdir(sim, 0o700)
        os.chown(sim, 65534, 65534)
        upload_session(arcad, creator, session_yaml("launch-unpriv", measure(prog)))
        out = os.path.join(d, "out.txt")
        env = {"PATH": "/usr/bin:/bin", "ARCA_CAS_ADDR": "127.0.0.1:%d" % arcad.enclave,
               "ARCA_CONFIG_ID": "launch-unpriv/app", "ARCA_CAS_KEY": arcad.cas_key,
               "ARCA_TEE": "sim", "ARCA_SIM_DIR": sim}
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            ARCA_RUN, prog, out],
                           capture_output=True, text=True, env=env, timeout=60)
        if "cannot get a private mount namespace" in r.stderr:
            pytest.skip("unprivileged user namespaces are disabled here")
        assert r.returncode == 0, r.stderr
        got = parse_output(out)
        assert got["file"] == "password=" + got["env"]["PW"]
        assert os.stat(out).st_uid == 65534  # the program kept the caller's identity
    finally:
        shutil.rmtree(d, ignore_errors=True)
