"""Policies in the shapes of the established CAS's docs (issue 13) on a live arcad.

`arca session check` and a create on arcad agree: a table of bad policies is run through both,
and each is refused by both with the same located words (create answers 400, never 404). The
self-contained shapes of tests/fuzz/corpus/fuzz_policy_load/scone-*.yaml are created, and the
ones with a runnable service deliver what they say under arca-run.
"""
import glob
import json
import os
import re
import subprocess

import pytest

from launch_util import KeyPair, measure, post, run_arca_run, upload_session, write_program

BIN = os.environ.get("ARCA_BIN_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
ARCA = os.path.join(BIN, "arca")
SRC = os.environ.get("ARCA_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
SHAPES = sorted(glob.glob(os.path.join(SRC, "tests", "fuzz", "corpus", "fuzz_policy_load",
                                       "scone-*.yaml")))
MR = "0123456789abcdef" * 4
H = 'version: "0.3.11"\n'
SVC = "services:\n  - name: s\n    attestation: {mrenclave: %s}\n" % MR

# Refused without any server state: (name, body after name/version).
BAD = [
    ("bad-issuer-imported",
     "secrets:\n  - name: ca\n    kind: x509-ca\n    import: {session: e, secret: ca}\n"
     "  - name: k\n    kind: private-key\n  - name: c\n    kind: x509\n    private_key: k\n"
     "    issuer: ca\n"),
    ("bad-key-imported",
     "secrets:\n  - name: k\n    import: {session: e, secret: k}\n"
     "  - name: c\n    kind: x509\n    private_key: k\n"),
    ("bad-wildcard", SVC + "security:\n  attestation:\n    ignore_advisories: \"*\"\n"),
    ("bad-image", SVC + "    image_name: nowhere\n"),
    ("bad-volume-export",
     "volumes:\n  - name: v\n    export:\n      session: a\n      volume_alias: b\n"),
    ("bad-value", "secrets:\n  - name: k\n    kind: x509\n    value: \"\"\n"),
    ("bad-maa", SVC + "security:\n  attestation:\n    mode: maa\n"
     "    url: https://sharedweu.weu.attest.azure.net\n    tolerate: [maa-managed-tcb]\n"),
    ("bad-aad-token", SVC + "secrets:\n  - name: ad_token_1\n    kind: aad-token\n"
     "    tenant_id: e7cac514-f1aa-4e0d-b207-50b1d9a89d21\n"
     "    client_id: 3f2c210e-83b4-4217-9eee-4f747d8aeeb3\n"
     "    application_secret: \"dHmbyTBF4JNAN3JJobeD\"\n"),
    ("bad-import-akv", SVC + "secrets:\n  - name: t\n    kind: aad-token\n"
     "    tenant_id: e7cac514-f1aa-4e0d-b207-50b1d9a89d21\n"
     "    client_id: 3f2c210e-83b4-4217-9eee-4f747d8aeeb3\n"
     "    application_secret: \"dHmbyTBF4JNAN3JJobeD\"\n"
     "  - name: db\n    import_akv: {vault: \"https://v.vault.azure.net\", token: t}\n"),
]
AZURE = sorted(glob.glob(os.path.join(SRC, "tests", "fuzz", "corpus", "fuzz_policy_load",
                                      "azure-*.yaml")))


@pytest.fixture(scope="module")
def creator(tmp_path_factory):
    return KeyPair(str(tmp_path_factory.mktemp("scone-creator")), "creator")


def located(lines, prefix):
    """The messages of `prefix:LINE:COL: path: message` lines, without the file prefix."""
    out = []
    for line in lines:
        assert line.startswith(prefix + ":"), line
        out.append(line[len(prefix) + 1:])
    return out


@pytest.mark.parametrize("name,body", BAD, ids=[b[0] for b in BAD])
def test_check_and_create_agree(arcad, creator, tmp_path, name, body):
    text = "name: %s\n%s%s" % (name, H, body)
    f = tmp_path / (name + ".yaml")
    f.write_text(text)
    r = subprocess.run([ARCA, "session", "check", str(f)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    checked = located(r.stderr.strip().splitlines(), str(f))
    assert checked
    status, answer = post(arcad.client, creator, "/v1/sessions", text)
    assert status == 400, (status, answer)
    msgs = answer["msg"]
    assert located(msgs, "<upload>") == checked


def test_azure_shapes_hash_but_never_create(arcad, creator):
    """aad-token, import_akv and mode: maa in the docs' shapes: `arca session hash` gives a hash
    (they are part of the session's meaning), while check and create refuse them by name."""
    assert len(AZURE) >= 3
    for path in AZURE:
        r = subprocess.run([ARCA, "session", "hash", "--creator-key", creator.key_id, path],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and re.fullmatch(r"[0-9a-f]{64}\n", r.stdout), (path, r.stderr)
        r = subprocess.run([ARCA, "session", "check", path], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 1 and "is not supported by arca" in r.stderr, (path, r.stderr)
        assert "dHmbyTBF4JNAN3JJobeD" not in r.stderr
        status, answer = post(arcad.client, creator, "/v1/sessions", open(path).read())
        assert status == 400, (path, status, answer)
        assert located(answer["msg"], "<upload>") == located(r.stderr.strip().splitlines(), path)


def test_every_shape_checks():
    assert len(SHAPES) >= 3
    r = subprocess.run([ARCA, "session", "check", *SHAPES], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(": ok") == len(SHAPES)


def test_every_shape_creates(arcad, creator):
    """Each documented shape is accepted by arcad; the hash arcad gives is the local one."""
    for path in SHAPES:
        text = open(path).read()
        status, answer = post(arcad.client, creator, "/v1/sessions", text)
        if "\ncreator:" in text:
            # it names someone else as its creator: refused, whoever uploads it
            assert status == 400, (path, status, answer)
            assert "creator: names a key that is not the creator" in answer["msg"][0]
            continue
        assert status == 201, (path, status, answer)
        h = answer["hash"]
        r = subprocess.run([ARCA, "session", "hash", "--creator-key", creator.key_id, path],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and r.stdout.strip() == h, (path, r.stderr)


def test_empty_values_and_image_name_delivered(arcad, creator, tmp_path):
    prog = write_program(tmp_path, "show.sh",
                         "#!/bin/sh\nprintf '[%s][%s][%s]' \"$PW\" \"$RAW\" "
                         "\"$(cat /etc/arca-e2e/scone/app.conf)\" > \"$1\"\n")
    upload_session(arcad, creator, """name: scone-deliver
version: "0.3.11"
services:
  - name: app
    command: show.sh @@1
    environment:
      PW: "$$SCONE::empty$$"
      RAW: "$$SCONE::nothing:hex$$"
    pwd: /
    image_name: registry.example.com/team/app:1.2
    attestation:
      simulation: {measurement: "%s"}
images:
  - name: registry.example.com/team/app:1.2
    injection_files:
      - path: /etc/arca-e2e/scone/app.conf
        content: "pw=$$SCONE::empty$$;"
secrets:
  - name: empty
    kind: ascii
    value: ""
  - name: nothing
    kind: binary
    value: ""
security:
  attestation:
    mode: simulation
    ignore_advisories: "*"
""" % measure(prog))
    out = str(tmp_path / "out")
    r = run_arca_run(arcad, "scone-deliver/app", prog, [out])
    assert r.returncode == 0, r.stderr
    assert open(out).read() == "[][][pw=;]"


def test_readback_with_creator_round_trips(arcad, creator, tmp_path):
    """A session read back from a CAS carries `creator:`; naming the uploader it is accepted, and
    `arca session hash` (no --creator-key) computes the hash arcad stores from that field."""
    cert = open(creator.cert).read()
    text = ("version: 0.3.12\nname: readback-%s\npredecessor: null\nservices:\n"
            "- name: app\n  command: /bin/true\n  pwd: /\n  persistency: None\n"
            "security:\n  attestation:\n    mode: none\ncreator: |\n%s"
            % (creator.key_id[:8], "".join("  " + l + "\n" for l in cert.splitlines())))
    f = tmp_path / "readback.yaml"
    f.write_text(text)
    status, answer = post(arcad.client, creator, "/v1/sessions", text)
    assert status == 201, answer
    r = subprocess.run([ARCA, "session", "hash", str(f)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == answer["hash"], r.stderr


def test_imported_access_policy_and_attestation(arcad, creator, tmp_path):
    """Issue 13 item 3: an access policy and attestation variants imported as config-fragments
    from a board session. The access policy is validated at create (a value that does not fit
    is refused, naming the import and the field) and its CREATOR is the importer's creator; the
    variants are resolved at attestation and a launch with the imported measurement runs."""
    from conftest import https
    prog = write_program(tmp_path, "ok.sh", "#!/bin/sh\nprintf imported > \"$1\"\n")
    m = measure(prog)
    upload_session(arcad, creator, """name: scone-board
version: "0.3.10"
secrets:
  - name: policy
    kind: config-fragment
    value: {read: [CREATOR], update: [CREATOR]}
    export: [{session: scone-governed}]
  - name: loose
    kind: config-fragment
    value: {update: [ANY, CREATOR]}
    export: [{session: scone-governed-bad}]
  - name: release
    kind: config-fragment
    value: [{simulation: {measurement: "%s"}}]
    export: [{session: scone-governed}]
""" % m)
    gov = """name: %s
version: "0.3.10"
access_policy: $$SCONE::p$$
services:
  - name: app
    command: ok.sh @@1
    pwd: /
    attestation: $$SCONE::rel$$
secrets:
  - name: p
    kind: config-fragment
    import: {session: scone-board, secret: %s}
  - name: rel
    import: {session: scone-board, secret: release}
security:
  attestation: {mode: simulation}
"""
    status, answer = post(arcad.client, creator, "/v1/sessions", gov % ("scone-governed-bad",
                                                                         "loose"))
    assert status == 400, (status, answer)
    assert "access_policy: imported config-fragment 'p' does not fit there" in str(answer)
    upload_session(arcad, creator, gov % ("scone-governed", "policy"))
    # CREATOR inside the imported policy is this session's creator
    assert https(arcad, creator, "GET", "/v1/sessions/scone-governed")[0] == 200
    other = KeyPair(str(tmp_path / "other"), "other")
    assert https(arcad, other, "GET", "/v1/sessions/scone-governed")[0] in (403, 404)
    out = str(tmp_path / "out")
    r = run_arca_run(arcad, "scone-governed/app", prog, [out])
    assert r.returncode == 0, r.stderr
    assert open(out).read() == "imported"
