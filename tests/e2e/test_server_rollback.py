"""Rollback of arcad's database and key-store together to an older consistent copy (issue 9,
item 9): the store alone cannot see it (its chain and seal agree), but the signed audit log
that outlived the copy proves a newer state was acknowledged, so arcad refuses to serve."""
import glob
import json
import os
import shutil

import pytest

from conftest import https_json, make_identity

BODY = 'name: rb\nversion: "0.3"\nsecrets:\n  - name: k\n    kind: binary\n'


def save_state(data, to):
    os.makedirs(to)
    for p in glob.glob(os.path.join(data, "arca.db*")) + glob.glob(os.path.join(data, "*key*")):
        if os.path.isfile(p):
            shutil.copy2(p, to)


def restore_state(saved, data):
    for p in glob.glob(os.path.join(data, "arca.db*")):
        os.unlink(p)
    for p in os.listdir(saved):
        shutil.copy2(os.path.join(saved, p), data)


def test_database_and_keystore_rolled_back_together_are_refused(arcad_factory, tmp_path):
    a = arcad_factory(workers=1)
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
    with pytest.raises(RuntimeError) as exc:
        a.start()
    msg = str(exc.value)
    assert "state rolled back" in msg, msg
    assert "audit log" in msg and "line" in msg, msg

    # the data dir is untouched by the refusal: with the newer copy back, arcad serves again
    assert os.path.exists(os.path.join(a.data, "audit.log"))


def test_every_line_carries_the_store_epoch(arcad_factory, tmp_path):
    a = arcad_factory(workers=1)
    me = make_identity(tmp_path, "owner", a)
    st, _ = https_json(a, me, "POST", "/v1/sessions", BODY)
    assert st == 201
    epochs = [json.loads(l)["epoch"] for l in a.audit().splitlines()]
    assert epochs == sorted(epochs) and epochs[-1] >= 1, epochs
