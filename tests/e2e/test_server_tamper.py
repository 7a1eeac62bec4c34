"""Flip random bytes in arcad's database and key-store (>= 200 flips): every flip is either
refused at start-up with a clear error or the tampered record is refused when read; arcad
never crashes and never serves a record that differs from what was stored."""
import os
import random
import shutil
import signal
import subprocess
import time

from conftest import ARCAD, https_json, make_identity

FLIPS = int(os.environ.get("ARCA_TAMPER_FLIPS", "200"))
SESSIONS = 4


def start(a, timeout=20):
    """Starts arcad over a.data; returns (proc, client port) or (None, stderr) if it refused."""
    out = open(os.path.join(a.tmp, "t.out"), "w+")
    err = open(os.path.join(a.tmp, "t.err"), "w+")
    p = subprocess.Popen([ARCAD, "--data-dir", a.data, "--client-listen", "127.0.0.1:0",
                          "--enclave-listen", "127.0.0.1:0", "--sim-dir", a.sim, "--workers",
                          "1"], stdout=out, stderr=err)
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = open(out.name).read()
        if "arcad ready" in text:
            port = [int(l.rsplit(":", 1)[1]) for l in text.splitlines()
                    if l.startswith("client API listening on ")][0]
            return p, port
        if p.poll() is not None:
            return None, (p.returncode, open(err.name).read())
        time.sleep(0.02)
    p.kill()
    raise AssertionError("arcad neither started nor refused")


def test_flipped_bytes_are_detected(tmp_path, arcad_factory):
    a = arcad_factory(workers=1)
    me = make_identity(tmp_path, "owner", a)
    expected = {}
    for i in range(SESSIONS):
        y = ('name: tamper-%d\nversion: "0.3"\nsecrets:\n  - name: k\n    kind: binary\n'
             '  - name: p\n    kind: ascii\n    export_public: true\n' % i)
        st, ans = https_json(a, me, "POST", "/v1/sessions", y)
        assert st == 201, ans
        expected["tamper-%d" % i] = ans["hash"]
    assert a.stop() == 0
    pristine = os.path.join(str(tmp_path), "pristine")
    shutil.copytree(a.data, pristine)
    files = ["arca.db", "arca.db.key-store"]
    rnd = random.Random(42)
    refused = served_ok = refused_reads = 0
    for flip in range(FLIPS):
        shutil.rmtree(a.data)
        shutil.copytree(pristine, a.data)
        name = files[0] if flip % 4 else files[1]
        path = os.path.join(a.data, name)
        size = os.path.getsize(path)
        off = rnd.randrange(size)
        with open(path, "r+b") as f:
            f.seek(off)
            b = f.read(1)[0]
            f.seek(off)
            f.write(bytes([b ^ (1 << rnd.randrange(8))]))
        proc, port = start(a)
        if proc is None:
            rc, err = port
            assert rc == 1, "arcad crashed (rc %s) on a flip in %s at %d: %s" % (rc, name, off, err)
            lines = [l for l in err.splitlines() if l.startswith("arcad: ")]
            assert lines and len(lines[0]) > 20, err
            refused += 1
            continue
        # the key-store is authenticated as a whole: no flip in it may go unnoticed
        assert name != "arca.db.key-store", "key-store flip at %d not detected" % off
        try:
            a.client = port
            for s, h in expected.items():
                st, ans = https_json(a, me, "GET", "/v1/sessions/" + s)
                if st == 200:
                    assert ans["hash"] == h, "served a tampered record: %s" % ans
                    served_ok += 1
                else:
                    assert st in (404, 500), (st, ans)
                    assert ans["msg"][0], ans
                    refused_reads += 1
                st, v = https_json(a, None, "GET", "/v1/values/session=" + s)
                assert st in (200, 404, 500), (st, v)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    # flips in the database's free space are harmless; every key-store flip was refused
    assert refused >= FLIPS // 4, (refused, served_ok, refused_reads)
