"""Issue 16, part 2: arcad's configuration file (--config), SIGHUP reload, --pidfile, the
request log line and systemd readiness (NOTIFY_SOCKET). Every test starts its own arcad."""
import os
import signal
import socket
import subprocess
import time

from conftest import ARCAD, https, make_identity

SESSION = 'name: {name}\nversion: "0.3"\n'


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return str(path)


def wait_for(pred, what, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def hup_and_wait(arcad, marker):
    """Sends SIGHUP and waits until the log shows one more line containing marker."""
    before = arcad.logs().count(marker)
    arcad.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: arcad.logs().count(marker) > before, "the reload: " + marker)


def test_file_sets_flags_and_command_line_wins(arcad_factory, tmp_path):
    # the fixture passes --workers 2 on the command line: it beats the file's 1
    conf = write(tmp_path / "arcad.yaml", "# arcad\nworkers: 1\nlog-level: warn\n"
                 "max-sessions-per-client: 1\nallow-simulation: true\n")
    arcad = arcad_factory(["--config", conf])
    assert "arcad ready (2 workers)" in arcad.logs()
    assert " info " not in arcad.logs()  # log-level from the file
    a = make_identity(tmp_path, "a", arcad)
    st, body = https(arcad, a, "POST", "/v1/sessions", SESSION.format(name="c1"))
    assert st == 201, body
    st, body = https(arcad, a, "POST", "/v1/sessions", SESSION.format(name="c2"))
    assert st == 429 and b"--max-sessions-per-client" in body, body
    assert arcad.stop() == 0


def run_arcad(tmp_path, *args):
    return subprocess.run([ARCAD, "--data-dir", str(tmp_path / "d")] + list(args),
                          capture_output=True, text=True, timeout=30)


def test_bad_files_are_refused_naming_key_and_line(tmp_path):
    cases = {
        "data-dir: /x\nclient-listen: 127.0.0.1:0\nno-such-flag: 3\n":
            "3: unknown key 'no-such-flag'",
        "workers: [1, 2]\n": "1: 'workers': a list is not allowed",
        "workers: 1\nworkers: 2\n": "2: key 'workers' is given twice",
        "allow-simulation: maybe\n": "1: 'allow-simulation' is a switch: true or false",
        "config: /etc/other.yaml\n": "1: 'config' cannot be set in the configuration file",
        "- workers\n": "1: the file must be a mapping",
        "workers: 1\n---\nworkers: 2\n": "only one YAML document",
        "workers:\n": "1: 'workers' needs a value",
        "workers: 0\n": "--workers: expected a number from 1 to 256, got '0'",
    }
    for i, (text, want) in enumerate(cases.items()):
        conf = write(tmp_path / ("bad%d.yaml" % i), text)
        p = run_arcad(tmp_path, "--config", conf)
        assert p.returncode == 2, (text, p.stderr)
        assert want in p.stderr, (text, p.stderr)
    p = run_arcad(tmp_path, "--config", str(tmp_path / "missing.yaml"))
    assert p.returncode == 2 and "missing.yaml" in p.stderr, p.stderr
    # an empty file (comments only) is a valid configuration: flags only
    conf = write(tmp_path / "empty.yaml", "# nothing yet\n")
    p = run_arcad(tmp_path, "--config", conf, "--client-listen", "nonsense")
    assert p.returncode == 2 and "--client-listen" in p.stderr, p.stderr


def test_sighup_reloads_limits_and_log_level_and_never_kills(arcad_factory, tmp_path):
    conf = tmp_path / "arcad.yaml"
    write(conf, "max-sessions-per-client: 1\nlog-level: info\n")
    arcad = arcad_factory(["--config", str(conf)])
    a = make_identity(tmp_path, "a", arcad)
    assert https(arcad, a, "POST", "/v1/sessions", SESSION.format(name="h1"))[0] == 201
    assert https(arcad, a, "POST", "/v1/sessions", SESSION.format(name="h2"))[0] == 429
    # raise the quota, change a flag that needs a restart: the quota applies, the other is named
    write(conf, "max-sessions-per-client: 5\nlog-level: info\nmax-body: 2048\n")
    hup_and_wait(arcad, "configuration reloaded")
    assert "--max-body changed; it takes effect only after a restart" in arcad.logs()
    assert https(arcad, a, "POST", "/v1/sessions", SESSION.format(name="h2"))[0] == 201
    # a broken file changes nothing and arcad keeps serving
    write(conf, "max-sessions-per-client: 1\nbogus: 1\n")
    hup_and_wait(arcad, "configuration not reloaded")
    assert "arcad.yaml:2: unknown key 'bogus'" in arcad.logs()
    assert https(arcad, a, "POST", "/v1/sessions", SESSION.format(name="h3"))[0] == 201
    # log level: warn silences the request log
    write(conf, "max-sessions-per-client: 5\nlog-level: warn\n")
    hup_and_wait(arcad, "configuration reloaded")
    n = arcad.logs().count("GET /v1/version")
    assert https(arcad, a, "GET", "/v1/version")[0] == 200
    assert arcad.logs().count("GET /v1/version") == n
    # many SIGHUPs in a row, then a clean stop with cas_stopped
    for _ in range(5):
        arcad.proc.send_signal(signal.SIGHUP)
    assert https(arcad, a, "GET", "/v1/version")[0] == 200
    assert arcad.alive()
    assert arcad.stop() == 0
    assert '"event":"cas_stopped"' in arcad.audit().splitlines()[-1]


def test_sighup_without_config_file_is_harmless(arcad_factory, tmp_path):
    arcad = arcad_factory()
    hup_and_wait(arcad, "configuration reloaded")
    assert arcad.alive()
    assert arcad.stop() == 0
    assert '"event":"cas_stopped"' in arcad.audit().splitlines()[-1]


def test_pidfile(arcad_factory, tmp_path):
    pid_path = tmp_path / "run" / "arcad.pid"
    os.makedirs(pid_path.parent)
    arcad = arcad_factory(["--pidfile", str(pid_path)])
    assert open(pid_path).read() == "%d\n" % arcad.proc.pid
    assert arcad.stop() == 0
    assert not pid_path.exists()
    # a pidfile that cannot be written stops arcad at start, naming it
    p = run_arcad(tmp_path, "--client-listen", "127.0.0.1:0", "--enclave-listen", "127.0.0.1:0",
                  "--sim-dir", arcad.sim, "--pidfile", str(tmp_path / "nodir" / "x.pid"))
    assert p.returncode == 1 and "x.pid" in p.stderr, p.stderr


def test_request_log_line(arcad_factory, tmp_path):
    arcad = arcad_factory()
    a = make_identity(tmp_path, "a", arcad)
    st, _ = https(arcad, a, "GET", "/v1/sessions/nope?hash=SECRETQUERYVALUE")
    assert st in (403, 404)
    st, _ = https(arcad, None, "GET", "/v1/version")
    assert st == 200
    body = SESSION.format(name="logged") + "secrets: [{name: s, kind: ascii, value: BODYSECRET}]\n"
    assert https(arcad, a, "POST", "/v1/sessions", body)[0] == 201
    logs = arcad.logs()
    lines = [l for l in logs.splitlines() if " http: " in l]
    assert any("GET /v1/sessions/nope %d key %s peer 127.0.0.1:" % (st, a.key_hash) in l
               for l in lines) or any("GET /v1/sessions/nope" in l and a.key_hash in l
                                      for l in lines), lines
    assert any("GET /v1/version 200 key - peer 127.0.0.1:" in l and l.endswith(" ms")
               for l in lines), lines
    # offloaded requests are logged when they are answered
    assert any("POST /v1/sessions 201 key %s" % a.key_hash in l for l in lines), lines
    assert "SECRETQUERYVALUE" not in logs and "BODYSECRET" not in logs


def test_systemd_notify(arcad_factory, tmp_path, monkeypatch):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(20)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    try:
        arcad = arcad_factory()
        assert sock.recv(256) == b"READY=1"
        arcad.proc.send_signal(signal.SIGHUP)
        assert sock.recv(256) == b"RELOADING=1"
        assert sock.recv(256) == b"READY=1"
        arcad.proc.send_signal(signal.SIGTERM)
        assert sock.recv(256) == b"STOPPING=1"
        assert arcad.proc.wait(15) == 0
    finally:
        sock.close()


def test_sighup_reloads_collateral(arcad_factory, tmp_path):
    """Issue 16, part 2: SIGHUP reloads --collateral without a restart (connections and the
    process stay); a collateral that does not load keeps the previous one, logged by name."""
    from test_arcad_collateral import PHALA, send_sgx_quote
    conf = write(tmp_path / "arcad.yaml", "log-level: info\n")
    arcad = arcad_factory(["--config", conf])
    pid = arcad.proc.pid
    assert "no DCAP collateral configured" in send_sgx_quote(arcad, tmp_path, "c0")

    good = os.path.join(PHALA, "sgx_quote_collateral.json")
    write(conf, "log-level: info\ncollateral: %s\n" % good)
    hup_and_wait(arcad, "SIGHUP: collateral reloaded")
    assert "SIGHUP: collateral reloaded from %s (was none)" % good in arcad.logs()
    assert "--collateral changed" not in arcad.logs()
    reason = send_sgx_quote(arcad, tmp_path, "c1")
    assert "no DCAP collateral configured" not in reason and "valid from" in reason

    bad = write(tmp_path / "bad.json", "not collateral")
    write(conf, "log-level: info\ncollateral: %s\n" % bad)
    hup_and_wait(arcad, "not reloaded")
    assert "SIGHUP: --collateral %s not reloaded" % bad in arcad.logs()
    assert "valid from" in send_sgx_quote(arcad, tmp_path, "c2")  # the previous one serves

    write(conf, "log-level: info\n")
    hup_and_wait(arcad, "SIGHUP: collateral removed")
    assert "no DCAP collateral configured" in send_sgx_quote(arcad, tmp_path, "c3")
    assert arcad.alive() and arcad.proc.pid == pid
    assert arcad.stop() == 0
