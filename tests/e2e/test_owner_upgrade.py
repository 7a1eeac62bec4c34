"""Upgrade of arcad to a rebuilt binary (issue 11 part 2, docs/operator-lifecycle.md): in
simulation the sealing keys derive from arcad's measurement (SHA-256 of its binary), so the same
ELF with bytes appended is "another build". It refuses the old data dir and says what to do; once
the owner registered its measurement on the running old version it opens the data (same CAS key,
same sessions, same audit log), and only that measurement does."""
import json
import os
import shutil

import pytest

import conftest
from conftest import https_json, make_identity, run_cli
from owner_util import provision, rebuilt

BIN_ORIG = conftest.ARCAD
SESSION = 'name: upg\nversion: "0.3"\nsecrets:\n  - name: k\n    kind: binary\n'


def start(a, ident):
    """(Re)starts a (ports change) and attests it for ident."""
    a.start()
    run_cli(ident, "cas", "attest", a.addr, "--accept-simulation", check=True)


def read_session(a, ident):
    st, j = https_json(a, ident, "GET", "/v1/sessions/upg")
    assert st == 200, j
    return j


def test_upgrade_opens_only_after_register(arcad_factory, tmp_path, monkeypatch):
    a, owner = provision(arcad_factory, tmp_path)
    sp = os.path.join(str(tmp_path), "s.yaml")
    with open(sp, "w") as f:
        f.write(SESSION)
    assert run_cli(owner, "session", "create", sp, cas=a.addr).returncode == 0
    before = read_session(a, owner)
    old_key = a.cas_key
    v2, m2 = rebuilt(tmp_path, "v2")
    v3, m3 = rebuilt(tmp_path, "v3")
    a.stop()

    # not registered: refused with what to do, nothing changed
    files = sorted(os.listdir(a.data))
    monkeypatch.setattr(conftest, "ARCAD", v2)
    with pytest.raises(RuntimeError) as e:
        a.start()
    msg = str(e.value)
    assert "sealed by another arcad build" in msg, msg
    assert "arca cas register-upgrade --measurement " + m2 in msg, msg
    # nothing of the data dir changed; the refusal is audited in the refused build's own log
    assert sorted(os.listdir(a.data)) == sorted(files + ["refused-builds"])
    refused_log = os.path.join(a.data, "refused-builds", m2, "audit.log")
    log = open(refused_log).read()
    assert '"upgrade_refused"' in log and m2 in log and "sealed by another arcad build" in log
    p = run_cli(None, "audit", "verify", refused_log)
    assert p.returncode == 0, p.stdout + p.stderr
    # a second refused start appends to the same log with the same key
    with pytest.raises(RuntimeError):
        a.start()
    assert open(refused_log).read().count('"upgrade_refused"') == 2
    assert run_cli(None, "audit", "verify", refused_log).returncode == 0

    # the owner registers v2 on the running old version (a stranger may not)
    monkeypatch.setattr(conftest, "ARCAD", BIN_ORIG)
    start(a, owner)
    stranger = make_identity(tmp_path, "stranger", a)
    p = run_cli(stranger, "cas", "register-upgrade", "--measurement", m2, cas=a.addr)
    assert p.returncode == 1 and "only the owner" in p.stderr
    p = run_cli(owner, "cas", "register-upgrade", "--measurement", m2, cas=a.addr)
    assert p.returncode == 0, p.stderr
    a.stop()

    # v2 opens the old data: same CAS key, same session, same owner
    monkeypatch.setattr(conftest, "ARCAD", v2)
    start(a, owner)
    assert a.cas_key == old_key
    assert "provisioning token" not in open(a._log_paths()[0]).read()
    after = read_session(a, owner)
    assert after == before
    st, j = https_json(a, None, "GET", "/v1/owner")
    assert j["provisioned"] is True and j["owner"] == owner.key_hash
    # v2 writes and v2 can hand over to v3 in turn
    with open(sp, "w") as f:
        f.write(SESSION + "  - name: k2\n    kind: binary\n")
    p = run_cli(owner, "session", "update", sp, cas=a.addr)
    assert p.returncode == 0, p.stderr
    assert run_cli(owner, "cas", "register-upgrade", "--measurement", m3,
                   cas=a.addr).returncode == 0
    a.stop()

    # v3 (registered by v2) opens it; another rebuild still does not
    monkeypatch.setattr(conftest, "ARCAD", v3)
    a.start()
    assert a.cas_key == old_key
    a.stop()
    v4, m4 = rebuilt(tmp_path, "v4")
    monkeypatch.setattr(conftest, "ARCAD", v4)
    with pytest.raises(RuntimeError) as e:
        a.start()
    assert m4 in str(e.value)

    audit = open(os.path.join(a.data, "audit.log")).read()
    assert audit.count('"owner_upgrade_registered"') == 2
    assert '"owner_refused"' in audit


def test_tampered_slot_is_refused(arcad_factory, tmp_path, monkeypatch):
    a, owner = provision(arcad_factory, tmp_path)
    v2, m2 = rebuilt(tmp_path, "t2")
    assert run_cli(owner, "cas", "register-upgrade", "--measurement", m2,
                   cas=a.addr).returncode == 0
    a.stop()
    slot = os.path.join(a.data, "successors", m2 + ".slot")
    data = bytearray(open(slot, "rb").read())
    data[40] ^= 1
    open(slot, "wb").write(bytes(data))
    monkeypatch.setattr(conftest, "ARCAD", v2)
    with pytest.raises(RuntimeError) as e:
        a.start()
    assert "successor slot" in str(e.value) and "does not verify" in str(e.value)
