"""arcad's enclave port offers no TLS session resumption (arca-run makes a fresh key per launch:
a ticket could never be used, and issuing one costs every handshake). The client port is not
changed by this. Client certificates are taken on both ports without a chain check: peers are
their keys, so a certificate no chain check would pass still gets an answer."""
import socket
import ssl
import subprocess


def handshake(port, version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as s:
            # TLS 1.3 tickets arrive after the handshake: have one answer read first.
            s.sendall(b"GET /v1/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            s.recv(4096)
            return s.session


def test_enclave_port_sends_no_ticket(arcad):
    for v in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        sess = handshake(arcad.enclave, v)
        assert sess is None or not sess.has_ticket, v


def test_client_port_unchanged(arcad):
    sess = handshake(arcad.client, ssl.TLSVersion.TLSv1_3)
    assert sess is not None and sess.has_ticket


def strange_client_cert(tmp):
    """A client certificate no chain check passes: issued by a CA nobody knows, for servers only
    (extendedKeyUsage serverAuth) and without digitalSignature in its keyUsage."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run = lambda *a: subprocess.run(a, check=True, capture_output=True, cwd=tmp)
    run("openssl", "req", "-x509", *ec, "-subj", "/CN=unknown CA", "-keyout", "ca.key",
        "-out", "ca.pem", "-days", "2")
    run("openssl", "req", *ec, "-subj", "/CN=odd client", "-keyout", "c.key", "-out", "c.csr")
    (tmp / "ext").write_text("extendedKeyUsage=serverAuth\nkeyUsage=critical,keyEncipherment\n")
    run("openssl", "x509", "-req", "-in", "c.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "ext", "-out", "c.pem")
    return tmp / "c.pem", tmp / "c.key"


def test_client_certificate_without_chain_check(arcad, tmp_path):
    cert, key = strange_client_cert(tmp_path)
    for port, req in ((arcad.enclave, b"POST /v1/challenge HTTP/1.1\r\nHost: x\r\n"
                       b"Content-Length: 0\r\nConnection: close\r\n\r\n"),
                      (arcad.client, b"GET /v1/version HTTP/1.1\r\nHost: x\r\n"
                       b"Connection: close\r\n\r\n")):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.load_cert_chain(cert, key)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw) as s:
                s.sendall(req)
                answer = b""
                while chunk := s.recv(4096):
                    answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), (port, answer[:200])


def test_enclave_port_takes_the_first_key_share(arcad, tmp_path):
    """A default OpenSSL 3 client (arca-run, libcurl) sends one key share, X25519: arcad takes it
    in one round trip, no HelloRetryRequest for a group it would prefer, and signs with its
    P-256 key (what nginx negotiates with the same client in bench/launch.sh)."""
    cert, key = strange_client_cert(tmp_path)
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{arcad.enclave}",
                          "-cert", str(cert), "-key", str(key), "-msg"],
                         input=b"", capture_output=True, timeout=30).stdout.decode()
    assert "Server Temp Key: X25519" in out, out[-2000:]
    assert "TLSv1.3" in out
    assert "Peer signature type: ECDSA" in out
    assert out.count("ServerHello") == 1, "HelloRetryRequest: the client's key share was refused"
