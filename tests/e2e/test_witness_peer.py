"""The peer-quorum witness (--witness arcad://HOST:PORT): three arcads on loopback started
together, each witnessed by the other two and by a file, i.e. a majority of three (two):
writes go on with one peer down, stop with a clear 503 naming the witnesses when both are down
and none acknowledged is lost; a whole data dir put back from an older copy is refused at start
by the peers' counters (its own file witness rolled back with it), with an audit event; a peer
counter ahead of the state (another copy of the data dir wrote) is named."""
import json
import os
import shutil
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import https_json, make_identity, run_cli

BODY = 'name: %s\nversion: "0.3"\nsecrets:\n  - name: k\n    kind: binary\n'
NAMES = ("pa", "pb", "pc")


def free_ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def trio_args(tmp_path, ports, own_file_in_data=False):
    out = []
    for i, name in enumerate(NAMES):
        args = ["--enclave-listen", "127.0.0.1:%d" % ports[i], "--witness-interval", "3600"]
        for j in range(3):
            if j != i:
                args += ["--witness", "arcad://127.0.0.1:%d" % ports[j]]
        if own_file_in_data:  # rolled back together with the data dir: only the peers remember
            wfile = os.path.join(str(tmp_path), name + "-data", "own-witness")
        else:
            wfile = os.path.join(str(tmp_path), name + "-witness")
        out.append(args + ["--witness", "file:" + wfile])
    return out


def start_trio(arcad_factory, tmp_path, **kw):
    """All three at once: each waits for its peers while answering them."""
    args = trio_args(tmp_path, free_ports(3), **kw)
    with ThreadPoolExecutor(3) as ex:
        futs = [ex.submit(arcad_factory, args[i], 1, NAMES[i]) for i in range(3)]
        return [f.result() for f in futs], args


def post(a, me, name, predecessor=None):
    body = BODY % name
    if predecessor:
        body += 'predecessor: "%s"\n' % predecessor
    return https_json(a, me, "POST", "/v1/sessions", body)


def events(a, name):
    return [json.loads(l) for l in a.audit().splitlines() if '"event":"%s"' % name in l]


def refused(a):
    with pytest.raises(RuntimeError) as exc:
        a.start()
    return str(exc.value)


def test_quorum_one_down_two_down(arcad_factory, tmp_path):
    (a, b, c), args = start_trio(arcad_factory, tmp_path)
    b_port, c_port = (int(x[1].rsplit(":", 1)[1]) for x in args[1:])
    me = make_identity(tmp_path, "owner", a)
    st, ans = post(a, me, "w1")
    assert st == 201, ans

    assert c.stop() == 0  # one peer down: file + b are a majority
    st, ans = post(a, me, "w2")
    assert st == 201, ans

    assert b.stop() == 0  # two down: only the file witness
    st, ans = post(a, me, "w3")
    assert st == 503, (st, ans)
    text = json.dumps(ans)
    assert "only 1 of 3 witnesses" in text, text
    assert "no answer from arcad://127.0.0.1:%d, arcad://127.0.0.1:%d" % (
        b_port, c_port) in text, text
    st, ans = https_json(a, me, "GET", "/v1/sessions/w1", None)
    assert st == 200, ans  # reads go on
    st, _ = post(a, me, "w4")
    assert st == 503  # refused before it starts while the last commit is unwitnessed

    b.start()  # a and its own file answer b
    c.start()
    st, ans = post(a, me, "w5")
    assert st == 201, ans
    assert a.stop() == 0
    a.start()
    for name in ("w1", "w2", "w5"):  # every acknowledged write is there
        st, ans = https_json(a, me, "GET", "/v1/sessions/" + name, None)
        assert st == 200, (name, ans)


def test_rolled_back_data_dir_refused_by_peers(arcad_factory, tmp_path):
    (a, b, c), _ = start_trio(arcad_factory, tmp_path, own_file_in_data=True)
    me = make_identity(tmp_path, "owner", a)
    st, ans = post(a, me, "r1")
    assert st == 201, ans
    assert a.stop() == 0
    saved = str(tmp_path / "saved")
    shutil.copytree(a.data, saved)  # the whole dir, its own file witness included

    a.start()
    st, ans = post(a, me, "r2")
    assert st == 201, ans
    assert a.stop() == 0

    shutil.rmtree(a.data)
    shutil.copytree(saved, a.data)
    msg = refused(a)
    assert "state rolled back: witness arcad://127.0.0.1:" in msg, msg
    assert "but the state is at commit" in msg, msg
    assert any("state rolled back: witness arcad://" in e["fields"]["reason"]
               for e in events(a, "witness_refused"))


def test_peer_counter_ahead_is_named(arcad_factory, tmp_path):
    (a, b, c), args = start_trio(arcad_factory, tmp_path)
    me = make_identity(tmp_path, "owner", a)
    st, ans = post(a, me, "f1")
    assert st == 201, ans
    assert a.stop() == 0
    # The host serves a copy of a's data dir (same CAS key, so the same counters at b and c)
    # beside it (with the same file witness: the host copied everything it could).
    shutil.copytree(a.data, os.path.join(str(tmp_path), "clone-data"))
    clone_args = [x for x in args[0]]
    clone_args[1] = "127.0.0.1:%d" % free_ports(1)[0]
    clone = arcad_factory(clone_args, 1, "clone")
    run_cli(me, "cas", "attest", clone.addr, "--accept-simulation", check=True)
    for name in ("f2", "f3"):
        st, ans = post(clone, me, name)
        assert st == 201, ans
    assert clone.stop() == 0

    msg = refused(a)
    assert "state rolled back: witness arcad://127.0.0.1:" in msg, msg
    assert "is at commit" in msg, msg
