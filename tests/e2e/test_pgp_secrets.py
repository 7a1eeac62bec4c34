"""`kind: pgp-key` secrets on a live arcad (issue 13 item 7).

A session in the docs' shape is created; under arca-run the service gets the ASCII-armored
secret and public key through `$$SCONE::k:privatekey:asciiarmored$$` and
`$$SCONE::k:publickey:asciiarmored$$`. GnuPG (in a temporary home) imports both, lists the
packets (EdDSA primary key, ECDH Curve25519 subkey, the user id), checks the self-signatures,
and round-trips an encryption and a signature with the imported key.
"""
import os
import shutil
import subprocess

import pytest

from launch_util import KeyPair, measure, run_arca_run, upload_session, write_program

GPG = shutil.which("gpg")


@pytest.fixture(scope="module")
def creator(tmp_path_factory):
    return KeyPair(str(tmp_path_factory.mktemp("pgp-creator")), "creator")


def gpg(home, *args, data=None):
    return subprocess.run([GPG, "--homedir", str(home), "--batch", "--yes", *args],
                          capture_output=True, input=data, timeout=120)


@pytest.mark.skipif(GPG is None, reason="gpg is not installed (scripts/install-deps)")
def test_pgp_key_delivered_and_imported(arcad, creator, tmp_path):
    prog = write_program(tmp_path, "show.sh",
                         "#!/bin/sh\nprintf '%s' \"$PUB\" > \"$1.pub\"\n"
                         "cp /etc/arca-e2e/pgp/secret.asc \"$1.sec\"\n")
    upload_session(arcad, creator, """name: pgp-deliver
version: "0.3.10"
services:
  - name: app
    command: show.sh @@1
    environment:
      PUB: "$$SCONE::mail_key:publickey:asciiarmored$$"
    pwd: /
    image_name: img
    attestation:
      simulation: {measurement: "%s"}
images:
  - name: img
    injection_files:
      - path: /etc/arca-e2e/pgp/secret.asc
        content: "$$SCONE::mail_key:privatekey:asciiarmored$$"
secrets:
  - name: mail_key
    kind: pgp-key
security:
  attestation:
    mode: simulation
""" % measure(prog))
    out = str(tmp_path / "out")
    r = run_arca_run(arcad, "pgp-deliver/app", prog, [out])
    assert r.returncode == 0, r.stderr
    pub = open(out + ".pub").read()
    sec = open(out + ".sec").read()
    assert pub.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----\n")
    assert sec.startswith("-----BEGIN PGP PRIVATE KEY BLOCK-----\n")

    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    r = gpg(home, "--import", out + ".pub")
    assert r.returncode == 0, r.stderr
    r = gpg(home, "--import", out + ".sec")
    assert r.returncode == 0 and b"secret key imported" in r.stderr, r.stderr
    r = gpg(home, "--list-packets", out + ".sec")
    assert r.returncode == 0, r.stderr
    listing = r.stdout.decode()
    assert "version 4, algo 22" in listing and "ed25519" in listing
    assert "algo 18" in listing and "cv25519" in listing
    assert ':user ID packet: "mail_key"' in listing
    assert "sigclass 0x13" in listing and "sigclass 0x18" in listing
    r = gpg(home, "--check-sigs")
    assert r.returncode == 0 and b"2 good signatures" in r.stderr, r.stdout + r.stderr

    (tmp_path / "m.txt").write_text("hello\n")
    r = gpg(home, "--trust-model", "always", "-r", "mail_key", "-e", "-o",
            str(tmp_path / "m.gpg"), str(tmp_path / "m.txt"))
    assert r.returncode == 0, r.stderr
    r = gpg(home, "-d", str(tmp_path / "m.gpg"))
    assert r.returncode == 0 and r.stdout == b"hello\n", r.stderr
    r = gpg(home, "-u", "mail_key", "--detach-sign", "-o", str(tmp_path / "m.sig"),
            str(tmp_path / "m.txt"))
    assert r.returncode == 0, r.stderr
    r = gpg(home, "--verify", str(tmp_path / "m.sig"), str(tmp_path / "m.txt"))
    assert r.returncode == 0 and b"Good signature" in r.stderr, r.stderr
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True,
                   timeout=60)
