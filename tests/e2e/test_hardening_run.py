"""arca-run against a hostile host file system (issue 9, items 6 and 7), end to end: a program
rewritten in place while it is being launched never runs unmeasured; a script sees its own
path as $0 / __file__; a directory component flipped between a real directory and a symlink to
another host directory while arca-run injects a file below it leaves nothing on the real disk.
The races run in bounded loops; a run may be refused, but never do the wrong thing."""
import hashlib
import os
import subprocess
import sys
import threading

import pytest

from launch_util import (ARCA_RUN, KeyPair, arca_run_env, measure, run_arca_run, upload_session,
                         write_program)

PROG_A = "#!/bin/sh\necho AAAA > \"$1\"\n"
PROG_B = "#!/bin/sh\necho BBBB > \"$1\"\n"


@pytest.fixture(scope="module")
def creator(tmp_path_factory):
    return KeyPair(str(tmp_path_factory.mktemp("creator")), "creator")


def plain_session(name, measurement, command, files=""):
    return ("name: %s\n"
            "version: \"0.3.10\"\n"
            "services:\n"
            "  - name: app\n"
            "    command: %s\n"
            "    pwd: /\n"
            "    image_name: img\n"
            "    attestation:\n"
            "      simulation: {measurement: \"%s\"}\n"
            "images:\n"
            "  - name: img\n"
            "%s"
            "security: {attestation: {mode: simulation}}\n" % (name, command, measurement, files))


def test_rewritten_in_place_never_runs_unmeasured(arcad, creator, tmp_path):
    assert len(PROG_A) == len(PROG_B)
    prog = write_program(tmp_path, "flip.sh", PROG_A)
    upload_session(arcad, creator, plain_session(
        "rewrite", hashlib.sha256(PROG_A.encode()).hexdigest(), "flip.sh @@1"))
    stop = threading.Event()

    def writer():
        # In place: same inode, same length, only the bytes change. The file is open for
        # writing only while it is written, as an editor or a deployment would do it.
        while not stop.is_set():
            for text in (PROG_B, PROG_A):
                fd = os.open(prog, os.O_WRONLY)
                os.pwrite(fd, text.encode(), 0)
                os.close(fd)
                stop.wait(0.002)

    t = threading.Thread(target=writer)
    t.start()
    ran = {"AAAA": 0, "BBBB": 0}
    try:
        for i in range(30):
            out = str(tmp_path / ("out%d" % i))
            r = run_arca_run(arcad, "rewrite/app", prog, [out])
            if r.returncode == 0:
                ran[open(out).read().strip()] += 1
            else:
                assert not os.path.exists(out)
                assert "simulation measurement differs" in r.stderr, r.stderr
    finally:
        stop.set()
        t.join()
    assert ran["BBBB"] == 0, ran   # the unmeasured version never ran
    assert ran["AAAA"] > 0, ran    # and the measured one did


def test_script_sees_its_real_path(arcad, creator, tmp_path):
    sh = write_program(tmp_path, "whoami.sh", "#!/bin/sh\nprintf '%s' \"$0\" > \"$1\"\n")
    py = write_program(tmp_path, "whoami.py",
                       "#!%s\nimport sys\nopen(sys.argv[1], 'w').write(__file__)\n"
                       % sys.executable)
    for name, prog in (("dollar0-sh", sh), ("dollar0-py", py)):
        m = measure(prog)
        assert m == hashlib.sha256(open(prog, "rb").read()).hexdigest()  # --measure unchanged
        upload_session(arcad, creator, plain_session(name, m, os.path.basename(prog) + " @@1"))
        out = str(tmp_path / (name + ".out"))
        r = run_arca_run(arcad, name + "/app", prog, [out])
        assert r.returncode == 0, r.stderr
        assert open(out).read() == prog  # not /dev/fd/N
    # Started by a relative name, the program still gets its absolute path (pwd is "/").
    out = str(tmp_path / "rel.out")
    r = subprocess.run([ARCA_RUN, "./whoami.sh", out], cwd=str(tmp_path), capture_output=True,
                       text=True, timeout=60, env=arca_run_env(arcad, "dollar0-sh/app"))
    assert r.returncode == 0, r.stderr
    assert open(out).read() == sh


FLIPPER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
site = os.open(sys.argv[1], os.O_PATH | os.O_DIRECTORY)
print("ready", flush=True)
while True:  # killed by the test
    if libc.renameat2(site, b"d", site, b"d.alt", 2) != 0:  # RENAME_EXCHANGE
        sys.exit("renameat2: %s" % os.strerror(ctypes.get_errno()))
"""


def test_flipped_symlink_leaves_nothing_on_disk(arcad, creator, tmp_path):
    site, host = tmp_path / "site", tmp_path / "host"
    site.mkdir()
    host.mkdir()
    (site / "d").mkdir()
    os.symlink(str(host), str(site / "d.alt"))
    target = str(site / "d" / "sub" / "secret.conf")
    prog = write_program(tmp_path, "quiet.sh", "#!/bin/sh\nexit 0\n")
    files = ("    injection_files:\n"
             "      - path: %s\n"
             "        permission: 0o600\n"
             "        content: flipped-secret\n" % target)
    m = hashlib.sha256(open(prog, "rb").read()).hexdigest()
    upload_session(arcad, creator, plain_session("flip", m, "quiet.sh", files))
    flipper = subprocess.Popen([sys.executable, "-c", FLIPPER, str(site)], stdout=subprocess.PIPE,
                               text=True)
    ok = 0
    try:
        assert flipper.stdout.readline().strip() == "ready"
        for _ in range(40):
            r = run_arca_run(arcad, "flip/app", prog)
            assert r.returncode == 0 or "injection" in r.stderr, r.stderr
            ok += r.returncode == 0
    finally:
        flipper.kill()
        flipper.wait()
    real = site / "d" if not os.path.islink(str(site / "d")) else site / "d.alt"
    assert os.listdir(str(host)) == []
    assert os.listdir(str(real)) == []
    assert sorted(os.listdir(str(site))) == ["d", "d.alt"]
    for dirpath, dirnames, filenames in os.walk(str(tmp_path)):
        assert "secret.conf" not in filenames and "sub" not in dirnames, dirpath
    assert ok > 0
