"""Issue 16, part 3: the deployment recipes as far as this machine can check them (no SGX, no
Gramine, no Kubernetes cluster here):
- deploy/k8s: a schema check of the fields Kubernetes requires and of the references between
  objects (python3-yaml; no Debian-packaged Kubernetes validator exists), and arcad itself
  accepts the ConfigMap's arcad.yaml;
- deploy/gramine: the templates are valid TOML once their Jinja placeholders are filled and hold
  the settings arca relies on; arcad --sealer gramine refuses to start outside Gramine;
- deploy/systemd/arcad.yaml (the packaged configuration) is accepted by arcad."""
import os
import re
import subprocess
import tomllib

import yaml

from conftest import ARCAD

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")


def arcad_accepts_config(path):
    """--help after --config: arcad reads and checks the file, then prints its help."""
    p = subprocess.run([ARCAD, "--config", path, "--help"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, (path, p.stderr)


def load_k8s(name):
    with open(os.path.join(DEPLOY, "k8s", name)) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def check_object(o):
    for k in ("apiVersion", "kind", "metadata"):
        assert k in o, (k, o.get("kind"))
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", o["metadata"]["name"])


def check_pod_spec(spec, claims=()):
    """Containers have a name and an image; every mount names a volume; ports are named."""
    volumes = {v["name"] for v in spec.get("volumes", [])} | set(claims)
    names = set()
    for c in spec.get("initContainers", []) + spec["containers"]:
        assert c.get("name") and c.get("image"), c
        assert c["name"] not in names
        names.add(c["name"])
        for m in c.get("volumeMounts", []):
            assert m["name"] in volumes, (c["name"], m["name"])
            assert m["mountPath"].startswith("/")
        for e in c.get("env", []):
            assert "name" in e and ("value" in e or "valueFrom" in e), e
    return volumes


def check_workload(o):
    spec = o["spec"]
    labels = spec["template"]["metadata"]["labels"]
    for k, v in spec["selector"]["matchLabels"].items():
        assert labels.get(k) == v, "selector does not match the template's labels"
    claims = [t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])]
    check_pod_spec(spec["template"]["spec"], claims)
    return labels


def test_k8s_arcad_statefulset_service_config(tmp_path):
    docs = load_k8s("arcad.yaml")
    by_kind = {d["kind"]: d for d in docs}
    assert set(by_kind) == {"ConfigMap", "Service", "StatefulSet"}
    for d in docs:
        check_object(d)
    sts = by_kind["StatefulSet"]
    assert sts["apiVersion"] == "apps/v1" and sts["spec"]["replicas"] == 1
    assert sts["spec"]["serviceName"] == by_kind["Service"]["metadata"]["name"]
    labels = check_workload(sts)
    vct = sts["spec"]["volumeClaimTemplates"][0]
    assert vct["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert vct["spec"]["resources"]["requests"]["storage"]
    # the Service selects the pods and targets ports the container names
    svc = by_kind["Service"]
    for k, v in svc["spec"]["selector"].items():
        assert labels.get(k) == v
    container = sts["spec"]["template"]["spec"]["containers"][0]
    port_names = {p["name"] for p in container["ports"]}
    for p in svc["spec"]["ports"]:
        assert p["targetPort"] in port_names, p
    # the state volume holds data-dir, the ConfigMap is where --config points
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    conf_text = by_kind["ConfigMap"]["data"]["arcad.yaml"]
    conf = yaml.safe_load(conf_text)
    assert conf["data-dir"].startswith(mounts["state"] + "/")
    cfg_path = container["args"][container["args"].index("--config") + 1]
    assert os.path.dirname(cfg_path) == mounts["config"]
    assert os.path.basename(cfg_path) in by_kind["ConfigMap"]["data"]
    (tmp_path / "arcad.yaml").write_text(conf_text)
    arcad_accepts_config(str(tmp_path / "arcad.yaml"))


def test_k8s_workload_init_container_pattern():
    docs = load_k8s("workload.yaml")
    assert len(docs) == 1
    dep = docs[0]
    check_object(dep)
    check_workload(dep)
    spec = dep["spec"]["template"]["spec"]
    init = spec["initContainers"][0]
    app = spec["containers"][0]
    shared = {m["name"] for m in init["volumeMounts"]} & {m["name"] for m in app["volumeMounts"]}
    assert shared, "the init container must hand arca-run to the app through a shared volume"
    init_dir = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    assert app["command"][0].startswith(init_dir[shared.pop()] + "/")
    assert app["command"][0].endswith("/arca-run") and len(app["command"]) >= 2
    env = {e["name"] for e in app["env"]}
    assert {"ARCA_CAS_ADDR", "ARCA_CONFIG_ID", "ARCA_CAS_KEY", "ARCA_TEE"} <= env


def load_template(name):
    text = open(os.path.join(DEPLOY, "gramine", name)).read()
    filled = re.sub(r"\{\{[^}]*\}\}", "X", text)
    return text, tomllib.loads(filled)


def test_gramine_templates():
    text, m = load_template("arcad.manifest.template")
    assert m["sgx"]["remote_attestation"] == "dcap" and m["sgx"]["debug"] is False
    argv = m["loader"]["argv"]
    assert argv[argv.index("--sealer") + 1] == "gramine"
    assert any(x.get("type") == "encrypted" and x["key_name"] == "_sgx_mrenclave"
               for x in m["fs"]["mounts"])
    text, m = load_template("app.manifest.template")
    assert m["libos"]["entrypoint"] == "/usr/bin/arca-run"
    assert m["loader"]["env"]["ARCA_TEE"] == "gramine"
    assert m["sgx"]["remote_attestation"] == "dcap"
    assert "file:/usr/bin/arca-run" in m["sgx"]["trusted_files"]


def test_sealer_gramine_outside_gramine_refuses(tmp_path):
    os.makedirs(tmp_path / "sim", mode=0o700)
    p = subprocess.run([ARCAD, "--data-dir", str(tmp_path / "d"), "--sealer", "gramine",
                        "--sim-dir", str(tmp_path / "sim"), "--client-listen", "127.0.0.1:0",
                        "--enclave-listen", "127.0.0.1:0"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 1, p.stderr
    assert "_sgx_mrenclave" in p.stderr and "inside Gramine" in p.stderr, p.stderr
    p = subprocess.run([ARCAD, "--data-dir", str(tmp_path / "d"), "--sealer", "tpm"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "--sealer" in p.stderr


def test_packaged_config_is_accepted():
    arcad_accepts_config(os.path.join(DEPLOY, "systemd", "arcad.yaml"))
