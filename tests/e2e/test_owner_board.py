"""The owner board (issue 11 part 1): an owner configuration with a require-at-least-N board of
owner keys; every owner change then needs N board signatures over its operation message
("arca-owner-op-v1", the CAS key id, the operation, its argument bytes, the owner-op counter).
2 of 3: two signatures change the configuration, one is refused naming the missing signers, a
replayed set of signatures is refused."""
import hashlib
import json
import os
import re
import struct
import subprocess

from conftest import https_json, make_identity, run_cli
from owner_util import provision, write


def lv(b):
    return struct.pack(">I", len(b)) + b


def op_message(cas_key_hex, op, args, counter):
    return hashlib.sha256(lv(b"arca-owner-op-v1") + lv(bytes.fromhex(cas_key_hex)) +
                          lv(op.encode()) + lv(args) + lv(struct.pack(">Q", counter))).digest()


def approval(ident, msg, tmp_path):
    """ECDSA P-256 over the 32-byte message with openssl, as an external signer would."""
    m = os.path.join(str(tmp_path), "msg.bin")
    with open(m, "wb") as f:
        f.write(msg)
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", ident.key, m], check=True,
                         capture_output=True).stdout
    pub = subprocess.run(["openssl", "pkey", "-in", ident.key, "-pubout"], check=True,
                         capture_output=True, text=True).stdout
    import base64
    return {"key": pub, "sig": base64.b64encode(sig).decode()}


def test_board_two_of_three(arcad_factory, tmp_path):
    alice, bob, carol = (make_identity(tmp_path, n) for n in ("alice", "bob", "carol"))
    board = ("version: 1\nboard:\n  require-at-least: 2\n  owners:\n" +
             "".join("    - %s\n" % i.key_hash for i in (alice, bob, carol)))
    a, prov = provision(arcad_factory, tmp_path, board)
    for i in (alice, bob, carol):
        run_cli(i, "cas", "attest", a.addr, "--accept-simulation", check=True)
    st, j = https_json(a, None, "GET", "/v1/owner")
    assert j["board"] == {"require_at_least": 2,
                          "owners": [alice.key_hash, bob.key_hash, carol.key_hash]}
    assert j["op_counter"] == 0

    new = board + "audit:\n  checkpoint-every: 64\n"
    cfg = write(tmp_path, "new.yaml", new)
    # the provisioning key is no owner: the board is
    p = run_cli(prov, "cas", "owner", "--set-config", cfg, "--sign-with",
                os.path.join(prov.dir, "key.pem"), cas=a.addr)
    assert p.returncode == 1 and "owner board" in p.stderr, p.stderr
    # one signature: refused, naming the missing signers
    p = run_cli(alice, "cas", "owner", "--set-config", cfg, "--sign-with", alice.key, cas=a.addr)
    assert p.returncode == 1, p.stderr
    assert "needs 2 of 3" in p.stderr and "have 1" in p.stderr, p.stderr
    assert bob.key_hash in p.stderr and carol.key_hash in p.stderr
    assert alice.key_hash not in p.stderr.split("missing")[1]
    # no signature at all
    p = run_cli(alice, "cas", "rotate-key", cas=a.addr)
    assert p.returncode == 1 and "have 0" in p.stderr, p.stderr
    # two: the configuration changes
    counter = https_json(a, None, "GET", "/v1/owner")[1]["op_counter"]
    p = run_cli(alice, "cas", "owner", "--set-config", cfg, "--sign-with", alice.key,
                "--sign-with", bob.key, cas=a.addr)
    assert p.returncode == 0, p.stderr
    rec = json.loads(run_cli(carol, "-o", "json", "cas", "owner", cas=a.addr, check=True).stdout)
    assert rec["config"] == new
    assert https_json(a, None, "GET", "/v1/owner")[1]["op_counter"] > counter

    # signatures made offline (openssl) over the message; a replay of the same set is refused
    st, j = https_json(a, None, "GET", "/v1/owner")
    third = new + "backup-rule: same-measurement\n"
    msg = op_message(a.cas_key, "config", third.encode(), j["op_counter"])
    body = json.dumps({"config": third,
                       "approvals": [approval(bob, msg, tmp_path),
                                     approval(carol, msg, tmp_path)]})
    st, ans = https_json(a, carol, "PUT", "/v1/owner/config", body)
    assert st == 200, ans
    st, ans = https_json(a, carol, "PUT", "/v1/owner/config", body)
    assert st in (400, 403) and "replay" in ans["msg"][0], ans
    # an approved rotate-key and snapshot
    p = run_cli(bob, "cas", "rotate-key", "--sign-with", bob.key, "--sign-with", carol.key,
                cas=a.addr)
    assert p.returncode == 0, p.stderr
    p = run_cli(bob, "cas", "snapshot", "--sign-with", alice.key, "--sign-with", carol.key,
                cas=a.addr)
    assert p.returncode == 0 and re.search(r"snapshot written", p.stdout), p.stderr
    # offline: the CLI writes the message, external signers sign it, the CLI sends their approvals
    m = os.path.join(str(tmp_path), "op.bin")
    p = run_cli(alice, "cas", "rotate-key", "--message-out", m, cas=a.addr)
    assert p.returncode == 0 and "owner-op message written" in p.stdout, p.stderr
    ctr = https_json(a, None, "GET", "/v1/owner")[1]["op_counter"]
    assert open(m, "rb").read() == op_message(a.cas_key, "rotate-key", b"", ctr)
    args = []
    for who in (alice, carol):
        sig = os.path.join(str(tmp_path), who.key_hash[:8] + ".sig")
        pub = os.path.join(str(tmp_path), who.key_hash[:8] + ".pub")
        subprocess.run(["openssl", "dgst", "-sha256", "-sign", who.key, "-out", sig, m],
                       check=True)
        subprocess.run(["openssl", "pkey", "-in", who.key, "-pubout", "-out", pub], check=True)
        args += ["--approval", pub, sig]
    p = run_cli(alice, "cas", "rotate-key", *args, cas=a.addr)
    assert p.returncode == 0, p.stderr
    p = run_cli(alice, "cas", "rotate-key", *args, cas=a.addr)  # the same approvals again
    assert p.returncode == 1 and "replay" in p.stderr, p.stderr
    audit = a.audit()
    assert '"owner_refused"' in audit and '"owner_config_changed"' in audit
