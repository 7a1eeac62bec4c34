"""The peer witness's kept channel (--witness arcad://HOST:PORT): arcad a is witnessed by two
peers only (a majority of two: every write needs both), so a write goes through only if a
reaches each peer again after it restarted. A peer that restarts between writes (stopped in
order, or killed) is attested again on a new connection and the writes go on; a peer that
restarted answers nothing on the old connection, which a drops, never taking an answer from
a connection no hello attested."""
import os
import re
from concurrent.futures import ThreadPoolExecutor

from conftest import https_json, make_identity
from test_witness_peer import NAMES, free_ports, post


def start_pair_witnessed(arcad_factory, tmp_path):
    """a: witnesses b and c only; b and c: the other two and a file each."""
    ports = free_ports(3)
    args = []
    for i, name in enumerate(NAMES):
        a = ["--enclave-listen", "127.0.0.1:%d" % ports[i], "--witness-interval", "3600"]
        for j in range(3):
            if j != i:
                a += ["--witness", "arcad://127.0.0.1:%d" % ports[j]]
        if i > 0:
            a += ["--witness", "file:" + os.path.join(str(tmp_path), name + "-witness")]
        args.append(a)
    with ThreadPoolExecutor(3) as ex:
        futs = [ex.submit(arcad_factory, args[i], 1, NAMES[i]) for i in range(3)]
        return [f.result() for f in futs]


def test_peer_restart_between_writes_is_reattested(arcad_factory, tmp_path):
    a, b, c = start_pair_witnessed(arcad_factory, tmp_path)
    me = make_identity(tmp_path, "owner", a)
    names = []
    for i in range(3):  # several writes over the kept channels
        names.append("k%d" % i)
        st, ans = post(a, me, names[-1])
        assert st == 201, ans

    assert b.stop() == 0
    b.start()  # same data dir and CAS key, a new process: new connection, new nonces
    names.append("after-b")
    st, ans = post(a, me, names[-1])
    assert st == 201, ans

    c.kill()
    c.start()
    names.append("after-c")
    st, ans = post(a, me, names[-1])
    assert st == 201, ans

    b.restart()
    c.restart()
    for i in range(2):
        names.append("both%d" % i)
        st, ans = post(a, me, names[-1])
        assert st == 201, ans

    # a never started over, and every acknowledged write is there after it does
    assert a.stop() == 0
    a.start()
    for name in names:
        st, ans = https_json(a, me, "GET", "/v1/sessions/" + name, None)
        assert st == 200, (name, ans)
    # the witness counters at b and c kept up with a: nothing refused, no fork
    assert not re.search(r"state forked|rolled back", a.logs() + b.logs() + c.logs())
