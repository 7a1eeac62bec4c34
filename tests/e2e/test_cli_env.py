"""The CLI's global settings from the environment: ARCA_IDENTITY selects the identity directory
and ARCA_CAS the CAS, each overridden by its flag (--identity, --cas); without either the CLI
uses ~/.config/arca and the last attested CAS."""
import json
import os
import subprocess

from conftest import ARCA, make_identity


def arca(env_extra, *args, home):
    env = {k: v for k, v in os.environ.items()
           if k not in ("ARCA_CAS", "ARCA_IDENTITY", "XDG_CONFIG_HOME")}
    env["HOME"] = home
    env.update(env_extra)
    return subprocess.run([ARCA] + list(args), capture_output=True, text=True, timeout=60,
                          env=env)


def test_identity_and_cas_from_environment(arcad, tmp_path):
    home = str(tmp_path / "home")
    os.makedirs(home)
    ident = make_identity(tmp_path, "envuser", arcad)  # keygen + cas attest via --identity
    env = {"ARCA_IDENTITY": ident.dir}

    p = arca(env, "-o", "json", "self", "show", home=home)
    assert p.returncode == 0, p.stderr
    shown = json.loads(p.stdout)
    assert shown["identity"] == ident.dir and shown["key_hash"] == ident.key_hash

    # ARCA_CAS names the attested CAS: a session round trip works through it
    env["ARCA_CAS"] = arcad.addr
    yaml = tmp_path / "env.yaml"
    yaml.write_text('name: cli-env\nversion: "0.3.11"\nsecurity:\n  attestation:\n'
                    '    mode: none\nservices:\n  - name: app\n    command: /bin/true\n')
    p = arca(env, "session", "create", str(yaml), home=home)
    assert p.returncode == 0, p.stderr
    p = arca(env, "-o", "json", "session", "read", "cli-env", home=home)
    assert p.returncode == 0 and json.loads(p.stdout)["name"] == "cli-env", p.stderr

    # ARCA_CAS pointing at a CAS that was never attested is refused before any request...
    bad = dict(env, ARCA_CAS="127.0.0.1:9")
    p = arca(bad, "session", "read", "cli-env", home=home)
    assert p.returncode == 1 and "127.0.0.1:9 is not attested" in p.stderr, p.stderr
    # ...and --cas overrides it
    p = arca(bad, "--cas", arcad.addr, "session", "read", "cli-env", home=home)
    assert p.returncode == 0, p.stderr

    # --identity overrides ARCA_IDENTITY
    other = str(tmp_path / "id-other")
    assert arca({}, "--identity", other, "self", "keygen", home=home).returncode == 0
    p = arca(env, "--identity", other, "-o", "json", "self", "show", home=home)
    assert p.returncode == 0 and json.loads(p.stdout)["identity"] == other, p.stderr

    # without ARCA_IDENTITY the default is ~/.config/arca under HOME
    assert arca({}, "self", "keygen", home=home).returncode == 0
    p = arca({}, "-o", "json", "self", "show", home=home)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["identity"] == os.path.join(home, ".config", "arca")
