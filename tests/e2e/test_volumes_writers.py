"""Two writers of one rollback-protected volume: two arca-run instances of the same service
unlock the same version, both change it, both save. Exactly one wins (its version is on disk
and is the tag arcad keeps); the other is refused with a message naming the volume, does not
replace the winner's version, and keeps its own changes encrypted beside it, so nothing is
lost; the next launch sees the winner's change."""
import glob
import json
import os
import re
import subprocess
import time

import pytest

from launch_util import ARCA_RUN, KeyPair, arca_run_env, upload_session
from volume_util import (ARCA, DATA, PYTHON, decrypt, encrypt, make_app, parse, run_python,
                         volume_session)

# Appends its line only once the test says go, so both runs hold the same unlocked version.
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


def test_two_writers_one_wins_nothing_lost(arcad, creator, tmp_path):
    plain = make_app(str(tmp_path / "plain"), main=WRITER_PY)
    vol = str(tmp_path / "app")
    key, tag0 = encrypt(plain, vol)
    upload_session(arcad, creator, volume_session("vol-2w", vol, key, tag0, inject=False,
                                                  extra_args=" @@2 @@3"))
    go = str(tmp_path / "go")
    outs = [str(tmp_path / "out-a"), str(tmp_path / "out-b")]
    procs = [subprocess.Popen([ARCA_RUN, PYTHON, out, "line-%s" % out[-1], go],
                              env=arca_run_env(arcad, "vol-2w/app"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for out in outs]
    try:
        for _ in range(1200):  # until both programs run (bounded), not a timing assertion
            if all(os.path.exists(o + ".ready") or p.poll() is not None
                   for o, p in zip(outs, procs)):
                break
            time.sleep(0.05)
        for p in procs:
            if p.poll() is not None:
                err = p.stderr.read()
                if "private mount namespace" in err or "cannot make / private" in err:
                    pytest.skip("no private mount namespace here")
                pytest.fail(err)
    finally:
        open(go, "w").write("go")
    results = [p.communicate(timeout=120) for p in procs]
    codes = [p.returncode for p in procs]
    for o in outs:
        assert open(o).read() == "done"  # both programs ran to the end
    assert sorted(codes) == [0, 1], results
    win = codes.index(0)
    lose = 1 - win
    lose_err = results[lose][1]
    assert "volume code at %s: another writer saved a newer version first" % vol in lose_err, \
        lose_err
    assert "stay encrypted" in lose_err
    tag_win = re.findall(r"saved at \S+: new tag ([0-9a-f]{32})", results[win][1])[-1]

    # On disk: the winner's version, with its line only.
    check = str(tmp_path / "check")
    assert decrypt(vol, check, key, tag_win).returncode == 0
    data = open(os.path.join(check, "data", "values.txt")).read()
    assert data == DATA + "line-%s\n" % "ab"[win]

    # Nothing lost: the loser's version lies beside, encrypted under the same key.
    kept = glob.glob(vol + ".arca-new.*")
    assert len(kept) == 1, kept
    r = subprocess.run([ARCA, "fspf", "show", kept[0], "-o", "json"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    tag_lose = json.loads(r.stdout)["root_tag"]
    lost = str(tmp_path / "lost")
    assert decrypt(kept[0], lost, key, tag_lose).returncode == 0
    assert open(os.path.join(lost, "data", "values.txt")).read() == \
        DATA + "line-%s\n" % "ab"[lose]

    # arcad keeps the winner's tag: the next launch unlocks the winner's version.
    plain2 = str(tmp_path / "o-next")
    r = run_python(arcad, "vol-2w/app", [plain2, "line-c", go])
    assert r.returncode == 0, r.stderr
    assert "line-c" not in open(os.path.join(vol, "data", "values.txt"), "rb").read().decode(
        "latin-1")
