"""Issue 16, part 5: an audit log people can use. `arca audit show|tail` with filters and -o json
on a real arcad's log, `tail --follow` across a rotation, rotation on SIGUSR1 (`arca audit
rotate`) and by size (--audit-rotate-size) with the chain continuing across files, `audit
verify` of the rotated set (a missing middle file and files out of order are named), a
checkpoint given as a file, and no secret value in the log."""
import glob
import json
import os
import select
import subprocess
import time

import pytest

from conftest import ARCA, ARCAD as ARCAD_BIN, https, make_identity
from test_ops_config import wait_for
from witness_util import swtpm  # noqa: F401 (fixture)

SECRET = "S3cretValue-never-in-the-log"
SESSION = 'name: {name}\nversion: "0.3"\nsecrets: [{{name: s, kind: ascii, value: %s}}]\n' % SECRET


def audit(*args, timeout=60):
    return subprocess.run([ARCA, "audit", *[str(a) for a in args]], capture_output=True,
                          text=True, timeout=timeout)


def create(arcad, ident, name):
    st, body = https(arcad, ident, "POST", "/v1/sessions", SESSION.format(name=name))
    assert st == 201, body


def rotate(arcad):
    """`arca audit rotate --pid`; returns the archived file once arcad logged it."""
    before = arcad.logs().count("audit log rotated")
    r = audit("rotate", "--pid", arcad.proc.pid)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: arcad.logs().count("audit log rotated") > before, "the rotation")
    line = [x for x in arcad.logs().splitlines() if "audit log rotated" in x][-1]
    return line.rsplit(" ", 1)[1].strip()


def test_show_and_tail_filters(arcad_factory, tmp_path):
    arcad = arcad_factory(["--allow-simulation"])
    a = make_identity(tmp_path, "a", arcad)
    for n in ("alpha", "beta", "gamma"):
        create(arcad, a, n)
    log = os.path.join(arcad.data, "audit.log")
    assert SECRET not in arcad.audit()

    r = audit("show", log)
    assert r.returncode == 0, r.stderr
    assert "cas_started" in r.stdout and "session=beta" in r.stdout
    r = audit("show", log, "--session", "beta")
    lines = r.stdout.splitlines()
    assert lines and all("session=beta" in x for x in lines), r.stdout
    r = audit("show", arcad.data, "--event", "session_created,cas_started", "-o", "json")
    objs = [json.loads(x) for x in r.stdout.splitlines()]
    assert {o["event"] for o in objs} == {"session_created", "cas_started"}
    assert [o["fields"].get("session") for o in objs if o["event"] == "session_created"] == \
        ["alpha", "beta", "gamma"]
    assert all("sig" in o for o in objs)  # as signed, so it can be verified later
    r = audit("show", log, "--since", "1h", "--event", "session_created")
    assert len(r.stdout.splitlines()) == 3
    r = audit("show", log, "--until", "2000-01-01T00:00:00Z")
    assert r.returncode == 0 and r.stdout == ""
    r = audit("show", log, "--since", "2000-01-01T00:00:00Z", "--service", "nosuch")
    assert r.returncode == 0 and r.stdout == ""

    r = audit("tail", log, "-n", "2", "--event", "session_created", "-o", "json")
    assert [json.loads(x)["fields"]["session"] for x in r.stdout.splitlines()] == ["beta", "gamma"]

    r = audit("show", log, "--since", "yesterday-ish")
    assert r.returncode == 2 and "--since" in r.stderr
    r = audit("show", log, "--follow")
    assert r.returncode == 2
    r = audit("show", "/nonexistent/audit.log")
    assert r.returncode == 1 and "/nonexistent/audit.log" in r.stderr
    assert arcad.stop() == 0


def test_rotation_and_set_verify(arcad_factory, tmp_path):
    arcad = arcad_factory(["--allow-simulation"])
    a = make_identity(tmp_path, "a", arcad)
    create(arcad, a, "one")
    old1 = rotate(arcad)
    assert os.path.basename(old1).startswith("audit.log.0000")
    create(arcad, a, "two")
    old2 = rotate(arcad)
    create(arcad, a, "three")
    log = os.path.join(arcad.data, "audit.log")
    first = json.loads(open(log).readline())
    assert first["event"] == "audit_opened"
    assert first["fields"]["rotated_from"] == os.path.basename(old2)

    # a restart continues in the rotated file (its checkpoint is there)
    arcad.restart()
    create(arcad, a, "four")
    assert arcad.stop() == 0

    r = audit("verify", arcad.data, "--cas-key", arcad.cas_key)
    assert r.returncode == 0, r.stderr
    assert "(3 files)" in r.stdout and "sequence 1.." in r.stdout
    r = audit("verify", old1, old2, log, "--cas-key", arcad.cas_key, "-o", "json")
    out = json.loads(r.stdout)
    assert out["verified"] is True and out["files"] == [old1, old2, log]
    # the newest file alone verifies as a continuation, and says so
    r = audit("verify", log, "--cas-key", arcad.cas_key)
    assert r.returncode == 0 and "continuing a rotated file" in r.stdout
    # a missing middle file, files out of order
    r = audit("verify", old1, log)
    assert r.returncode == 1 and "%s: line 1:" % log in r.stderr and "missing" in r.stderr
    r = audit("verify", old2, old1, log)
    assert r.returncode == 1 and "out of order" in r.stderr

    # show/tail read the set across files
    r = audit("show", arcad.data, "--event", "session_created")
    assert [x.split("session=")[1].split()[0] for x in r.stdout.splitlines()] == \
        ["one", "two", "three", "four"]

    # a checkpoint as a file (SEQ:SIG, or the JSON of `arca cas audit-checkpoint -o json`)
    last = json.loads(open(log).read().splitlines()[-1])
    cp = "%d:%s" % (last["seq"], last["sig"])
    (tmp_path / "cp.txt").write_text(cp + "\n")
    (tmp_path / "cp.json").write_text(json.dumps({"seq": last["seq"], "checkpoint": cp}))
    for f in ("cp.txt", "cp.json"):
        r = audit("verify", arcad.data, "--checkpoint", tmp_path / f)
        assert r.returncode == 0, r.stderr
    ahead = "%d:%s" % (last["seq"] + 2, last["sig"])
    (tmp_path / "ahead.txt").write_text(ahead)
    r = audit("verify", arcad.data, "--checkpoint", tmp_path / "ahead.txt")
    assert r.returncode == 1 and "2 line(s) missing at the end" in r.stderr
    r = audit("verify", arcad.data, "--checkpoint", tmp_path / "nosuch")
    assert r.returncode == 2

    r = audit("rotate")
    assert r.returncode == 2
    r = audit("rotate", "--pidfile", tmp_path / "nosuch.pid")
    assert r.returncode == 1


def test_size_rotation(arcad_factory, tmp_path):
    arcad = arcad_factory(["--allow-simulation", "--audit-rotate-size", "4096"])
    a = make_identity(tmp_path, "a", arcad)
    for i in range(30):
        create(arcad, a, "s%d" % i)
    assert arcad.stop() == 0
    files = glob.glob(os.path.join(arcad.data, "audit.log.*"))
    assert len(files) >= 2, files
    r = audit("verify", arcad.data, "--cas-key", arcad.cas_key)
    assert r.returncode == 0, r.stderr
    assert SECRET not in "".join(open(f).read() for f in files)


def test_tail_follow_across_rotation(arcad_factory, tmp_path):
    """tail --follow opened before a rotation prints the old file's last line and then the new
    file's lines. stdout is read raw: both lines may come in one read, and a buffered readline
    would keep the second where select() cannot see it."""
    arcad = arcad_factory(["--allow-simulation"])
    a = make_identity(tmp_path, "a", arcad)
    p = subprocess.Popen([ARCA, "audit", "tail", "--follow", "-n", "1", "--event",
                          "session_created", os.path.join(arcad.data, "audit.log")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    log = os.path.realpath(os.path.join(arcad.data, "audit.log"))

    def tail_has_log():
        fds = "/proc/%d/fd" % p.pid
        try:
            return any(os.path.realpath(os.path.join(fds, f)) == log for f in os.listdir(fds))
        except OSError:
            return False
    try:
        wait_for(tail_has_log, "tail to open the log")
        create(arcad, a, "before")
        rotate(arcad)
        create(arcad, a, "after")
        out = b""
        deadline = time.time() + 20
        while out.count(b"\n") < 2 and time.time() < deadline and p.poll() is None:
            ready, _, _ = select.select([p.stdout], [], [], 0.5)
            if ready:
                out += os.read(p.stdout.fileno(), 65536)
        seen = [x.split("session=")[1].split()[0] for x in out.decode().splitlines()]
        assert seen == ["before", "after"], (seen, p.poll())
    finally:
        p.kill()
        p.wait()
    assert arcad.stop() == 0


def test_audit_syslog_copy(arcad_factory, tmp_path):
    """--audit-syslog SOCKET: every audit line also goes, as one datagram, to a unix datagram
    socket (here bound by the test instead of /dev/log); never a secret value. A socket nobody
    serves is a usage error at start."""
    import socket
    path = str(tmp_path / "log.sock")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(path)
    rx.settimeout(10)
    try:
        arcad = arcad_factory(["--audit-syslog", path])
        a = make_identity(tmp_path, "a", arcad)
        create(arcad, a, "logged")
        got = []
        while not any('"session_created"' in g for g in got):
            got.append(rx.recv(65536).decode())
        prefix = "<30>arcad-audit[%d]: " % arcad.proc.pid
        assert all(g.startswith(prefix) for g in got), got[0]
        lines = open(os.path.join(arcad.data, "audit.log")).read().splitlines()
        assert [g[len(prefix):] for g in got] == lines[:len(got)]
        assert SECRET not in "".join(got)
        assert arcad.stop() == 0
    finally:
        rx.close()
    (tmp_path / "sim2").mkdir(mode=0o700)
    r = subprocess.run([ARCAD_BIN, "--data-dir", str(tmp_path / "d2"), "--audit-syslog",
                        str(tmp_path / "nobody.sock"), "--sim-dir", str(tmp_path / "sim2"),
                        "--client-listen", "127.0.0.1:0", "--enclave-listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--audit-syslog" in r.stderr and "nobody.sock" in r.stderr


def test_witnessed_checkpoints_across_rotation(arcad_factory, swtpm, tmp_path):
    """With --witness every line is a witnessed checkpoint; after a rotation a restart checks
    the new file against it, and a tail cut from the new file is still named."""
    import pytest
    arcad = arcad_factory(["--allow-simulation", "--witness", swtpm.spec], workers=1)
    a = make_identity(tmp_path, "a", arcad)
    create(arcad, a, "one")
    rotate(arcad)
    create(arcad, a, "two")
    arcad.restart()
    assert arcad.stop() == 0
    assert audit("verify", arcad.data, "--cas-key", arcad.cas_key).returncode == 0
    log = os.path.join(arcad.data, "audit.log")
    lines = open(log).read().splitlines(keepends=True)
    last = json.loads(lines[-1])["seq"]
    with open(log, "w") as f:
        f.writelines(lines[:-2])
    with pytest.raises(RuntimeError) as exc:
        arcad.start()
    assert "2 line(s) missing at the end (sequence numbers %d to %d)" % (last - 1, last) \
        in str(exc.value), str(exc.value)
