"""Issue 9, item 2 (arcad's part): costly work runs on the job pool, not on the event loops.

With one event-loop worker (--workers 1), a session asking for many RSA-3072 keys used to be
generated on that loop: /healthz and every other client waited until it was done. Now the
loop only routes, and the generation runs on a job thread. Checked by ordering, not by time:
requests sent while the upload is in flight are answered while it is still in flight.
Also: a full job queue is answered 503 naming --max-queued-jobs, a client that leaves before
its answer costs nothing, and SIGTERM lets the jobs in flight finish and answer first.
"""
import http.client
import json
import threading
import time

from conftest import https, make_identity, metrics, tls_context

RSA_KEYS = (16, 8, 4, 2)  # the largest a per-session cost limit allows is taken


def rsa_session(name, n):
    y = 'name: %s\nversion: "0.3"\nsecrets:\n' % name
    for i in range(n):
        y += "  - name: k%d\n    kind: private-key\n    key_type: RSA-3072\n" % i
    return y


SMALL = 'name: small\nversion: "0.3"\nsecrets:\n  - name: pw\n    kind: ascii\n'


class Upload(threading.Thread):
    """POST /v1/sessions on its own connection; .result = (status, body), .done_at."""

    def __init__(self, arcad, ident, yaml_text, timeout=120):
        super().__init__(daemon=True)
        self.args = (arcad, ident, yaml_text, timeout)
        self.result = None
        self.done_at = None

    def run(self):
        arcad, ident, yaml_text, timeout = self.args
        try:
            self.result = https(arcad, ident, "POST", "/v1/sessions", yaml_text, timeout=timeout)
        except Exception as e:  # reported by the test through .result
            self.result = (None, repr(e).encode())
        self.done_at = time.monotonic()


def jobs_pending(arcad):
    """arcad_jobs_pending, or None for code without the gauge (the old loop-bound handlers)."""
    m = [line for line in metrics(arcad).splitlines() if line.startswith("arcad_jobs_pending ")]
    return int(m[0].split()[1]) if m else None


def start_upload(arcad, ident, yaml_text, timeout=60):
    """Starts an Upload once the pool is idle and returns it when the pool holds it."""
    deadline = time.monotonic() + timeout
    while jobs_pending(arcad) not in (0, None):  # an earlier job's thread may still count
        assert time.monotonic() < deadline
        time.sleep(0.05)
    up = Upload(arcad, ident, yaml_text)
    up.start()
    while True:
        n = jobs_pending(arcad)
        if n is None:
            time.sleep(1)
            return up
        if n >= 1:
            return up
        assert time.monotonic() < deadline, "the upload never reached the job pool"
        time.sleep(0.05)


def largest_allowed(arcad, ident, at_most=RSA_KEYS[0]):
    """Uploads RSA sessions from the largest down until one is accepted; returns its size."""
    for n in (k for k in RSA_KEYS if k <= at_most):
        st, body = https(arcad, ident, "POST", "/v1/sessions", rsa_session("probe%d" % n, n),
                         timeout=120)
        if st == 201:
            return n
        assert st in (413, 429), (st, body)
    raise AssertionError("no RSA session accepted")


def test_rsa_generation_does_not_stall_the_loop(arcad_factory, tmp_path):
    a = arcad_factory(workers=1)
    creator = make_identity(tmp_path, "creator", a)
    st, body = https(a, creator, "POST", "/v1/sessions", SMALL)
    assert st == 201, body
    n = largest_allowed(a, creator)

    up = start_upload(a, creator, rsa_session("big", n))
    answered = []
    while up.is_alive() and len(answered) < 5:
        t0 = time.monotonic()
        st_h, _ = https(a, None, "GET", "/healthz", timeout=60)
        st_r, body_r = https(a, creator, "GET", "/v1/sessions/small", timeout=60)
        t1 = time.monotonic()
        assert st_h == 200 and st_r == 200, (st_h, st_r, body_r)
        if up.is_alive():
            answered.append(t1 - t0)
    up.join(120)
    assert up.result is not None and up.result[0] == 201, up.result
    # Old code (generation on the only loop): the first probe waits for the whole upload.
    assert answered, "no /healthz or session read was answered while %d RSA-3072 keys were " \
                     "generated" % n
    print("%d RSA-3072 keys; probes answered meanwhile in %s s" %
          (n, ", ".join("%.3f" % x for x in answered)))


def test_full_job_queue_is_503(arcad_factory, tmp_path):
    a = arcad_factory(["--jobs", "1", "--max-queued-jobs", "1"], workers=1)
    creator = make_identity(tmp_path, "creator", a)
    n = largest_allowed(a, creator, 4)
    ups = [Upload(a, creator, rsa_session("q%d" % i, n)) for i in range(4)]
    for u in ups:
        u.start()
        time.sleep(0.2)
    for u in ups:
        u.join(180)
    statuses = sorted(u.result[0] for u in ups)
    assert 201 in statuses, statuses
    refused = [u.result for u in ups if u.result[0] == 503]
    assert refused, statuses  # one running, one queued: the others are refused at once
    for st, body in refused:
        assert b"--max-queued-jobs" in body, body
    assert https(a, None, "GET", "/healthz")[0] == 200


def test_client_leaving_mid_job(arcad_factory, tmp_path):
    a = arcad_factory(workers=1)
    creator = make_identity(tmp_path, "creator", a)
    n = largest_allowed(a, creator, 4)
    for i in range(3):
        conn = http.client.HTTPSConnection("127.0.0.1", a.client, context=tls_context(creator),
                                           timeout=30)
        conn.request("POST", "/v1/sessions", body=rsa_session("gone%d" % i, n).encode())
        time.sleep(0.3)
        conn.close()  # leaves before the answer
    # The jobs finish with nobody to answer; arcad stays up and the sessions were committed.
    for i in range(3):
        deadline = time.monotonic() + 120
        while True:
            st, body = https(a, creator, "GET", "/v1/sessions/gone%d" % i)
            if st == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert st == 200, (i, st, body)
    assert a.alive()
    assert https(a, None, "GET", "/healthz")[0] == 200


def test_sigterm_drains_jobs_in_flight(arcad_factory, tmp_path):
    a = arcad_factory(workers=1)
    creator = make_identity(tmp_path, "creator", a)
    n = largest_allowed(a, creator, 4)
    up = start_upload(a, creator, rsa_session("drain", n))
    assert a.stop(timeout=120) == 0  # SIGTERM
    up.join(120)
    # Answered before arcad exited (the loops ran until the pool was drained) ...
    assert up.result is not None and up.result[0] == 201, up.result
    assert json.loads(up.result[1])["hash"]
    # ... and durable.
    a.restart()
    st, body = https(a, creator, "GET", "/v1/sessions/drain")
    assert st == 200, body
