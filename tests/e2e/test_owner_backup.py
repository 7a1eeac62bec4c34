"""Backup to another machine (issue 11 part 2): `arca cas register-backup --cas-key K` wraps the
data directory's keys to the attested session-encryption key of the arcad K (on another
simulated platform); a snapshot restored there opens with K's own identity and holds the state
(sessions, a generated secret, the audit chain). An unregistered or revoked machine is refused
with the command to run, and nothing in the restored directory changes."""
import hashlib
import os
import re
import shutil

import pytest

from conftest import Arcad, https_json, run_cli
from launch_util import measure, run_arca_run, session_yaml, write_program
from owner_util import provision

BODY = 'name: %s\nversion: "0.3"\nsecrets:\n  - name: k\n    kind: binary\n'


def machine(tmp_path, name):
    """Another simulated platform (its own platform key and secret): another machine."""
    d = tmp_path / ("machine-" + name)
    d.mkdir()
    return d


def restore_as_backup(snap, backup):
    """The operator's restore on the backup machine: the snapshot as a data directory, with the
    backup arcad's own identity under backup-machine/identity/. Returns the arcad name."""
    name = backup.name + "-restored"
    dst = os.path.join(backup.tmp, name + "-data")
    shutil.copytree(snap, dst)
    shutil.copytree(os.path.join(backup.data, "identity"),
                    os.path.join(dst, "backup-machine", "identity"))
    return name, dst


def tree_digest(d):
    """Digest of the restored tree, but for the backup machine's own refusal log."""
    h = hashlib.sha256()
    for root, _, files in sorted(os.walk(d)):
        for f in sorted(files):
            p = os.path.join(root, f)
            if p == os.path.join(d, "backup-machine", "audit.log"):
                continue
            h.update(p.encode() + open(p, "rb").read())
    return h.hexdigest()


def read_pw(path):
    for ln in open(path).read().splitlines():
        if ln.startswith("env:PW="):
            return ln[len("env:PW="):]
    raise AssertionError("no PW in " + path)


def test_backup_on_another_platform(arcad_factory, tmp_path):
    a, owner = provision(arcad_factory, tmp_path)
    prog = write_program(tmp_path)
    st, _ = https_json(a, owner, "POST", "/v1/sessions", session_yaml("bk", measure(prog)))
    assert st == 201
    r = run_arca_run(a, "bk/app", prog, [str(tmp_path / "out-a.txt")])
    assert r.returncode == 0, r.stderr
    pw = read_pw(str(tmp_path / "out-a.txt"))

    # the backup machine's arcad, attested by the owner first
    b = Arcad(machine(tmp_path, "b"), name="b")
    p = run_cli(owner, "cas", "register-backup", "--cas-key", b.cas_key, cas=a.addr)
    assert p.returncode != 0 and "arca cas attest" in p.stderr, p.stderr
    run_cli(owner, "cas", "attest", b.addr, "--accept-simulation", check=True)
    p = run_cli(owner, "cas", "register-backup", "--cas-key", b.cas_key, cas=a.addr)
    assert p.returncode == 0, p.stderr
    assert os.path.exists(os.path.join(a.data, "backups", b.cas_key + ".slot"))
    assert '"owner_backup_registered"' in a.audit()

    # snapshot while serving
    for i in range(3):
        assert https_json(a, owner, "POST", "/v1/sessions", BODY % ("s%d" % i))[0] == 201
    p = run_cli(owner, "cas", "snapshot", cas=a.addr)
    assert p.returncode == 0, p.stderr
    snap = re.search(r"snapshot written on the CAS host: (\S+)", p.stdout).group(1)
    assert https_json(a, owner, "POST", "/v1/sessions", BODY % "late")[0] == 201
    b.kill()

    name, _ = restore_as_backup(snap, b)
    r2 = Arcad(b.tmp, name=name)
    try:
        assert "backup slot of this machine's CAS key " + b.cas_key in r2.logs()
        assert r2.cas_key == a.cas_key  # it is the snapshotted arcad now
        for i in range(3):
            assert https_json(r2, owner, "GET", "/v1/sessions/s%d" % i)[0] == 200
        assert https_json(r2, owner, "GET", "/v1/sessions/late")[0] == 404
        assert https_json(r2, None, "GET", "/v1/owner")[1]["owner"] == owner.key_hash
        # the generated secret is delivered, the same value, to a program on the backup platform
        r = run_arca_run(r2, "bk/app", prog, [str(tmp_path / "out-r.txt")])
        assert r.returncode == 0, r.stderr
        assert read_pw(str(tmp_path / "out-r.txt")) == pw
        assert pw not in r2.logs() and pw not in r2.audit()
    finally:
        r2.stop()
    p = run_cli(None, "audit", "verify", os.path.join(r2.data, "audit.log"), "--cas-key",
                a.cas_key)
    assert p.returncode == 0, p.stdout + p.stderr
    # and again (the slot stays usable at every start of the restored directory)
    r2.start()
    r2.kill()


def test_unregistered_and_revoked_refused(arcad_factory, tmp_path):
    a, owner = provision(arcad_factory, tmp_path)
    b = Arcad(machine(tmp_path, "b"), name="b")
    c = Arcad(machine(tmp_path, "c"), name="c")
    for x in (b, c):
        run_cli(owner, "cas", "attest", x.addr, "--accept-simulation", check=True)
    assert run_cli(owner, "cas", "register-backup", "--cas-key", b.cas_key,
                   cas=a.addr).returncode == 0
    # revoked before the snapshot: its slot is gone from the data dir, so from the snapshot
    p = run_cli(owner, "cas", "register-backup", "--cas-key", b.cas_key, "--revoke", cas=a.addr)
    assert p.returncode == 0, p.stderr
    assert '"owner_backup_revoked"' in a.audit()
    assert https_json(a, owner, "POST", "/v1/sessions", BODY % "s")[0] == 201
    snap = re.search(r"snapshot written on the CAS host: (\S+)",
                     run_cli(owner, "cas", "snapshot", cas=a.addr, check=True).stdout).group(1)
    b.kill()
    c.kill()
    for x in (b, c):  # revoked, never registered
        name, dst = restore_as_backup(snap, x)
        before = tree_digest(dst)
        with pytest.raises(RuntimeError) as e:
            Arcad(x.tmp, name=name)
        assert "arca cas register-backup --cas-key " + x.cas_key in str(e.value)
        assert tree_digest(dst) == before  # loses nothing
        # audited in the backup machine's own log, signed with its key
        log = open(os.path.join(dst, "backup-machine", "audit.log")).read()
        assert '"backup_refused"' in log and x.cas_key in log
    # a snapshot on another platform without a backup identity: what to do is named
    other = machine(tmp_path, "d")
    shutil.copytree(snap, str(other / "x-data"))
    with pytest.raises(RuntimeError) as e:
        Arcad(other, name="x")
    assert "another machine: restore as a backup" in str(e.value)


def test_backup_rule_same_measurement(arcad_factory, tmp_path, monkeypatch):
    """A backup that runs another build is refused unless that build is a registered upgrade."""
    import conftest
    from owner_util import rebuilt
    a, owner = provision(arcad_factory, tmp_path)
    v2, m2 = rebuilt(tmp_path, "v2")
    monkeypatch.setattr(conftest, "ARCAD", v2)
    b = Arcad(machine(tmp_path, "b"), name="b")
    try:
        run_cli(owner, "cas", "attest", b.addr, "--accept-simulation", check=True)
        p = run_cli(owner, "cas", "register-backup", "--cas-key", b.cas_key, cas=a.addr)
        assert p.returncode != 0 and "register-upgrade --measurement " + m2 in p.stderr, p.stderr
        assert not os.path.exists(os.path.join(a.data, "backups", b.cas_key + ".slot"))
        assert run_cli(owner, "cas", "register-upgrade", "--measurement", m2,
                       cas=a.addr).returncode == 0
        p = run_cli(owner, "cas", "register-backup", "--cas-key", b.cas_key, cas=a.addr)
        assert p.returncode == 0, p.stderr
    finally:
        b.kill()
