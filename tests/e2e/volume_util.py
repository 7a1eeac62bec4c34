"""Helpers for the protected-volume end-to-end tests (test_volumes_*.py): making volumes with
`arca fspf encrypt`, sessions whose service unlocks them, and running an encrypted Python
program through arca-run with the simulation TEE."""
import os
import subprocess
import sys

import pytest

from launch_util import BIN, measure, run_arca_run

ARCA = os.path.join(BIN, "arca")
PYTHON = os.path.realpath(sys.executable)

# The encrypted program: reads a data file of its volume and an injected secret file inside
# the volume, writes what it saw to the host path in argv[1], and (with a second argument)
# appends a line to the data file, a change of the plaintext.
MAIN_PY = """import os, sys
here = os.path.dirname(os.path.abspath(__file__))
data = open(os.path.join(here, "data", "values.txt")).read()
try:
    secret = open(os.path.join(here, "config.ini")).read().strip()
except OSError:
    secret = "(none)"
with open(sys.argv[1], "w") as f:
    f.write("data=%s\\nsecret=%s\\n" % (data.strip().replace("\\n", "|"), secret))
if len(sys.argv) > 2:
    with open(os.path.join(here, "data", "values.txt"), "a") as f:
        f.write(sys.argv[2] + "\\n")
"""
DATA = "encrypted-data-42\n"


def encrypt(src, dst):
    """Encrypts the tree src into the volume dst; returns (key hex, tag hex)."""
    p = subprocess.run([ARCA, "fspf", "encrypt", src, dst, "--envar-output"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    kv = dict(line.split("=", 1) for line in p.stdout.split())
    return kv["SCONE_FSPF_KEY"], kv["SCONE_FSPF_TAG"]


def decrypt(vol, dst, key, tag):
    return subprocess.run([ARCA, "fspf", "decrypt", vol, dst, "--key", key, "--tag", tag],
                          capture_output=True, text=True, timeout=120)


def make_app(root, main=MAIN_PY, data=DATA):
    """A plaintext tree with main.py and data/values.txt; returns root."""
    os.makedirs(os.path.join(root, "data"))
    with open(os.path.join(root, "main.py"), "w") as f:
        f.write(main)
    with open(os.path.join(root, "data", "values.txt"), "w") as f:
        f.write(data)
    return root


def volume_session(name, vol_path, key, tag, policy="rollback_protected", inject=True,
                   extra_args=""):
    """A session whose service `app` runs `python3 VOL/main.py @@1 ...` with VOL an image
    volume; an injected secret file lies inside the volume (VOL/config.ini)."""
    tag_line = "    fspf_tag: \"%s\"\n" % tag if tag else ""
    key_line = "    fspf_key: \"%s\"\n" % key if key else ""
    files = ("    injection_files:\n"
             "      - path: %s/config.ini\n"
             "        content: \"token=$$SCONE::pw$$\"\n" % vol_path) if inject else ""
    return ("name: %s\n"
            "version: \"0.3.10\"\n"
            "services:\n"
            "  - name: app\n"
            "    command: python3 %s/main.py @@1%s\n"
            "    pwd: /\n"
            "    image_name: img\n"
            "    attestation:\n"
            "      simulation: {measurement: \"%s\"}\n"
            "images:\n"
            "  - name: img\n"
            "    volumes:\n"
            "      - name: code\n"
            "        path: %s\n"
            "        update_policy: %s\n"
            "%s"
            "volumes:\n"
            "  - name: code\n"
            "%s%s"
            "secrets:\n"
            "  - name: pw\n"
            "    kind: ascii\n"
            "    size: 16\n"
            "security:\n"
            "  attestation:\n"
            "    mode: simulation\n"
            % (name, vol_path, extra_args, measure(PYTHON), vol_path, policy, files, key_line,
               tag_line))


def run_python(arcad, config_id, args, timeout=60):
    """arca-run python3 ARGS...; skips where no private mount namespace can be had (a chroot
    with shared mounts, or no user namespaces): volumes are never decrypted to disk."""
    r = run_arca_run(arcad, config_id, PYTHON, list(args), timeout=timeout)
    if ("cannot get a private mount namespace" in r.stderr or
            "cannot make / private" in r.stderr):
        pytest.skip("no private mount namespace here")
    return r


def parse(out):
    return dict(line.split("=", 1) for line in open(out).read().splitlines())


def tree_bytes(root):
    """Every file's bytes under root, concatenated (to prove plaintext is not on disk)."""
    blob = b""
    for d, _, files in os.walk(root):
        for f in files:
            with open(os.path.join(d, f), "rb") as fh:
                blob += fh.read()
    return blob
