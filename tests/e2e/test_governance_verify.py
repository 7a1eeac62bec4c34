"""`arca session verify NAME` re-checks a governed history offline: a board of 2 of 3 approves
version 2; the whole chain verifies (links, hashes, approvals against version 1's rule), and
`verify FILE` still compares a local file. The CAS's store is sealed, so forged records cannot
be planted end to end here: tests/unit/test_govern_chain.c feeds the check forged inputs."""
import json

from conftest import run_cli
from test_governance_signed import board, governed


def approve(creator, tmp_path, keys, text, name):
    f = tmp_path / (name + ".yaml")
    f.write_text(text)
    r = run_cli(creator, "session", "sign", str(f), "--key", str(keys[0][1]), check=True)
    one = tmp_path / (name + "-1.json")
    one.write_text(r.stdout)
    r = run_cli(creator, "session", "sign", str(one), "--key", str(keys[1][1]), check=True)
    two = tmp_path / (name + "-2.json")
    two.write_text(r.stdout)
    return two


def test_verify_chain_good(arcad, identities, tmp_path):
    keys = board(tmp_path)
    creator = identities["creator"]
    v1 = tmp_path / "v1.yaml"
    v1.write_text(governed("gov-verify", 1, keys))
    run_cli(creator, "session", "create", str(v1), check=True)
    signed = approve(creator, tmp_path, keys, governed("gov-verify", 2, keys), "v2")
    r = run_cli(creator, "session", "update", str(signed))
    assert r.returncode == 0, r.stderr

    r = run_cli(creator, "-o", "json", "session", "verify", "gov-verify")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["verified"] is True and out["name"] == "gov-verify"
    first, second = out["versions"]
    assert first["version"] == 1 and first["link_ok"] and first["hash_ok"]
    assert first["approvals_checked"] is False
    assert second["link_ok"] and second["hash_checked"] and second["hash_ok"]
    assert second["approvals_checked"] and second["approvals_ok"] and second["approvers"] == 2

    r = run_cli(creator, "session", "verify", "gov-verify")
    assert r.returncode == 0, r.stderr
    assert "verified: the history of 'gov-verify'" in r.stdout
    assert "approvals ok (2 signers)" in r.stdout

    # An existing file is still a FILE: compared with the active version.
    r = run_cli(creator, "session", "verify", str(v1))
    assert r.returncode == 1 and "differs from the active version" in r.stderr

    # A missing session is reported as such.
    r = run_cli(creator, "session", "verify", "gov-verify-none")
    assert r.returncode != 0

