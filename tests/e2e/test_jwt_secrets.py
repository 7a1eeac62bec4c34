"""`kind: jwt` secrets on a live arcad (issue 13 item 7).

A session in the docs' shape (a P-384 private-key signer, alg ES384, validity, string claims)
is created; under arca-run the service gets the token through `$$SCONE::name$$`, and the test
checks the token with `openssl dgst -verify` over the signing input (the JOSE r||s signature
re-encoded as DER, which is what openssl takes). Shapes that create refuses are refused by
`arca session check` too, with the same located words.
"""
import base64
import json
import os
import subprocess
import time

import pytest

from launch_util import KeyPair, measure, post, run_arca_run, upload_session, write_program

BIN = os.environ.get("ARCA_BIN_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
ARCA = os.path.join(BIN, "arca")
H = 'version: "0.3.12"\n'

BAD = [
    ("jwt-bad-key-type",
     "secrets:\n  - name: k\n    kind: private-key\n  - name: j\n    kind: jwt\n"
     "    signer: k\n    alg: ES384\n"),
    ("jwt-bad-signer-imported",
     "secrets:\n  - name: k\n    import: {session: e, secret: k}\n  - name: j\n"
     "    kind: jwt\n    signer: k\n    alg: ES384\n"),
    ("jwt-bad-claim",
     "secrets:\n  - name: k\n    kind: private-key\n    key_type: P-384\n  - name: j\n"
     "    kind: jwt\n    signer: k\n    alg: ES384\n    payload: {iat: \"1\"}\n"),
]


@pytest.fixture(scope="module")
def creator(tmp_path_factory):
    return KeyPair(str(tmp_path_factory.mktemp("jwt-creator")), "creator")


def b64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def der_int(b):
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80:
        b = b"\0" + b
    return b"\x02" + bytes([len(b)]) + b


def raw_to_der(sig):
    n = len(sig) // 2
    body = der_int(sig[:n]) + der_int(sig[n:])
    return b"\x30" + bytes([len(body)]) + body


@pytest.mark.parametrize("name,body", BAD, ids=[b[0] for b in BAD])
def test_check_and_create_agree(arcad, creator, tmp_path, name, body):
    text = "name: %s\n%s%s" % (name, H, body)
    f = tmp_path / (name + ".yaml")
    f.write_text(text)
    r = subprocess.run([ARCA, "session", "check", str(f)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    checked = [line[len(str(f)) + 1:] for line in r.stderr.strip().splitlines()]
    assert checked and all("secrets[1]" in c for c in checked), checked
    status, answer = post(arcad.client, creator, "/v1/sessions", text)
    assert status == 400, (status, answer)
    assert [m[len("<upload>") + 1:] for m in answer["msg"]] == checked


def test_token_delivered_and_verifies(arcad, creator, tmp_path):
    prog = write_program(tmp_path, "show.sh",
                         "#!/bin/sh\nprintf '%s' \"$TOKEN\" > \"$1.tok\"\n"
                         "cp /etc/arca-e2e/jwt/key.pem \"$1.key\"\n")
    before = int(time.time())
    upload_session(arcad, creator, """name: jwt-deliver
version: "0.3.12"
services:
  - name: app
    command: show.sh @@1
    environment:
      TOKEN: "$$SCONE::token$$"
    pwd: /
    image_name: img
    attestation:
      simulation: {measurement: "%s"}
images:
  - name: img
    injection_files:
      - path: /etc/arca-e2e/jwt/key.pem
        content: "$$SCONE::signer$$"
secrets:
  - name: signer
    kind: private-key
    key_type: P-384
  - name: token
    kind: jwt
    signer: signer
    alg: ES384
    validity:
      for: 2h
    payload: {
      "sub": "service-a",
      "aud": "db"
    }
security:
  attestation:
    mode: simulation
""" % measure(prog))
    out = str(tmp_path / "out")
    r = run_arca_run(arcad, "jwt-deliver/app", prog, [out])
    assert r.returncode == 0, r.stderr
    token = open(out + ".tok").read()
    parts = token.split(".")
    assert len(parts) == 3 and all(parts) and "=" not in token
    assert json.loads(b64u(parts[0])) == {"alg": "ES384", "typ": "JWT"}
    claims = json.loads(b64u(parts[1]))
    assert list(claims) == ["sub", "aud", "iat", "nbf", "exp"]
    assert claims["sub"] == "service-a" and claims["aud"] == "db"
    assert before - 5 <= claims["iat"] <= time.time() + 5
    assert claims["nbf"] == claims["iat"] and claims["exp"] == claims["iat"] + 7200
    sig = b64u(parts[2])
    assert len(sig) == 96

    pub = tmp_path / "pub.pem"
    subprocess.run(["openssl", "pkey", "-in", out + ".key", "-pubout", "-out", str(pub)],
                   check=True, timeout=60)
    (tmp_path / "input").write_bytes((parts[0] + "." + parts[1]).encode())
    (tmp_path / "sig.der").write_bytes(raw_to_der(sig))
    v = subprocess.run(["openssl", "dgst", "-sha384", "-verify", str(pub), "-signature",
                        str(tmp_path / "sig.der"), str(tmp_path / "input")],
                       capture_output=True, text=True, timeout=60)
    assert v.returncode == 0 and "Verified OK" in v.stdout, v.stdout + v.stderr
    (tmp_path / "input").write_bytes((parts[0] + "." + parts[1] + "x").encode())
    v = subprocess.run(["openssl", "dgst", "-sha384", "-verify", str(pub), "-signature",
                        str(tmp_path / "sig.der"), str(tmp_path / "input")],
                       capture_output=True, text=True, timeout=60)
    assert v.returncode != 0
