"""`arca fspf encrypt | show | decrypt`: protected volumes from the command line, offline.

Exit codes: 0 ok, 1 failed or refused (naming the file), 2 usage error. The key and tag are
printed as hex (fspf_key / fspf_tag lines, SCONE_FSPF_KEY= / SCONE_FSPF_TAG= lines with
--envar-output, or JSON); show never prints file contents.
"""
import json
import os
import pty
import re
import select
import shutil
import subprocess

BIN = os.environ.get("ARCA_BIN_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
ARCA = os.path.join(BIN, "arca")
SECRET_TEXT = b"print('the secret is 4242-abcd')\n"


def arca(*args, env=None):
    e = dict(os.environ)
    e.pop("SCONE_FSPF_KEY", None)
    e.pop("SCONE_FSPF_TAG", None)
    e.update(env or {})
    return subprocess.run([ARCA, "fspf", *args], capture_output=True, env=e, timeout=120)


def make_tree(root):
    os.makedirs(os.path.join(root, "app", "lib"))
    os.makedirs(os.path.join(root, "data"))
    with open(os.path.join(root, "app", "main.py"), "wb") as f:
        f.write(SECRET_TEXT)
    with open(os.path.join(root, "app", "lib", "big.bin"), "wb") as f:
        f.write(os.urandom(300000))
    open(os.path.join(root, "data", "empty"), "wb").close()
    os.chmod(os.path.join(root, "app", "main.py"), 0o640)
    os.chmod(os.path.join(root, "data"), 0o700)


def encrypt(tmp, name="vol"):
    src = os.path.join(str(tmp), "src")
    if not os.path.exists(src):
        make_tree(src)
    vol = os.path.join(str(tmp), name)
    r = arca("encrypt", src, vol, "-o", "json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert re.fullmatch(r"[0-9a-f]{64}", j["key"]) and re.fullmatch(r"[0-9a-f]{32}", j["tag"])
    assert (j["files"], j["directories"], j["bytes"]) == (3, 3, 300000 + len(SECRET_TEXT))
    return src, vol, j["key"], j["tag"]


def same_tree(a, b):
    for dirpath, dirs, files in os.walk(a):
        rel = os.path.relpath(dirpath, a)
        other = os.path.join(b, rel)
        assert sorted(os.listdir(other)) == sorted(dirs + files)
        assert os.stat(dirpath).st_mode & 0o777 == os.stat(other).st_mode & 0o777
        for f in files:
            with open(os.path.join(dirpath, f), "rb") as x, open(os.path.join(other, f), "rb") as y:
                assert x.read() == y.read()
            assert (os.stat(os.path.join(dirpath, f)).st_mode & 0o777 ==
                    os.stat(os.path.join(other, f)).st_mode & 0o777)


def test_round_trip_text_envar_and_json(tmp_path):
    src, vol, key, tag = encrypt(tmp_path)
    # The ciphertext holds no plaintext.
    with open(os.path.join(vol, "app", "main.py"), "rb") as f:
        assert b"the secret is" not in f.read()
    out = os.path.join(str(tmp_path), "out")
    r = arca("decrypt", vol, out, "--key", key, "--tag", tag)
    assert r.returncode == 0, r.stderr
    assert b"verified and decrypted" in r.stdout and r.stderr == b""
    same_tree(src, out)

    r = arca("encrypt", src, os.path.join(str(tmp_path), "v2"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0].startswith("volume ") and lines[1].startswith("fspf_key: ")
    assert lines[2].startswith("fspf_tag: ")

    r = arca("encrypt", src, os.path.join(str(tmp_path), "v3"), "--envar-output")
    assert r.returncode == 0, r.stderr
    env = dict(line.split("=", 1) for line in r.stdout.decode().splitlines())
    assert sorted(env) == ["SCONE_FSPF_KEY", "SCONE_FSPF_TAG"]
    out3 = os.path.join(str(tmp_path), "out3")
    r = arca("decrypt", os.path.join(str(tmp_path), "v3"), out3, "-o", "json", env=env)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["verified"] is True and j["files"] == 3
    same_tree(src, out3)


def test_given_key(tmp_path):
    src = os.path.join(str(tmp_path), "src")
    make_tree(src)
    key = "ab" * 32
    r = arca("encrypt", src, os.path.join(str(tmp_path), "v"), "--key", key, "--chunk-size",
             "4096", "-o", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["key"] == key
    r = arca("show", os.path.join(str(tmp_path), "v"), "-o", "json")
    assert json.loads(r.stdout)["chunk_size"] == 4096


def test_jobs_give_the_same_trees(tmp_path):
    # A file large enough to be split over the workers, with 4 KiB chunks.
    src = os.path.join(str(tmp_path), "src")
    make_tree(src)
    with open(os.path.join(src, "data", "large.bin"), "wb") as f:
        f.write(os.urandom(3 * 1024 * 1024 + 7))
    for n, (ej, dj) in enumerate((("1", "3"), ("3", "1"), ("16", "2"))):
        vol = os.path.join(str(tmp_path), "v%d" % n)
        r = arca("encrypt", src, vol, "--jobs", ej, "--chunk-size", "4096", "-o", "json")
        assert r.returncode == 0, r.stderr
        j = json.loads(r.stdout)
        out = os.path.join(str(tmp_path), "o%d" % n)
        r = arca("decrypt", vol, out, "--key", j["key"], "--tag", j["tag"], "--jobs", dj)
        assert r.returncode == 0, r.stderr
        same_tree(src, out)
    for bad in ("0", "17", "x", ""):
        r = arca("encrypt", src, os.path.join(str(tmp_path), "bad"), "--jobs", bad)
        assert r.returncode == 2 and b"--jobs" in r.stderr
    assert arca("show", vol, "--jobs", "2").returncode == 2


def test_show_lists_without_contents(tmp_path):
    _, vol, key, tag = encrypt(tmp_path)
    r = arca("show", vol)
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode()
    assert "NOT verified" in text and tag in text
    assert "app/main.py" in text and "data/" in text and "the secret is" not in text
    assert key not in text
    r = arca("show", vol, "--key", key, "--tag", tag, "-o", "json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["verified"] is True and j["root_tag"] == tag and j["format"] == 1
    by_path = {e["path"]: e for e in j["entries"]}
    assert by_path["app/main.py"]["mode"] == "0640"
    assert by_path["app/main.py"]["size"] == len(SECRET_TEXT)
    assert by_path["data"]["type"] == "directory" and by_path["data"]["mode"] == "0700"
    assert b"the secret is" not in r.stdout
    r = arca("show", vol, "--key", "00" * 32, "--tag", tag)
    assert r.returncode == 1 and b"key does not open" in r.stderr


def flip(path, off):
    with open(path, "r+b") as f:
        f.seek(off)
        c = f.read(1)
        f.seek(off)
        f.write(bytes([c[0] ^ 1]))


def test_tampering_refused_naming_the_file(tmp_path):
    _, vol, key, tag = encrypt(tmp_path)
    out = os.path.join(str(tmp_path), "out")

    def refused(v, needle, k=key, t=tag):
        r = arca("decrypt", v, out, "--key", k, "--tag", t)
        assert r.returncode == 1, r
        assert needle in r.stderr.decode(), r.stderr
        assert not os.path.exists(out)

    def copy():
        t = os.path.join(str(tmp_path), "t")
        shutil.rmtree(t, ignore_errors=True)
        shutil.copytree(vol, t)
        return t

    t = copy()
    flip(os.path.join(t, "app", "lib", "big.bin"), 200000)
    refused(t, "file 'app/lib/big.bin': chunk 3 of 5 does not authenticate")
    t = copy()
    flip(os.path.join(t, "volume.fspf"), 100)
    refused(t, "volume " + t)
    t = copy()
    os.unlink(os.path.join(t, "app", "main.py"))
    refused(t, "file 'app/main.py' of the manifest is missing")
    t = copy()
    open(os.path.join(t, "data", "new"), "wb").close()
    refused(t, "file 'data/new' is not in the manifest")
    t = copy()
    os.truncate(os.path.join(t, "app", "main.py"), 10)
    refused(t, "file 'app/main.py' has 10 bytes")
    refused(vol, "key does not open", k="11" * 32)
    refused(vol, "is not the expected", t="22" * 16)
    r = arca("decrypt", vol, out, "--key", key, "--tag", tag)
    assert r.returncode == 0, r.stderr


def test_source_refusals(tmp_path):
    src = os.path.join(str(tmp_path), "src")
    make_tree(src)
    os.symlink("/etc/passwd", os.path.join(src, "app", "passwd"))
    vol = os.path.join(str(tmp_path), "vol")
    r = arca("encrypt", src, vol)
    assert r.returncode == 1
    assert b"app/passwd: is a symbolic link" in r.stderr
    assert not os.path.exists(vol)
    os.unlink(os.path.join(src, "app", "passwd"))
    os.makedirs(vol)
    open(os.path.join(vol, "x"), "wb").close()
    r = arca("encrypt", src, vol)
    assert r.returncode == 1 and b"is not empty" in r.stderr


def test_usage(tmp_path):
    r = arca()
    assert r.returncode == 2 and b"usage: arca fspf" in r.stderr
    for args in (["--help"], ["encrypt", "--help"], ["help"]):
        r = arca(*args)
        assert r.returncode == 0 and b"usage: arca fspf" in r.stdout
    assert arca("bogus").returncode == 2
    assert arca("encrypt", "a").returncode == 2
    assert arca("encrypt", "a", "b", "--nope").returncode == 2
    assert arca("encrypt", "a", "b", "--chunk-size", "5000").returncode == 2
    assert arca("encrypt", "a", "b", "--key", "xyz").returncode == 2
    assert arca("encrypt", "a", "b", "--envar-output", "-o", "json").returncode == 2
    r = arca("decrypt", "a", "b")
    assert r.returncode == 2 and b"SCONE_FSPF_KEY" in r.stderr
    r = arca("decrypt", "a", "b", "--key", "00" * 32, "--tag", "abc")
    assert r.returncode == 2 and b"32 hex digits" in r.stderr
    assert arca("show", "a", "--key", "00" * 32).returncode == 2
    r = subprocess.run([ARCA, "--help"], capture_output=True, timeout=30)
    assert b"fspf" in r.stdout


def test_progress_bar_only_on_a_terminal(tmp_path):
    src = os.path.join(str(tmp_path), "many")
    os.makedirs(src)
    for i in range(1000):
        with open(os.path.join(src, "f%04d" % i), "wb") as f:
            f.write(b"x" * (i % 50))
    r = arca("encrypt", src, os.path.join(str(tmp_path), "v1"))
    assert r.returncode == 0 and r.stderr == b""
    master, slave = pty.openpty()
    p = subprocess.Popen([ARCA, "fspf", "encrypt", src, os.path.join(str(tmp_path), "v2")],
                         stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    p.stdout.read()
    assert p.wait(60) == 0
    os.close(master)
    assert b"1000/1000 files" in seen and b"100%" in seen
