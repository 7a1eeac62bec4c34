"""Other launch paths end to end: secrets imported from another session's export, the
hardware evidence providers (fake Gramine /dev/attestation and configfs-tsm trees answering
with real quotes) reaching arcad's DCAP path, and a policy whose @@N the launcher lacks."""
import os
import shutil

import pytest

from launch_util import (KeyPair, last_refusal, measure, run_arca_run, upload_session,
                         write_program)

VEC = os.environ.get("ARCA_TESTVECTORS") or os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "testvectors")


@pytest.fixture(scope="module")
def creator(tmp_path_factory):
    return KeyPair(str(tmp_path_factory.mktemp("creator")), "creator")


def test_imported_secret(arcad, creator, tmp_path):
    prog = write_program(tmp_path, "imp.sh",
                         "#!/bin/sh\nprintf '%s' \"$IMPORTED\" > \"$1\"\nprintf '%s' \"$OWN\" > \"$1.own\"\n")
    upload_session(arcad, creator, """name: exporter
version: "0.3.10"
services:
  - name: none
    command: x
    attestation: {mrenclave: ["%s"]}
secrets:
  - name: shared
    kind: ascii
    size: 16
    export:
      - session: importer
security: {attestation: {mode: simulation}}
""" % ("00" * 32))
    upload_session(arcad, creator, """name: importer
version: "0.3.10"
services:
  - name: app
    command: imp.sh @@1
    environment:
      IMPORTED: "$$SCONE::theirs$$"
      OWN: "$$SCONE::own$$"
    pwd: /
    attestation:
      simulation: {measurement: "%s"}
secrets:
  - name: theirs
    import:
      session: exporter
      secret: shared
  - name: own
    kind: ascii
security: {attestation: {mode: simulation}}
""" % measure(prog))
    out = str(tmp_path / "out")
    r = run_arca_run(arcad, "importer/app", prog, [out])
    assert r.returncode == 0, r.stderr
    imported = open(out).read()
    own = open(out + ".own").read()
    assert len(imported) == 16 and len(own) == 20 and imported != own
    assert imported not in arcad.logs() and imported not in arcad.audit()


def test_import_not_exported_refused(arcad, creator, tmp_path):
    prog = write_program(tmp_path, "imp2.sh", "#!/bin/sh\necho ran > \"$1\"\n")
    upload_session(arcad, creator, """name: thief
version: "0.3.10"
services:
  - name: app
    command: imp2.sh @@1
    environment: {X: "$$SCONE::stolen$$"}
    pwd: /
    attestation:
      simulation: {measurement: "%s"}
secrets:
  - name: stolen
    import: {session: exporter, secret: shared}
security: {attestation: {mode: simulation}}
""" % measure(prog))
    out = str(tmp_path / "out")
    r = run_arca_run(arcad, "thief/app", prog, [out])
    assert r.returncode != 0 and not os.path.exists(out)
    assert "does not export shared to this session" in last_refusal(arcad, "thief")["reason"]


def fake_gramine(dir_, quote):
    os.makedirs(dir_)
    with open(os.path.join(dir_, "attestation_type"), "w") as f:
        f.write("dcap")
    open(os.path.join(dir_, "user_report_data"), "w").close()
    shutil.copy(quote, os.path.join(dir_, "quote"))


def test_gramine_provider_reaches_dcap_path(arcad, creator, tmp_path):
    prog = write_program(tmp_path, "g.sh", "#!/bin/sh\necho ran > \"$1\"\n")
    upload_session(arcad, creator, """name: sgx-session
version: "0.3.10"
services:
  - name: app
    command: g.sh @@1
    pwd: /
    attestation:
      mrenclave: ["33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"]
""")
    g = str(tmp_path / "attestation")
    fake_gramine(g, os.path.join(VEC, "phala-dcap-qvl", "sgx_quote"))
    out = str(tmp_path / "out")
    r = run_arca_run(arcad, "sgx-session/app", prog, [out], tee="auto",
                     env={"ARCA_GRAMINE_DIR": g, "ARCA_TSM_DIR": "/nonexistent"})
    assert r.returncode != 0 and not os.path.exists(out)
    # arca-run wrote the binding where Gramine takes it...
    rd = open(os.path.join(g, "user_report_data"), "rb").read()
    assert len(rd) == 64
    # ...and arcad took the quote through the DCAP path (no collateral configured here).
    ev = last_refusal(arcad, "sgx-session")
    assert ev["evidence_type"] == "sgx-dcap"
    assert "ARCA_COLLATERAL" in ev["reason"]


def test_tsm_provider_unknown_tree(arcad, creator, tmp_path):
    prog = write_program(tmp_path, "t.sh", "#!/bin/sh\necho ran > \"$1\"\n")
    t = str(tmp_path / "tsm")
    os.makedirs(t)
    out = str(tmp_path / "out")
    r = run_arca_run(arcad, "sgx-session/app", prog, [out], tee="tsm", env={"ARCA_TSM_DIR": t})
    # A plain directory is not configfs: no inblob appears in the new report directory.
    assert r.returncode != 0 and not os.path.exists(out)
    assert "inblob" in r.stderr
    assert os.listdir(t) == []  # the request directory was removed


def test_missing_host_argument(arcad, creator, tmp_path):
    prog = write_program(tmp_path, "a.sh", "#!/bin/sh\necho ran > /dev/null\n")
    upload_session(arcad, creator, """name: args
version: "0.3.10"
services:
  - name: app
    command: a.sh @@1 @@2
    pwd: /
    attestation:
      simulation: {measurement: "%s"}
security: {attestation: {mode: simulation}}
""" % measure(prog))
    r = run_arca_run(arcad, "args/app", prog, ["only-one"])
    assert r.returncode != 0
    assert "@@2" in last_refusal(arcad, "args")["reason"]
