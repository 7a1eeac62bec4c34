"""Issue 9, item 3 (arcad's part): unauthenticated endpoints are rate limited per peer address.

A flood of /v1/challenge from one address gets 429 with Retry-After and a message naming the
limit; the same peer's /v1/values and /v1/attest share its bucket; another address (127.0.0.2,
still loopback) and /healthz are still answered. Old code answered every request.
"""
import http.client
import json

from conftest import https, tls_context
from launch_util import KeyPair

FLOOD = 40


def request(port, kp, method, path, body=None, source="127.0.0.1", conn=None):
    """(status, headers dict, body bytes); on conn if given (kept alive), else a new one."""
    own = conn is None
    if own:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=tls_context(kp), timeout=20,
                                           source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        if own:
            conn.close()


def test_challenge_flood_is_limited_per_peer(arcad_factory, tmp_path):
    # 1 request/s with a burst of 5: a flood of 40 in a row cannot all pass, whatever the load.
    a = arcad_factory(["--rate-limit", "1", "--rate-burst", "5"])
    kp = KeyPair(str(tmp_path / "kp"), "flood")
    conn = http.client.HTTPSConnection("127.0.0.1", a.enclave, context=tls_context(kp),
                                       timeout=20)
    statuses = []
    refused = None
    for _ in range(FLOOD):
        st, hdrs, body = request(a.enclave, kp, "POST", "/v1/challenge", b"{}", conn=conn)
        statuses.append(st)
        if st == 429:
            refused = (hdrs, body)
    conn.close()
    assert statuses[:5] == [200] * 5, statuses  # the burst
    assert set(statuses) == {200, 429}, statuses
    assert refused is not None, "no 429 in a flood of %d challenges: %s" % (FLOOD, statuses)
    hdrs, body = refused
    assert int(hdrs["Retry-After"]) >= 1, hdrs
    msg = " ".join(json.loads(body)["msg"])
    assert "--rate-limit" in msg and "/v1/challenge" in msg, msg

    # The same peer's other unauthenticated routes share its empty bucket ...
    st, hdrs, _ = request(a.client, None, "GET", "/v1/values/session=nope")
    assert st == 429 and "Retry-After" in hdrs, st
    st, _, _ = request(a.client, None, "GET", "/v1/attest?nonce=" + "00" * 32)
    assert st == 429, st
    # ... while /healthz and /v1/version are never limited ...
    for _ in range(20):
        assert https(a, None, "GET", "/healthz")[0] == 200
    assert https(a, None, "GET", "/v1/version")[0] == 200
    # ... and another peer address has its own bucket.
    st, _, body = request(a.enclave, kp, "POST", "/v1/challenge", b"{}", source="127.0.0.2")
    assert st == 200, (st, body)
    st, _, body = request(a.client, None, "GET", "/v1/attest?nonce=" + "00" * 32,
                          source="127.0.0.2")
    assert st == 200, (st, body)


def test_default_limits_let_normal_use_through(arcad_factory, tmp_path):
    a = arcad_factory()
    kp = KeyPair(str(tmp_path / "kp"), "normal")
    for _ in range(30):
        st, _, body = request(a.enclave, kp, "POST", "/v1/challenge", b"{}")
        assert st == 200, (st, body)
