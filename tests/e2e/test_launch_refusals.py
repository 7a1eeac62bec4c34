"""Every refusal of the enclave API, each with its own reason in the audit log, and the program
never runs: wrong measurement, evidence for another TLS key (a man in the middle), a replayed
nonce, an expired nonce, simulated evidence without --allow-simulation or without mode
simulation, a platform not listed, a reused one-time password, a missing or wrong service
access token, an unknown session or service."""
import os
import time

import pytest

from launch_util import (EnclaveClient, KeyPair, binding, last_refusal, measure, run_arca_run,
                         session_yaml, sim_evidence, start_arcad_without_simulation, totp,
                         upload_session, write_program)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("keys"))
    return {n: KeyPair(d, n) for n in ("creator", "k1", "k2")}


@pytest.fixture(scope="module")
def prog(tmp_path_factory):
    return write_program(tmp_path_factory.mktemp("prog"))


@pytest.fixture(scope="module")
def good_session(arcad, keys, prog):
    upload_session(arcad, keys["creator"], session_yaml("refuse-base", measure(prog)))
    return "refuse-base/app"


def refused(arcad, r, session, needle, out=None):
    assert r.returncode != 0, r.stdout
    if out is not None:
        assert not os.path.exists(out), "the program ran"
    ev = last_refusal(arcad, session)
    assert needle in ev["reason"], ev
    assert needle in r.stderr, r.stderr  # arca-run says why
    return ev


def test_wrong_measurement(arcad, good_session, tmp_path):
    other = write_program(tmp_path, "evil.sh", "#!/bin/sh\necho pwned > \"$1\"\n")
    out = str(tmp_path / "out")
    r = run_arca_run(arcad, good_session, other, [out])
    ev = refused(arcad, r, "refuse-base", "simulation measurement differs", out)
    assert ev["measurement"] == measure(other)


def test_mitm_other_tls_key(arcad, keys, good_session, prog):
    # The attacker relays a genuine launcher's evidence (bound to k1) over its own connection.
    c = EnclaveClient(arcad, keys["k1"])
    nonce = c.challenge()
    ev = sim_evidence(arcad.sim, bytes.fromhex(measure(prog)),
                      binding(keys["k1"].spki, nonce, good_session))
    status, body = c.attest(good_session, nonce, ev, kp=keys["k2"])
    assert status == 400, body
    e = last_refusal(arcad, "refuse-base")
    assert "man in the middle" in e["reason"]
    assert e["peer_key"] == keys["k2"].key_id


def test_replayed_nonce(arcad, keys, good_session, prog):
    c = EnclaveClient(arcad, keys["k1"])
    nonce = c.challenge()
    ev = sim_evidence(arcad.sim, bytes.fromhex(measure(prog)),
                      binding(keys["k1"].spki, nonce, good_session))
    status, body = c.attest(good_session, nonce, ev)
    assert status == 200, body
    assert "argv" in body
    status, body = c.attest(good_session, nonce, ev)
    assert status == 400, body
    assert "used already" in last_refusal(arcad, "refuse-base")["reason"]


def test_nonce_not_issued(arcad, keys, good_session, prog):
    c = EnclaveClient(arcad, keys["k1"])
    nonce = os.urandom(32)
    ev = sim_evidence(arcad.sim, bytes.fromhex(measure(prog)),
                      binding(keys["k1"].spki, nonce, good_session))
    status, _ = c.attest(good_session, nonce, ev)
    assert status == 401
    assert "not issued" in last_refusal(arcad, "refuse-base")["reason"]


def test_expired_nonce(arcad_factory, keys, prog, monkeypatch):
    monkeypatch.setenv("ARCA_TEST_NONCE_TTL", "1")
    a = arcad_factory(name="shortnonce")
    upload_session(a, keys["creator"], session_yaml("refuse-exp", measure(prog)))
    c = EnclaveClient(a, keys["k1"])
    nonce = c.challenge()
    ev = sim_evidence(a.sim, bytes.fromhex(measure(prog)),
                      binding(keys["k1"].spki, nonce, "refuse-exp/app"))
    time.sleep(2.2)
    status, body = c.attest("refuse-exp/app", nonce, ev)
    assert status == 400, body
    assert "expired" in last_refusal(a, "refuse-exp")["reason"]


def test_simulation_not_allowed_by_arcad(arcad_factory, keys, prog, tmp_path):
    a = start_arcad_without_simulation(arcad_factory)
    upload_session(a, keys["creator"], session_yaml("refuse-nosim", measure(prog)))
    out = str(tmp_path / "out")
    r = run_arca_run(a, "refuse-nosim/app", prog, [out])
    refused(a, r, "refuse-nosim", "--allow-simulation", out)


def test_simulation_not_allowed_by_session(arcad, keys, prog, tmp_path):
    upload_session(arcad, keys["creator"],
                   session_yaml("refuse-hw", measure(prog), mode="hardware"))
    out = str(tmp_path / "out")
    r = run_arca_run(arcad, "refuse-hw/app", prog, [out])
    refused(arcad, r, "refuse-hw", "mode: simulation", out)


def test_platform_not_listed(arcad, keys, prog, tmp_path):
    upload_session(arcad, keys["creator"], session_yaml(
        "refuse-plat", measure(prog), extra_service="    platforms: [\"%s\"]\n" % ("ab" * 32)))
    out = str(tmp_path / "out")
    r = run_arca_run(arcad, "refuse-plat/app", prog, [out])
    refused(arcad, r, "refuse-plat", "is not listed in services[app].platforms", out)


def test_platform_listed(arcad, keys, prog, tmp_path):
    # The simulation platform id is SHA-256 of the platform key's SPKI.
    import hashlib
    import subprocess
    spki = subprocess.run(["openssl", "pkey", "-in", os.path.join(arcad.sim, "platform-key.pem"),
                           "-pubout", "-outform", "DER"], check=True,
                          capture_output=True).stdout
    pid = hashlib.sha256(spki).hexdigest()
    upload_session(arcad, keys["creator"], session_yaml(
        "accept-plat", measure(prog), extra_service="    platforms: [\"%s\"]\n" % pid))
    out = str(tmp_path / "out")
    r = run_arca_run(arcad, "accept-plat/app", prog, [out])
    assert r.returncode == 0, r.stderr
    assert os.path.exists(out)


OTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # 160 bits, base32


def test_otp_reused(arcad, keys, prog, tmp_path):
    upload_session(arcad, keys["creator"], session_yaml(
        "refuse-otp", measure(prog),
        extra_service="    one_time_password_shared_secret: %s\n" % OTP_SECRET))
    out = str(tmp_path / "out")
    # Without a code: refused.
    r = run_arca_run(arcad, "refuse-otp/app", prog, [out])
    refused(arcad, r, "refuse-otp", "requires a one-time password", out)
    # Avoid a step boundary between the two runs.
    if time.time() % 30 > 25:
        time.sleep(6)
    code = totp(OTP_SECRET)
    r = run_arca_run(arcad, "refuse-otp/app@" + code, prog, [out])
    assert r.returncode == 0, r.stderr
    os.unlink(out)
    r = run_arca_run(arcad, "refuse-otp/app@" + code, prog, [out])
    refused(arcad, r, "refuse-otp", "one-time password was used already", out)
    wrong = "%06d" % ((int(code) + 1) % 1000000)
    r = run_arca_run(arcad, "refuse-otp/app@" + wrong, prog, [out])
    refused(arcad, r, "refuse-otp", "not valid now", out)


def test_access_token(arcad, keys, prog, tmp_path):
    upload_session(arcad, keys["creator"], session_yaml(
        "refuse-token", measure(prog), extra_top="  service_access_token: tok-123456\n"))
    out = str(tmp_path / "out")
    r = run_arca_run(arcad, "refuse-token/app", prog, [out])
    refused(arcad, r, "refuse-token", "none was sent", out)
    r = run_arca_run(arcad, "refuse-token/app", prog, [out],
                     env={"ARCA_SERVICE_ACCESS_TOKEN": "tok-wrong"})
    refused(arcad, r, "refuse-token", "does not match", out)
    r = run_arca_run(arcad, "refuse-token/app", prog, [out],
                     env={"SCONE_SERVICE_ACCESS_TOKEN": "tok-123456"})
    assert r.returncode == 0, r.stderr
    assert "tok-123456" not in arcad.audit()


def test_unknown_session_and_service(arcad, good_session, prog, tmp_path):
    out = str(tmp_path / "out")
    r = run_arca_run(arcad, "no-such-session/app", prog, [out])
    refused(arcad, r, "no-such-session", "unknown session no-such-session", out)
    r = run_arca_run(arcad, "refuse-base/nosvc", prog, [out])
    refused(arcad, r, "refuse-base", "unknown service nosvc", out)


def test_wrong_cas_key(arcad, good_session, prog, tmp_path):
    out = str(tmp_path / "out")
    r = run_arca_run(arcad, good_session, prog, [out], env={"ARCA_CAS_KEY": "00" * 32})
    assert r.returncode != 0
    assert "not ARCA_CAS_KEY" in r.stderr
    assert not os.path.exists(out)
