"""`arca session check|hash`, `arca GROUP [SUB] --help`: exit codes, error listing, hash output (no CAS needed)."""
import glob
import json
import os
import re
import subprocess

BIN = os.environ.get("ARCA_BIN_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
ARCA = os.path.join(BIN, "arca")
SRC = os.environ.get("ARCA_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
EXAMPLES = sorted(glob.glob(os.path.join(SRC, "examples", "*.yaml")))


def run(*args):
    return subprocess.run([ARCA, *args], capture_output=True, text=True, timeout=60)


def test_every_example_checks():
    assert len(EXAMPLES) >= 8
    r = run("session", "check", *EXAMPLES)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(": ok") == len(EXAMPLES)


def test_invalid_lists_all_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text('name: "a b"\nversion: "0.9"\nfoo: 1\n')
    r = run("session", "check", EXAMPLES[0], str(bad))
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{bad}:1:7: name: invalid name")
    assert f"{bad}:2:10: version: version '0.9' is not supported" in lines[1]
    assert f"{bad}:3:1: foo: unknown key 'foo'" in lines[2]


def test_missing_file_fails(tmp_path):
    r = run("session", "check", str(tmp_path / "nope.yaml"))
    assert r.returncode == 1
    assert "cannot open" in r.stderr


def test_usage_errors():
    assert run("session", "check").returncode == 2
    assert run("session", "hash").returncode == 2
    assert run("session", "frobnicate").returncode == 2
    assert run("session", "hash", "--creator-key", "xyz", EXAMPLES[0]).returncode == 2
    assert run("session").returncode == 2


def test_help():
    r = run("session", "--help")
    assert r.returncode == 0
    for word in ("check", "hash", "create", "update", "read", "list", "history", "verify"):
        assert word in r.stdout
    assert "verify FILE" in r.stdout and "verify NAME" in r.stdout


def test_every_subcommand_help():
    """`--help` after any subcommand shows its group's help (exit 0), never a usage error."""
    cases = {
        "session": ["check", "hash", "create", "update", "read", "list", "history", "verify"],
        "self": ["keygen", "show"],
        "cas": ["attest", "show"],
    }
    for group, subs in cases.items():
        for sub in subs:
            for flag in ("--help", "-h"):
                r = run(group, sub, flag)
                assert r.returncode == 0, (group, sub, r.stderr)
                assert r.stdout.startswith("usage: arca " + group), (group, sub)
                assert r.stderr == ""
        r = run(group, "help")
        assert r.returncode == 0 and r.stdout.startswith("usage: arca " + group)
        r = run(group, "bogus")
        assert r.returncode == 2 and "unknown subcommand 'bogus'" in r.stderr
        r = run(group)
        assert r.returncode == 2 and r.stderr.startswith("usage: arca " + group)
    for group in ("audit", "evidence"):
        r = run(group, "--help")
        assert r.returncode == 0 and "verify FILE" in r.stdout, group


def test_hash_format_and_creator(tmp_path):
    r = run("session", "hash", EXAMPLES[0])
    assert r.returncode == 0, r.stderr
    h0 = r.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", h0)
    assert run("session", "hash", "--creator-key", "00" * 32, EXAMPLES[0]).stdout.strip() == h0
    h1 = run("session", "hash", "--creator-key", "11" * 32, EXAMPLES[0]).stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", h1) and h1 != h0
    # reformatting (comments, quoting, key order) keeps the hash
    src = (tmp_path / "a.yaml")
    src.write_text('name: x\nversion: "0.3"\nsecrets:\n  - name: s\n    kind: ascii\n')
    alt = (tmp_path / "b.yaml")
    alt.write_text("# same\n{secrets: [{kind: 'ascii', name: s}], version: '0.3', name: 'x'}\n")
    assert run("session", "hash", str(src)).stdout == run("session", "hash", str(alt)).stdout


def test_json_output(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\n")
    r = run("-o", "json", "session", "check", EXAMPLES[0], str(bad))
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc[0]["valid"] is True
    assert doc[1]["valid"] is False
    assert doc[1]["errors"][0]["line"] == 1
    assert "version" in doc[1]["errors"][0]["message"]


def test_hash_json():
    r = run("-o", "json", "session", "hash", EXAMPLES[0])
    assert r.returncode == 0
    doc = json.loads(r.stdout)
    assert doc["file"] == EXAMPLES[0]
    assert doc["hash"] == run("session", "hash", EXAMPLES[0]).stdout.strip()


def test_keygen_on_a_fresh_home(tmp_path):
    """A new user has no ~/.config: `arca self keygen` creates the whole path."""
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home))
    env.pop("ARCA_IDENTITY", None)
    r = subprocess.run([ARCA, "self", "keygen"], capture_output=True, text=True, timeout=60,
                       env=env)
    assert r.returncode == 0, r.stderr
    ident = home / ".config" / "arca"
    assert (ident / "key.pem").exists()
    assert oct((ident / "key.pem").stat().st_mode & 0o777) in ("0o600", "0o400")
    r = subprocess.run([ARCA, "self", "show", "-o", "json"], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"[0-9a-f]{64}", json.loads(r.stdout)["key_hash"])
