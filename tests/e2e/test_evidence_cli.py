"""`arca evidence verify` on the public Intel and AMD vectors, offline (files only).

Exit codes: 0 genuine and tolerated, 1 not verified or not tolerated (with the reason on
stderr), 2 usage error. Times are pinned with --at to each vector's validity window.
"""
import json
import os
import shutil
import subprocess

BIN = os.environ.get("ARCA_BIN_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
ARCA = os.path.join(BIN, "arca")
TV = os.environ.get("ARCA_TESTVECTORS") or os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "testvectors")
PHALA = os.path.join(TV, "phala-dcap-qvl")


def arca(*args):
    return subprocess.run([ARCA, "evidence", "verify", *args], capture_output=True, text=True,
                          timeout=60)


def test_sgx_status_needs_tolerance():
    base = [os.path.join(PHALA, "sgx_quote"), "--collateral",
            os.path.join(PHALA, "sgx_quote_collateral.json"), "--at", "2025-07-01T00:00:00Z"]
    r = arca(*base)
    assert r.returncode == 1
    assert "genuine but not tolerated" in r.stderr
    assert "ConfigurationAndSWHardeningNeeded" in r.stdout
    r = arca(*base, "--tolerate", "software-hardening-needed,insecure-configuration")
    assert r.returncode == 1 and "INTEL-SA-00289" in r.stderr
    r = arca(*base, "--tolerate", "software-hardening-needed,insecure-configuration",
             "--ignore-advisories", "INTEL-SA-00289,INTEL-SA-00615", "-o", "json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["verified"] and j["tolerated"]
    assert j["type"] == "sgx-dcap"
    assert j["mrenclave"] == "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
    assert j["mrsigner"] == "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6"
    assert j["fmspc"] == "00a067110000"
    assert sorted(j["advisories"]) == ["INTEL-SA-00289", "INTEL-SA-00615"]


def test_tdx_up_to_date():
    r = arca(os.path.join(PHALA, "tdx_quote"), "--collateral",
             os.path.join(PHALA, "tdx_quote_collateral.json"), "--at", "2025-07-01T00:00:00Z",
             "-o", "json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["status"] == "UpToDate" and j["tdx_module"] == "TDX_01"
    assert j["mrtd"].startswith("91eb2b44d141d4ece09f0c75c2c53d24")


def test_tdx_no_tcb_level_and_expired_collateral():
    r = arca(os.path.join(PHALA, "tdx_quote_outdated"), "--collateral",
             os.path.join(PHALA, "tdx_quote_outdated_collateral.json"), "--at",
             "2026-03-01T00:00:00Z")
    assert r.returncode == 1 and "TCB level not found" in r.stderr
    r = arca(os.path.join(PHALA, "tdx_quote"), "--collateral",
             os.path.join(PHALA, "tdx_quote_collateral.json"), "--at", "2025-08-01T00:00:00Z",
             "-o", "json")
    assert r.returncode == 1
    j = json.loads(r.stdout)
    assert j["verified"] is False and "valid from" in j["reason"]


def test_collateral_directory(tmp_path):
    g = os.path.join(TV, "google-go-tdx-guest")
    for f in ("sample_tcbInfo_response", "sample_qeIdentity_response", "pckcrl", "rootcrl.der",
              "tcb_info_issuer_chain.from_test_cases_go.pem"):
        shutil.copy(os.path.join(g, f), tmp_path)
    r = arca(os.path.join(g, "tdx_prod_quote_SPR_E4.dat"), "--collateral", str(tmp_path),
             "--at", "2023-07-01T01:00:00Z")
    assert r.returncode == 1 and "platform TCB level not found" in r.stderr


def test_type_mismatch_and_usage():
    r = arca(os.path.join(PHALA, "sgx_quote"), "--type", "tdx", "--collateral",
             os.path.join(PHALA, "sgx_quote_collateral.json"), "--at", "2025-07-01T00:00:00Z")
    assert r.returncode == 1 and "not tdx" in r.stderr
    assert arca().returncode == 2
    assert arca("x", "--at", "yesterday").returncode == 2
    assert arca("x", "--tolerate", "everything").returncode == 2
    r = arca("/nonexistent/quote")
    assert r.returncode == 1 and "/nonexistent/quote" in r.stderr


def test_snp_through_the_snp_verifier():
    snp = os.path.join(TV, "coco-trustee", "snp")
    r = arca(os.path.join(snp, "test-report.bin"), "--collateral",
             os.path.join(snp, "test-vcek.der"), "--at", "2025-01-01T00:00:00Z", "-o", "json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["type"] == "snp"
    assert j["measurement"] == ("a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c"
                                "23500644e0e692e6be917f9050d3d38c")



def test_snp_unreachable_kds(tmp_path):
    # Without --collateral the VCEK comes from KDS; here from a mirror that does not exist
    # (tests never use the network), with an empty cache: refused, naming the KDS.
    snp = os.path.join(TV, "coco-trustee", "snp")
    r = arca(os.path.join(snp, "test-report.bin"), "--at", "2025-01-01T00:00:00Z", "--kds",
             "file:///nonexistent/kds", "--cache", str(tmp_path / "cache"))
    assert r.returncode == 1 and "VCEK" in r.stderr and "file:///nonexistent/kds" in r.stderr


# The VCEK URL path of google-go-sev-guest's attestation.bin (hwID; file:// drops the query).
GSG_HWID = ("3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359"
            "669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d")


def test_snp_vcek_from_kds_mirror_then_cache(tmp_path):
    gsg = os.path.join(TV, "google-go-sev-guest")
    mirror = tmp_path / "kds"
    milan = mirror / "vcek" / "v1" / "Milan"
    os.makedirs(milan)
    shutil.copy(os.path.join(gsg, "milan.testcer"), milan / "cert_chain")
    shutil.copy(os.path.join(gsg, "vcek.testcer"), milan / GSG_HWID)
    cache = tmp_path / "cache"
    args = [os.path.join(gsg, "attestation.bin"), "--type", "snp", "--at",
            "2023-01-01T00:00:00Z", "--tolerate", "debug-mode", "--kds", "file://%s" % mirror,
            "--cache", str(cache), "-o", "json"]
    r = arca(*args)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["verified"] and j["type"] == "snp"
    assert os.listdir(cache)  # what KDS served is cached...
    shutil.rmtree(mirror)
    r = arca(*args)  # ...and used once the mirror is gone
    assert r.returncode == 0, r.stderr
