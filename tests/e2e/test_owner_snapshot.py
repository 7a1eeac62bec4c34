"""`arca cas snapshot` (issue 11 part 2): a consistent sealed copy of the data directory taken
while arcad serves; started as a data directory it holds exactly the state at snapshot time —
on this platform with this build or one registered before the snapshot, and nowhere else."""
import os
import re
import shutil

import pytest

import conftest
from conftest import Arcad, https_json, make_identity, run_cli
from owner_util import provision, rebuilt

BIN_ORIG = conftest.ARCAD
BODY = 'name: %s\nversion: "0.3"\nsecrets:\n  - name: k\n    kind: binary\n'


def restore(a, snap, name):
    """Copies snapshot directory snap to a fresh data dir NAME-data next to a's."""
    dst = os.path.join(a.tmp, name + "-data")
    shutil.copytree(snap, dst)
    return dst


def test_snapshot_while_serving_and_restore(arcad_factory, tmp_path, monkeypatch):
    a, owner = provision(arcad_factory, tmp_path)
    v2, m2 = rebuilt(tmp_path, "v2")
    assert run_cli(owner, "cas", "register-upgrade", "--measurement", m2,
                   cas=a.addr).returncode == 0
    for i in range(5):
        assert https_json(a, owner, "POST", "/v1/sessions", BODY % ("s%d" % i))[0] == 201
    stranger = make_identity(tmp_path, "stranger", a)
    p = run_cli(stranger, "cas", "snapshot", cas=a.addr)
    assert p.returncode == 1 and "only the owner" in p.stderr
    p = run_cli(owner, "cas", "snapshot", cas=a.addr)
    assert p.returncode == 0, p.stderr
    snap = re.search(r"snapshot written on the CAS host: (\S+)", p.stdout).group(1)
    assert snap.startswith(os.path.join(a.data, "snapshots"))
    # written after the snapshot: not in it
    assert https_json(a, owner, "POST", "/v1/sessions", BODY % "late")[0] == 201
    assert '"owner_snapshot"' in a.audit()

    # the same build on a copy: the state at snapshot time
    restore(a, snap, "same")
    b = Arcad(tmp_path, name="same")
    try:
        run_cli(owner, "cas", "attest", b.addr, "--accept-simulation", check=True)
        assert b.cas_key == a.cas_key
        for i in range(5):
            assert https_json(b, owner, "GET", "/v1/sessions/s%d" % i)[0] == 200
        assert https_json(b, owner, "GET", "/v1/sessions/late")[0] == 404
        assert https_json(b, None, "GET", "/v1/owner")[1]["owner"] == owner.key_hash
    finally:
        b.kill()

    # a build registered before the snapshot opens it too; an unregistered one refuses
    restore(a, snap, "v2")
    monkeypatch.setattr(conftest, "ARCAD", v2)
    c = Arcad(tmp_path, name="v2")
    try:
        run_cli(owner, "cas", "attest", c.addr, "--accept-simulation", check=True)
        assert https_json(c, owner, "GET", "/v1/sessions/s4")[0] == 200
    finally:
        c.kill()
    v3, m3 = rebuilt(tmp_path, "v3")
    restore(a, snap, "v3")
    monkeypatch.setattr(conftest, "ARCAD", v3)
    with pytest.raises(RuntimeError) as e:
        Arcad(tmp_path, name="v3")
    assert "register-upgrade --measurement " + m3 in str(e.value)

    # another platform (another simulation secret) cannot open it, whatever the build
    monkeypatch.setattr(conftest, "ARCAD", BIN_ORIG)
    other = tmp_path / "other-platform"
    other.mkdir()
    shutil.copytree(snap, str(other / "x-data"))
    with pytest.raises(RuntimeError) as e:
        Arcad(other, name="x")
    assert "sealed by another arcad build or platform" in str(e.value)
