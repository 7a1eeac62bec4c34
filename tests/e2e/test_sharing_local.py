"""Local export/import (issue 12 item 2) through arcad's attestation: relative names, a pinned
session_hash on both sides, a namespace child, the expected kind, a withdrawn export and a
changed value seen at the next attestation, and the values in no log. Also export_public of
a session CA through GET /v1/values/SESSION."""
import json

from launch_util import KeyPair, audit_events, last_refusal
from test_sharing_remote import MEAS, attest, upload_session

V1 = "local-v4lue-0c1d2e3f"
V2 = "local-v4lue-second-99"


def exp_yaml(rules, value=V1):
    return ("name: org/exp\nversion: \"0.3.10\"\nsecrets:\n  - name: s\n    kind: ascii\n"
            "    value: \"%s\"\n" % value +
            ("    export:\n" + "".join("      - %s\n" % r for r in rules) if rules else ""))


def imp_yaml(name, ref, kind="ascii", extra=""):
    return ("name: %s\nversion: \"0.3.10\"\n"
            "services:\n  - name: app\n    command: prog\n"
            "    environment:\n      IMP: \"$$SCONE::imp$$\"\n"
            "    attestation:\n      simulation: {measurement: \"%s\"}\n"
            "secrets:\n  - name: imp\n    kind: %s\n"
            "    import: {session: %s, secret: s%s}\n"
            "security:\n  attestation:\n    mode: simulation\n" % (name, MEAS, kind, ref, extra))


def test_local_matrix(arcad_factory, tmp_path):
    a = arcad_factory(name="local")
    kp = KeyPair(str(tmp_path / "kp"), "launcher")
    creator = KeyPair(str(tmp_path / "cr"), "creator")
    upload_session(a, creator, "name: org\nversion: \"0.3.10\"\n")
    upload_session(a, creator, "name: team\nversion: \"0.3.10\"\n")
    upload_session(a, creator, exp_yaml(["{session: ../sib}", "{namespace: team}",
                                         "{session: ./child}", "{session: other}"]))
    exp_hash = upload_session(a, creator, exp_yaml(
        ["{session: ../sib}", "{namespace: team}", "{session: ./child}", "{session: other}"],
        value=V1)).get("hash")

    # ../sib from org/exp is org/sib; the importer names the exporter relatively too.
    upload_session(a, creator, imp_yaml("org/sib", "../exp"))
    status, body = attest(a, kp, "org/sib/app")
    assert status == 200, body
    assert V1 in str(body)
    # ./child of org/exp
    upload_session(a, creator, imp_yaml("org/exp/child", "org/exp"))
    assert attest(a, kp, "org/exp/child/app")[0] == 200
    # namespace child
    upload_session(a, creator, imp_yaml("team/x", "org/exp"))
    assert attest(a, kp, "team/x/app")[0] == 200
    # wrong session
    upload_session(a, creator, imp_yaml("stranger", "org/exp"))
    assert attest(a, kp, "stranger/app")[0] != 200
    assert "does not export s to this session" in last_refusal(a, "stranger")["reason"]
    # wrong kind
    upload_session(a, creator, imp_yaml("other", "org/exp", kind="binary"))
    assert attest(a, kp, "other/app")[0] != 200
    assert "expects a binary" in last_refusal(a, "other")["reason"]
    # importer pins the exporter's hash: matching, then not (after the exporter changes)
    if exp_hash:
        upload_session(a, creator, imp_yaml("team/pin", "org/exp",
                                            extra=", session_hash: \"%s\"" % exp_hash))
        assert attest(a, kp, "team/pin/app")[0] == 200
    # changed value: seen at the next attestation
    upload_session(a, creator, exp_yaml(["{session: ../sib}", "{namespace: team}"], value=V2))
    status, body = attest(a, kp, "org/sib/app")
    assert status == 200 and V2 in str(body)
    if exp_hash:
        assert attest(a, kp, "team/pin/app")[0] != 200
        assert "session_hash differs" in last_refusal(a, "team/pin")["reason"]
    # withdrawn export
    upload_session(a, creator, exp_yaml(["{namespace: team}"], value=V2))
    assert attest(a, kp, "org/sib/app")[0] != 200
    assert "does not export" in last_refusal(a, "org/sib")["reason"]
    assert [e for e in audit_events(a, "attestation") if e["session"] == "org/sib"]
    for v in (V1, V2):
        assert v not in a.logs() and v not in a.audit()


def test_export_public_session_ca(arcad_factory, tmp_path):
    a = arcad_factory(name="pub")
    creator = KeyPair(str(tmp_path / "cr"), "creator")
    upload_session(a, creator, "name: pki\nversion: \"0.3.10\"\nsecrets:\n"
                   "  - name: ca_key\n    kind: private-key\n"
                   "  - name: ca\n    kind: x509-ca\n    private_key: ca_key\n"
                   "    common_name: session CA\n    export_public: true\n")
    import http.client
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", a.client, context=ctx, timeout=20)
    conn.request("GET", "/v1/values/pki")
    r = conn.getresponse()
    body = json.loads(r.read())
    conn.close()
    assert r.status == 200, body
    text = json.dumps(body)
    assert "BEGIN CERTIFICATE" in text and "PRIVATE KEY" not in text
