"""provided_by uploads (issue 12 item 5) and the external-store importer example (item 6):
before an upload a consumer is refused with a reason, only the named service's credential
uploads, the consumer then receives the value, and the value is in no answer but the
consumer's configuration, no log and no audit line. The importer example runs under the real
arca-run against a fake Vault KV v2 server on 127.0.0.1."""
import http.server
import json
import os
import shutil
import threading

from launch_util import (ARCA_RUN, KeyPair, audit_events, last_refusal, measure, post,
                         run_arca_run, write_program)
from test_sharing_remote import MEAS, attest, upload_session

VALUE = "prov1ded-v4lue-7d3e9a"
VALUE2 = "prov1ded-second-41bc"


def session_yaml(name="prov", meas=MEAS, importer_cmd="prog", extra_env=""):
    svc = ("  - name: %s\n    command: %s\n%s"
           "    attestation:\n      simulation: {measurement: \"%s\"}\n")
    env = "    environment:\n      DB: \"$$SCONE::db$$\"\n"
    return ("name: %s\nversion: \"0.3.10\"\nservices:\n" % name +
            svc % ("importer", importer_cmd, extra_env, meas) +
            svc % ("app", "prog", env, MEAS) +
            svc % ("other", "prog", "", MEAS) +
            "secrets:\n  - name: db\n    kind: ascii\n    provided_by: importer\n"
            "  - name: aux\n    kind: ascii\n    provided_by: other\n"
            "security:\n  attestation:\n    mode: simulation\n")


def upload(a, kp, config_id, secret, token, value):
    return post(a.enclave, kp, "/v1/provided",
                {"config_id": config_id, "secret": secret, "token": token, "value": value})


def test_provided_by_flow(arcad_factory, tmp_path):
    a = arcad_factory(name="prov")
    kp = KeyPair(str(tmp_path / "kp"), "launcher")
    creator = KeyPair(str(tmp_path / "cr"), "creator")
    upload_session(a, creator, session_yaml())

    # Before any upload the consumer is refused, naming the secret.
    status, body = attest(a, kp, "prov/app")
    assert status != 200
    assert "no value for secret 'db'" in last_refusal(a, "prov")["reason"]

    # The provider gets a credential; a service that provides nothing gets none.
    status, imp = attest(a, kp, "prov/importer")
    assert status == 200, imp
    tok = imp["provide_token"]
    status, oth = attest(a, kp, "prov/other")
    assert status == 200 and "provide_token" in oth

    # Wrong service: other's credential for db (db is provided_by importer).
    status, body = upload(a, kp, "prov/other", "db", oth["provide_token"], VALUE)
    assert status == 403, body
    assert "not provided_by service other" in json.dumps(body)
    # A credential presented for another service than it was issued to.
    status, body = upload(a, kp, "prov/other", "db", tok, VALUE)
    assert status == 401, body
    # A forged credential.
    status, body = upload(a, kp, "prov/importer", "db", "00" * 48, VALUE)
    assert status == 401, body
    # Unknown secret, unknown member, oversized value.
    assert upload(a, kp, "prov/importer", "nope", tok, VALUE)[0] == 404
    assert post(a.enclave, kp, "/v1/provided", {"config_id": "prov/importer", "secret": "db",
                                                "token": tok, "value": VALUE,
                                                "x": 1})[0] == 400
    assert upload(a, kp, "prov/importer", "db", tok, "x" * 70000)[0] in (400, 413)
    assert attest(a, kp, "prov/app")[0] != 200

    # The right service uploads; the consumer then receives the value.
    status, body = upload(a, kp, "prov/importer", "db", tok, VALUE)
    assert status == 200, body
    assert body == {"upload": 1}
    status, cfg = attest(a, kp, "prov/app")
    assert status == 200, cfg
    assert cfg["env"]["DB"] == VALUE
    # A new upload replaces the value for the next attestation.
    status, body = upload(a, kp, "prov/importer", "db", tok, VALUE2)
    assert status == 200 and body == {"upload": 2}
    status, cfg = attest(a, kp, "prov/app")
    assert status == 200 and cfg["env"]["DB"] == VALUE2

    ev = [e for e in audit_events(a, "secret_provided") if e.get("secret") == "db"]
    assert len(ev) == 2 and ev[-1]["service"] == "importer" and ev[-1]["upload"] == 2
    for v in (VALUE, VALUE2):
        assert v not in a.logs() and v not in a.audit()


class FakeVault(http.server.BaseHTTPRequestHandler):
    token = None
    data = {}

    def do_GET(self):
        prefix = "/v1/secret/data/"
        if self.headers.get("X-Vault-Token") != FakeVault.token:
            self.send_response(403)
            self.end_headers()
            return
        name = self.path[len(prefix):] if self.path.startswith(prefix) else None
        if name not in FakeVault.data:
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps({"data": {"data": FakeVault.data[name],
                                    "metadata": {"version": 1}}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_importer_example(arcad_factory, tmp_path):
    a = arcad_factory(name="importer-example")
    creator = KeyPair(str(tmp_path / "cr"), "creator")
    vault_token = "hvs.e2e-vault-t0ken-5a6b"
    FakeVault.token = vault_token
    FakeVault.data = {"db": {"password": VALUE}}
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeVault)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        example = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "importer",
                               "importer.py")
        imp = str(tmp_path / "importer.py")
        shutil.copy(example, imp)
        os.chmod(imp, 0o755)
        prog = write_program(tmp_path)
        env = ("    environment:\n"
               "      PATH: \"/usr/local/bin:/usr/bin:/bin\"\n"
               "      ARCA_RUN: \"%s\"\n"
               "      VAULT_ADDR: \"http://127.0.0.1:%d\"\n"
               "      VAULT_TOKEN: \"$$SCONE::vault_token$$\"\n" % (
                   os.path.abspath(ARCA_RUN), srv.server_address[1]))
        y = session_yaml(name="ex", meas=measure(imp),
                         importer_cmd="%s db vault:db#password" % imp, extra_env=env)
        y = y.replace("security:", "  - name: vault_token\n    kind: ascii\n"
                      "    value: \"%s\"\nsecurity:" % vault_token, 1)
        # The consumer is the recording program; its measurement replaces MEAS for app.
        y = y.replace("  - name: app\n    command: prog\n",
                      "  - name: app\n    command: %s %s\n" % (prog, tmp_path / "out.txt"))
        y = y.replace("measurement: \"%s\"" % MEAS, "measurement: \"%s\"" % measure(prog))
        upload_session(a, creator, y)

        before = run_arca_run(a, "ex/app", prog)
        assert before.returncode != 0
        assert "no value for secret 'db'" in before.stderr

        r = run_arca_run(a, "ex/importer", imp)
        assert r.returncode == 0, r.stderr
        assert "provided db from vault" in r.stderr

        r = run_arca_run(a, "ex/app", prog)
        assert r.returncode == 0, r.stderr
        out = (tmp_path / "out.txt").read_text()
        assert "env:DB=%s" % VALUE in out
        for v in (VALUE, vault_token):
            assert v not in a.logs() and v not in a.audit()
            assert v not in r.stdout and v not in r.stderr
    finally:
        srv.shutdown()
        srv.server_close()
