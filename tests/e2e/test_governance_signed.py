"""Offline signed sessions end to end: a board of 2 of 3 (Ed25519, P-256, P-384 keys made with
openssl) governs a session; `arca session sign` collects approvals (one with --key, others made
by openssl over `sign ... message`); arcad refuses too few approvals naming the missing signers,
audits the refusal, applies F+1, stores the approvals, and refuses a replay."""
import json
import subprocess

from conftest import ARCA, run_cli


def openssl(*args, **kw):
    return subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60, **kw)


def board(tmp):
    keys = []
    for i, alg in enumerate(("ed25519", "p256", "p384")):
        priv, pub = tmp / ("k%d.pem" % i), tmp / ("k%d.pub" % i)
        if alg == "ed25519":
            openssl("genpkey", "-algorithm", "ed25519", "-out", str(priv))
        else:
            curve = "P-256" if alg == "p256" else "P-384"
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:" + curve,
                    "-out", str(priv))
        openssl("pkey", "-in", str(priv), "-pubout", "-out", str(pub))
        keys.append((alg, priv, pub))
    return keys


def governed(name, version, keys, predecessor=None):
    signers = "".join("        - signer: %s\n" % json.dumps(pub.read_text()) for _, _, pub in keys)
    text = ('name: %s\nversion: "0.3.%d"\naccess_policy:\n  read: [CREATOR]\n'
            "  update:\n    - require-at-least-2:\n%s" % (name, version, signers))
    if predecessor:
        text += 'predecessor: "%s"\n' % predecessor
    return text


def external_sign(alg, priv, msg, out):
    if alg == "ed25519":
        openssl("pkeyutl", "-sign", "-rawin", "-inkey", str(priv), "-in", str(msg), "-out", str(out))
    else:
        md = "-sha256" if alg == "p256" else "-sha384"
        openssl("dgst", md, "-sign", str(priv), "-out", str(out), str(msg))


def test_board_of_three(arcad, identities, tmp_path):
    keys = board(tmp_path)
    creator, updater = identities["creator"], identities["updater"]
    v1 = tmp_path / "v1.yaml"
    v1.write_text(governed("gov-signed", 1, keys))
    run_cli(creator, "session", "create", str(v1), check=True)

    # The creator alone can no longer change it.
    v2 = tmp_path / "v2.yaml"
    v2.write_text(governed("gov-signed", 2, keys))
    r = run_cli(creator, "session", "update", str(v2))
    assert r.returncode == 1 and "not allowed to update 'gov-signed'" in r.stderr

    # One approval (P-384 with --key): refused, naming what is missing; audited.
    r = run_cli(creator, "session", "sign", str(v2), "--key", str(keys[2][1]))
    assert r.returncode == 0, r.stderr
    one = tmp_path / "one.json"
    one.write_text(r.stdout)
    signed = json.loads(r.stdout)
    assert signed["format"] == "arca-signed-session-v1" and signed["predecessor"]
    assert len(signed["signatures"]) == 1
    r = run_cli(updater, "session", "update", str(one))
    assert r.returncode == 1
    assert "update needs 2 of 3 (require-at-least-2, line 6); have 1 (missing: signer " in r.stderr
    assert "access_denied" in arcad.audit() and "have 1" in arcad.audit()
    # Signing again with the same key does not add a second approval.
    r = run_cli(creator, "session", "sign", str(one), "--key", str(keys[2][1]), check=True)
    assert len(json.loads(r.stdout)["signatures"]) == 1

    # An external Ed25519 signer over the printed message (openssl pkeyutl -rawin).
    msg = tmp_path / "msg.bin"
    with open(msg, "wb") as f:
        p = subprocess.run([ARCA, "--identity", creator.dir, "session", "sign", str(one),
                            "message", "--signer", str(keys[0][2])], stdout=f, timeout=60)
    assert p.returncode == 0 and msg.stat().st_size == 32
    sig = tmp_path / "sig.bin"
    external_sign("ed25519", keys[0][1], msg, sig)
    r = run_cli(creator, "session", "sign", str(one), "add-signature", "--signer",
                str(keys[0][2]), str(sig))
    assert r.returncode == 0, r.stderr
    two = tmp_path / "two.json"
    two.write_text(r.stdout)
    # A signature by a key of the board over another message is refused when added.
    bad = tmp_path / "bad.bin"
    external_sign("p256", keys[1][1], v1, bad)
    r = run_cli(creator, "session", "sign", str(one), "add-signature", "--signer",
                str(keys[1][2]), str(bad))
    assert r.returncode == 1 and "does not verify over this change" in r.stderr

    # F+1 = 2 of 3: applied by any uploader.
    r = run_cli(updater, "-o", "json", "session", "update", str(two))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["version"] == 2
    assert '"approvers"' in arcad.audit()

    # Replay after apply: refused, the active version stays.
    r = run_cli(updater, "session", "update", str(two))
    assert r.returncode == 1 and "approvals apply to one change" in r.stderr
    hist = run_cli(creator, "-o", "json", "session", "history", "gov-signed", check=True)
    assert len(json.loads(hist.stdout)["versions"]) == 2

    # Transparency: who approved each version.
    r = run_cli(creator, "session", "history", "gov-signed", "--approvals", check=True)
    lines = r.stdout.strip().splitlines()
    assert "\tapproved by " in lines[0] and "approved by" not in lines[1]
    assert lines[0].count(", ") == 1  # two approvers
    r = run_cli(creator, "-o", "json", "session", "history", "gov-signed", "--approvals",
                check=True)
    versions = json.loads(r.stdout)["versions"]
    assert len(versions[0]["approvals"]) == 2 and versions[1]["approvals"] == []
    # a stranger sees nothing of it
    r = run_cli(identities["stranger"], "session", "history", "gov-signed", "--approvals")
    assert r.returncode == 1


def test_malformed_signed_json(arcad, identities, tmp_path):
    f = tmp_path / "bad.json"
    f.write_text('{"format": "arca-signed-session-v1", "name": "x", "name": "y"}')
    r = run_cli(identities["creator"], "session", "create", str(f))
    assert r.returncode == 1 and "duplicate key" in r.stderr
