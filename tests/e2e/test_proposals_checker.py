"""The automated policy checker (examples/checker) end to end under arca-run with the
simulation TEE: its signing key is a CAS-generated private-key secret injected at attestation,
the governed session names its exported public key as a signer beside the board, and it
approves a harmless change (alone: the sole approver) and rejects a debug-mode tolerance with
a reason that `arca proposal show` shows."""
import json
import os
import textwrap

import pytest

from conftest import BIN, https_json, make_identity, run_cli
from launch_util import measure, run_arca_run
from test_proposals_flow import cli_json, create, keygen, policy, signer, submit

CHECKER = os.path.join(BIN, "arca-checker")


def checker_session(arcad, measurement):
    config = json.dumps({"cas": arcad.addr, "cas_key": arcad.cas_key,
                         "identity": "/etc/arca-checker/id", "wait": 2, "rounds": 1})
    return textwrap.dedent("""\
        name: checker
        version: "0.3.11"
        services:
          - name: checker
            command: arca-checker /etc/arca-checker/config.json
            pwd: /tmp
            image_name: img
            attestation:
              simulation: {measurement: "%s"}
        images:
          - name: img
            injection_files:
              - path: /etc/arca-checker/id/key.pem
                content: "$$SCONE::checker_key$$"
              - path: /etc/arca-checker/id/cert.pem
                content: "$$SCONE::checker_cert$$"
              - path: /etc/arca-checker/config.json
                content: '%s'
        secrets:
          - name: checker_key
            kind: private-key
            export_public: true
          - name: checker_cert
            kind: x509
            private_key: checker_key
            common_name: checker
        security:
          attestation:
            mode: simulation
        """) % (measurement, config)


@pytest.fixture(scope="module")
def setup(arcad, tmp_path_factory):
    if not os.path.exists(CHECKER):
        pytest.skip("arca-checker not built")
    tmp = tmp_path_factory.mktemp("checker")
    me = make_identity(tmp, "owner", arcad)
    create(me, tmp, checker_session(arcad, measure(CHECKER)), "checker.yaml")
    st, body = https_json(arcad, None, "GET", "/v1/values/session=checker,secret=checker_key")
    assert st == 200, body
    pub = os.path.join(str(tmp), "checker.pub")
    open(pub, "w").write(body["value"])
    board = [keygen(tmp, "b%d" % i) for i in range(3)]
    rule = ("    - require-at-least-1:\n        - " + signer({"pub": pub}, 8) +
            "        - require-at-least-2:\n" +
            "".join("            - " + signer(k, 12) for k in board))
    return {"me": me, "tmp": tmp, "rule": rule, "board": board}


def run_checker(arcad):
    r = run_arca_run(arcad, "checker/checker", CHECKER, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_checker_approves_harmless_change(arcad, setup):
    me, tmp, rule = setup["me"], setup["tmp"], setup["rule"]
    create(me, tmp, policy("cgov", rule), "cgov.yaml")
    p = submit(me, tmp, policy("cgov", rule, size=30), "cgov2.yaml")
    assert p["state"] == "open"
    out = run_checker(arcad)
    assert "approved %s" % p["id"] in out
    shown = cli_json(me, "proposal", "show", p["id"])
    assert shown["state"] == "applied"
    assert shown["votes"][0]["verdict"] == "approve"
    assert cli_json(me, "session", "read", "cgov")["hash"] == p["hash"]


def test_checker_rejects_debug_mode_with_reason(arcad, setup):
    me, tmp, rule = setup["me"], setup["tmp"], setup["rule"]
    create(me, tmp, policy("cdbg", rule), "cdbg.yaml")
    bad = policy("cdbg", rule) + "security:\n  attestation:\n    tolerate: [debug-mode]\n"
    p = submit(me, tmp, bad, "cdbg2.yaml")
    out = run_checker(arcad)
    assert "rejected %s" % p["id"] in out
    r = run_cli(me, "proposal", "show", p["id"])
    assert r.returncode == 0, r.stderr
    assert "reject" in r.stdout and "debug-mode" in r.stdout
    shown = cli_json(me, "proposal", "show", p["id"])
    assert shown["votes"][0]["verdict"] == "reject"
    assert "debug-mode" in shown["votes"][0]["reason"]
    # the board can still overrule the checker: the proposal stays open, nothing applied
    assert shown["state"] == "open"
    assert cli_json(me, "session", "read", "cdbg")["version"] == 1
