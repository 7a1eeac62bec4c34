"""Online proposals (`arca proposal`, POST /v1/proposals): a change held until the approvals
satisfy the ACTIVE version's rule, then applied; stale, expired and vetoed proposals refused;
proposals invisible to strangers; secret values never shown."""
import json
import os
import subprocess
import textwrap
import time

import pytest

from conftest import ARCA, https_json, make_identity, run_cli


def keygen(tmp, name, alg="ed25519"):
    priv = os.path.join(str(tmp), name + ".pem")
    pub = os.path.join(str(tmp), name + ".pub")
    if alg == "ed25519":
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", priv], check=True,
                       capture_output=True)
    else:
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-384", "-out", priv], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", pub, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    import hashlib
    return {"priv": priv, "pub": pub, "id": hashlib.sha256(der).hexdigest()}


def signer(k, indent):
    return "signer: |\n" + textwrap.indent(open(k["pub"]).read(), " " * (indent + 4))


def policy(name, rule, size=12, extra=""):
    return ('name: %s\nversion: "0.3.11"\nsecrets:\n  - name: pw\n    kind: ascii\n'
            '    size: %d\n  - name: fixed\n    kind: ascii\n    value: "s3cr3t-%s"\n%s'
            'access_policy:\n  update:\n%s' % (name, size, "v" * 3, extra, rule))


def quorum_rule(keys, n):
    r = "    - require-at-least-%d:\n" % n
    for k in keys:
        r += "        - " + signer(k, 8)
    return r


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("board")
    return [keygen(tmp, "m%d" % i) for i in range(3)]


def cli_json(ident, *args):
    r = run_cli(ident, "-o", "json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def create(ident, tmp, text, fname="s.yaml"):
    p = os.path.join(str(tmp), fname)
    open(p, "w").write(text)
    r = run_cli(ident, "session", "create", p)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def submit(ident, tmp, text, fname="next.yaml"):
    p = os.path.join(str(tmp), fname)
    open(p, "w").write(text)
    return cli_json(ident, "proposal", "submit", p)


def test_quorum_reached_applies(identities, board, tmp_path):
    me = identities["creator"]
    first = create(me, tmp_path, policy("prop-q", quorum_rule(board, 2)))
    p = submit(me, tmp_path, policy("prop-q", quorum_rule(board, 2), size=16))
    assert p["state"] == "open" and p["kind"] == "update"
    assert p["predecessor"] == first
    # the creator alone is not the rule: nothing applied yet
    assert cli_json(me, "session", "read", "prop-q")["hash"] == first
    # a readable diff, secrets by origin only, never a value
    changed = [l.replace(" ", "") for l in p["diff"].splitlines() if l[:1] in "+-"]
    assert changed[:2] == ["-size:12", "+size:16"], p["diff"]
    assert "s3cr3t" not in json.dumps(p)
    origins = {s["name"]: s["value"] for s in p["secrets"]}
    assert origins == {"pw": "generated", "fixed": "explicit value (hidden)"}
    a = cli_json(me, "proposal", "approve", p["id"], "--key", board[0]["priv"],
                 "--reason", "looks fine")
    assert a["state"] == "open"
    assert a["votes"][0]["signer"] == board[0]["id"]
    # the same signer twice counts once
    a = cli_json(me, "proposal", "approve", p["id"], "--key", board[0]["priv"])
    assert a["state"] == "open" and len(a["votes"]) == 1
    a = cli_json(me, "proposal", "approve", p["id"], "--key", board[1]["priv"])
    assert a["state"] == "applied", a
    assert a["applied"]["version"] == 2
    now = cli_json(me, "session", "read", "prop-q")
    assert now["hash"] == p["hash"] and now["version"] == 2
    # applied: takes no more votes
    r = run_cli(me, "proposal", "approve", p["id"], "--key", board[2]["priv"])
    assert r.returncode == 1 and "applied" in r.stderr


def test_unknown_signer_and_bad_signature_refused(identities, board, tmp_path):
    me = identities["creator"]
    create(me, tmp_path, policy("prop-bad", quorum_rule(board, 2)))
    p = submit(me, tmp_path, policy("prop-bad", quorum_rule(board, 2), size=20))
    other = keygen(tmp_path, "outsider")
    r = run_cli(me, "proposal", "approve", p["id"], "--key", other["priv"])
    assert r.returncode == 1 and "not named by access_policy.update" in r.stderr
    # a signature over another message, posted as an external signature
    msg = os.path.join(str(tmp_path), "other.bin")
    open(msg, "wb").write(b"\x00" * 32)
    sig = os.path.join(str(tmp_path), "other.sig")
    subprocess.run(["openssl", "pkeyutl", "-sign", "-rawin", "-inkey", board[0]["priv"], "-in",
                    msg, "-out", sig], check=True, capture_output=True)
    r = run_cli(me, "proposal", "approve", p["id"], "--signer", board[0]["pub"],
                "--signature", sig)
    assert r.returncode == 1, r.stdout
    assert cli_json(me, "proposal", "show", p["id"])["votes"] == []


def test_external_signature(identities, board, tmp_path):
    me = identities["creator"]
    create(me, tmp_path, policy("prop-ext", quorum_rule(board, 1)))
    p = submit(me, tmp_path, policy("prop-ext", quorum_rule(board, 1), size=14))
    msg = os.path.join(str(tmp_path), "msg.bin")
    r = subprocess.run([ARCA, "--identity", me.dir, "proposal", "message", p["id"], "--binary"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0 and len(r.stdout) == 32
    assert r.stdout.hex() == p["message"]
    open(msg, "wb").write(r.stdout)
    sig = os.path.join(str(tmp_path), "m.sig")
    subprocess.run(["openssl", "pkeyutl", "-sign", "-rawin", "-inkey", board[2]["priv"], "-in",
                    msg, "-out", sig], check=True, capture_output=True)
    a = cli_json(me, "proposal", "approve", p["id"], "--signer", board[2]["pub"],
                 "--signature", sig)
    assert a["state"] == "applied"


def test_stale_refused(identities, board, tmp_path):
    me = identities["creator"]
    create(me, tmp_path, policy("prop-stale", quorum_rule(board, 1)))
    p1 = submit(me, tmp_path, policy("prop-stale", quorum_rule(board, 1), size=13), "a.yaml")
    p2 = submit(me, tmp_path, policy("prop-stale", quorum_rule(board, 1), size=15), "b.yaml")
    assert cli_json(me, "proposal", "approve", p1["id"], "--key",
                    board[0]["priv"])["state"] == "applied"
    r = run_cli(me, "proposal", "approve", p2["id"], "--key", board[1]["priv"])
    assert r.returncode == 1 and "stale" in r.stderr
    assert cli_json(me, "proposal", "show", p2["id"])["state"] == "stale"


def test_veto_rejection_ends_it(identities, board, tmp_path):
    me = identities["creator"]
    rule = ("    - require-all:\n        - " + signer(board[0], 8) +
            "        - require-at-least-1:\n            - " + signer(board[1], 12) +
            "            - " + signer(board[2], 12))
    create(me, tmp_path, policy("prop-veto", rule))
    p = submit(me, tmp_path, policy("prop-veto", rule, size=18))
    # the board approves; the veto holder has not yet: still open
    assert cli_json(me, "proposal", "approve", p["id"], "--key",
                    board[1]["priv"])["state"] == "open"
    assert cli_json(me, "proposal", "approve", p["id"], "--key",
                    board[2]["priv"])["state"] == "open"
    a = cli_json(me, "proposal", "reject", p["id"], "--key", board[0]["priv"], "--reason",
                 "no: too weak")
    assert a["state"] == "rejected"
    assert "no: too weak" in a["reason"]
    r = run_cli(me, "proposal", "approve", p["id"], "--key", board[0]["priv"])
    assert r.returncode == 1 and "rejected" in r.stderr
    assert cli_json(me, "session", "read", "prop-veto")["version"] == 1


def test_board_minority_rejection_does_not_end_it(identities, board, tmp_path):
    me = identities["creator"]
    create(me, tmp_path, policy("prop-minority", quorum_rule(board, 2)))
    p = submit(me, tmp_path, policy("prop-minority", quorum_rule(board, 2), size=17))
    assert cli_json(me, "proposal", "reject", p["id"], "--key",
                    board[0]["priv"])["state"] == "open"
    assert cli_json(me, "proposal", "reject", p["id"], "--key",
                    board[1]["priv"])["state"] == "rejected"


def test_strangers_see_nothing(arcad, identities, board, tmp_path):
    me, stranger = identities["creator"], identities["stranger"]
    create(me, tmp_path, policy("prop-hidden", quorum_rule(board, 2)))
    p = submit(me, tmp_path, policy("prop-hidden", quorum_rule(board, 2), size=19))
    listed = cli_json(stranger, "proposal", "list")["proposals"]
    assert all(x["session"] != "prop-hidden" for x in listed)
    st, body = https_json(arcad, stranger, "GET", "/v1/proposals/" + p["id"])
    st2, body2 = https_json(arcad, stranger, "GET", "/v1/proposals/" + "0" * 32)
    assert st == st2 == 404
    assert body["msg"][0].replace(p["id"], "X") == body2["msg"][0].replace("0" * 32, "X")
    # a stranger cannot submit to a session it cannot see (answered as missing)
    path = os.path.join(str(tmp_path), "s.yaml")
    open(path, "w").write(policy("prop-hidden", quorum_rule(board, 2), size=21) +
                          'predecessor: "%s"\n' % p["predecessor"])
    r = run_cli(stranger, "proposal", "submit", path)
    assert r.returncode == 1 and "no such session" in r.stderr
    st, _ = https_json(arcad, None, "GET", "/v1/proposals")
    assert st == 401


def test_pending_list_and_wait(identities, board, tmp_path):
    me = identities["creator"]
    create(me, tmp_path, policy("prop-pend", quorum_rule(board, 2)))
    p = submit(me, tmp_path, policy("prop-pend", quorum_rule(board, 2), size=22))
    mine = [x["id"] for x in cli_json(me, "proposal", "list", "--open")["proposals"]]
    assert p["id"] in mine
    # the creator's key is not on the board: nothing pending for it; a bounded wait returns
    r = cli_json(me, "proposal", "list", "--pending", "--wait", "1")
    assert all(x["id"] != p["id"] for x in r["proposals"])
    r = run_cli(me, "proposal", "list", "--wait", "31")
    assert r.returncode == 1 and "wait" in r.stderr


def test_expired_refused(arcad_factory, board, tmp_path):
    a = arcad_factory(["--proposal-ttl", "1"])
    me = make_identity(tmp_path, "exp", a)
    create(me, tmp_path, policy("prop-exp", quorum_rule(board, 1)))
    p = submit(me, tmp_path, policy("prop-exp", quorum_rule(board, 1), size=23))
    assert p["expires_at"] - p["submitted_at"] == 1
    deadline = time.time() + 30
    while time.time() < deadline and time.time() < p["expires_at"] + 1.5:
        time.sleep(0.2)
    r = run_cli(me, "proposal", "approve", p["id"], "--key", board[0]["priv"])
    assert r.returncode == 1 and "expired" in r.stderr
    assert cli_json(me, "session", "read", "prop-exp")["version"] == 1


def test_survives_restart_and_limits(arcad_factory, board, tmp_path):
    a = arcad_factory(["--max-proposals-per-client", "1"])
    me = make_identity(tmp_path, "lim", a)
    create(me, tmp_path, policy("prop-lim", quorum_rule(board, 2)))
    p = submit(me, tmp_path, policy("prop-lim", quorum_rule(board, 2), size=24))
    path = os.path.join(str(tmp_path), "again.yaml")
    open(path, "w").write(policy("prop-lim", quorum_rule(board, 2), size=25))
    r = run_cli(me, "proposal", "submit", path)
    assert r.returncode != 0 and "--max-proposals-per-client" in r.stderr
    a.restart()  # a new port, the same CAS key and store
    run_cli(me, "cas", "attest", a.addr, "--accept-simulation", check=True)
    assert cli_json(me, "proposal", "approve", p["id"], "--key",
                    board[0]["priv"])["state"] == "open"
    assert cli_json(me, "proposal", "approve", p["id"], "--key",
                    board[1]["priv"])["state"] == "applied"
