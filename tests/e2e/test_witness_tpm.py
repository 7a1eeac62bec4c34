"""Rollback protection with a TPM 2.0 NV counter witness (swtpm on loopback): a data dir rolled
back as a whole (database, key-store and audit log) is refused, a TPM that is down stops
writes without losing any and is a clear refusal at start, a counter ahead (another copy of
the state served) is refused, and a cut audit tail is named line by line."""
import json
import os
import shutil

import pytest

from conftest import https_json, make_identity
from witness_util import restore_state, save_state, swtpm  # noqa: F401 (fixture)

BODY = 'name: w\nversion: "0.3"\nsecrets:\n  - name: k\n    kind: binary\n'


def refused(a):
    with pytest.raises(RuntimeError) as exc:
        a.start()
    return str(exc.value)


def events(a, name):
    return [json.loads(l) for l in a.audit().splitlines() if '"event":"%s"' % name in l]


def test_whole_data_dir_rolled_back_is_refused(arcad_factory, swtpm, tmp_path):
    a = arcad_factory(["--witness", swtpm.spec], workers=1)
    me = make_identity(tmp_path, "owner", a)
    st, ans = https_json(a, me, "POST", "/v1/sessions", BODY)
    assert st == 201, ans
    first = ans["hash"]
    assert a.stop() == 0
    saved = str(tmp_path / "saved")
    save_state(a.data, saved)

    a.start()
    st, ans = https_json(a, me, "POST", "/v1/sessions", BODY + 'predecessor: "%s"\n' % first)
    assert st == 200, ans
    assert a.stop() == 0

    restore_state(saved, a.data)
    msg = refused(a)
    assert "state rolled back: witness tpm:swtpm" in msg, msg
    assert "but the state is at commit" in msg, msg
    assert any("state rolled back" in e["fields"]["reason"]
               for e in events(a, "witness_refused"))


def test_tpm_down(arcad_factory, swtpm, tmp_path):
    a = arcad_factory(["--witness", swtpm.spec], workers=1)
    me = make_identity(tmp_path, "owner", a)
    st, ans = https_json(a, me, "POST", "/v1/sessions", BODY)
    assert st == 201, ans
    first = ans["hash"]

    swtpm.stop()
    st, ans = https_json(a, me, "POST", "/v1/sessions", BODY.replace("w\n", "w2\n", 1))
    assert st == 503, (st, ans)
    st, ans = https_json(a, me, "GET", "/v1/sessions/w", None)
    assert st == 200, ans  # reads go on

    swtpm.start()
    st, ans = https_json(a, me, "POST", "/v1/sessions", BODY + 'predecessor: "%s"\n' % first)
    assert st == 200, ans
    assert a.stop() == 0

    swtpm.stop()
    msg = refused(a)
    assert "witnesses answered" in msg and "cannot reach the TPM" in msg, msg
    swtpm.start()
    a.start()
    st, ans = https_json(a, me, "GET", "/v1/sessions/w", None)
    assert st == 200, ans


def test_counter_ahead_from_a_copy_is_refused(arcad_factory, swtpm, tmp_path):
    a = arcad_factory(["--witness", swtpm.spec], workers=1)
    assert a.stop() == 0
    # the host copies the data dir and serves the copy with the same arcad on the same TPM
    shutil.copytree(a.data, os.path.join(str(tmp_path), "clone-data"))
    clone = arcad_factory(["--witness", swtpm.spec], workers=1, name="clone")
    me = make_identity(tmp_path, "owner", clone)
    st, ans = https_json(clone, me, "POST", "/v1/sessions", BODY)
    assert st == 201, ans
    assert clone.stop() == 0

    msg = refused(a)
    assert "state rolled back: witness tpm:" in msg, msg


def test_cut_audit_tail_is_named(arcad_factory, swtpm, tmp_path):
    a = arcad_factory(["--witness", swtpm.spec], workers=1)
    me = make_identity(tmp_path, "owner", a)
    st, _ = https_json(a, me, "POST", "/v1/sessions", BODY)
    assert st == 201
    assert a.stop() == 0
    lines = a.audit().splitlines(keepends=True)
    last = json.loads(lines[-1])["seq"]
    with open(os.path.join(a.data, "audit.log"), "w") as f:
        f.writelines(lines[:-3])
    msg = refused(a)
    assert "3 line(s) missing at the end (sequence numbers %d to %d)" % (last - 2, last) in msg, msg
