"""arca-run checks its environment before anything else: ARCA_CAS_ADDR must be HOST:PORT and
ARCA_CONFIG_ID SESSION/SERVICE[@OTP]; a typo names the variable, nothing is contacted, the
program does not run, and an OTP after '@' is never echoed."""
import os
import subprocess

BIN = os.environ.get("ARCA_BIN_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
ARCA_RUN = os.path.join(BIN, "arca-run")
KEY = "ab" * 32


def run(tmp_path, addr, config_id):
    out = tmp_path / "ran"
    prog = tmp_path / "prog.sh"
    prog.write_text("#!/bin/sh\ntouch '%s'\n" % out)
    prog.chmod(0o755)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ARCA_TEE": "sim",
           "ARCA_SIM_DIR": str(tmp_path / "sim"), "ARCA_CAS_ADDR": addr,
           "ARCA_CONFIG_ID": config_id, "ARCA_CAS_KEY": KEY}
    p = subprocess.run([ARCA_RUN, str(prog)], capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert not out.exists(), "the program ran"
    assert "attesting" not in p.stderr, "contacted the CAS before checking the environment"
    return p.stderr


def test_bad_cas_addr(tmp_path):
    for addr in ("127.0.0.1", "127.0.0.1:", ":8081", "127.0.0.1:0", "127.0.0.1:70000",
                 "127.0.0.1:80x"):
        err = run(tmp_path, addr, "s/app")
        assert "ARCA_CAS_ADDR '%s' is not HOST:PORT" % addr in err, err


def test_bad_config_id(tmp_path):
    for cid, shown in (("app", "app"), ("/app", "/app"), ("s/", "s/"), ("@123456", ""),
                       ("s@123456", "s"), ("s/@123456", "s/")):
        err = run(tmp_path, "127.0.0.1:1", cid)
        assert "ARCA_CONFIG_ID '%s' is not SESSION/SERVICE[@OTP]" % shown in err, err
        assert "123456" not in err, "the one-time password was echoed"
