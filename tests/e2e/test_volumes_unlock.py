"""Protected volumes unlocked by arca-run (simulation TEE), end to end: arcad delivers each
volume's path, key, tag and policy in the attested configuration; arca-run verifies the root
tag first, shows the plaintext at the same path in a private tmpfs, renders injected files
inside it, and runs `python3 VOL/main.py` whose code exists on disk only encrypted."""
import os

from launch_util import KeyPair, attestation_events, upload_session
from volume_util import (DATA, decrypt, encrypt, make_app, parse, run_python, tree_bytes,
                         volume_session)

import pytest


@pytest.fixture(scope="module")
def creator(tmp_path_factory):
    return KeyPair(str(tmp_path_factory.mktemp("creator")), "creator")


def test_encrypted_python_runs(arcad, creator, tmp_path):
    plain = make_app(str(tmp_path / "plain"))
    vol = str(tmp_path / "app")
    key, tag = encrypt(plain, vol)
    upload_session(arcad, creator, volume_session("vol-run", vol, key, tag, policy="ephemeral"))
    out = str(tmp_path / "out.txt")
    r = run_python(arcad, "vol-run/app", [out])
    assert r.returncode == 0, r.stderr
    got = parse(out)
    assert got["data"] == DATA.strip()
    assert got["secret"].startswith("token=") and len(got["secret"]) == len("token=") + 16
    pw = got["secret"][len("token="):]
    # On disk only ciphertext: no plaintext code, data or injected secret; no config.ini.
    blob = tree_bytes(vol)
    assert b"encrypted-data-42" not in blob and b"import os" not in blob
    assert pw.encode() not in blob
    assert not os.path.exists(os.path.join(vol, "config.ini"))
    assert not os.path.exists(os.path.join(vol, "main.py.plain"))
    assert pw not in r.stderr and key not in r.stderr and key not in arcad.logs()
    assert key not in arcad.audit()
    # Ephemeral: nothing changed on disk, same tag.
    assert decrypt(vol, str(tmp_path / "check"), key, tag).returncode == 0
    ev = [e for e in attestation_events(arcad) if e["session"] == "vol-run"]
    assert ev[-1]["outcome"] == "accepted"


def test_service_fspf_path(arcad, creator, tmp_path):
    """The service's own fspf_path (DIR/volume.fspf) with no_rollback_protection and no tag."""
    plain = make_app(str(tmp_path / "plain"))
    vol = str(tmp_path / "fs")
    key, _ = encrypt(plain, vol)
    from volume_util import PYTHON
    from launch_util import measure
    upload_session(arcad, creator, """name: vol-fspf
version: "0.3.10"
services:
  - name: app
    command: python3 %s/main.py @@1
    pwd: /
    fspf_path: %s/volume.fspf
    fspf_key: "%s"
    fspf_update_policy: no_rollback_protection
    attestation:
      simulation: {measurement: "%s"}
security: {attestation: {mode: simulation}}
""" % (vol, vol, key, measure(PYTHON)))
    out = str(tmp_path / "out.txt")
    r = run_python(arcad, "vol-fspf/app", [out])
    assert r.returncode == 0, r.stderr
    assert parse(out) == {"data": DATA.strip(), "secret": "(none)"}


def test_key_from_secret(arcad, creator, tmp_path):
    """fspf_key as a placeholder naming a binary secret given in the policy."""
    plain = make_app(str(tmp_path / "plain"))
    vol = str(tmp_path / "app")
    key, tag = encrypt(plain, vol)
    text = volume_session("vol-secret", vol, "$$SCONE::vk:hex$$", tag, policy="ephemeral")
    text = text.replace("secrets:\n", "secrets:\n  - name: vk\n    kind: binary\n"
                        "    value: \"%s\"\n" % key)
    upload_session(arcad, creator, text)
    out = str(tmp_path / "out.txt")
    r = run_python(arcad, "vol-secret/app", [out])
    assert r.returncode == 0, r.stderr
    assert parse(out)["data"] == DATA.strip()
