"""Process and protocol hygiene (issue 9, item 8): arcad cannot dump core and is not dumpable
(no ptrace or /proc/PID/mem by other processes of its user); both TLS listeners speak TLS 1.2
only with ECDHE + AEAD suites (no CBC, no SHA-1 MAC); a request whose body length is ambiguous
(two Content-Length headers, or Content-Length with Transfer-Encoding) is refused with 400.

All on 127.0.0.1, bounded in count and time."""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import ARCAD, START_TIMEOUT, make_identity, tls_context


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from conftest import Arcad
    tmp = tmp_path_factory.mktemp("hyg")
    a = Arcad(tmp)
    try:
        yield a, make_identity(tmp, "me", a)
    finally:
        a.kill()


def test_no_core_limit(server):
    a, _ = server
    with open("/proc/%d/limits" % a.proc.pid) as f:
        core = [l for l in f if l.startswith("Max core file size")]
    assert core and core[0].split()[4:6] == ["0", "0"], core


def test_not_dumpable(tmp_path):
    """A non-dumpable process's /proc/PID files belong to root whatever its own uid: run arcad
    as an unprivileged user (as root: as nobody, through setpriv) and look at the owner."""
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("needs setpriv to run arcad unprivileged")
        nobody = pwd.getpwnam("nobody")
        uid, gid = nobody.pw_uid, nobody.pw_gid
        prefix = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups"]
    else:
        uid, gid, prefix = os.getuid(), os.getgid(), []
    top = tempfile.mkdtemp(prefix="arca-dump-", dir="/tmp")
    proc = None
    try:
        os.chmod(top, 0o755)
        data, sim = os.path.join(top, "data"), os.path.join(top, "sim")
        for d in (data, sim):
            os.mkdir(d, 0o700)
            os.chown(d, uid, gid)
        out = open(os.path.join(top, "out"), "w+")
        proc = subprocess.Popen(prefix + [ARCAD, "--data-dir", data, "--sim-dir", sim,
                                          "--client-listen", "127.0.0.1:0",
                                          "--enclave-listen", "127.0.0.1:0", "--workers", "1"],
                                stdout=out, stderr=subprocess.STDOUT)
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline and "arcad ready" not in open(out.name).read():
            assert proc.poll() is None, open(out.name).read()
            time.sleep(0.05)
        assert "arcad ready" in open(out.name).read()
        st = os.stat("/proc/%d/status" % proc.pid)
        with open("/proc/%d/status" % proc.pid) as f:
            ruid = [int(l.split()[1]) for l in f if l.startswith("Uid:")][0]
        assert ruid == uid != 0
        assert st.st_uid == 0, "arcad is dumpable: /proc/PID owned by uid %d" % st.st_uid
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        shutil.rmtree(top, ignore_errors=True)


def s_client(port, *args):
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_2"]
                       + list(args), input=b"", capture_output=True, timeout=30)
    out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    return p.returncode == 0 and "Cipher is (NONE)" not in out, out


@pytest.mark.parametrize("api", ["client", "enclave"])
def test_tls12_aead_only(server, api):
    a, _ = server
    port = a.client if api == "client" else a.enclave
    for weak in ("AES128-SHA", "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384",
                 "ECDHE-ECDSA-AES128-SHA256"):
        ok, out = s_client(port, "-cipher", weak)
        assert not ok, "%s accepted on the %s API:\n%s" % (weak, api, out[-600:])
    for good in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                 "ECDHE-ECDSA-CHACHA20-POLY1305"):
        ok, out = s_client(port, "-cipher", good)
        assert ok and good in out, "%s refused on the %s API:\n%s" % (good, api, out[-600:])


def raw_request(a, ident, data):
    s = tls_context(ident).wrap_socket(socket.create_connection(("127.0.0.1", a.client),
                                                                timeout=10))
    s.sendall(data)
    got = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
            if b"\r\n\r\n" in got and b"}" in got:
                break
    except OSError:
        pass
    s.close()
    return got


@pytest.mark.parametrize("headers", [
    b"Content-Length: 0\r\nContent-Length: 0\r\n",
    b"Content-Length: 0\r\ncontent-length: 7\r\n",
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
])
def test_ambiguous_body_length_refused(server, headers):
    a, me = server
    got = raw_request(a, me, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers +
                      b"\r\n0\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 400"), got[:300]
    # (evhttp itself refuses some Transfer-Encoding forms before arcad sees them)
    assert b"ambiguous" in got or b"Transfer-Encoding" in headers, got[:400]
    assert b"connection: close" in got.lower()
    # one Content-Length is fine
    got = raw_request(a, me, b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 200"), got[:300]


def test_arca_run_program_inherits_no_core(server, tmp_path):
    """arca-run sets the core limit to 0 before the configuration arrives; execve keeps it, so
    the program holding the injected secrets cannot dump core either (it may not raise it)."""
    from launch_util import KeyPair, measure, run_arca_run, session_yaml, upload_session, \
        write_program
    a, _ = server
    creator = KeyPair(str(tmp_path / "creator"), "creator")
    prog = write_program(tmp_path, text="#!/bin/sh\ngrep 'Max core file size' /proc/self/limits"
                                         " > \"$1\"\n")
    upload_session(a, creator, session_yaml("hyg-core", measure(prog)))
    out = str(tmp_path / "out.txt")
    r = run_arca_run(a, "hyg-core/app", prog, [out])
    assert r.returncode == 0, r.stderr
    assert open(out).read().split()[4:6] == ["0", "0"], open(out).read()
