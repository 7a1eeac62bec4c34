"""The CLI's conventions (issue 16 part 4): several pinned CASes (`cas list|use|forget`, `cas
attest` asking before it replaces the default), `cas show --env` for arca-run, a client pointed
at the wrong port, `arca status`, GNU-style options, `arca help CMD`, unknown options named and
did-you-mean for commands."""
import json
import os
import pty
import subprocess

from conftest import ARCA, make_identity, run_cli


def j(p):
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_several_cas_list_use_forget(arcad_factory, tmp_path):
    a = arcad_factory(name="a")
    b = arcad_factory(name="b")
    me = make_identity(tmp_path, "multi", a)  # the first attested CAS becomes the default
    assert j(run_cli(me, "-o", "json", "cas", "list"))["default"] == a.addr

    # not on a terminal: b is pinned, the default stays, stderr says how to change it
    p = run_cli(me, "cas", "attest", b.addr, "--accept-simulation")
    assert p.returncode == 0, p.stderr
    assert "default CAS stays " + a.addr in p.stderr and "arca cas use " + b.addr in p.stderr
    listed = j(run_cli(me, "-o", "json", "cas", "list"))
    assert listed["default"] == a.addr
    assert {c["address"]: c["default"] for c in listed["cas"]} == {a.addr: True, b.addr: False}
    assert {c["address"]: c["cas_key"] for c in listed["cas"]} == {a.addr: a.cas_key,
                                                                   b.addr: b.cas_key}
    text = run_cli(me, "cas", "list").stdout
    assert "* " + a.addr in text and "  " + b.addr in text

    # use switches the default; commands without --cas then talk to b
    assert run_cli(me, "cas", "use", b.addr).returncode == 0
    assert j(run_cli(me, "-o", "json", "status"))["address"] == b.addr
    p = run_cli(me, "cas", "use", "127.0.0.1:9")
    assert p.returncode == 1 and "not pinned" in p.stderr

    # --use makes the newly attested CAS the default without asking
    p = run_cli(me, "cas", "attest", a.addr, "--accept-simulation", "--use")
    assert p.returncode == 0 and "stays" not in p.stderr, p.stderr
    assert j(run_cli(me, "-o", "json", "cas", "list"))["default"] == a.addr

    # on a terminal it asks; "y" switches
    master, slave = pty.openpty()
    os.write(master, b"y\n")
    p = subprocess.run([ARCA, "--identity", me.dir, "cas", "attest", b.addr,
                        "--accept-simulation"], stdin=slave, capture_output=True, text=True,
                       timeout=60)
    os.close(slave)
    os.close(master)
    assert p.returncode == 0, p.stderr
    assert "Make %s the default CAS instead of %s?" % (b.addr, a.addr) in p.stderr
    assert j(run_cli(me, "-o", "json", "cas", "list"))["default"] == b.addr

    # forget removes the pin; forgetting the default leaves none
    assert run_cli(me, "cas", "forget", b.addr).returncode == 0
    listed = j(run_cli(me, "-o", "json", "cas", "list"))
    assert listed["default"] is None and [c["address"] for c in listed["cas"]] == [a.addr]
    p = run_cli(me, "session", "list")
    assert p.returncode == 1 and "none attested" in p.stderr
    assert run_cli(me, "cas", "forget", b.addr).returncode == 1
    assert run_cli(me, "session", "list", cas=a.addr).returncode == 0


def test_same_cas_at_a_new_address_stays_default(arcad_factory, tmp_path):
    """A restarted arcad (same key, new port) keeps being the default without a question."""
    a = arcad_factory(name="r")
    me = make_identity(tmp_path, "restart", a)
    old = a.addr
    a.restart()
    assert a.addr != old
    p = run_cli(me, "cas", "attest", a.addr, "--accept-simulation")
    assert p.returncode == 0 and "stays" not in p.stderr, p.stderr
    assert j(run_cli(me, "-o", "json", "cas", "list"))["default"] == a.addr


def test_old_single_cas_file_is_migrated(arcad, tmp_path):
    me = make_identity(tmp_path, "old")
    with open(os.path.join(me.dir, "cas.json"), "w") as f:
        json.dump({"address": arcad.addr, "cas_key": arcad.cas_key, "insecure": True}, f)
    listed = j(run_cli(me, "-o", "json", "cas", "list"))
    assert listed["default"] == arcad.addr and listed["cas"][0]["cas_key"] == arcad.cas_key
    assert run_cli(me, "session", "list").returncode == 0


def test_cas_show_env_for_arca_run(arcad, tmp_path):
    me = make_identity(tmp_path, "env", arcad)
    p = run_cli(me, "cas", "show", "--env")
    assert p.returncode == 0, p.stderr
    env = dict(line.split("=", 1) for line in p.stdout.split())
    assert env == {"ARCA_CAS_ADDR": "127.0.0.1:%d" % arcad.enclave,
                   "ARCA_CAS_KEY": arcad.cas_key}
    assert j(run_cli(me, "-o", "json", "cas", "show", "--env")) == env
    shown = j(run_cli(me, "-o", "json", "cas", "show"))
    assert shown["enclave_address"] == env["ARCA_CAS_ADDR"]
    assert "enclave:      " + env["ARCA_CAS_ADDR"] in run_cli(me, "cas", "show").stdout
    # usable as is in a shell
    out = subprocess.run(["sh", "-c", 'export $("$0" --identity "$1" cas show --env); '
                          'echo "$ARCA_CAS_ADDR $ARCA_CAS_KEY"', ARCA, me.dir],
                         capture_output=True, text=True, timeout=60).stdout.split()
    assert out == [env["ARCA_CAS_ADDR"], env["ARCA_CAS_KEY"]]


def test_cas_show_env_learns_the_enclave_address_later(arcad, tmp_path):
    """Attested before `self keygen`: the enclave address is not recorded; plain `cas show`
    stays offline without it, `--env` needs an identity and then asks arcad."""
    d = str(tmp_path / "late")
    assert run_cli(d, "cas", "attest", arcad.addr, "--accept-simulation").returncode == 0
    assert "enclave:" not in run_cli(d, "cas", "show").stdout
    p = run_cli(d, "cas", "show", "--env")
    assert p.returncode == 1 and "self keygen" in p.stderr, p.stderr
    assert run_cli(d, "self", "keygen").returncode == 0
    p = run_cli(d, "cas", "show", "--env")
    assert p.returncode == 0, p.stderr
    assert "ARCA_CAS_ADDR=127.0.0.1:%d\n" % arcad.enclave in p.stdout


def test_wrong_port_is_named(arcad, tmp_path):
    me = make_identity(tmp_path, "port")
    enclave = "127.0.0.1:%d" % arcad.enclave
    p = run_cli(me, "cas", "attest", enclave, "--accept-simulation")
    assert p.returncode == 3
    assert "this is arcad's enclave port; the client API is %s" % arcad.addr in p.stderr
    p = run_cli(me, "cas", "attest", "127.0.0.1:%d" % arcad.metrics, "--accept-simulation")
    assert p.returncode == 3 and "client API port" in p.stderr, p.stderr


def test_status(arcad, tmp_path):
    me = make_identity(tmp_path, "status", arcad)
    yaml = tmp_path / "st.yaml"
    yaml.write_text('name: cli-status\nversion: "0.3.11"\nsecurity:\n  attestation:\n'
                    '    mode: none\nservices:\n  - name: app\n    command: /bin/true\n')
    before = j(run_cli(me, "-o", "json", "status"))
    assert run_cli(me, "session", "create", str(yaml)).returncode == 0
    st = j(run_cli(me, "--output=json", "status"))
    assert st["sessions"] == before["sessions"] + 1
    assert st["store"]["commit"] > before["store"]["commit"]
    assert st["provisioned"] is False and st["version"]
    assert st["uptime_s"] >= 0 and st["address"] == arcad.addr
    assert st["enclave_address"] == "127.0.0.1:%d" % arcad.enclave
    assert set(st) == {"address", "version", "provisioned", "store", "sessions", "audit_head",
                       "uptime_s", "enclave_address"}
    text = run_cli(me, "status").stdout
    for word in ("version:", "provisioned:", "store:", "sessions:", "audit head:", "uptime:"):
        assert word in text
    # the route needs a client certificate like the other reads
    from conftest import https
    assert https(arcad, None, "GET", "/v1/status")[0] == 401
    assert https(arcad, me, "GET", "/v1/status")[0] == 200


def test_gnu_options_help_and_typos(arcad, tmp_path):
    me = make_identity(tmp_path, "gnu", arcad)
    for form in (["-o", "json"], ["-ojson"], ["--output=json"], ["--output", "json"]):
        assert isinstance(j(run_cli(me, *form, "cas", "list")), dict), form
        assert isinstance(j(run_cli(me, "cas", "list", *form)), dict), form
    p = run_cli(None, "--identity=" + me.dir, "--cas=" + arcad.addr, "-ojson", "cas", "show")
    assert j(p)["address"] == arcad.addr
    assert run_cli(me, "session", "list", "--page-size=5").returncode == 0
    p = run_cli(me, "session", "list", "--page-size=0")
    assert p.returncode == 2

    # unknown options are named with the command they were given to
    p = run_cli(me, "session", "create", "--foo", "x.yaml")
    assert p.returncode == 2 and "unknown option --foo for 'arca session create'" in p.stderr
    p = run_cli(me, "cas", "list", "--bar=1")
    assert p.returncode == 2 and "unknown option --bar for 'arca cas list'" in p.stderr
    p = run_cli(me, "status", "--all")
    assert p.returncode == 2 and "unknown option --all for 'arca status'" in p.stderr
    p = run_cli(me, "fspf", "show", "--nope", "x")
    assert p.returncode == 2 and "unknown option --nope for 'arca fspf show'" in p.stderr
    p = run_cli(me, "evidence", "verify", "--nope", "x")
    assert p.returncode == 2 and "unknown option --nope for 'arca evidence verify'" in p.stderr
    p = run_cli(me, "--frob", "status")
    assert p.returncode == 2 and "unknown option --frob" in p.stderr

    # did you mean
    p = run_cli(me, "sesion", "list")
    assert p.returncode == 2 and "did you mean 'session'?" in p.stderr
    p = run_cli(me, "session", "creat", "x.yaml")
    assert p.returncode == 2 and "unknown subcommand 'creat'; did you mean 'create'?" in p.stderr
    p = run_cli(me, "cas", "lsit")
    assert p.returncode == 2 and "did you mean 'list'?" in p.stderr
    p = run_cli(me, "zzzzzz")
    assert p.returncode == 2 and "did you mean" not in p.stderr

    # arca help CMD == arca CMD --help
    for group in ("session", "cas", "self", "status", "proposal", "audit", "evidence", "fspf"):
        h = run_cli(None, "help", group)
        assert h.returncode == 0 and h.stdout == run_cli(None, group, "--help").stdout, group
    h = run_cli(None, "help")
    assert h.returncode == 0 and "Commands:" in h.stdout
    assert run_cli(None, "help", "nope").returncode == 2


def test_tour_exports_for_arca_run_without_python(arcad, tmp_path):
    """The README tour's last step: `export $(arca cas show --env)` is all arca-run needs."""
    from conftest import BIN
    me = make_identity(tmp_path, "tour", arcad)
    hello = tmp_path / "hello.sh"
    hello.write_text('#!/bin/sh\necho "PASSWORD has ${#PASSWORD} chars"\n')
    hello.chmod(0o755)
    arca_run = os.path.join(BIN, "arca-run")
    m = subprocess.run([arca_run, "--measure", str(hello)], capture_output=True, text=True,
                       timeout=60).stdout.strip()
    (tmp_path / "hello.yaml").write_text(
        'name: cli-tour\nversion: "0.3.11"\nservices:\n  - name: hello\n'
        '    command: %s\n    environment: {PASSWORD: "$$SCONE::password$$"}\n    pwd: /tmp\n'
        '    attestation: [{mrenclave: ["%s"]}]\n'
        'secrets: [{name: password, kind: ascii, size: 16}]\n'
        'security: {attestation: {mode: simulation}}\n' % (hello, m))
    assert run_cli(me, "session", "create", str(tmp_path / "hello.yaml")).returncode == 0
    script = ('export $("$0" --identity "$1" cas show --env) && '
              'ARCA_CONFIG_ID=cli-tour/hello ARCA_TEE=sim ARCA_SIM_DIR="$2" "$3" "$4"')
    p = subprocess.run(["sh", "-c", script, ARCA, me.dir, arcad.sim, arca_run, str(hello)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "PASSWORD has 16 chars" in p.stdout
