"""Issue 9, items 3 and 4 at the enclave API: guessing one-time passwords gets a session/service
locked out (429 "try again in N s", one audit event, the right code refused too while locked);
strangers' refusals cannot grow the audit log without bound; a placeholder service access token
means its secret's value, not its own text."""
import json
import os
import time

import pytest

from launch_util import (EnclaveClient, audit_events, KeyPair, binding, measure, post, run_arca_run,
                         sim_evidence, totp, upload_session, write_program)

OTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("keys"))
    return {n: KeyPair(d, n) for n in ("creator", "k1")}


@pytest.fixture(scope="module")
def prog(tmp_path_factory):
    return write_program(tmp_path_factory.mktemp("prog"))


def session(name, measurement, extra_service="", extra_security="", secrets=None):
    return ("name: %s\n"
            "version: \"0.3.10\"\n"
            "services:\n"
            "  - name: app\n"
            "    command: prog.sh @@1\n"
            "    pwd: /tmp\n"
            "    attestation:\n"
            "      simulation: {measurement: \"%s\"}\n"
            "%s"
            "secrets:\n%s"
            "security:\n"
            "  attestation: {mode: simulation}\n"
            "%s" % (name, measurement, extra_service,
                    secrets or "  - {name: pw, kind: ascii, size: 16}\n", extra_security))



def attest(arcad, kp, prog, config_id):
    c = EnclaveClient(arcad, kp)
    nonce = c.challenge()
    ev = sim_evidence(arcad.sim, bytes.fromhex(measure(prog)),
                      binding(kp.spki, nonce, config_id))
    return c.attest(config_id, nonce, ev)


def wrong_code():
    now = time.time()
    valid = {totp(OTP_SECRET, now + d) for d in (-60, -30, 0, 30, 60)}
    return next("%06d" % n for n in range(1000000) if "%06d" % n not in valid)


def test_otp_guessing_locked_out(arcad_factory, keys, prog, tmp_path):
    a = arcad_factory(extra_args=["--attest-free-failures", "3", "--attest-lockout-failures",
                                  "4", "--attest-lockout-time", "600"], name="throttle")
    extra = "    one_time_password_shared_secret: %s\n" % OTP_SECRET
    upload_session(a, keys["creator"], session("guess", measure(prog), extra_service=extra))
    upload_session(a, keys["creator"], session("guess2", measure(prog), extra_service=extra))
    statuses = []
    for _ in range(8):  # bounded: 4 failures lock it out
        status, body = attest(a, keys["k1"], prog, "guess/app@" + wrong_code())
        statuses.append(status)
        if status == 429:
            break
    assert statuses[-1] == 429, statuses
    assert statuses[:-1] == [401] * 4, statuses
    assert "locked out; try again in" in json.dumps(body), body
    # While locked out, the right code is refused as well (and not used up).
    code = totp(OTP_SECRET)
    status, body = attest(a, keys["k1"], prog, "guess/app@" + code)
    assert status == 429, body
    # One audit event for the lockout, naming session and service only.
    locks = audit_events(a, "attestation_locked_out")
    assert [(e["session"], e["service"]) for e in locks] == [("guess", "app")], locks
    assert code not in a.audit()
    # Another session is not affected.
    out = str(tmp_path / "out")
    r = run_arca_run(a, "guess2/app@" + totp(OTP_SECRET), prog, [out])
    assert r.returncode == 0, r.stderr
    assert os.path.exists(out)


def test_strangers_cannot_grow_the_audit_log(arcad_factory, keys):
    a = arcad_factory(name="anon")
    before = len(audit_events(a, "attestation"))
    t0 = time.monotonic()
    n = 160
    for i in range(n):  # bounded count; garbage evidence, nonces we never got
        status, _ = post(a.enclave, keys["k1"], "/v1/attest",
                         {"config_id": "s%d/app" % i, "evidence_type": "sim",
                          "evidence": "AAAA", "nonce": os.urandom(32).hex(),
                          "host": {"argv": ["/p"], "env": {}}})
        assert status in (400, 401, 429), status
    elapsed = time.monotonic() - t0
    audited = len(audit_events(a, "attestation")) - before
    # A burst of 100, then 5 a second (docs/internals/attest.md): an upper bound whatever the
    # speed of this machine.
    assert audited <= 100 + 5 * (elapsed + 1), (audited, elapsed)
    assert audited >= 1


def test_placeholder_access_token(arcad_factory, keys, prog, tmp_path):
    a = arcad_factory(name="tokp")
    upload_session(a, keys["creator"], session(
        "tokp", measure(prog), extra_security="  service_access_token: \"$$SCONE::tok$$\"\n",
        secrets="  - {name: tok, kind: ascii, value: \"tok-value-123456\"}\n"))
    out = str(tmp_path / "out")
    r = run_arca_run(a, "tokp/app", prog, [out],
                     env={"ARCA_SERVICE_ACCESS_TOKEN": "$$SCONE::tok$$"})
    assert r.returncode != 0
    assert "does not match" in r.stderr, r.stderr
    assert not os.path.exists(out)
    r = run_arca_run(a, "tokp/app", prog, [out],
                     env={"ARCA_SERVICE_ACCESS_TOKEN": "tok-value-123456"})
    assert r.returncode == 0, r.stderr
    assert os.path.exists(out)
    assert "tok-value-123456" not in a.audit()
