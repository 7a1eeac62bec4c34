"""Connections cannot be hoarded (issue 9, item 1): TLS handshakes and request heads have
absolute deadlines that bytes trickling in do not extend; connections without a complete
request are capped per peer (the oldest goes first, so a newcomer is always let in); when arcad
runs out of file descriptors it pauses accepting instead of spinning, logs that once per
interval, and serves again. Real clients keep being served throughout.

All on 127.0.0.1, bounded in connection count and time."""
import http.client
import json
import os
import re
import resource
import socket
import ssl
import time

import pytest

from conftest import Arcad, make_identity, metrics, tls_context


def client_hello():
    """The bytes of a real TLS ClientHello (what a trickling attacker would send)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


def is_closed(s):
    """True once the server closed s (EOF or reset); s is non-blocking."""
    try:
        return s.recv(4096) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def healthy(a, ident, timeout=30):
    """GET /healthz over a new mutual-TLS connection, waiting at most timeout seconds."""
    conn = http.client.HTTPSConnection("127.0.0.1", a.client, context=tls_context(ident),
                                       timeout=timeout)
    try:
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        return r.status == 200 and json.loads(r.read())["status"] == "ok"
    finally:
        conn.close()


def closed_metric(a, reason):
    m = re.search(r'^arcad_connections_closed_total\{reason="%s"\} (\d+)$' % reason, metrics(a),
                  re.M)
    return int(m.group(1)) if m else -1


@pytest.fixture
def server(tmp_path):
    a = Arcad(tmp_path, ["--handshake-timeout", "2", "--request-timeout", "3"])
    try:
        yield a, make_identity(tmp_path, "me", a)
    finally:
        a.kill()


def test_trickling_handshake_flood(server):
    """30 connections: half send a ClientHello one byte every 0.2 s, half send nothing. Each
    byte would restart a read timeout; the handshake deadline (2 s) cuts them all anyway, while
    a real client is served in the middle of the flood."""
    a, me = server
    hello = client_hello()
    flood = []
    for i in range(30):  # fewer than --max-pending-per-peer: only the deadline may cut them
        s = socket.create_connection(("127.0.0.1", a.client), timeout=10)
        s.setblocking(False)
        flood.append([s, i % 2 == 0, 0])  # socket, trickles, bytes sent
    t0 = time.time()
    served_during = None
    open_ = list(flood)
    while open_ and time.time() - t0 < 12:
        for f in list(open_):
            s, trickles, sent = f
            if is_closed(s):
                open_.remove(f)
                continue
            if trickles and sent < len(hello) - 1:  # never completes the hello
                try:
                    s.send(hello[sent:sent + 1])
                    f[2] += 1
                except OSError:
                    pass
        if served_during is None and time.time() - t0 > 0.5:
            served_during = healthy(a, me, timeout=10)
        time.sleep(0.2)
    for f in flood:
        f[0].close()
    assert served_during, "a real client was not served during the flood"
    assert not open_, "%d trickling/silent handshakes outlived the 2 s deadline" % len(open_)
    assert min(f[2] for f in flood if f[1]) >= 5  # they really were trickling when cut
    assert closed_metric(a, "handshake_deadline") >= 30
    assert healthy(a, me)


@pytest.mark.parametrize("keepalive", [False, True])
def test_trickling_request_head_is_cut(server, keepalive):
    """After the handshake, a head sent one byte every 0.2 s is cut at the request deadline
    (3 s), on a fresh connection and on a kept-alive one after its first answer."""
    a, me = server
    s = tls_context(me).wrap_socket(socket.create_connection(("127.0.0.1", a.client),
                                                             timeout=10))
    if keepalive:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b'"ok"' not in data:
            data += s.recv(4096)
        assert data.startswith(b"HTTP/1.1 200"), data
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    s.setblocking(False)
    t0 = time.time()
    closed = False
    i = 0
    while time.time() - t0 < 12:
        try:
            if s.recv(4096) == b"":
                closed = True
                break
        except (ssl.SSLWantReadError, BlockingIOError):
            pass
        except OSError:
            closed = True
            break
        try:
            s.send(head[i:i + 1])
            i += 1
        except (ssl.SSLWantWriteError, BlockingIOError):
            pass
        except OSError:
            closed = True
            break
        time.sleep(0.2)
    s.close()
    assert closed, "a trickled request head outlived the 3 s request deadline"
    assert i >= 8
    assert closed_metric(a, "request_deadline") >= 1
    assert healthy(a, me)


def test_per_peer_cap_admits_newcomers(tmp_path):
    """One peer holding silent connections keeps at most --max-pending-per-peer of them (per
    worker): each new one pushes out that peer's oldest, so a real client from the very same
    address still gets in at once."""
    a = Arcad(tmp_path, ["--max-pending-per-peer", "4"], workers=1)
    try:
        me = make_identity(tmp_path, "me", a)
        socks = []
        for _ in range(30):
            s = socket.create_connection(("127.0.0.1", a.client), timeout=10)
            s.setblocking(False)
            socks.append(s)
        deadline = time.time() + 5
        while time.time() < deadline:
            still = [s for s in socks if not is_closed(s)]
            if len(still) <= 4:
                break
            time.sleep(0.1)
        assert len(still) <= 4, "%d silent connections of one peer held" % len(still)
        assert still and still[-1] is socks[-1]  # the newest stay
        assert closed_metric(a, "peer_cap") >= 26
        # --handshake-timeout is 10 s by default: these 4 still hold their slots now.
        assert healthy(a, me, timeout=10)
        for s in socks:
            s.close()
    finally:
        a.kill()


def open_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except PermissionError:  # not root: arcad is not dumpable, so /proc/PID/fd is closed
        return 24


def test_fd_exhaustion_pauses_and_recovers(tmp_path):
    """arcad with few file descriptors and a flood of silent connections: accept() fails with
    EMFILE; arcad pauses the listener, gives back descriptors of the oldest pending connections
    and logs a line per interval, not one per failed accept() (libevent's default spins and logs
    each one). A real client is served during the flood and after it."""
    a = Arcad(tmp_path, ["--max-pending-per-peer", "1000"], workers=1)
    try:
        me = make_identity(tmp_path, "me", a)
        limit = open_fds(a.proc.pid) + 24
        resource.prlimit(a.proc.pid, resource.RLIMIT_NOFILE, (limit, limit))
        socks = []
        for _ in range(120):
            s = socket.create_connection(("127.0.0.1", a.client), timeout=10)
            s.setblocking(False)
            socks.append(s)
        time.sleep(2)
        log_before = a.logs()
        assert healthy(a, me, timeout=15), "not served during the flood"
        time.sleep(1)
        lines = [l for l in a.logs().splitlines() if "accept()" in l]
        assert 1 <= len(lines) <= 4, lines[:10] + ["... %d lines" % len(lines)]
        assert "Too many open files" in log_before
        m = metrics(a)
        assert int(re.search(r"^arcad_accept_paused_total (\d+)$", m, re.M).group(1)) >= 1
        assert closed_metric(a, "fd_limit") >= 1
        for s in socks:
            s.close()
        ok = False
        deadline = time.time() + 15
        while not ok and time.time() < deadline:
            try:
                ok = healthy(a, me, timeout=5)
            except OSError:
                time.sleep(0.2)
        assert ok, "not served after the flood"
        assert a.alive()
    finally:
        a.kill()
