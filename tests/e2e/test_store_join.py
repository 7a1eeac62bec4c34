"""arcad --store URL --join HOST:PORT (issue 15 item 2): a new arcad attests to a member of a
shared PostgreSQL store and receives the store's key boxed to its attested key. Admitted joiners
serve the same sessions in both directions; refusals name why on both sides and in the member's
audit log (measurement not admitted, member unreachable, store key mismatch); --join on a data
dir that is a member already is ignored with a notice; nothing secret in any log. Skipped only
where the PostgreSQL server binaries are missing."""
import os
import re

import pytest

import conftest
from conftest import make_identity, run_cli, tls_context
from launch_util import audit_events
from owner_util import rebuilt
from test_store_pg import pg, pg_util, req, session  # noqa: F401 (pg is a fixture)


def join_args(url, member):
    return ["--store", url, "--join", "127.0.0.1:%d" % member.enclave]


def join_outcomes(a):
    return [(e["outcome"], e["reason"]) for e in audit_events(a, "store_join")]


def test_joined_member_serves_the_same_sessions(pg, arcad_factory, tmp_path):
    _, url = pg
    a = arcad_factory(["--store", url], name="a")
    b = arcad_factory(join_args(url, a), name="b")
    assert b.cas_key != a.cas_key  # its own identity: only the store's key was handed over
    assert "joined the shared store" in b.logs(), b.logs()
    assert [o for o, _ in join_outcomes(a)] == ["key_sent", "joined"], a.audit()
    me = make_identity(tmp_path, "user", a)
    ctx = tls_context(me)
    # write on A, read on B
    st, v1 = req(a.client, ctx, "POST", "/v1/sessions", session("j"))
    assert st == 201, v1
    st, got = req(b.client, ctx, "GET", "/v1/sessions/j")
    assert st == 200 and got["hash"] == v1["hash"], got
    # and the reverse
    st, v2 = req(b.client, ctx, "POST", "/v1/sessions", session("j", v1["hash"]))
    assert st == 200, v2
    st, got = req(a.client, ctx, "GET", "/v1/sessions/j")
    assert st == 200 and got["hash"] == v2["hash"] and got["version"] == 2, got
    # a restart of B with the same flags: --join is ignored, B opens its own key-store
    b.restart()
    assert "--join 127.0.0.1:%d ignored" % a.enclave in b.logs(), b.logs()
    st, got = req(b.client, ctx, "GET", "/v1/sessions/j")
    assert st == 200 and got["version"] == 2, got
    assert len(join_outcomes(a)) == 2  # no second join
    # a third member joins through B, a joined member
    c = arcad_factory(join_args(url, b), name="c")
    st, got = req(c.client, ctx, "GET", "/v1/sessions/j")
    assert st == 200 and got["version"] == 2, got
    # B's own audit log verifies under B's key
    b.stop()
    p = run_cli(None, "audit", "verify", os.path.join(b.data, "audit.log"), "--cas-key", b.cas_key)
    assert p.returncode == 0, p.stdout + p.stderr


def test_other_measurement_is_refused_until_registered(pg, arcad_factory, tmp_path,
                                                        monkeypatch):
    _, url = pg
    a = arcad_factory(["--store", url], name="a")
    orig = conftest.ARCAD
    v2, m2 = rebuilt(tmp_path, "v2")
    monkeypatch.setattr(conftest, "ARCAD", v2)
    with pytest.raises(RuntimeError) as e:
        arcad_factory(join_args(url, a), name="b")
    msg = str(e.value)
    assert "measurement not admitted" in msg and m2 in msg, msg
    assert not os.path.exists(os.path.join(str(tmp_path), "b-data", "arca.db.key-store"))
    outcomes = join_outcomes(a)
    assert outcomes and outcomes[-1][0] == "refused", a.audit()
    assert "measurement not admitted" in outcomes[-1][1] and m2 in outcomes[-1][1], outcomes
    assert "measurement not admitted" in a.logs()

    # the owner registers v2 as an upgrade: now it may join
    monkeypatch.setattr(conftest, "ARCAD", orig)
    token = re.findall(r"provisioning token ([0-9a-f]{32})", a.logs())[-1]
    owner = make_identity(tmp_path, "owner")
    cfg = os.path.join(str(tmp_path), "owner.yaml")
    with open(cfg, "w") as f:
        f.write("version: 1\n")
    p = run_cli(owner, "cas", "provision", a.addr, "--accept-simulation", "--token", token,
                "--owner-config", cfg)
    assert p.returncode == 0, p.stderr
    p = run_cli(owner, "cas", "register-upgrade", "--measurement", m2, cas=a.addr)
    assert p.returncode == 0, p.stderr
    monkeypatch.setattr(conftest, "ARCAD", v2)
    b = arcad_factory(join_args(url, a), name="b")
    assert join_outcomes(a)[-1][0] == "joined", a.audit()
    me = make_identity(tmp_path, "user", a)
    ctx = tls_context(me)
    st, v1 = req(b.client, ctx, "POST", "/v1/sessions", session("up"))
    assert st == 201, v1
    st, got = req(a.client, ctx, "GET", "/v1/sessions/up")
    assert st == 200 and got["hash"] == v1["hash"], got


def test_member_of_another_store_is_refused(pg, arcad_factory, tmp_path):
    pgdir, url = pg
    url2 = pg_util("createdb", pgdir, "other")
    a = arcad_factory(["--store", url], name="a")
    other = arcad_factory(["--store", url2], name="other")
    # both databases hold a commit (an empty one has nothing to check a key against)
    me = make_identity(tmp_path, "user", a)
    for m in (a, other):
        st, ans = req(m.client, tls_context(me), "POST", "/v1/sessions", session("x"))
        assert st == 201, ans
    # B's --store is A's database, but it asks the member of another database
    with pytest.raises(RuntimeError) as e:
        arcad_factory(join_args(url, other), name="b")
    msg = str(e.value)
    assert "store key mismatch" in msg, msg
    assert not os.path.exists(os.path.join(str(tmp_path), "b-data", "arca.db.key-store"))
    outcomes = join_outcomes(other)
    assert [o for o, _ in outcomes] == ["key_sent", "failed"], other.audit()
    assert "store key mismatch" in outcomes[-1][1], outcomes
    # the same data dir then joins the right member
    b = arcad_factory(join_args(url, a), name="b")
    assert join_outcomes(a)[-1][0] == "joined"
    # nothing secret anywhere: no key bytes, no URI in any log
    for m in (a, other, b):
        assert "sslmode" not in m.logs() and url not in m.logs()


def test_unreachable_member_and_sqlite_member(pg, arcad_factory, tmp_path):
    _, url = pg
    with pytest.raises(RuntimeError) as e:
        arcad_factory(["--store", url, "--join", "127.0.0.1:1"], name="b")
    msg = str(e.value)
    assert "join: member 127.0.0.1:1 unreachable" in msg, msg
    assert not os.path.exists(os.path.join(str(tmp_path), "b-data", "arca.db.key-store"))
    # an arcad on SQLite has no shared store to hand over
    s = arcad_factory(name="s")
    with pytest.raises(RuntimeError) as e:
        arcad_factory(join_args(url, s), name="c")
    msg = str(e.value)
    assert "only a shared (PostgreSQL) store" in msg, msg
    # --join without --store is a usage error
    p = conftest.subprocess.run([conftest.ARCAD, "--data-dir", str(tmp_path / "d"), "--join",
                                 "127.0.0.1:1"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "--store postgresql://" in p.stderr, p.stderr
