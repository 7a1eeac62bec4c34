"""Encrypted sessions (issue 12 item 3): `arca cas show --session-encryption-key` prints the
attested arcad's X25519 key, `arca session encrypt` encrypts a session with explicit secret
values to it, PUT /v1/encrypted_sessions accepts it on that arcad and another arcad refuses
it; the value is in no answer, log, audit line or store file in clear."""
import glob
import os

from conftest import https, https_json, make_identity, run_cli
from launch_util import audit_events

VALUE = "enc-v4lue-7d1e55aa90"
SESSION = ("name: encs\nversion: \"0.3.10\"\nsecrets:\n"
           "  - name: pw\n    kind: ascii\n    value: \"%s\"\n" % VALUE)


def test_encrypted_upload(arcad_factory, tmp_path):
    a = arcad_factory(name="enc-a")
    b = arcad_factory(name="enc-b")
    ident = make_identity(tmp_path, "enc", a)
    r = run_cli(ident, "cas", "show", "--session-encryption-key", check=True)
    key = r.stdout.strip()
    assert len(key) == 64 and int(key, 16) >= 0
    # JSON output and a stable key (derived from the CAS key).
    r2 = run_cli(ident, "-o", "json", "cas", "show", "--session-encryption-key", check=True)
    assert key in r2.stdout

    src = tmp_path / "s.yaml"
    src.write_text(SESSION)
    out = tmp_path / "s.enc"
    run_cli(ident, "session", "encrypt", str(src), "--out", str(out), check=True)
    box = out.read_bytes()
    assert box.startswith(b"ARCAENC1") and VALUE.encode() not in box

    # Another arcad cannot read it.
    status, body = https_json(b, ident, "PUT", "/v1/encrypted_sessions", box)
    assert status == 400, body
    assert "not encrypted to this arcad" in str(body)
    # Altered: refused the same way.
    bad = bytearray(box)
    bad[-1] ^= 1
    status, _ = https_json(a, ident, "PUT", "/v1/encrypted_sessions", bytes(bad))
    assert status == 400
    # The target arcad accepts it as a session upload by this client.
    status, body = https_json(a, ident, "PUT", "/v1/encrypted_sessions", box)
    assert status == 201, body
    assert body["name"] == "encs"
    status, data = https(a, ident, "GET", "/v1/sessions/encs")
    assert status == 200 and VALUE.encode() not in data
    assert audit_events(a, "session_created")
    for s in (a, b):
        assert VALUE not in s.logs() and VALUE not in s.audit()
        for f in glob.glob(os.path.join(s.data, "**"), recursive=True):
            if os.path.isfile(f):
                assert VALUE.encode() not in open(f, "rb").read(), f


def test_encrypt_needs_attested_cas(tmp_path):
    d = str(tmp_path / "id")
    run_cli(d, "self", "keygen", check=True)
    src = tmp_path / "s.yaml"
    src.write_text(SESSION)
    r = run_cli(d, "session", "encrypt", str(src))
    assert r.returncode != 0
    assert "arca cas attest" in r.stderr and VALUE not in r.stderr + r.stdout


def test_encrypted_signed_update(arcad_factory, tmp_path):
    """A governed session: the board signs the change first, then the signed session is
    encrypted to arcad and uploaded; arcad verifies the approvals inside the encrypted upload."""
    import json
    from test_governance_signed import board, governed

    a = arcad_factory(name="enc-gov")
    ident = make_identity(tmp_path, "encgov", a)
    keys = board(tmp_path)
    v1 = tmp_path / "v1.yaml"
    v1.write_text(governed("encgov", 1, keys))
    run_cli(ident, "session", "create", str(v1), check=True)
    v2 = tmp_path / "v2.yaml"
    v2.write_text(governed("encgov", 2, keys) + "secrets:\n  - name: pw\n    kind: ascii\n"
                  "    value: \"%s\"\n" % VALUE)
    one = run_cli(ident, "session", "sign", str(v2), "--key", str(keys[0][1]), check=True)
    f1 = tmp_path / "one.json"
    f1.write_text(one.stdout)
    out = tmp_path / "one.enc"
    run_cli(ident, "session", "encrypt", str(f1), "--out", str(out), check=True)
    # one approval of 2 needed: refused inside the encrypted upload, naming what is missing
    status, body = https_json(a, ident, "PUT", "/v1/encrypted_sessions", out.read_bytes())
    assert status == 403 or status == 404, body
    two = run_cli(ident, "session", "sign", str(f1), "--key", str(keys[1][1]), check=True)
    f2 = tmp_path / "two.json"
    f2.write_text(two.stdout)
    out2 = tmp_path / "two.enc"
    run_cli(ident, "session", "encrypt", str(f2), "--out", str(out2), check=True)
    assert VALUE.encode() not in out2.read_bytes()
    status, body = https_json(a, ident, "PUT", "/v1/encrypted_sessions", out2.read_bytes())
    assert status in (200, 201), body
    hist = run_cli(ident, "-o", "json", "session", "history", "encgov", "--approvals", check=True)
    versions = json.loads(hist.stdout)["versions"]
    assert len(versions) == 2 and len(versions[0]["approvals"]) == 2
    assert VALUE not in a.logs() and VALUE not in a.audit()
