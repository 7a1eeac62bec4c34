"""Owner settings that act (issue 11): at start arcad applies the stored owner configuration's
audit checkpoint interval and collateral sources (required witnesses and export-checkpoints:
test_owner_required.py)."""
import json
import re

from conftest import https_json, run_cli
from owner_util import provision

BODY = 'name: %s\nversion: "0.3"\nsecrets:\n  - name: k\n    kind: binary\n'
CONFIG = """version: 1
audit:
  checkpoint-every: 2
collateral:
  pcs-url: http://127.0.0.1:9/pcs
  kds-url: http://127.0.0.1:9/kds
"""


def test_settings_applied_at_start(arcad_factory, tmp_path):
    a, owner = provision(arcad_factory, tmp_path, CONFIG)
    a.restart()
    logs = a.logs()
    assert "owner configuration: audit checkpoint every 2 lines" in logs
    assert "collateral from http://127.0.0.1:9/pcs (pcs-url)" in logs
    assert "collateral from http://127.0.0.1:9/kds (kds-url)" in logs
    for i in range(6):
        assert https_json(a, owner, "POST", "/v1/sessions", BODY % ("s%d" % i))[0] == 201
    run_cli(owner, "cas", "attest", a.addr, "--accept-simulation", check=True)
    p = run_cli(owner, "-o", "json", "cas", "audit-checkpoint", cas=a.addr)
    assert p.returncode == 0, p.stderr
    seq = json.loads(p.stdout)["seq"]
    last = max(json.loads(ln)["seq"] for ln in a.audit().splitlines() if ln.strip())
    # every 2 lines, not every 128: the checkpoint is at most 2 lines behind
    assert last - seq <= 2, (seq, last)


def test_no_settings_no_change(arcad_factory, tmp_path):
    a, owner = provision(arcad_factory, tmp_path)
    a.restart()
    logs = a.logs()
    assert "owner configuration:" not in logs and "witness" not in logs
    st, j = https_json(a, None, "GET", "/v1/owner")
    assert st == 200 and j["provisioned"] is True
    assert re.search(r"identity loaded", logs)
