"""`arca audit verify` on the audit log of a real arcad: a complete log verifies (pinned by the
CAS key in hex or Base58Check, or by a PEM key); a changed, deleted, reordered, repeated or cut
line is reported with its line number and exit status 1; arcad refuses to start over a
truncated log (its checkpoint in the sealed store is ahead of the file)."""
import base64
import json
import os
import shutil
import subprocess

import pytest

BIN = os.environ.get("ARCA_BIN_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
ARCA = os.path.join(BIN, "arca")


def verify(path, *args):
    return subprocess.run([ARCA, "audit", "verify", str(path), *args], capture_output=True,
                          text=True, timeout=60)


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    """An arcad started and stopped three times; returns (arcad, path of a pristine copy)."""
    from conftest import Arcad
    tmp = tmp_path_factory.mktemp("audit")
    a = Arcad(tmp, workers=1)
    a.restart()
    a.restart()
    a.stop()
    pristine = os.path.join(str(tmp), "pristine.log")
    shutil.copy(os.path.join(a.data, "audit.log"), pristine)
    return a, pristine


def lines_of(path):
    with open(path) as f:
        return f.read().splitlines(keepends=True)


def write(path, lines):
    with open(path, "w") as f:
        f.write("".join(lines))


def test_complete_log_verifies(log, tmp_path):
    arcad, pristine = log
    n = len(lines_of(pristine))
    assert n >= 6
    r = verify(pristine, "--cas-key", arcad.cas_key)
    assert r.returncode == 0, r.stderr
    assert "verified: %d lines" % n in r.stdout
    r = verify(pristine, "--cas-key", arcad.cas_key, "-o", "json")
    assert r.returncode == 0
    out = json.loads(r.stdout)
    assert out["verified"] is True and out["lines"] == n and out["last_seq"] == n
    assert out["key_id"] == arcad.cas_key
    # a PEM public key made from the log's own key statement
    first = json.loads(lines_of(pristine)[0])
    der = base64.b64decode(first["fields"]["key"])
    pem = tmp_path / "cas.pem"
    b64 = base64.encodebytes(der).decode().replace("\n", "")
    pem.write_text("-----BEGIN PUBLIC KEY-----\n" +
                   "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64)) +
                   "\n-----END PUBLIC KEY-----\n")
    assert verify(pristine, "--key", str(pem)).returncode == 0


def test_wrong_cas_key(log):
    _, pristine = log
    r = verify(pristine, "--cas-key", "00" * 32)
    assert r.returncode == 1
    assert "line 1" in r.stderr and "not the given CAS key" in r.stderr


def expect(path, line, why):
    r = verify(path)
    assert r.returncode == 1, r.stdout
    assert ": line %d: " % line in r.stderr, r.stderr
    assert why in r.stderr, r.stderr
    j = verify(path, "-o", "json")
    assert j.returncode == 1
    out = json.loads(j.stdout)
    assert out["verified"] is False and out["line"] == line


def test_changed_line(log, tmp_path):
    _, pristine = log
    ls = lines_of(pristine)
    ls[3] = ls[3].replace('"time":"', '"time":"1', 1)
    p = tmp_path / "changed.log"
    write(p, ls)
    expect(p, 4, "signature does not verify")


def test_deleted_line(log, tmp_path):
    _, pristine = log
    ls = lines_of(pristine)
    del ls[2]
    p = tmp_path / "deleted.log"
    write(p, ls)
    expect(p, 3, "removed")


def test_reordered_lines(log, tmp_path):
    _, pristine = log
    ls = lines_of(pristine)
    ls[4], ls[5] = ls[5], ls[4]
    p = tmp_path / "reordered.log"
    write(p, ls)
    expect(p, 5, "removed")


def test_repeated_line(log, tmp_path):
    _, pristine = log
    ls = lines_of(pristine)
    ls.insert(2, ls[1])
    p = tmp_path / "repeated.log"
    write(p, ls)
    expect(p, 3, "reordered or repeated")


def test_cut_line(log, tmp_path):
    _, pristine = log
    ls = lines_of(pristine)
    ls[-1] = ls[-1][:40]
    p = tmp_path / "cut.log"
    write(p, ls)
    expect(p, len(ls), "incomplete")


def test_usage_errors(log):
    _, pristine = log
    assert verify(pristine, "--cas-key", "xyz").returncode == 2
    assert verify(pristine, "--bogus").returncode == 2
    r = subprocess.run([ARCA, "audit"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    r = verify("/nonexistent/audit.log")
    assert r.returncode == 1 and "nonexistent" in r.stderr


def test_arcad_refuses_truncated_log(log):
    arcad, pristine = log
    path = os.path.join(arcad.data, "audit.log")
    ls = lines_of(pristine)
    write(path, ls[:-2])
    # the truncated file alone still verifies: only the store's checkpoint shows the loss
    assert verify(path).returncode == 0
    with pytest.raises(RuntimeError) as e:
        arcad.start()
    assert "audit" in str(e.value) and "truncated" in str(e.value)
    arcad.proc = None
    # with the whole log back, arcad starts and extends it
    shutil.copy(pristine, path)
    arcad.start()
    arcad.stop()
    r = verify(path, "--cas-key", arcad.cas_key)
    assert r.returncode == 0, r.stderr
    assert len(lines_of(path)) == len(ls) + 3
