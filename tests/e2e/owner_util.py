"""Helpers of the owner tests (test_owner_*.py): a provisioned arcad."""
import hashlib
import os
import re
import shutil

import conftest

from conftest import make_identity, run_cli


def provision(arcad_factory, tmp_path, config="version: 1\n"):
    """A fresh arcad provisioned by a new identity "owner": returns (arcad, owner)."""
    a = arcad_factory()
    token = re.findall(r"provisioning token ([0-9a-f]{32})", a.logs())[-1]
    owner = make_identity(tmp_path, "owner")
    cfg = os.path.join(str(tmp_path), "owner.yaml")
    with open(cfg, "w") as f:
        f.write(config)
    p = run_cli(owner, "cas", "provision", a.addr, "--accept-simulation", "--token", token,
                "--owner-config", cfg)
    assert p.returncode == 0, p.stderr
    return a, owner


def write(tmp_path, name, text):
    """Writes text to tmp_path/name; returns its path."""
    p = os.path.join(str(tmp_path), name)
    with open(p, "w") as f:
        f.write(text)
    return p


def rebuilt(tmp_path, tag):
    """A copy of arcad with bytes appended: another simulated measurement, same program.
    Returns (path, measurement hex)."""
    p = os.path.join(str(tmp_path), "arcad-" + tag)
    shutil.copy2(conftest.ARCAD, p)
    with open(p, "ab") as f:
        f.write(b"\0arca-rebuilt-" + tag.encode())
    with open(p, "rb") as f:
        return p, hashlib.sha256(f.read()).hexdigest()
