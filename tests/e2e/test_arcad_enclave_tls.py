"""arcad's enclave port offers no TLS session resumption (arca-run makes a fresh key per launch:
a ticket could never be used, and issuing one costs every handshake). The client port is not
changed by this."""
import socket
import ssl


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
