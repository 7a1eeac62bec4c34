"""Writable volumes and freshness end to end: arca-run stays the program's parent, re-encrypts
changed volumes after it exits (keeping its exit status) and reports the new root tag to arcad
over POST /v1/volumes/tag with the configuration's credential; arcad keeps the latest tag per
volume, so the next launch gets it and an older copy put back on disk is refused
(rollback_protected); ephemeral changes are dropped; a volume with no key in the policy gets
arcad's own key on first use."""
import os
import re
import shutil

import pytest

from launch_util import KeyPair, measure, post, upload_session
from volume_util import (DATA, PYTHON, decrypt, encrypt, make_app, parse, run_python,
                         volume_session)


@pytest.fixture(scope="module")
def creator(tmp_path_factory):
    return KeyPair(str(tmp_path_factory.mktemp("creator")), "creator")


def new_tag(stderr):
    m = re.findall(r"saved at \S+: new tag ([0-9a-f]{32})", stderr)
    assert m, stderr
    return m[-1]


def test_changes_saved_and_rollback_refused(arcad, creator, tmp_path):
    plain = make_app(str(tmp_path / "plain"))
    vol = str(tmp_path / "app")
    key, tag0 = encrypt(plain, vol)
    upload_session(arcad, creator, volume_session("vol-rw", vol, key, tag0, inject=False,
                                                  extra_args=" @@2"))
    out = str(tmp_path / "out1")
    r = run_python(arcad, "vol-rw/app", [out, "line-one"])
    assert r.returncode == 0, r.stderr
    assert parse(out)["data"] == DATA.strip()
    tag1 = new_tag(r.stderr)
    assert tag1 != tag0
    assert b"line-one" not in open(os.path.join(vol, "data", "values.txt"), "rb").read()
    check = str(tmp_path / "check1")
    assert decrypt(vol, check, key, tag1).returncode == 0
    assert open(os.path.join(check, "data", "values.txt")).read() == DATA + "line-one\n"
    assert "new tag %s" % tag1 in arcad.logs()
    copy1 = str(tmp_path / "copy1")
    shutil.copytree(vol, copy1)

    # The next launch gets the latest tag from arcad (the policy still names tag0).
    out = str(tmp_path / "out2")
    r = run_python(arcad, "vol-rw/app", [out, "line-two"])
    assert r.returncode == 0, r.stderr
    assert parse(out)["data"] == (DATA + "line-one").strip().replace("\n", "|")
    tag2 = new_tag(r.stderr)

    # The host puts the older copy back: refused before the program starts.
    shutil.rmtree(vol)
    shutil.copytree(copy1, vol)
    out = str(tmp_path / "out3")
    r = run_python(arcad, "vol-rw/app", [out, "line-three"])
    assert r.returncode != 0 and not os.path.exists(out)
    assert tag1 in r.stderr and tag2 in r.stderr and "older version" in r.stderr, r.stderr


def test_exit_status_kept(arcad, creator, tmp_path):
    """arca-run as parent returns the program's own exit status, after saving."""
    plain = make_app(str(tmp_path / "plain"),
                     main="import sys\nopen(sys.argv[1], 'w').write('x')\nsys.exit(7)\n")
    vol = str(tmp_path / "app")
    key, tag = encrypt(plain, vol)
    upload_session(arcad, creator, volume_session("vol-status", vol, key, tag, inject=False))
    r = run_python(arcad, "vol-status/app", [str(tmp_path / "o")])
    assert r.returncode == 7, r.stderr
    assert "saved" not in r.stderr  # nothing changed inside the volume: no new version


def test_ephemeral_changes_dropped(arcad, creator, tmp_path):
    plain = make_app(str(tmp_path / "plain"))
    vol = str(tmp_path / "app")
    key, tag = encrypt(plain, vol)
    upload_session(arcad, creator, volume_session("vol-eph", vol, key, tag, policy="ephemeral",
                                                  inject=False, extra_args=" @@2"))
    before = open(os.path.join(vol, "volume.fspf"), "rb").read()
    r = run_python(arcad, "vol-eph/app", [str(tmp_path / "o"), "dropped"])
    assert r.returncode == 0, r.stderr
    assert open(os.path.join(vol, "volume.fspf"), "rb").read() == before
    assert "saved" not in r.stderr


def test_key_generated_on_first_use(arcad, creator, tmp_path):
    """A volume with neither key nor tag in the policy: arcad makes its key on first use; the
    empty directory becomes a volume; the next launch sees the data written before."""
    vol = str(tmp_path / "state")
    os.mkdir(vol)
    prog = ("import os,sys; p=os.path.join(sys.argv[1],'count'); "
            "n=int(open(p).read()) if os.path.exists(p) else 0; "
            "open(p,'w').write(str(n+1)); open(sys.argv[2],'w').write(str(n+1))")
    text = """name: vol-auto
version: "0.3.10"
services:
  - name: app
    command: python3 -c "%s" %s @@1
    pwd: /
    image_name: img
    attestation:
      simulation: {measurement: "%s"}
images:
  - name: img
    volumes:
      - name: state
        path: %s
volumes:
  - name: state
security: {attestation: {mode: simulation}}
""" % (prog, vol, measure(PYTHON), vol)
    upload_session(arcad, creator, text)
    for n in (1, 2, 3):
        out = str(tmp_path / ("o%d" % n))
        r = run_python(arcad, "vol-auto/app", [out])
        assert r.returncode == 0, r.stderr
        assert open(out).read() == str(n)
        assert os.path.exists(os.path.join(vol, "volume.fspf"))
        # On disk: the manifest and the counter's ciphertext (its size plus one 16-byte tag).
        assert os.path.getsize(os.path.join(vol, "count")) == len(str(n)) + 16


def test_report_needs_the_credential(arcad, creator, tmp_path):
    """POST /v1/volumes/tag with a made-up token is refused; nothing is stored."""
    kp = KeyPair(str(tmp_path / "k"), "stranger")
    status, body = post(arcad.enclave, kp, "/v1/volumes/tag",
                        {"config_id": "vol-rw/app", "volume": "code", "token": "00" * 48,
                         "old_tag": "11" * 16, "tag": "22" * 16})
    assert status == 401, body
    status, body = post(arcad.enclave, kp, "/v1/volumes/tag",
                        {"config_id": "vol-rw/app", "volume": "code", "tag": "zz"})
    assert status == 400, body


def test_signals_forwarded(arcad, creator, tmp_path):
    """arca-run as parent passes SIGTERM on to the program and ends with its status."""
    import signal
    import subprocess
    import time
    from launch_util import ARCA_RUN, arca_run_env
    main = ("import signal, sys, time\n"
            "def h(s, f):\n"
            "    open(sys.argv[1], 'w').write('term')\n"
            "    sys.exit(3)\n"
            "signal.signal(signal.SIGTERM, h)\n"
            "open(sys.argv[1] + '.ready', 'w').write('1')\n"
            "time.sleep(60)\n")
    plain = make_app(str(tmp_path / "plain"), main=main)
    vol = str(tmp_path / "app")
    key, tag = encrypt(plain, vol)
    upload_session(arcad, creator, volume_session("vol-sig", vol, key, tag, inject=False))
    out = str(tmp_path / "o")
    p = subprocess.Popen([ARCA_RUN, PYTHON, out], env=arca_run_env(arcad, "vol-sig/app"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(600):  # until the program is up (bounded), not a timing assertion
        if os.path.exists(out + ".ready") or p.poll() is not None:
            break
        time.sleep(0.05)
    if p.poll() is not None:
        err = p.stderr.read()
        if "private mount namespace" in err or "cannot make / private" in err:
            pytest.skip("no private mount namespace here")
        pytest.fail(err)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 3, err
    assert open(out).read() == "term"
