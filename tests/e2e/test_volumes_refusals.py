"""Bad volumes are refused by arca-run before the program starts, naming the file: one flipped
byte in a file or in the manifest, a missing or an extra file, a wrong key, an older copy
under rollback_protected. Nothing of the plaintext appears anywhere."""
import os
import shutil
import subprocess

import pytest

from launch_util import KeyPair, upload_session
from volume_util import ARCA, encrypt, make_app, run_python, volume_session


@pytest.fixture(scope="module")
def creator(tmp_path_factory):
    return KeyPair(str(tmp_path_factory.mktemp("creator")), "creator")


def flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x01]))


def damage_file(vol):
    flip(os.path.join(vol, "data", "values.txt"), 3)
    return "data/values.txt"


def damage_manifest(vol):
    flip(os.path.join(vol, "volume.fspf"), 100)
    return "volume.fspf"


def remove_file(vol):
    os.unlink(os.path.join(vol, "main.py"))
    return "main.py"


def add_file(vol):
    with open(os.path.join(vol, "data", "extra.py"), "wb") as f:
        f.write(b"print('injected by the host')\n")
    return "data/extra.py"


@pytest.mark.parametrize("damage", [damage_file, damage_manifest, remove_file, add_file])
def test_damaged_volume_refused(arcad, creator, tmp_path, damage):
    plain = make_app(str(tmp_path / "plain"))
    vol = str(tmp_path / "app")
    key, tag = encrypt(plain, vol)
    name = "vol-bad-" + damage.__name__.replace("_", "-")
    upload_session(arcad, creator, volume_session(name, vol, key, tag, policy="ephemeral"))
    named = damage(vol)
    out = str(tmp_path / "out.txt")
    r = run_python(arcad, name + "/app", [out])
    assert r.returncode != 0
    assert not os.path.exists(out), "the program ran"
    assert "volume" in r.stderr and named in r.stderr, r.stderr
    assert key not in r.stderr


def test_wrong_key_refused(arcad, creator, tmp_path):
    plain = make_app(str(tmp_path / "plain"))
    vol = str(tmp_path / "app")
    key, tag = encrypt(plain, vol)
    other = "%064x" % (int(key, 16) ^ 1)
    upload_session(arcad, creator, volume_session("vol-wrong-key", vol, other, tag,
                                                  policy="ephemeral"))
    out = str(tmp_path / "out.txt")
    r = run_python(arcad, "vol-wrong-key/app", [out])
    assert r.returncode != 0 and not os.path.exists(out)
    assert "does not open this volume" in r.stderr and vol in r.stderr, r.stderr


def test_older_copy_refused(arcad, creator, tmp_path):
    """Two versions under one key: the policy names the newer tag; the host puts the older
    copy back (rollback) and is refused."""
    plain = make_app(str(tmp_path / "plain"))
    old = str(tmp_path / "old")
    key, old_tag = encrypt(plain, old)
    with open(os.path.join(plain, "data", "values.txt"), "a") as f:
        f.write("newer\n")
    vol = str(tmp_path / "app")
    p = subprocess.run([ARCA, "fspf", "encrypt", plain, vol, "--key", key, "--envar-output"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    new_tag = dict(x.split("=", 1) for x in p.stdout.split())["SCONE_FSPF_TAG"]
    upload_session(arcad, creator, volume_session("vol-rollback", vol, key, new_tag))
    shutil.rmtree(vol)
    shutil.copytree(old, vol)
    out = str(tmp_path / "out.txt")
    r = run_python(arcad, "vol-rollback/app", [out])
    assert r.returncode != 0 and not os.path.exists(out)
    assert old_tag in r.stderr and "older version" in r.stderr, r.stderr
