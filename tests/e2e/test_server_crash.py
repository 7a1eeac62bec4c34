"""kill -9 arcad at random moments during a stream of concurrent updates, >= 50 times: after
each restart every acknowledged update is there (an answered write is durable), the store
opens (its state chain verifies) and the audit log verifies."""
import http.client
import json
import os
import random
import threading
import time

from conftest import make_identity, run_cli, tls_context

KILLS = int(os.environ.get("ARCA_CRASH_KILLS", "50"))
WRITERS = 4


def post(port, ctx, body):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    try:
        conn.request("POST", "/v1/sessions", body=body.encode())
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        conn.close()


def get(port, ctx, path):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        conn.close()


def test_kill_dash_nine_keeps_every_acknowledged_update(arcad_factory, tmp_path):
    a = arcad_factory()
    me = make_identity(tmp_path, "writer", a)
    ctx = tls_context(me)
    names = ["crash-%d" % i for i in range(WRITERS)]
    acked = {n: [] for n in names}  # acknowledged (hash, version) in order
    for n in names:
        st, ans = post(a.client, ctx, 'name: %s\nversion: "0.3"\nsecrets:\n'
                                      '  - name: k\n    kind: binary\n' % n)
        assert st == 201, ans
        acked[n].append((ans["hash"], ans["version"]))
    rnd = random.Random(1234)

    for round_ in range(KILLS):
        stop = threading.Event()
        port = a.client

        def writer(name):
            while not stop.is_set():
                pred, _ = acked[name][-1]
                body = ('name: %s\nversion: "0.3"\nsecrets:\n  - name: k\n    kind: binary\n'
                        'predecessor: "%s"\n' % (name, pred))
                try:
                    st, ans = post(port, ctx, body)
                except (OSError, http.client.HTTPException, ValueError):
                    return  # arcad died mid-request: not acknowledged
                if st == 200:
                    acked[name].append((ans["hash"], ans["version"]))
                elif st != 409:
                    return

        ts = [threading.Thread(target=writer, args=(n,)) for n in names]
        for t in ts:
            t.start()
        time.sleep(rnd.uniform(0.02, 0.4))
        a.kill()
        stop.set()
        for t in ts:
            t.join(20)
        a.start()
        for n in names:
            h, v = acked[n][-1]
            st, cur = get(a.client, ctx, "/v1/sessions/" + n)
            assert st == 200, (round_, cur)
            # the last acknowledged version is there; an unacknowledged later one may be too
            assert cur["version"] >= v, (round_, n, cur["version"], v)
            if cur["version"] == v:
                assert cur["hash"] == h
            else:
                # an answered-but-unread write: sync our view to the stored chain
                acked[n].append((cur["hash"], cur["version"]))
    # every acknowledged version is readable by hash after all the crashes
    for n in names:
        for h, v in acked[n]:
            st, rec = get(a.client, ctx, "/v1/sessions/%s?hash=%s" % (n, h))
            assert st == 200 and rec["version"] == v, (n, h, v)
    total = sum(len(v) for v in acked.values())
    assert total > KILLS, "too few writes happened to mean anything: %d" % total
    # the audit log survives crashes and verifies
    a.stop()
    p = run_cli(None, "audit", "verify", os.path.join(a.data, "audit.log"), "--cas-key",
                a.cas_key)
    assert p.returncode == 0, p.stdout + p.stderr
