"""What the owner requires is enforced (issue 11): a witness kind the owner configuration lists
but the operator did not start arcad with (--witness) makes arcad refuse writes with a message
naming the cause and the flag, audited; reads and the owner's operations go on, so the owner can
drop the requirement, which acts at once. And audit.export-checkpoints: false refuses
`arca cas audit-checkpoint`."""
import http.client
import json

from conftest import https_json, make_identity, run_cli, tls_context
from owner_util import provision, write
from witness_util import swtpm  # noqa: F401 (fixture)

BODY = 'name: %s\nversion: "0.3"\nsecrets:\n  - name: k\n    kind: binary\n'
TPM = "version: 1\nwitnesses:\n  - tpm\n"


def events(a, name):
    return [json.loads(ln) for ln in a.audit().splitlines() if '"event":"%s"' % name in ln]


def enclave_post(a, who, path):
    """POST {} to arcad's enclave port with who's client certificate: (status, body text)."""
    c = http.client.HTTPSConnection("127.0.0.1", a.enclave, context=tls_context(who), timeout=30)
    try:
        c.request("POST", path, body="{}", headers={"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def create(a, who, name):
    return https_json(a, who, "POST", "/v1/sessions", BODY % name)


def test_required_tpm_witness_is_enforced(arcad_factory, swtpm, tmp_path):  # noqa: F811
    a = arcad_factory(["--witness", swtpm.spec], workers=1)
    a, owner = provision(lambda: a, tmp_path, TPM)
    user = make_identity(tmp_path, "user", a)
    st, j = create(a, user, "s1")
    assert st == 201, j  # the owner's TPM runs: writes are served
    assert not events(a, "owner_requirement_unmet")

    # the operator leaves the flag out: arcad starts, refuses writes and says why
    a.extra = [x for x in a.extra if x not in ("--witness", swtpm.spec)]
    a.restart()
    run_cli(owner, "cas", "attest", a.addr, "--accept-simulation", check=True)
    msg = ("the owner configuration requires a TPM witness, but arcad runs without one: "
           "start it with --witness tpm")
    assert msg in a.logs()
    st, j = create(a, user, "s2")
    assert st == 503 and msg in j["msg"][0], (st, j)
    sess = write(tmp_path, "s2.yaml", BODY % "s2")
    p = run_cli(owner, "session", "create", sess, cas=a.addr)
    assert p.returncode != 0 and msg in p.stderr, p.stderr
    ev = events(a, "owner_requirement_unmet")
    assert len(ev) == 1 and msg in ev[0]["fields"]["reason"], ev
    # reads go on; so do the owner's operations
    st, j = https_json(a, user, "GET", "/v1/sessions/s1")
    assert st == 200, j
    p = run_cli(owner, "-o", "json", "cas", "owner", cas=a.addr)
    assert p.returncode == 0, p.stderr

    # the owner drops the requirement: writes are served at once, and after a restart
    cfg = write(tmp_path, "none.yaml", "version: 1\n")
    p = run_cli(owner, "cas", "owner", "--set-config", cfg, cas=a.addr)
    assert p.returncode == 0, p.stderr
    assert "requirements are met" in a.logs()
    st, j = create(a, user, "s3")
    assert st == 201, j
    a.restart()
    assert create(a, user, "s4")[0] == 201
    assert len(events(a, "owner_requirement_unmet")) == 1


def test_required_peer_witness_acts_on_provisioning(arcad_factory, tmp_path):
    """Requiring a kind the running arcad lacks refuses writes from the provisioning on; the
    enclave API's attestations are writes too, its challenge is not."""
    a, owner = provision(arcad_factory, tmp_path, "version: 1\nwitnesses:\n  - arcad://127.0.0.1:1\n")
    msg = "requires a peer arcad witness, but arcad runs without one: start it with " \
          "--witness arcad://HOST:PORT"
    st, j = create(a, owner, "p1")
    assert st == 503 and msg in j["msg"][0], (st, j)
    assert "arca cas owner --set-config" in j["msg"][0]
    assert len(events(a, "owner_requirement_unmet")) == 1
    st, _ = https_json(a, owner, "GET", "/v1/sessions")
    assert st == 200
    enclave = enclave_post(a, owner, "/v1/attest")
    assert enclave[0] == 503 and msg in enclave[1], enclave
    assert enclave_post(a, owner, "/v1/challenge")[0] == 200
    # a TPM requirement is not met by a peer witness either: the first unmet kind is named
    cfg = write(tmp_path, "tpm.yaml", TPM)
    assert run_cli(owner, "cas", "owner", "--set-config", cfg, cas=a.addr).returncode == 0
    st, j = create(a, owner, "p2")
    assert st == 503 and "requires a TPM witness" in j["msg"][0], (st, j)
    assert len(events(a, "owner_requirement_unmet")) == 2


def test_export_checkpoints_false_refuses_the_fetch(arcad_factory, tmp_path):
    a, owner = provision(arcad_factory, tmp_path,
                         "version: 1\naudit:\n  export-checkpoints: false\n")
    a.restart()  # the clean stop wrote a checkpoint
    run_cli(owner, "cas", "attest", a.addr, "--accept-simulation", check=True)
    p = run_cli(owner, "cas", "audit-checkpoint", cas=a.addr)
    assert p.returncode == 1 and "audit.export-checkpoints: false" in p.stderr, p.stderr
    assert any(e["fields"]["operation"] == "audit checkpoint"
               for e in events(a, "owner_refused"))
    cfg = write(tmp_path, "export.yaml", "version: 1\naudit:\n  export-checkpoints: true\n")
    assert run_cli(owner, "cas", "owner", "--set-config", cfg, cas=a.addr).returncode == 0
    p = run_cli(owner, "cas", "audit-checkpoint", cas=a.addr)
    assert p.returncode == 0, p.stderr
    # absent means exported (as before the setting did anything)
    cfg = write(tmp_path, "plain.yaml", "version: 1\n")
    assert run_cli(owner, "cas", "owner", "--set-config", cfg, cas=a.addr).returncode == 0
    assert run_cli(owner, "cas", "audit-checkpoint", cas=a.addr).returncode == 0
