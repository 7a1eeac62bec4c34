"""`arca cas rotate-key` (issue 11 part 2): every record is re-encrypted under a new database key
while arcad serves; owner only; and `kill -9` at any moment of a rotation loses nothing (arcad
restarts into the old or the new key with every session intact)."""
import json
import os
import subprocess
import time

import conftest
from conftest import https_json, make_identity, run_cli
from owner_util import provision

N = 25


def snapshot(a, ident):
    out = {}
    for i in range(N):
        st, j = https_json(a, ident, "GET", "/v1/sessions/rot%d" % i)
        assert st == 200, (i, j)
        out[i] = j
    return out


def test_rotate_key_and_kill_9(arcad_factory, tmp_path):
    a, owner = provision(arcad_factory, tmp_path)
    for i in range(N):
        body = 'name: rot%d\nversion: "0.3"\nsecrets:\n  - name: k\n    kind: binary\n' % i
        st, j = https_json(a, owner, "POST", "/v1/sessions", body)
        assert st == 201, j
    before = snapshot(a, owner)

    stranger = make_identity(tmp_path, "stranger", a)
    p = run_cli(stranger, "cas", "rotate-key", cas=a.addr)
    assert p.returncode == 1 and "only the owner" in p.stderr

    p = run_cli(owner, "-o", "json", "cas", "rotate-key", cas=a.addr)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["records"] >= 2 * N
    assert snapshot(a, owner) == before
    ks = os.path.join(a.data, "arca.db.key-store")
    assert os.path.getsize(ks) == 172

    # kill -9 at moments spread over a rotation; each restart has everything
    for delay in (0.0, 0.002, 0.005, 0.01, 0.02, 0.04, 0.08):
        env = dict(os.environ)
        env.pop("ARCA_CAS", None)
        rot = subprocess.Popen([conftest.ARCA, "--identity", owner.dir, "--cas", a.addr, "cas",
                                "rotate-key"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env)
        time.sleep(delay)
        a.kill()
        rot.communicate(timeout=60)
        a.start()
        run_cli(owner, "cas", "attest", a.addr, "--accept-simulation", check=True)
        assert snapshot(a, owner) == before, delay
    assert '"owner_key_rotated"' in a.audit()
