"""An idle keep-alive connection is kept for a while after its answer, then closed after
--timeout, on both listeners; arcad keeps serving others."""
import socket
import ssl
import time

import pytest

from conftest import Arcad, https_json, make_identity, tls_context


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("idle")
    a = Arcad(tmp, ["--timeout", "2"])
    try:
        yield a, make_identity(tmp, "me", a)
    finally:
        a.kill()


def closed_within(s, limit):
    t0 = time.time()
    try:
        while time.time() - t0 < limit + 5:
            if s.recv(4096) == b"":
                break
    except (ConnectionError, ssl.SSLError, socket.timeout, OSError):
        pass
    return time.time() - t0 < limit


@pytest.mark.parametrize("api", ["client", "enclave"])
def test_idle_keepalive_is_closed(server, api):
    a, me = server
    port = a.client if api == "client" else a.enclave
    ctx = tls_context(me) if api == "client" else ssl._create_unverified_context()
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 "), head
    length = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
              if l.lower().startswith(b"content-length:")]
    while length and len(body) < length[0]:
        body += s.recv(4096)
    assert b"connection: close" not in head.lower(), head
    # the connection stays open for keep-alive...
    s.settimeout(0.5)
    with pytest.raises(socket.timeout):
        s.recv(4096)
    s.settimeout(10)
    # ...then idles past --timeout 2 and is closed
    assert closed_within(s, 6), "idle keep-alive connection not closed"
    s.close()
    st, v = https_json(a, me, "GET", "/healthz")
    assert st == 200 and v["status"] == "ok"
