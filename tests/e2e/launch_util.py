"""Helpers for the attested-launch end-to-end tests (test_launch_*.py).

Everything uses the real binaries (arcad from conftest's fixtures, arca-run) on 127.0.0.1 and
the openssl command line for keys, certificates and simulated evidence, so the tests need no
Python crypto package. A small protocol client (EnclaveClient) speaks the enclave API directly
for the cases arca-run never produces on purpose (a relayed nonce, evidence for another key).
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import ssl
import struct
import subprocess
import time

BIN = os.environ.get("ARCA_BIN_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
ARCA_RUN = os.path.join(BIN, "arca-run")


class KeyPair:
    """A P-256 key pair with a self-signed certificate, made with openssl."""

    def __init__(self, dir_, name):
        os.makedirs(dir_, exist_ok=True)
        self.key = os.path.join(dir_, name + "-key.pem")
        self.cert = os.path.join(dir_, name + "-cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", self.key, "-out",
                        self.cert, "-subj", "/CN=" + name, "-days", "2"],
                       check=True, capture_output=True)
        self.spki = subprocess.run(["openssl", "pkey", "-in", self.key, "-pubout", "-outform",
                                    "DER"], check=True, capture_output=True).stdout
        self.key_id = hashlib.sha256(self.spki).hexdigest()


def tls_ctx(kp):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if kp is not None:
        ctx.load_cert_chain(kp.cert, kp.key)
    return ctx


def post(port, kp, path, body, timeout=20):
    """One POST over a new TLS connection presenting kp; returns (status, parsed JSON or text)."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=tls_ctx(kp), timeout=timeout)
    try:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw)
        except ValueError:
            return r.status, raw.decode(errors="replace")
    finally:
        conn.close()


def upload_session(arcad, creator, yaml_text):
    status, body = post(arcad.client, creator, "/v1/sessions", yaml_text)
    assert status in (200, 201), "session upload failed: %s %s" % (status, body)
    return body


def binding(spki, nonce, config_id):
    return hashlib.sha512(b"arca-attest-v1" + spki + nonce + config_id.encode()).digest()


def sim_evidence(sim_dir, measurement, report_data):
    """INSECURE simulated evidence (docs/simulation-tee.md), signed with the platform key."""
    key = os.path.join(sim_dir, "platform-key.pem")
    spki = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                          check=True, capture_output=True).stdout
    body = (b"ARCASIM1" + struct.pack(">H", 1) + measurement + report_data +
            struct.pack(">H", len(spki)) + spki)
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=body, check=True,
                         capture_output=True).stdout
    return body + struct.pack(">H", len(sig)) + sig


def measure(path):
    p = subprocess.run([ARCA_RUN, "--measure", path], capture_output=True, text=True, check=True)
    return p.stdout.strip()


class EnclaveClient:
    """Speaks the enclave API like arca-run does, with knobs to misbehave."""

    def __init__(self, arcad, kp):
        self.arcad = arcad
        self.kp = kp

    def challenge(self, kp=None):
        status, body = post(self.arcad.enclave, kp or self.kp, "/v1/challenge", {})
        assert status == 200, body
        return bytes.fromhex(body["nonce"])

    def attest(self, config_id, nonce, evidence, kp=None, evidence_type="sim", **extra):
        req = {"config_id": config_id, "evidence_type": evidence_type,
               "evidence": base64.b64encode(evidence).decode(), "nonce": nonce.hex(),
               "host": {"argv": ["/prog", "/dev/null"], "env": {}}}
        req.update(extra)
        return post(self.arcad.enclave, kp or self.kp, "/v1/attest", req)


def arca_run_env(arcad, config_id, sim_dir=None, tee="sim"):
    """The environment arca-run needs to reach arcad (and nothing else of ours)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ARCA_CAS_ADDR": "127.0.0.1:%d" % arcad.enclave,
            "ARCA_CONFIG_ID": config_id,
            "ARCA_CAS_KEY": arcad.cas_key,
            "ARCA_TEE": tee,
            "ARCA_SIM_DIR": sim_dir or arcad.sim}


def run_arca_run(arcad, config_id, program, args=(), env=None, sim_dir=None, timeout=60,
                 tee="sim"):
    e = arca_run_env(arcad, config_id, sim_dir, tee)
    if env:
        e.update(env)
    return subprocess.run([ARCA_RUN, program] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=e)


def totp(secret_b32, t=None, step=30, digits=6):
    """RFC 6238 with HMAC-SHA-1 (what authenticator apps compute)."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = int((t if t is not None else time.time()) // step)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % (10 ** digits)
    return "%0*d" % (digits, code)


def audit_events(arcad, name):
    """The fields of every audit line of event `name`, oldest first."""
    out = []
    for line in arcad.audit().splitlines():
        try:
            j = json.loads(line)
        except ValueError:
            continue
        if j.get("event") == name:
            out.append(j["fields"])
    return out


def attestation_events(arcad):
    return audit_events(arcad, "attestation")


def last_refusal(arcad, session=None):
    ev = [e for e in attestation_events(arcad)
          if e["outcome"] == "refused" and (session is None or e["session"] == session)]
    assert ev, "no refusal audited"
    return ev[-1]


def session_yaml(name, measurement, extra_service="", extra_top="", mode="simulation",
                 command="prog.sh @@1 --pw $$SCONE::pw$$", pwd="/tmp"):
    """A session with one service `app` whose program is measured by `measurement`."""
    return ("name: %s\n"
            "version: \"0.3.10\"\n"
            "services:\n"
            "  - name: app\n"
            "    command: %s\n"
            "    environment:\n"
            "      PW: \"$$SCONE::pw$$\"\n"
            "      GREETING: hello\n"
            "      \\@\\@FROM_HOST: ignored\n"
            "    pwd: %s\n"
            "    image_name: img\n"
            "    attestation:\n"
            "      simulation: {measurement: \"%s\"}\n"
            "%s"
            "images:\n"
            "  - name: img\n"
            "    injection_files:\n"
            "      - path: /etc/arca-e2e/%s/app.conf\n"
            "        permission: 0o600\n"
            "        content: |\n"
            "          password=$$SCONE::pw$$\n"
            "secrets:\n"
            "  - name: pw\n"
            "    kind: ascii\n"
            "    size: 24\n"
            "security:\n"
            "  attestation:\n"
            "    mode: %s\n"
            "%s" % (name, command, pwd, measurement, extra_service, name, mode, extra_top))


PROGRAM = """#!/bin/sh
# Prints what it received; an unmodified program that knows nothing about arca.
out="$1"; shift
{
  echo "argv=$*"
  echo "pwd=$(pwd)"
  env | sort | sed 's/^/env:/'
  echo "file=$(cat /etc/arca-e2e/*/app.conf)"
} > "$out"
"""


def write_program(dir_, name="prog.sh", text=PROGRAM):
    p = os.path.join(str(dir_), name)
    with open(p, "w") as f:
        f.write(text)
    os.chmod(p, 0o755)
    return p


def start_arcad_without_simulation(factory):
    """An arcad from conftest's factory, started without --allow-simulation."""
    import conftest
    real = conftest.subprocess.Popen

    def popen(args, *a, **kw):
        return real([x for x in args if x != "--allow-simulation"], *a, **kw)

    conftest.subprocess.Popen = popen
    try:
        return factory(name="nosim")
    finally:
        conftest.subprocess.Popen = real
