"""Bad requests get clear errors while arcad keeps serving others: oversized bodies and
headers, malformed YAML and JSON, wrong methods, plain HTTP on the TLS port, slow clients,
too many connections; SIGTERM drains and exits cleanly."""
import re
import socket
import ssl
import threading
import time

import pytest

from conftest import https, https_json, make_identity, metrics, tls_context


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from conftest import Arcad
    tmp = tmp_path_factory.mktemp("robust")
    a = Arcad(tmp, ["--timeout", "2", "--max-body", "65536", "--max-header", "8192",
                    "--max-connections", "40"])
    try:
        ident = make_identity(tmp, "me", a)
        yield a, ident
    finally:
        a.kill()


def healthy(a, ident):
    st, v = https_json(a, ident, "GET", "/healthz")
    return st == 200 and v["status"] == "ok"


def test_oversized_body(server):
    a, me = server
    try:
        st, body = https(a, me, "POST", "/v1/sessions", b"x" * 200000)
        assert st == 413
    except (ConnectionError, ssl.SSLError):
        pass  # arcad may close the connection before reading it all
    assert healthy(a, me)


def test_oversized_header(server):
    a, me = server
    try:
        st, _ = https(a, me, "GET", "/healthz", headers={"X-Big": "y" * 20000})
        assert st in (400, 413, 431)
    except (ConnectionError, ssl.SSLError, OSError):
        pass
    assert healthy(a, me)


def test_malformed_yaml_and_json(server):
    a, me = server
    st, v = https_json(a, me, "POST", "/v1/sessions", "name: [unclosed\nversion: 0.3\n")
    assert st == 400 and re.search(r"<upload>:\d+:\d+", v["msg"][0]), v
    st, v = https_json(a, me, "POST", "/v1/sessions", '{"name": "j", "version": ')
    assert st == 400 and v["msg"], v
    st, v = https_json(a, me, "POST", "/v1/sessions", 'name: u\nversion: "0.3"\nbogus_key: 1\n')
    assert st == 400 and "bogus_key" in " ".join(v["msg"]), v
    st, v = https_json(a, me, "POST", "/v1/sessions", b"")
    assert st == 400 and "empty" in v["msg"][0]
    st, v = https_json(a, me, "POST", "/v1/sessions", b"name: \x00\xff\xfe")
    assert st == 400
    assert healthy(a, me)


def test_wrong_method_and_paths(server):
    a, me = server
    st, v = https_json(a, me, "DELETE", "/v1/sessions/x")
    assert st == 405 and "not allowed" in v["msg"][0]
    st, v = https_json(a, me, "GET", "/v1/nothing")
    assert st == 404 and "no such endpoint" in v["msg"][0]
    st, v = https_json(a, me, "GET", "/v1/sessions/a/../b")
    assert st == 400 and "dot segment" in v["msg"][0]
    st, v = https_json(a, me, "GET", "/v1/sessions/a%00b")
    assert st == 400 and "NUL" in v["msg"][0]
    st, v = https_json(a, me, "GET", "/v1/sessions/bad%20name")
    assert st == 400
    st, v = https_json(a, me, "GET", "/v1/attest?nonce=zz")
    assert st == 400 and "nonce" in v["msg"][0]
    st, v = https_json(a, me, "GET", "/v1/sessions/x?hash=1234")
    assert st in (400, 404)
    st, _ = https(a, me, "PATCH", "/v1/sessions")
    assert st in (405, 501)
    assert healthy(a, me)


def test_plain_http_on_tls_port_never_answered(server):
    a, me = server
    for port in (a.client, a.enclave):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /v1/version HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        try:
            while len(data) < 4096:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
        assert b"HTTP/" not in data and b"arcad" not in data, data[:200]
    assert healthy(a, me)


def test_slow_client_is_cut_and_others_served(server):
    a, me = server
    ctx = tls_context(me)
    raw = socket.create_connection(("127.0.0.1", a.client), timeout=10)
    s = ctx.wrap_socket(raw)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes the head
    t0 = time.time()
    # meanwhile others are served
    assert healthy(a, me)
    closed = False
    try:
        while time.time() - t0 < 10:
            if s.recv(4096) == b"":
                closed = True
                break
    except (ConnectionError, ssl.SSLError, socket.timeout, OSError):
        closed = True
    s.close()
    assert closed and time.time() - t0 < 8, "slow client not cut"
    # a client that stalls in the TLS handshake is cut too
    raw = socket.create_connection(("127.0.0.1", a.client), timeout=10)
    raw.sendall(b"\x16\x03\x01")
    t0 = time.time()
    try:
        while time.time() - t0 < 10 and raw.recv(4096) != b"":
            pass
    except OSError:
        pass
    assert time.time() - t0 < 8, "stalled handshake not cut"
    raw.close()
    assert healthy(a, me)


def test_connection_cap_and_gauge(arcad_factory, tmp_path):
    a = arcad_factory(["--max-connections", "10"], workers=1)
    me = make_identity(tmp_path, "capper", a)
    ctx = tls_context(me)
    conns = []
    statuses = []
    for _ in range(20):
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", a.client), timeout=10))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        statuses.append(s.recv(64)[:12])
        conns.append(s)
    assert sum(b" 200" in x for x in statuses) == 10, statuses
    assert sum(b" 503" in x for x in statuses) == 10, statuses
    assert re.search(r"^arcad_connections 10$", metrics(a), re.M)
    for s in conns:
        s.close()
    deadline = time.time() + 10
    while time.time() < deadline:
        m = metrics(a)
        if re.search(r"^arcad_connections 0$", m, re.M):
            break
        time.sleep(0.2)
    assert re.search(r"^arcad_connections 0$", m, re.M), "connection gauge leaks"
    assert healthy(a, me)


def test_concurrent_clients_while_bad_ones(server):
    a, me = server
    errors = []

    def bad():
        for _ in range(20):
            try:
                s = socket.create_connection(("127.0.0.1", a.client), timeout=5)
                s.sendall(b"\x00" * 100)
                s.close()
            except OSError:
                pass

    def good():
        for _ in range(20):
            if not healthy(a, me):
                errors.append("unhealthy")

    ts = [threading.Thread(target=bad) for _ in range(3)] + [threading.Thread(target=good)
                                                             for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors


def test_sigterm_drains(arcad_factory):
    a = arcad_factory()
    t0 = time.time()
    assert a.stop() == 0
    assert time.time() - t0 < 5
    assert "stopped" in a.logs()
    assert '"cas_stopped"' in a.audit()
    a.start()  # restarts into the same state (identity, store, audit log)
    assert a.alive()


def test_bad_json_is_not_echoed(server):
    """A malformed attest body is refused by position only: jansson's error text quotes the
    input near the error, which may be an access token or a host environment value."""
    import http.client
    a, me = server
    token = "tokZ9f1c2e77notEchoed"
    # An unquoted value: jansson's error text would quote its start ("invalid token near
    # 'tokZ'").
    body = '{"config_id": "s/x", "access_token": %s}' % token
    conn = http.client.HTTPSConnection("127.0.0.1", a.enclave, context=tls_context(me),
                                       timeout=30)
    try:
        conn.request("POST", "/v1/attest", body=body.encode())
        r = conn.getresponse()
        data = r.read().decode(errors="replace")
    finally:
        conn.close()
    assert r.status == 400, data
    assert "line 1" in data and "column" in data, data
    assert token[:4] not in data
    assert token[:4] not in a.logs()
    assert healthy(a, me)
