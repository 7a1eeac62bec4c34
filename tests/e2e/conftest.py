"""Shared fixtures for arca's end-to-end tests.

Everything runs on 127.0.0.1 with ephemeral ports (arcad is started with port 0 and prints
the ports it picked) in temporary directories, with bounded timeouts. Binaries come from
$ARCA_BIN_DIR (set by ctest), else ../../build/bin.

Fixtures:
  arcad_factory  start arcad instances: Arcad(tmp, extra_args) with .client / .enclave /
                 .metrics ports, .stop() (SIGTERM), .kill() (SIGKILL), .restart(), .logs()
  arcad          one running arcad for the module (simulation allowed, metrics on)
  identities     a dict of Identity objects: creator, reader, updater, stranger (each with
                 its own identity dir, key hash, attested to `arcad`)
  cli            run the arca CLI: cli(identity, *args) -> CompletedProcess
Helpers:
  https(arcad, identity_or_None, method, path, body=None) -> (status, bytes)
"""
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time

import pytest

BIN = os.environ.get("ARCA_BIN_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
ARCAD = os.path.join(BIN, "arcad")
ARCA = os.path.join(BIN, "arca")
START_TIMEOUT = 60 if os.environ.get("ARCA_SANITIZE") in ("ON", "1", "TRUE") else 20

# Skip reporting: ctest runs pytest with -rs (each skip's reason in the summary) and sets
# ARCA_SKIP_RC=77 with SKIP_RETURN_CODE 77, so a file whose tests passed but some were skipped
# shows as "Skipped" in ctest's summary instead of a silent pass. Run by hand, pytest keeps its
# own exit codes.
_skipped = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    rc = os.environ.get("ARCA_SKIP_RC")
    if rc and _skipped and exitstatus == 0:
        session.exitstatus = int(rc)


class Arcad:
    """One arcad process over a data dir in tmp; restartable with the same state."""

    def __init__(self, tmp, extra_args=(), workers=2, name="arcad"):
        self.tmp = str(tmp)
        self.data = os.path.join(self.tmp, name + "-data")
        self.sim = os.path.join(self.tmp, "sim")
        os.makedirs(self.sim, mode=0o700, exist_ok=True)
        os.chmod(self.sim, 0o700)
        self.extra = list(extra_args)
        self.workers = workers
        self.name = name
        self.proc = None
        self.runs = 0
        self.client = self.enclave = self.metrics = None
        self.cas_key = None
        self.start()

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.client

    def _log_paths(self):
        return (os.path.join(self.tmp, "%s.%d.out" % (self.name, self.runs)),
                os.path.join(self.tmp, "%s.%d.err" % (self.name, self.runs)))

    def start(self):
        self.runs += 1
        out_path, err_path = self._log_paths()
        args = [ARCAD, "--data-dir", self.data, "--client-listen", "127.0.0.1:0",
                "--enclave-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
                "--sim-dir", self.sim, "--allow-simulation", "--workers", str(self.workers)]
        args += self.extra
        self.out = open(out_path, "w+")
        self.err = open(err_path, "w+")
        self.proc = subprocess.Popen(args, stdout=self.out, stderr=self.err)
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            with open(out_path) as f:
                text = f.read()
            if "arcad ready" in text:
                for line in text.splitlines():
                    if line.startswith("client API listening on "):
                        self.client = int(line.rsplit(":", 1)[1])
                    elif line.startswith("enclave API listening on "):
                        self.enclave = int(line.rsplit(":", 1)[1])
                    elif line.startswith("metrics listening on "):
                        self.metrics = int(line.rsplit(":", 1)[1])
                    elif line.startswith("CAS key: "):
                        self.cas_key = line.split(": ", 1)[1].strip()
                return
            if self.proc.poll() is not None:
                raise RuntimeError("arcad exited with %s: %s" % (self.proc.returncode,
                                                                 open(err_path).read()))
            time.sleep(0.02)
        self.proc.kill()
        raise RuntimeError("arcad did not start in time: " + open(err_path).read())

    def stop(self, timeout=15):
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        self.proc = None
        return rc

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def logs(self):
        """Everything arcad wrote to stdout/stderr over all runs."""
        text = ""
        for i in range(1, self.runs + 1):
            for ext in ("out", "err"):
                p = os.path.join(self.tmp, "%s.%d.%s" % (self.name, i, ext))
                if os.path.exists(p):
                    text += open(p, errors="replace").read()
        return text

    def audit(self):
        p = os.path.join(self.data, "audit.log")
        return open(p, errors="replace").read() if os.path.exists(p) else ""


class Identity:
    def __init__(self, dir_, key_hash, key_hash_b58):
        self.dir = dir_
        self.key_hash = key_hash
        self.key_hash_b58 = key_hash_b58
        self.cert = os.path.join(dir_, "cert.pem")
        self.key = os.path.join(dir_, "key.pem")


def run_cli(identity, *args, cas=None, timeout=60, check=False):
    env = dict(os.environ)
    env.pop("ARCA_CAS", None)
    cmd = [ARCA]
    if identity is not None:
        cmd += ["--identity", identity.dir if isinstance(identity, Identity) else identity]
    if cas is not None:
        cmd += ["--cas", cas]
    cmd += list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d): %s %s" % (cmd, p.returncode, p.stdout, p.stderr))
    return p


def make_identity(tmp, name, arcad=None):
    d = os.path.join(str(tmp), "id-" + name)
    run_cli(d, "self", "keygen", check=True)
    j = json.loads(run_cli(d, "-o", "json", "self", "show", check=True).stdout)
    ident = Identity(d, j["key_hash"], j["key_hash_b58"])
    if arcad is not None:
        run_cli(ident, "cas", "attest", arcad.addr, "--accept-simulation", check=True)
    return ident


def tls_context(identity):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if identity is not None:
        ctx.load_cert_chain(identity.cert, identity.key)
    return ctx


def https(arcad, identity, method, path, body=None, timeout=30, headers=None):
    """One request over a new mutual-TLS connection; returns (status, body bytes)."""
    conn = http.client.HTTPSConnection("127.0.0.1", arcad.client, context=tls_context(identity),
                                       timeout=timeout)
    try:
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def https_json(arcad, identity, method, path, body=None):
    status, data = https(arcad, identity, method, path, body)
    try:
        return status, json.loads(data) if data else None
    except ValueError:
        return status, data


def metrics(arcad):
    s = socket.create_connection(("127.0.0.1", arcad.metrics), timeout=10)
    s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data.decode(errors="replace")


@pytest.fixture
def arcad_factory(tmp_path):
    started = []

    def factory(extra_args=(), workers=2, name="arcad"):
        a = Arcad(tmp_path, extra_args, workers, name)
        started.append(a)
        return a

    yield factory
    for a in started:
        a.kill()


@pytest.fixture(scope="module")
def arcad(tmp_path_factory):
    a = Arcad(tmp_path_factory.mktemp("arcad"))
    yield a
    a.kill()


@pytest.fixture(scope="module")
def identities(arcad, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ids")
    return {name: make_identity(tmp, name, arcad)
            for name in ("creator", "reader", "updater", "stranger")}


@pytest.fixture
def cli():
    return run_cli
