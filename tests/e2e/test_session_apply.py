"""`arca session apply|diff` and `session hash --self` (issue 16 part 4): apply creates, updates,
or does nothing when the CAS has the text already (no new version, no re-issued secrets); diff
shows a structural change list without any secret value; hash --self is the hash create
returns."""
import json

from conftest import make_identity, run_cli

BASE = ('name: %s\nversion: "0.3.11"\nsecurity:\n  attestation:\n    mode: none\n'
        'services:\n  - name: app\n    command: %s\n'
        'secrets:\n  - name: pw\n    kind: ascii\n    value: %s\n'
        '  - name: cert_key\n    kind: private-key\n')


def history(me, name):
    p = run_cli(me, "-o", "json", "session", "history", name)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["versions"]


def test_apply_creates_updates_and_skips(arcad, tmp_path):
    me = make_identity(tmp_path, "apply", arcad)
    f = tmp_path / "s.yaml"
    f.write_text(BASE % ("cli-apply", "/bin/true", "hunter2-secret"))

    p = run_cli(me, "session", "apply", str(f))
    assert p.returncode == 0, p.stderr
    h1 = p.stdout.strip()
    # session hash --self equals what the CAS computed for this creator
    assert run_cli(me, "session", "hash", "--self", str(f)).stdout.strip() == h1
    assert run_cli(me, "session", "hash", "--creator-key", me.key_hash,
                   str(f)).stdout.strip() == h1

    # unchanged: nothing uploaded, same hash, no new version (secrets are generated per
    # version, so none is re-issued)
    f.write_text("# reformatted\n" + BASE % ("cli-apply", "'/bin/true'", "hunter2-secret"))
    p = run_cli(me, "session", "apply", str(f))
    assert p.returncode == 0 and p.stdout.strip() == h1 and "unchanged" in p.stderr, p.stderr
    assert len(history(me, "cli-apply")) == 1
    j = json.loads(run_cli(me, "-o", "json", "session", "apply", str(f)).stdout)
    assert j["hash"] == h1 and j["version"] == 1

    # changed: an update with the predecessor filled in; applying again changes nothing
    f.write_text(BASE % ("cli-apply", "/bin/false", "hunter2-secret"))
    p = run_cli(me, "session", "apply", str(f))
    assert p.returncode == 0, p.stderr
    h2 = p.stdout.strip()
    assert h2 != h1 and [v["hash"] for v in history(me, "cli-apply")] == [h2, h1]
    p = run_cli(me, "session", "apply", str(f))
    assert p.returncode == 0 and p.stdout.strip() == h2 and "unchanged" in p.stderr
    assert len(history(me, "cli-apply")) == 2

    # a file with its own predecessor or a usage error is refused before any upload
    f2 = tmp_path / "p.yaml"
    f2.write_text(f.read_text() + "predecessor: \"%s\"\n" % h2)
    assert run_cli(me, "session", "apply", str(f2)).returncode == 2
    assert run_cli(me, "session", "apply").returncode == 2


def test_diff_is_structural_and_hides_secrets(arcad, tmp_path):
    me = make_identity(tmp_path, "diff", arcad)
    f = tmp_path / "d.yaml"
    f.write_text(BASE % ("cli-diff", "/bin/true", "first-secret-value"))
    p = run_cli(me, "session", "diff", str(f))
    assert p.returncode == 1 and "does not exist" in p.stdout
    assert "first-secret-value" not in p.stdout + p.stderr
    assert "+ secrets[pw].kind: ascii" in p.stdout
    assert run_cli(me, "session", "apply", str(f)).returncode == 0

    p = run_cli(me, "session", "diff", str(f))
    assert p.returncode == 0 and "(unchanged)" in p.stdout, p.stdout

    # a changed command, a removed and an added secret; a changed secret value
    f.write_text(BASE.replace("  - name: cert_key\n    kind: private-key\n",
                              "  - name: token\n    kind: binary\n    size: 16\n")
                 % ("cli-diff", "/bin/false", "second-secret-value"))
    p = run_cli(me, "session", "diff", str(f))
    assert p.returncode == 1, p.stderr
    out = p.stdout
    assert "~ services[app].command: /bin/true -> /bin/false" in out
    assert "- secrets[cert_key].kind: private-key" in out
    assert "+ secrets[token].kind: binary" in out
    for secret in ("first-secret-value", "second-secret-value"):
        assert secret not in out + p.stderr
    j = json.loads(run_cli(me, "-o", "json", "session", "diff", str(f)).stdout)
    assert j["changed"] is True and j["name"] == "cli-diff"
    assert {"op": "~", "path": "services[app].command", "old": "/bin/true",
            "new": "/bin/false"} in j["changes"]
    assert "second-secret-value" not in json.dumps(j)
    assert len(history(me, "cli-diff")) == 1  # diff never uploads

    # only a secret value differs: said so, never shown
    f.write_text(BASE % ("cli-diff", "/bin/true", "third-secret-value"))
    p = run_cli(me, "session", "diff", str(f))
    assert p.returncode == 1 and "a secret value changed" in p.stdout
    assert "third-secret-value" not in p.stdout and "first-secret-value" not in p.stdout


def test_check_catches_what_create_refuses(arcad, tmp_path):
    """`session check` runs the create refusals that depend on the file alone (the server's own
    arca_cas_session_check_static): what check passes, create does not refuse as invalid."""
    me = make_identity(tmp_path, "check", arcad)
    big = tmp_path / "big.yaml"
    big.write_text('name: cli-big\nversion: "0.3.11"\nsecrets:\n' + "".join(
        "  - name: k%d\n    kind: private-key\n" % i for i in range(300)))
    p = run_cli(me, "session", "check", str(big))
    assert p.returncode == 1 and "refused on create" in p.stderr, p.stderr
    assert "--max-keys-per-session" in p.stderr
    j = json.loads(run_cli(me, "-o", "json", "session", "check", str(big)).stdout)
    assert j[0]["valid"] is False and "--max-keys-per-session" in j[0]["errors"][0]["message"]
    p = run_cli(me, "session", "create", str(big))
    assert p.returncode == 1 and "--max-keys-per-session" in p.stderr
    assert "404" not in p.stderr


def test_importer_example_checks_and_creates(arcad, tmp_path):
    import os
    src = os.environ.get("ARCA_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
    me = make_identity(tmp_path, "importer", arcad)
    path = os.path.join(src, "examples", "importer.yaml")
    assert run_cli(me, "session", "check", path).returncode == 0
    p = run_cli(me, "session", "create", path)
    assert p.returncode == 0 or "404" not in p.stderr, p.stderr
