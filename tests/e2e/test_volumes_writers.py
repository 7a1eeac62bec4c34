"""Two writers of one rollback-protected volume. The plaintext is mounted over the encrypted
directory, and a writer that saves swaps a new directory in under the same name: a second
program still running over the old one would from then on reach the new encrypted tree by path
(and write its plaintext into it). So a volume whose changes are kept has one writer at a time:
a second arca-run of it is refused at start, naming the volume, before anything is decrypted;
the first runs to the end and saves; nothing is lost; the next launch sees its change."""
import glob
import os
import re
import subprocess
import time

import pytest

from launch_util import ARCA_RUN, KeyPair, arca_run_env, upload_session
from volume_util import (DATA, PYTHON, decrypt, encrypt, make_app, parse, run_python,
                         volume_session)

# Appends its line only once the test says go, so the first run holds the volume meanwhile.
WRITER_PY = """import os, sys, time
here = os.path.dirname(os.path.abspath(__file__))
out, line, go = sys.argv[1], sys.argv[2], sys.argv[3]
open(out + ".ready", "w").write("1")
for _ in range(1200):
    if os.path.exists(go):
        break
    time.sleep(0.05)
with open(os.path.join(here, "data", "values.txt"), "a") as f:
    f.write(line + "\\n")
open(out, "w").write("done")
"""


@pytest.fixture(scope="module")
def creator(tmp_path_factory):
    return KeyPair(str(tmp_path_factory.mktemp("creator")), "creator")


def test_second_writer_refused_first_wins_nothing_lost(arcad, creator, tmp_path):
    plain = make_app(str(tmp_path / "plain"), main=WRITER_PY)
    vol = str(tmp_path / "app")
    key, tag0 = encrypt(plain, vol)
    upload_session(arcad, creator, volume_session("vol-2w", vol, key, tag0, inject=False,
                                                  extra_args=" @@2 @@3"))
    go = str(tmp_path / "go")
    out_a, out_b = str(tmp_path / "out-a"), str(tmp_path / "out-b")
    a = subprocess.Popen([ARCA_RUN, PYTHON, out_a, "line-a", go],
                         env=arca_run_env(arcad, "vol-2w/app"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(1200):  # until the first program runs (bounded), not a timing assertion
            if os.path.exists(out_a + ".ready") or a.poll() is not None:
                break
            time.sleep(0.05)
        if a.poll() is not None:
            err = a.stderr.read()
            if "private mount namespace" in err or "cannot make / private" in err:
                pytest.skip("no private mount namespace here")
            pytest.fail(err)
        # the second writer, while the first holds the volume
        b = subprocess.run([ARCA_RUN, PYTHON, out_b, "line-b", go],
                           env=arca_run_env(arcad, "vol-2w/app"), capture_output=True, text=True,
                           timeout=120)
    finally:
        open(go, "w").write("go")
    out, err = a.communicate(timeout=120)
    assert a.returncode == 0, err
    assert b.returncode != 0
    assert "volume code at %s is in use by another arca-run" % vol in b.stderr, b.stderr
    assert not os.path.exists(out_b + ".ready")  # refused before the program started
    tag_a = re.findall(r"saved at \S+: new tag ([0-9a-f]{32})", err)[-1]

    # On disk: the first writer's version with its line; nothing else beside it.
    check = str(tmp_path / "check")
    assert decrypt(vol, check, key, tag_a).returncode == 0
    assert open(os.path.join(check, "data", "values.txt")).read() == DATA + "line-a\n"
    assert glob.glob(vol + ".arca-new.*") == []

    # arcad keeps that tag: the next launch (the volume is free again) unlocks it and writes.
    r = run_python(arcad, "vol-2w/app", [str(tmp_path / "o-next"), "line-c", go])
    assert r.returncode == 0, r.stderr
    assert "line-c" not in open(os.path.join(vol, "data", "values.txt"), "rb").read().decode(
        "latin-1")
