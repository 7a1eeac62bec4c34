"""Issue 16, part 2: SIGHUP reloads the collateral sources --pcs-url, --kds-url and --snp-certs
from the configuration file like --collateral: the next fetch goes to the new URL (a stand-in
PCS on 127.0.0.1 records it), a bad value keeps the old one and is logged, and the owner
configuration's collateral URLs still win over the operator's (as at start)."""
import http.server
import os
import threading

import pytest

from owner_util import provision
from test_arcad_collateral import send_sgx_quote
from test_ops_config import hup_and_wait, write


class StandIn:
    """A stand-in PCS on 127.0.0.1: records every path asked for and answers 404."""

    def __init__(self):
        paths = self.paths = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                paths.append(self.path)
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/pcs" % self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def pcs():
    servers = []

    def make():
        s = StandIn()
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.close()


def test_sighup_reloads_pcs_url(arcad_factory, tmp_path, pcs):
    one, two = pcs(), pcs()
    conf = write(tmp_path / "arcad.yaml", "log-level: info\n")
    a = arcad_factory(["--config", conf])
    pid = a.proc.pid
    assert "no DCAP collateral configured" in send_sgx_quote(a, tmp_path, "u0")

    write(conf, "log-level: info\npcs-url: %s\n" % one.url)
    hup_and_wait(a, "SIGHUP: --pcs-url now")
    assert "SIGHUP: --pcs-url now %s (was none)" % one.url in a.logs()
    assert "--pcs-url changed" not in a.logs()
    reason = send_sgx_quote(a, tmp_path, "u1")
    assert one.url in reason, reason
    assert one.paths and one.paths[0].startswith("/pcs/sgx/certification/v4/tcb?fmspc=")

    write(conf, "log-level: info\npcs-url: %s\n" % two.url)
    hup_and_wait(a, "SIGHUP: --pcs-url now")
    assert "SIGHUP: --pcs-url now %s (was %s)" % (two.url, one.url) in a.logs()
    n = len(one.paths)
    assert two.url in send_sgx_quote(a, tmp_path, "u2")
    assert two.paths and len(one.paths) == n

    # a bad value keeps the one in use, and says why
    write(conf, "log-level: info\npcs-url: ftp://127.0.0.1/pcs\n")
    hup_and_wait(a, "not reloaded")
    assert ("SIGHUP: --pcs-url ftp://127.0.0.1/pcs not reloaded: expected an http(s):// URL "
            "without spaces; %s stays in use" % two.url) in a.logs()
    m = len(two.paths)
    assert two.url in send_sgx_quote(a, tmp_path, "u3")
    assert len(two.paths) > m

    write(conf, "log-level: info\n")
    hup_and_wait(a, "SIGHUP: --pcs-url removed")
    assert "no DCAP collateral configured" in send_sgx_quote(a, tmp_path, "u4")
    assert a.alive() and a.proc.pid == pid
    assert a.stop() == 0


def test_sighup_kds_url_and_snp_certs(arcad_factory, tmp_path):
    conf = write(tmp_path / "arcad.yaml", "log-level: info\n")
    a = arcad_factory(["--config", conf])
    snp = tmp_path / "snp"
    snp.mkdir()
    write(conf, "log-level: info\nkds-url: http://127.0.0.1:1/kds\nsnp-certs: %s\n" % snp)
    hup_and_wait(a, "SIGHUP: --snp-certs now")
    logs = a.logs()
    assert "SIGHUP: --kds-url now http://127.0.0.1:1/kds (was none)" in logs
    assert "SIGHUP: --snp-certs now %s (was none)" % snp in logs
    assert os.path.isdir(os.path.join(a.data, "collateral-cache"))
    write(conf, "log-level: info\nkds-url: not a url\nsnp-certs: %s\n" % snp)
    hup_and_wait(a, "not reloaded")
    assert ("SIGHUP: --kds-url not a url not reloaded: expected an http(s):// URL without "
            "spaces; http://127.0.0.1:1/kds stays in use") in a.logs()
    write(conf, "log-level: info\n")
    hup_and_wait(a, "SIGHUP: --snp-certs removed")
    assert "SIGHUP: --kds-url removed (was http://127.0.0.1:1/kds)" in a.logs()
    assert a.stop() == 0


def test_owner_collateral_wins_at_sighup(arcad_factory, tmp_path, pcs):
    mine, owners = pcs(), pcs()
    conf = write(tmp_path / "arcad.yaml", "log-level: info\n")
    a, owner = provision(lambda: arcad_factory(["--config", conf]), tmp_path,
                         "version: 1\ncollateral:\n  pcs-url: %s\n" % owners.url)
    # provisioned while running: the owner's URL acts at the next SIGHUP (or start)
    write(conf, "log-level: info\npcs-url: %s\n" % mine.url)
    hup_and_wait(a, "decides")
    assert ("SIGHUP: --pcs-url %s not applied: the owner configuration's collateral.pcs-url %s "
            "decides" % (mine.url, owners.url)) in a.logs()
    assert "SIGHUP: --pcs-url now %s (was none)" % owners.url in a.logs()
    assert owners.url in send_sgx_quote(a, tmp_path, "o1")
    assert owners.paths and not mine.paths
    assert a.stop() == 0
