"""arca-run --timing: one line on stderr, before the program runs, naming every start-up phase
with its milliseconds and the total; figures only (no secret), and the launch is otherwise the
same. The numbers themselves are not checked (bench/launch.sh measures them)."""
import re
import subprocess

import pytest

from launch_util import (ARCA_RUN, KeyPair, arca_run_env, measure, session_yaml, upload_session,
                         write_program)

PHASES = ["program", "keygen", "libcurl", "connect", "challenge", "evidence", "attest", "config",
          "volumes", "mounts", "exec"]


@pytest.fixture(scope="module")
def creator(tmp_path_factory):
    return KeyPair(str(tmp_path_factory.mktemp("creator")), "creator")


def timing_lines(stderr):
    return [ln for ln in stderr.splitlines() if ln.startswith("arca-run: timing:")]


def test_timing_breakdown(arcad, creator, tmp_path):
    prog = write_program(tmp_path)
    upload_session(arcad, creator, session_yaml("launch-timing", measure(prog)))
    out = str(tmp_path / "out.txt")
    r = subprocess.run([ARCA_RUN, "--timing", prog, out], capture_output=True, text=True,
                       timeout=60, env=arca_run_env(arcad, "launch-timing/app"))
    assert r.returncode == 0, r.stderr
    lines = timing_lines(r.stderr)
    assert len(lines) == 1, r.stderr
    fields = lines[0][len("arca-run: timing:"):].split()
    names = [f.partition("=")[0] for f in fields]
    assert names == PHASES + ["total"], lines[0]
    for f in fields:
        assert re.fullmatch(r"[a-z-]+=[0-9]+\.[0-9]{2}ms", f), f
    # The program still ran with its configuration, and no secret value is in the line.
    got = dict(ln.partition("=")[::2] for ln in open(out).read().splitlines())
    pw = got["env:PW"]
    assert pw and pw not in r.stderr


def test_no_timing_without_flag_and_after_double_dash(arcad, creator, tmp_path):
    prog = write_program(tmp_path)
    upload_session(arcad, creator, session_yaml("launch-timing2", measure(prog)))
    out = str(tmp_path / "out.txt")
    env = arca_run_env(arcad, "launch-timing2/app")
    r = subprocess.run([ARCA_RUN, prog, out], capture_output=True, text=True, timeout=60,
                       env=env)
    assert r.returncode == 0, r.stderr
    assert timing_lines(r.stderr) == []
    r = subprocess.run([ARCA_RUN, "--timing", "--", prog, out], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert len(timing_lines(r.stderr)) == 1
