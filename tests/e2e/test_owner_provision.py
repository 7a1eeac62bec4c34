"""Owner provisioning (issue 11 part 1, docs/operator-lifecycle.md): a fresh arcad prints a
one-time token; `arca cas provision` attests it and binds ownership to the caller's key; only
the owner may use the owner operations; wrong tokens, a second provision and strangers are
refused with a clear cause and an audit event, and nothing changes."""
import json
import os
import re

from conftest import https_json, make_identity, run_cli

CONFIG = """version: 1
audit:
  checkpoint-every: 64
collateral:
  pcs-url: https://pccs.example/sgx/certification/v4
witnesses:
  - tpm
"""


def token_of(arcad):
    m = re.findall(r"provisioning token ([0-9a-f]{32})\b", arcad.logs())
    assert m, arcad.logs()
    return m[-1]


def write(tmp_path, name, text):
    p = os.path.join(str(tmp_path), name)
    with open(p, "w") as f:
        f.write(text)
    return p


def provision(ident, arcad, token, cfg, *extra):
    return run_cli(ident, "cas", "provision", arcad.addr, "--accept-simulation", "--token", token,
                   "--owner-config", cfg, *extra)


def test_provision_end_to_end(arcad_factory, tmp_path):
    a = arcad_factory()
    token = token_of(a)
    owner = make_identity(tmp_path, "owner")
    stranger = make_identity(tmp_path, "stranger", a)
    cfg = write(tmp_path, "owner.yaml", CONFIG)

    st, j = https_json(a, None, "GET", "/v1/owner")
    assert st == 200 and j == {"provisioned": False}
    # an unprovisioned arcad refuses owner operations and says what to do
    p = run_cli(stranger, "cas", "owner", cas=a.addr)
    assert p.returncode == 1 and "not provisioned" in p.stderr, p.stderr

    p = provision(owner, a, "0" * 32, cfg)
    assert p.returncode == 1 and "wrong provisioning token" in p.stderr, p.stderr
    p = provision(owner, a, token, cfg)
    assert p.returncode == 0, p.stderr
    assert "owner: " + owner.key_hash in p.stdout
    st, j = https_json(a, None, "GET", "/v1/owner")
    assert j == {"provisioned": True, "owner": owner.key_hash, "op_counter": 0,
                 "cas_key": a.cas_key}

    # single use: the same token again, by anyone
    p = provision(stranger, a, token, cfg)
    assert p.returncode == 1 and "already provisioned" in p.stderr, p.stderr
    st, j = https_json(a, stranger, "POST", "/v1/owner/provision",
                       json.dumps({"token": token, "config": CONFIG}))
    assert st == 409 and "already provisioned" in j["msg"][0]
    p = provision(stranger, a, token, cfg, "--skip-if-provisioned")
    assert p.returncode == 0 and "already provisioned" in p.stdout

    # owner only
    p = run_cli(owner, "-o", "json", "cas", "owner", cas=a.addr)
    assert p.returncode == 0, p.stderr
    rec = json.loads(p.stdout)
    assert rec["owner"] == owner.key_hash and rec["config"] == CONFIG
    for args in (("owner",), ("register-upgrade", "--measurement", "ab" * 32),
                 ("register-backup", "--cas-key", "cd" * 32, "--revoke")):
        p = run_cli(stranger, "cas", *args, cas=a.addr)
        assert p.returncode == 1 and "only the owner" in p.stderr, (args, p.stderr)
    st, j = https_json(a, stranger, "POST", "/v1/owner/backups", json.dumps({"cas_key": "cd" * 32}))
    assert st == 403 and "only the owner" in j["msg"][0]
    # a backup must be an attested arcad (its key is wrapped to; test_owner_backup.py)
    p = run_cli(owner, "cas", "register-backup", "--cas-key", "cd" * 32, cas=a.addr)
    assert p.returncode != 0 and "arca cas attest" in p.stderr, p.stderr
    st, j = https_json(a, owner, "POST", "/v1/owner/backups", json.dumps({"cas_key": "cd" * 32}))
    assert st == 400 and "session_encryption_key" in j["msg"][0]
    p = run_cli(owner, "cas", "register-backup", "--cas-key", "cd" * 32, "--revoke", cas=a.addr)
    assert p.returncode == 0, p.stderr

    # the owner configuration is strict; a bad one changes nothing
    bad = write(tmp_path, "bad.yaml", "version: 1\naudit:\n  checkpoint-evry: 5\n")
    p = run_cli(owner, "cas", "owner", "--set-config", bad, cas=a.addr)
    assert p.returncode == 1 and "owner-config:3:3" in p.stderr and "checkpoint-evry" in p.stderr
    rec = json.loads(run_cli(owner, "-o", "json", "cas", "owner", cas=a.addr).stdout)
    assert rec["config"] == CONFIG and rec["backups"] == []

    # the owner is no reader of sessions: ownership grants nothing there
    st, _ = https_json(a, owner, "GET", "/v1/sessions/nosuch")
    assert st in (403, 404)

    # ownership survives a restart; no new token is printed
    a.restart()
    assert len(re.findall(r"provisioning token", a.logs())) == 1
    st, j = https_json(a, None, "GET", "/v1/owner")
    assert j == {"provisioned": True, "owner": owner.key_hash, "op_counter": 0,
                 "cas_key": a.cas_key}

    # the owner (only) fetches the audit checkpoint the clean stop wrote; it verifies the log
    run_cli(owner, "cas", "attest", a.addr, "--accept-simulation", check=True)
    run_cli(stranger, "cas", "attest", a.addr, "--accept-simulation", check=True)
    p = run_cli(stranger, "cas", "audit-checkpoint", cas=a.addr)
    assert p.returncode == 1 and "only the owner" in p.stderr
    p = run_cli(owner, "cas", "audit-checkpoint", cas=a.addr)
    assert p.returncode == 0, p.stderr
    cp = p.stdout.strip()
    assert re.fullmatch(r"[0-9]+:[A-Za-z0-9+/=]+", cp), cp
    p = run_cli(None, "audit", "verify", os.path.join(a.data, "audit.log"), "--cas-key",
                a.cas_key, "--checkpoint", cp)
    assert p.returncode == 0, p.stdout + p.stderr

    audit = a.audit()
    for event in ("owner_provisioned", "owner_refused", "owner_backup_revoked"):
        assert '"%s"' % event in audit, event
    assert token not in audit and token not in a.logs().replace(token, "", 1)


def test_wrong_tokens_are_bounded(arcad_factory, tmp_path):
    a = arcad_factory()
    token = token_of(a)
    ident = make_identity(tmp_path, "guesser", a)
    seen = []
    for i in range(12):
        st, j = https_json(a, ident, "POST", "/v1/owner/provision",
                           json.dumps({"token": "%032x" % i, "config": CONFIG}))
        seen.append(st)
    assert seen[:3] == [403, 403, 403]
    assert 429 in seen  # throttled: further guesses wait, then lock out
    # even the right token is refused while this address is locked out
    st, j = https_json(a, ident, "POST", "/v1/owner/provision",
                       json.dumps({"token": token, "config": CONFIG}))
    assert st == 429 and "try again" in j["msg"][0]
    st, j = https_json(a, None, "GET", "/v1/owner")
    assert j == {"provisioned": False}


def test_existing_deployments_need_no_provisioning(arcad_factory, tmp_path):
    """Never provisioned = today's behaviour: sessions work without an owner."""
    a = arcad_factory()
    ident = make_identity(tmp_path, "plain", a)
    p = write(tmp_path, "s.yaml", "name: plain\nversion: \"0.3\"\n")
    r = run_cli(ident, "session", "create", p, cas=a.addr)
    assert r.returncode == 0, r.stderr
