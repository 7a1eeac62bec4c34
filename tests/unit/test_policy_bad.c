/*
 * A data-driven table of malformed sessions: each must be refused, and the diagnostics must hold
 * an error on the given line whose formatted text ("FILE:LINE:COL: key.path: message") contains
 * the given fragment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "policy/session.h"

#define H "name: t\nversion: \"0.3\"\n"
#define MR "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define A16 "aaaaaaaaaaaaaaaa"
#define MR48 MR "0123456789abcdef0123456789abcdef"
/* lines 3-5: one valid service; the service's next key is on line 6 */
#define SVC "services:\n  - name: s\n    attestation: {mrenclave: " MR "}\n"
/* lines 3-4: a secret list with secret x; its next key is on line 5 */
#define SEC "secrets:\n  - name: x\n"
#define PUB_P256                                                                                   \
    "-----BEGIN PUBLIC KEY-----\\n"                                                                \
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEDJnFtJBLOoy3IX2FFeg+UCQwvPFa\\n"                          \
    "59JF2b1vfxMZGiO+XqFGmRUKHukNg9JlhZP1XXK0nJs6bxsg9gSXQUhh1A==\\n"                              \
    "-----END PUBLIC KEY-----\\n"
#define PUB_X25519                                                                                 \
    "-----BEGIN PUBLIC "                                                                           \
    "KEY-----\\nMCowBQYDK2VuAyEAQkRy2ezFG2llaK9Td/Nh8PxYy1PN2a8UD37lnZqL4QM=\\n-----END PUBLIC "   \
    "KEY-----\\n"
#define PUB_ED                                                                                     \
    "-----BEGIN PUBLIC "                                                                           \
    "KEY-----\\nMCowBQYDK2VwAyEAEZtwLEqzMQoh0744RsIfmakc4MNS8nZNiHWpQXdEbnU=\\n-----END PUBLIC "   \
    "KEY-----\\n"

struct bad {
    const char *yaml;
    unsigned line;
    const char *expect;
};

static const struct bad cases[] = {
    /* ---- YAML level ---- */
    {"a: &x 1\nb: *x\n", 1, "anchors ('&x') are not allowed"},
    {H "foo: !!str bar\n", 3, "YAML tags ('tag:yaml.org,2002:str') are not allowed"},
    {H "name: u\n", 3, "duplicate key 'name'"},
    {"", 1, "the session is empty"},
    {"# only a comment\n", 1, "the session is empty"},
    {"---\nname: a\n---\nname: b\n", 3, "exactly one YAML document"},
    {"- a\n- b\n", 1, "the session must be a mapping, got a list"},
    {"just text\n", 1, "the session must be a mapping, got a scalar"},
    {"? [a]\n: 1\n", 1, "mapping keys must be plain strings"},
    {"a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n", 1,
     "nested too deeply"},
    {H "x: \"a\\0b\"\n", 3, "NUL bytes are not allowed"},
    {H "secret_config:\n  store_in: !akv {token: a}\n", 4,
     "'!akv' secret store (Azure Key Vault) is not supported by arca"},
    {H "services: [\n", 4, "YAML syntax error"},
    {H "a: b: c\n", 3, "YAML syntax error"},
    {H "  bad indent: 1\n", 3, "YAML syntax error"},
    /* ---- top level ---- */
    {"version: \"0.3\"\n", 1, "missing mandatory key 'name'"},
    {"name: t\n", 1,
     "missing mandatory key 'version' (supported: \"0.3\" and \"0.3.0\" to \"0.3.12\")"},
    {"name: t\nversion: \"0.2\"\n", 2, "version '0.2' is not supported (supported: \"0.3\""},
    {"name: t\nversion: \"0.3.13\"\n", 2, "version '0.3.13' is not supported"},
    {"name: t\nversion: \"0.3.01\"\n", 2, "version '0.3.01' is not supported"},
    {"name: t\nversion: 0.4\n", 2, "version: version '0.4' is not supported"},
    {"name: t\nversion: [0.3]\n", 2, "expected a version string, got a list"},
    {"name: a//b\nversion: \"0.3\"\n", 1,
     "name: invalid name 'a//b': name has an empty namespace component"},
    {"name: " A16 A16 A16 A16 A16 A16 A16 A16 "a\nversion: \"0.3\"\n", 1,
     "component is longer than 128"},
    {"name: a/../b\nversion: \"0.3\"\n", 1, "components '.' and '..' are reserved"},
    {"name: /a\nversion: \"0.3\"\n", 1, "empty namespace component"},
    {"name: a b\nversion: \"0.3\"\n", 1, "name has character ' ' at offset 1"},
    {"name: \"\"\nversion: \"0.3\"\n", 1, "name: must not be empty"},
    {"name: [a]\nversion: \"0.3\"\n", 1, "name: expected a string, got a list"},
    {H "predecessor: abc\n", 3, "predecessor must be 64 hex characters (32 bytes), got 3"},
    {H "predecessor: zz" MR "\n", 3, "predecessor: the character at offset 0 is not a hex digit"},
    {H "creator: x\n", 3, "creator must be a PEM certificate or {signer: <SPKI PEM>}"},
    {H "services: {a: 1}\n", 3, "services: expected a list, got a mapping"},
    {H "secrets: abc\n", 3, "secrets: expected a list, got a scalar"},
    {H "secret_config:\n  store_in: foo\n", 4, "store_in must be !cas"},
    {H "secret_config:\n  vault: x\n", 4, "unknown key 'vault' in secret_config"},
    /* ---- services ---- */
    {H "services:\n  - attestation: {mrenclave: " MR "}\n", 4,
     "services[0]: missing mandatory key 'name'"},
    {H "services:\n  - name: s/x\n    attestation: {mrenclave: " MR "}\n", 4,
     "services[0].name: invalid name 's/x'"},
    {H SVC "  - name: s\n    attestation: {mrenclave: " MR "}\n", 6,
     "services[1]: name 's' is used twice (first at line 4)"},
    {H SVC "    foo: 1\n", 6, "services[0].foo: unknown key 'foo' in a service"},
    {H SVC "    command: \"\"\n", 6, "services[0].command: must not be empty"},
    {H SVC "    command: run 'a b\n", 6, "command has an unterminated single quote"},
    {H SVC "    command: run \"a b\n", 6, "command has an unterminated double quote"},
    {H SVC "    command: []\n", 6, "command is an empty list"},
    {H SVC "    command: {a: b}\n", 6, "expected a string or a list of strings, got a mapping"},
    {H SVC "    command: run @@x\n", 6, "argument 1: '@@x' is not @@N"},
    {H SVC "    command: run @@1 @@1\n", 6, "argument 2: host argument @@1 is used twice"},
    {H SVC "    command: [run, [a]]\n", 6, "services[0].command[1]: expected a string, got a list"},
    {H SVC "    environment: [a]\n", 6, "environment: expected a mapping of variable names"},
    {H SVC "    environment:\n      A=B: x\n", 7,
     "environment.A=B: environment variable name must not contain '='"},
    {H SVC "    environment:\n      \\@\\@: x\n", 7, "environment variable name is empty"},
    {H SVC "    environment:\n      A: {b: c}\n", 7,
     "environment.A: expected a string, got a mapping"},
    {H SVC "    environment:\n      A: $$SCONE::nope$$\n", 7,
     "environment.A: placeholder '$$SCONE::nope$$' names no secret"},
    {H SVC "    environment:\n      A: $$SCONE::unterminated\n", 7,
     "environment.A: bad placeholder"},
    {H SVC "    pwd: app\n", 6, "pwd must be an absolute path"},
    {H SVC "    pwd: /app/./x\n", 6, "pwd: path: '.' component"},
    {H SVC "    image_name: nosuch\n", 6,
     "services[0].image_name: image 'nosuch' is not defined in images"},
    {H SVC "    fspf_key: " MR "\n", 6, "fspf_key and fspf_tag need fspf_path"},
    {H SVC "    fspf_path: /f.pb\n", 6, "fspf_path needs fspf_key"},
    {H SVC
     "    fspf_path: /f.pb\n    fspf_key: abcd\n    fspf_tag: 00112233445566778899aabbccddeeff\n",
     7, "fspf_key must be 64 hex characters (32 bytes), got 4"},
    {H SVC "    fspf_path: /f.pb\n    fspf_key: " MR "\n    fspf_tag: 0011\n", 8,
     "fspf_tag must be 32 hex characters (16 bytes), got 4"},
    {H SVC "    fspf_path: /f.pb\n    fspf_key: " MR "\n", 7,
     "fspf_tag is required unless fspf_update_policy is no_rollback_protection"},
    {H SVC "    fspf_update_policy: sometimes\n", 6,
     "unknown update policy 'sometimes' (expected rollback_protected_reinitializable"},
    {H SVC "    fspf_path: /f.pb\n    fspf_key: $$SCONE::k$$\n    fspf_update_policy: "
           "no_rollback_protection\n"
           "secrets:\n  - name: k\n    kind: ascii\n",
     7, "fspf_key must be a binary secret, 'k' is ascii"},
    {H SVC "    fspf_path: /f.pb\n    fspf_key: $$SCONE::k$$\n    fspf_update_policy: "
           "no_rollback_protection\n"
           "secrets:\n  - name: k\n    kind: binary\n    size: 16\n",
     7, "fspf_key secret 'k' has 16 bytes, 32 are needed"},
    {H SVC "    fspf_path: /f.pb\n    fspf_key: $$SCONE::k$$\n    fspf_update_policy: "
           "no_rollback_protection\n",
     7, "fspf_key placeholder names no secret 'k'"},
    {H "services:\n  - name: s\n", 4, "service 's' has no attestation variant"},
    {H "services:\n  - name: s\n    attestation: []\n", 4,
     "service 's' has no attestation variant"},
    {H "services:\n  - name: s\n    attestation: yes\n", 5,
     "expected an attestation variant or a list of variants, got a scalar"},
    {H "services:\n  - name: s\n    attestation: {}\n", 5,
     "an attestation variant needs one of mrenclave, signer, tdx, snp, simulation"},
    {H "services:\n  - name: s\n    attestation: {mrenclave: " MR ", foo: 1}\n", 5,
     "unknown key 'foo' in an attestation variant"},
    {H "services:\n  - name: s\n    attestation:\n      mrenclave: []\n", 6,
     "mrenclave list is empty"},
    {H "services:\n  - name: s\n    attestation:\n      mrenclave: "
       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n",
     6, "attestation.mrenclave: mrenclave must be 64 hex characters (32 bytes), got 63"},
    {H "services:\n  - name: s\n    attestation:\n      mrenclave: [" MR ", xyz]\n", 6,
     "attestation.mrenclave[1]: mrenclave: the character at offset 0 is not a hex digit"},
    {H "services:\n  - name: s\n    attestation:\n      must_be_sgx_local: true\n", 6,
     "key 'must_be_sgx_local' is not supported by arca"},
    {H "services:\n  - name: s\n    attestation:\n      signer: {isvprodid: 1}\n", 6,
     "attestation.signer: missing mandatory key 'mrsigner'"},
    {H "services:\n  - name: s\n    attestation:\n      signer: {mrsigner: " MR "}\n", 6,
     "missing mandatory key 'isvprodid'"},
    {H "services:\n  - name: s\n    attestation:\n      signer: {mrsigner: " MR
       ", isvprodid: 70000}\n",
     6, "signer.isvprodid: 70000 is out of range (at most 65535)"},
    {H "services:\n  - name: s\n    attestation:\n      signer: {mrsigner: " MR
       ", isvprodid: 1, isvsvn: 2, isvsvn_min: 1}\n",
     6, "isvsvn and isvsvn_min/isvsvn_max are mutually exclusive"},
    {H "services:\n  - name: s\n    attestation:\n      signer: {mrsigner: " MR
       ", isvprodid: 1, isvsvn_min: 5, isvsvn_max: 2}\n",
     6, "isvsvn_min (5) is greater than isvsvn_max (2)"},
    {H "services:\n  - name: s\n    attestation:\n      signer: {mrsigner: " MR
       ", isvprodid: abc}\n",
     6, "expected a non-negative integer, got 'abc'"},
    {H "services:\n  - name: s\n    attestation:\n      tdx: {rtmr0: " MR48 "}\n", 6,
     "attestation.tdx: missing mandatory key 'mrtd'"},
    {H "services:\n  - name: s\n    attestation:\n      tdx: {mrtd: " MR "}\n", 6,
     "tdx.mrtd: mrtd must be 96 hex characters (48 bytes), got 64"},
    {H "services:\n  - name: s\n    attestation:\n      tdx: {mrtd: " MR48 ", rtmr4: " MR48 "}\n",
     6, "unknown key 'rtmr4' in tdx"},
    {H "services:\n  - name: s\n    attestation:\n      snp: {host_data: " MR "}\n", 6,
     "attestation.snp: missing mandatory key 'measurement'"},
    {H "services:\n  - name: s\n    attestation:\n      snp: {measurement: " MR48
       ", host_data: " MR48 "}\n",
     6, "host_data must be 64 hex characters (32 bytes), got 96"},
    {H "services:\n  - name: s\n    attestation:\n      snp: {measurement: " MR48
       ", min_tcb: {ucode: 1}}\n",
     6, "unknown key 'ucode' in min_tcb"},
    {H "services:\n  - name: s\n    attestation:\n      snp: {measurement: " MR48
       ", min_tcb: {bootloader: 300}}\n",
     6, "min_tcb.bootloader: 300 is out of range (at most 255)"},
    {H "services:\n  - name: s\n    attestation:\n      mrenclave: " MR "\n      tdx: {mrtd: " MR48
       "}\n",
     6, "tdx, snp and simulation stand alone in a variant"},
    {H "services:\n  - name: s\n    attestation:\n      simulation: {}\n", 6,
     "simulation: missing mandatory key 'measurement'"},
    {H "services:\n  - name: s\n    attestation: {mrenclave: " MR "}\n    mrenclaves: [" MR "]\n",
     6, "'mrenclaves' (deprecated) and 'attestation' are mutually exclusive"},
    {H "services:\n  - name: s\n    mrenclaves: []\n", 5, "mrenclaves: mrenclave list is empty"},
    {H "services:\n  - name: s\n    attestation: $$SCONE::nofrag$$\n", 5,
     "expected an attestation variant or a list of variants"},
    {H "services:\n  - name: s\n    attestation:\n      - $$SCONE::nofrag$$\n", 6,
     "placeholder '$$SCONE::nofrag$$' does not name a config-fragment"},
    {H SVC "    platforms: abc\n", 6, "platforms: expected a list of 64-hex-character keys"},
    {H SVC "    platforms: [abcd]\n", 6, "platforms[0]: platform key must be 64 hex characters"},
    {H SVC "    platforms: [$$SCONE::p$$]\n", 6, "platforms[0]: placeholder names no secret 'p'"},
    {H SVC "    one_time_password_shared_secret: not base32!\n", 6,
     "one_time_password_shared_secret: not valid base32"},
    {H SVC "    one_time_password_shared_secret: MFRGGZDF\n", 6,
     "the shared secret has 40 bits; at least 128 are needed"},
    {H SVC "    command: run $$SCONE::x:hex$$\n" SEC "    kind: ascii\n", 6,
     "command: placeholder for ascii secret 'x'"},
    /* ---- secrets ---- */
    {H SEC, 4, "secrets[0]: missing mandatory key 'kind'"},
    {H SEC "    kind: bogus\n", 5, "unknown secret kind 'bogus' (expected ascii, binary"},
    {H SEC "    kind: pgp-key\n    value: x\n", 6,
     "value: a pgp-key secret has no explicit value (arca generates the key)"},
    {H SEC "    kind: pgp-key\n    size: 3\n", 6,
     "'size' is not allowed for a secret of kind pgp-key"},
    {H SEC "    kind: aad-token\n", 5,
     "secret kind 'aad-token' (tokens are fetched from Azure AD at run time) is not supported by "
     "arca"},
    {H SEC "    kind: aad-token\n", 4, "secrets[0]: missing mandatory key 'tenant_id'"},
    {H SEC "    kind: aad-token\n", 4,
     "an aad-token needs 'application_secret', or 'private_key' with 'certificate_thumbprint'"},
    {H SEC "    kind: aad-token\n    tenant_id: a b\n    client_id: c\n    application_secret: s\n",
     6, "secrets[0].tenant_id: tenant_id must be an Azure AD id (a GUID or a domain name)"},
    {H SEC "    kind: aad-token\n    tenant_id: t\n    client_id: c\n    application_secret: s\n"
           "    certificate_thumbprint: " MR "\n",
     9, "certificate_thumbprint must be 40 hex characters"},
    {H SEC "    kind: aad-token\n    tenant_id: t\n    client_id: c\n    application_secret: s\n"
           "    certificate_thumbprint: 0123456789012345678901234567890123456789\n",
     8, "'application_secret' excludes 'private_key' and 'certificate_thumbprint'"},
    {H SEC "    kind: aad-token\n    tenant_id: t\n    client_id: c\n"
           "    certificate_thumbprint: 0123456789012345678901234567890123456789\n",
     8, "'private_key' and 'certificate_thumbprint' go together"},
    {H SEC "    kind: aad-token\n    tenant_id: t\n    client_id: c\n    private_key: nope\n"
           "    certificate_thumbprint: 0123456789012345678901234567890123456789\n",
     8, "secrets[0].private_key: private_key is not a PEM private key"},
    {H SEC "    kind: aad-token\n    tenant_id: t\n    client_id: c\n    application_secret: s\n"
           "    size: 3\n",
     9, "unknown key 'size' in an aad-token secret"},
    {H SEC "    kind: public-key\n", 5, "secret kind 'public-key' is not supported by arca"},
    {H SEC "    kind: ascii\n    import_akv: {vault: v}\n", 6,
     "import_akv (secrets are read from Azure Key Vault at run time) is not supported by arca"},
    {H SEC "    kind: ascii\n    import_akv: {vault: v}\n", 6,
     "secrets[0].import_akv.vault: vault must be the https:// URL of an Azure Key Vault"},
    {H SEC "    import_akv: {secret_name: a_b}\n", 5, "import_akv: missing mandatory key 'vault'"},
    {H SEC "    import_akv: {vault: \"https://v.vault.azure.net\", secret_name: a_b}\n", 5,
     "secret_name must be an Azure Key Vault name"},
    {H SEC "    import_akv: {vault: \"https://v.vault.azure.net\", colour: red}\n", 5,
     "unknown key 'colour' in import_akv"},
    {H SEC "    import_akv: {vault: \"https://v.vault.azure.net\"}\n", 5,
     "import_akv without 'token' needs exactly one aad-token secret in the session, found 0"},
    {H SEC "    import_akv: {vault: \"https://v.vault.azure.net\", token: y}\n"
           "  - name: y\n    kind: ascii\n",
     5, "secrets[0].import_akv: token 'y' is not an aad-token secret of this session"},
    {H SEC
     "    kind: ascii\n    value: v\n    import_akv: {vault: \"https://v.vault.azure.net\"}\n",
     7, "'import_akv' excludes 'value' and 'import'"},
    {H SEC "    kind: ascii\n    tenant_id: t\n", 6, "unknown key 'tenant_id' in a secret"},
    {H SEC "    kind: ascii\n    colour: red\n", 6, "unknown key 'colour' in a secret"},
    {H SEC "    kind: x509\n    private_key: k\n    size: 3\n  - name: k\n    kind: private-key\n",
     7, "secrets[0].size: 'size' is not allowed for a secret of kind x509"},
    {H SEC "    kind: ascii\n    size: 0\n", 6, "size must be at least 1"},
    {H SEC "    kind: ascii\n    size: 70000\n", 6, "70000 is out of range (at most 65536)"},
    {H SEC "    kind: binary\n    size: big\n", 6, "expected a non-negative integer, got 'big'"},
    {H SEC "    kind: private-key\n    key_type: P-521\n", 6,
     "unknown key_type 'P-521' (expected P-256, P-384, Ed25519"},
    {H SEC "    kind: ascii\n    key_type: P-256\n", 6,
     "'key_type' is not allowed for a secret of kind ascii"},
    {H SEC "    kind: private-key\n    value: not a key\n", 6, "value is not a PEM private key"},
    {H SEC "    kind: private-key\n    value: \"" PUB_ED "\"\n", 6,
     "value is not a PEM private key"},
    {H SEC "    kind: binary\n    value: abc\n", 6,
     "binary value must have an even number of hex characters"},
    {H SEC "    kind: binary\n    value: zz\n", 6,
     "binary value: the character at offset 0 is not a hex digit"},
    {H SEC "    kind: binary\n    size: 4\n    value: 0011\n", 7,
     "value has 2 bytes but size says 4"},
    {H SEC "    kind: x509\n    value: nope\n", 6, "value is not a PEM certificate"},
    {H SEC "    kind: x509\n", 4, "a generated x509 needs 'private_key'"},
    {H SEC "    kind: x509-ca\n", 4, "a generated x509-ca needs 'private_key'"},
    {H SEC "    kind: x509\n    private_key: nokey\n", 6,
     "private_key 'nokey' is not a secret of this session"},
    {H SEC "    kind: x509\n    private_key: pw\n  - name: pw\n    kind: ascii\n", 6,
     "private_key 'pw' is a ascii secret, expected private-key"},
    {H SEC
     "    kind: x509\n    private_key: k\n    issuer: leaf\n  - name: k\n    kind: private-key\n"
     "  - name: leaf\n    kind: x509\n    private_key: k\n",
     7, "issuer 'leaf' is a x509 secret, expected x509-ca"},
    {H SEC "    kind: x509-ca\n    private_key: k\n    issuer: y\n  - name: y\n    kind: x509-ca\n "
           "   private_key: k\n    issuer: x\n"
           "  - name: k\n    kind: private-key\n",
     7, "the issuer chain of 'x' has a cycle"},
    {H SEC
     "    kind: x509\n    private_key: k\n    issuer: nosuch\n  - name: k\n    kind: private-key\n",
     7, "issuer 'nosuch' is not a secret"},
    {H SEC
     "    kind: x509\n    private_key: k\n    endpoint: both\n  - name: k\n    kind: private-key\n",
     7, "endpoint must be server or client, got 'both'"},
    {H SEC "    kind: x509-ca\n    private_key: k\n    endpoint: server\n  - name: k\n    kind: "
           "private-key\n",
     7, "'endpoint' is not allowed for a secret of kind x509-ca"},
    {H SEC "    kind: x509\n    private_key: k\n    endpoint: client\n    dns: [a.example]\n  - "
           "name: k\n    kind: private-key\n",
     8, "'dns' is not allowed with endpoint: client"},
    {H SEC "    kind: x509\n    private_key: k\n    san: [\"email:a@b\"]\n  - name: k\n    kind: "
           "private-key\n",
     7, "san[0]: SAN entry 'email:a@b' must start with dns: or ip:"},
    {H SEC "    kind: x509\n    private_key: k\n    san: [\"ip:300.1.1.1\"]\n  - name: k\n    "
           "kind: private-key\n",
     7, "'300.1.1.1' is not an IPv4 or IPv6 address"},
    {H SEC "    kind: x509\n    private_key: k\n    san: [\"dns:\"]\n  - name: k\n    kind: "
           "private-key\n",
     7, "empty DNS name"},
    {H SEC "    kind: x509\n    private_key: k\n    valid_for: forever\n  - name: k\n    kind: "
           "private-key\n",
     7, "valid_for: 'forever' is not a duration"},
    {H SEC "    kind: x509\n    private_key: k\n    valid_for: 0 days\n  - name: k\n    kind: "
           "private-key\n",
     7, "is not a duration"},
    {H SEC "    kind: ascii\n    value: a\n    import: {session: o, secret: y}\n", 7,
     "'import' and 'value' are mutually exclusive"},
    {H SEC "    kind: config-fragment\n", 4, "a config-fragment needs 'value' or 'import'"},
    {H SEC "    kind: ascii\n    export: other\n", 6,
     "export: expected a list of export targets, got a scalar"},
    {H SEC "    kind: ascii\n    export:\n      - session_hash: " MR "\n", 7,
     "export[0]: missing mandatory key 'session' (or 'namespace')"},
    {H SEC "    kind: ascii\n    export:\n      - {session: a, namespace: b}\n", 7,
     "'session' and 'namespace' are mutually exclusive"},
    {H SEC "    kind: ascii\n    export:\n      - {namespace: b, session_hash: " MR "}\n", 7,
     "an export to a namespace cannot be pinned"},
    {H SEC "    kind: ascii\n    export:\n      - {session: a, cas_url: cas.example.com}\n", 7,
     "a remote session reference (cas_url) needs cas_key or cas_software_key"},
    {H SEC "    kind: ascii\n    export:\n      - {session: a, cas_url: c, cas_key: " MR
           ", cas_software_key: " MR "}\n",
     7, "'cas_key' and 'cas_software_key' are mutually exclusive"},
    {H SEC "    kind: ascii\n    export:\n      - {session: a, cas_url: c, cas_key: nothex}\n", 7,
     "cas_key is neither 64 hex characters nor a Base58Check key hash"},
    {H SEC "    kind: ascii\n    export:\n      - {session: a, cas_key: " MR "}\n", 7,
     "cas_key/cas_software_key need cas_url"},
    {H SEC "    kind: ascii\n    export:\n      - {session: a b}\n", 7,
     "session reference 'a b': name has character ' '"},
    {H SEC "    kind: ascii\n    export:\n      - {session: \"host/cas_key=" MR "\"}\n", 7,
     "has no session="},
    {H SEC "    kind: ascii\n    export:\n      - {session: \"host/session=a,colour=b\"}\n", 7,
     "unknown key 'colour' (expected session"},
    {H SEC "    kind: ascii\n    export:\n      - {session: \"/session=../a\"}\n", 7,
     "relative session references are not allowed in the short form"},
    {H SEC "    kind: ascii\n    import: {session: o}\n", 6,
     "import: missing mandatory key 'secret'"},
    {H SEC "    kind: ascii\n    import: {session: o, secret: y, volume: v}\n", 6,
     "unknown key 'volume' in import"},
    {H SEC "    kind: ascii\n    import: {session: o, secret: y}\n    export: [{session: z}]\n", 7,
     "an imported secret cannot be exported again"},
    {H SEC "    kind: ascii\n    export_public: maybe\n", 6,
     "export_public: expected true or false, got 'maybe'"},
    {H SEC "    kind: ascii\n    migrate: true\n", 6,
     "'migrate' is not allowed for a secret of kind ascii"},
    {H SEC "    kind: private-key\n    migrate: yes\n", 6,
     "migrate: expected true or false, got 'yes'"},
    {H SEC "    kind: ascii\n    provided_by: nosvc\n", 6,
     "provided_by 'nosvc' is not a service of this session"},
    {H SVC SEC "    kind: ascii\n    value: v\n    provided_by: s\n", 10,
     "'provided_by' excludes 'value' and 'import'"},
    {H SEC "    kind: ascii\n  - name: x\n    kind: binary\n", 6,
     "secrets[1]: name 'x' is used twice (first at line 4)"},
    {H SEC "    kind: ascii\n    value: \"a\\x01b\"\n", 6,
     "ascii value has a control character at offset 1"},
    {H "secrets:\n  - name: bad.name/x\n    kind: ascii\n", 4,
     "secrets[0].name: invalid name 'bad.name/x'"},
    /* ---- images and volumes ---- */
    {H "images:\n  - injection_files: []\n", 4, "images[0]: missing mandatory key 'name'"},
    {H "images:\n  - name: i\n    volumes:\n      - {name: v, path: /data}\n", 6,
     "images[0].volumes[0]: volume 'v' is not defined in volumes"},
    {H "volumes:\n  - name: v\nimages:\n  - name: i\n    volumes:\n      - {name: v, path: data}\n",
     8, "path must be absolute"},
    {H "volumes:\n  - name: v\nimages:\n  - name: i\n    volumes:\n      - {name: v, path: /d, "
       "update_policy: never}\n",
     8, "unknown update policy 'never' (expected rollback_protected, ephemeral"},
    {H "volumes:\n  - name: v\nimages:\n  - name: i\n    volumes:\n      - {name: v}\n", 8,
     "missing mandatory key 'path'"},
    {H "images:\n  - name: i\n    injection_files:\n      - etc/x.conf\n", 6,
     "injection file path must be absolute"},
    {H "images:\n  - name: i\n    injection_files:\n      - path: /etc/../x\n        content: a\n",
     6, "injection file path: path: '..' component at offset 5"},
    {H "images:\n  - name: i\n    injection_files:\n      - path: /etc//x\n        content: a\n", 6,
     "injection file path: "},
    {H "images:\n  - name: i\n    injection_files:\n      - path: /etc/x/\n        content: a\n", 6,
     "injection file path: "},
    {H "images:\n  - name: i\n    injection_files:\n      - path: /\n        content: a\n", 6,
     "injection file path \"/\" is not a file"},
    {H "images:\n  - name: i\n    injection_files:\n      - /etc/x\n      - path: /etc/x\n        "
       "content: a\n",
     7, "injection file '/etc/x' is listed twice"},
    {H "images:\n  - name: i\n    injection_files:\n      - path: /etc/x\n        permission: "
       "0o77777\n",
     7, "permission: 0o77777 is out of range"},
    {H "images:\n  - name: i\n    injection_files:\n      - path: /etc/x\n        permission: rw\n",
     7, "permission: expected a non-negative integer, got 'rw'"},
    {H "images:\n  - name: i\n    injection_files:\n      - path: /etc/x\n        content: "
       "\"pw=$$SCONE::pw$$\"\n",
     7, "injection_files[0]: placeholder '$$SCONE::pw$$' names no secret"},
    {H "images:\n  - name: i\n    injection_files:\n      - path: /etc/x\n        mode: 0o600\n", 7,
     "unknown key 'mode' in an injection file"},
    {H "images:\n  - name: i\n  - name: i\n", 5, "images[1]: name 'i' is used twice"},
    {H "images:\n  - name: i\n    injection_files: /etc/x\n", 5,
     "expected a list of injection files, got a scalar"},
    {H "volumes:\n  - name: v\n    fspf_tag: 00112233445566778899aabbccddeeff\n", 5,
     "fspf_tag needs fspf_key"},
    {H "volumes:\n  - name: v\n    export:\n      - to: {namespace: n}\n", 6,
     "volumes can only be exported to sessions, not namespaces"},
    {H "volumes:\n  - name: v\n    export:\n      - to: {session: a, cas_url: c}\n", 6,
     "volumes can only be exported to sessions on the same CAS"},
    {H "volumes:\n  - name: v\n    export:\n      - update_policy: ephemeral\n", 6,
     "export[0]: missing mandatory key 'to'"},
    {H "volumes:\n  - name: v\n    export:\n      - to: {session: a}\n        update_policy: "
       "sometimes\n",
     7, "unknown update policy 'sometimes'"},
    {H "volumes:\n  - name: v\n    fspf_key: " MR "\n    import: {session: a, volume: w}\n", 6,
     "an imported volume has no fspf_key/fspf_tag/export"},
    {H "volumes:\n  - name: v\n    import: {session: a}\n", 5,
     "import: missing mandatory key 'volume'"},
    {H "volumes:\n  - name: v\n  - name: v\n", 5, "volumes[1]: name 'v' is used twice"},
    {H "volumes:\n  - name: v\n    size: 10\n", 5, "unknown key 'size' in a volume"},
    /* ---- access policy ---- */
    {H "access_policy:\n  read: [ANY, CREATOR]\n", 4,
     "access_policy.read: ANY must be the only entry in its list"},
    {H "access_policy:\n  update: [NONE, CREATOR]\n", 4,
     "access_policy.update: NONE must be the only entry in its list"},
    {H "access_policy:\n  read: []\n", 4, "the list is empty (use NONE to deny everyone)"},
    {H "access_policy:\n  read: [EVERYONE]\n", 4,
     "'EVERYONE' is not CREATOR, ANY, NONE, a PEM certificate, a key hash"},
    {H "access_policy:\n  read:\n    - signer: \"" PUB_ED "\"\n", 5,
     "signer: is not allowed in read or list_sessions"},
    {H "access_policy:\n  list_sessions:\n    - signer: \"" PUB_ED "\"\n", 5,
     "signer: is not allowed in read or list_sessions"},
    {H "access_policy:\n  read:\n    - require-all: [CREATOR]\n", 5,
     "require-all is not allowed in read or list_sessions"},
    {H "access_policy:\n  update:\n    - require-at-least-0: [CREATOR]\n", 5,
     "N in require-at-least-N must be a positive integer"},
    {H "access_policy:\n  update:\n    - require-at-least-x: [CREATOR]\n", 5,
     "N in require-at-least-N must be a positive integer"},
    {H "access_policy:\n  update:\n    - require-at-least-3: [CREATOR, CREATOR]\n", 5,
     "require-at-least-3 has only 2 entries and can never be satisfied"},
    {H "access_policy:\n  update:\n    - require-all:\n        - ANY\n", 6,
     "ANY and NONE are not allowed inside require-all"},
    {H "access_policy:\n  update:\n    - require-all: []\n", 5,
     "update[0].require-all: the list is empty"},
    {H "access_policy:\n  update:\n    - signer: notakey\n", 5,
     "signer is neither an SPKI PEM nor a Base58Check Ed25519 key"},
    {H "access_policy:\n  update:\n    - signer: \"" PUB_X25519 "\"\n", 5,
     "signer keys must be Ed25519, P-256 or P-384, got x25519"},
    {H "access_policy:\n  update:\n    - colour: red\n", 5,
     "unknown policy entry 'colour' (expected signer, require-all"},
    {H "access_policy:\n  update:\n    - {signer: a, require-all: [CREATOR]}\n", 5,
     "a policy entry mapping has exactly one key"},
    {H "access_policy:\n  update:\n    - \"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END "
       "CERTIFICATE-----\\n\"\n",
     5, "update[0]: not a valid PEM certificate"},
    {H "access_policy:\n  delete: [CREATOR]\n", 4,
     "unknown key 'delete' in access_policy (expected one of: read, update"},
    {H
     "access_policy:\n  read: [zz23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef]\n",
     4, "key hash: the character at offset 0 is not a hex digit"},
    {H "access_policy:\n  read: [3s1pm8W6Be6cxvAQRbRP5YXd9YuERAr7KswN97uGtoPkRW87x2]\n", 4,
     "key hash is neither 64 hex characters nor a Base58Check"},
    {H "access_policy: $$SCONE::nofrag$$\n", 3,
     "placeholder '$$SCONE::nofrag$$' does not name a config-fragment"},
    {H "access_policy: [CREATOR]\n", 3, "access_policy must be a mapping, got a list"},
    {H "access_policy:\n  update:\n    - [CREATOR]\n", 5, "expected a policy entry, got a list"},
    {H "access_policy:\n  update:\n    - require-all:\n        - $$SCONE::admins$$\n", 6,
     "access_policy.update: placeholder '$$SCONE::admins$$' names no secret"},
    /* ---- security ---- */
    {H "security:\n  foo: 1\n", 4, "unknown key 'foo' in security (expected one of: attestation"},
    {H "security:\n  attestation:\n    mode: paranoid\n", 5,
     "unknown attestation mode 'paranoid' (expected hardware, simulation or none)"},
    {H "security:\n  attestation:\n    mode: maa\n", 5,
     "attestation mode 'maa' (Microsoft Azure Attestation tokens cannot be verified by arca"},
    {H "security:\n  attestation:\n    mode: maa\n", 5, "mode: maa needs 'url'"},
    {H "security:\n  attestation:\n    mode: maa\n", 5, "mode: maa needs 'maa-managed-tcb'"},
    {H "security:\n  attestation:\n    url: http://x.attest.azure.net/\n", 5,
     "url must be an https:// URL of an attestation provider"},
    {H "security:\n  attestation:\n    certificates: [abc]\n", 5,
     "certificates[0]: not a PEM certificate"},
    {H "security:\n  attestation:\n    min_rsa_signing_key_size: 2048\n", 5,
     "key 'min_rsa_signing_key_size' is not supported by arca"},
    {H "security:\n  attestation:\n    tolerate: [debug-mode, sleepy]\n", 5,
     "tolerate[1]: unknown tolerate value 'sleepy'"},
    {H "security:\n  attestation:\n    tolerate: [maa-managed-tcb]\n", 5,
     "'maa-managed-tcb' applies only to mode: maa"},
    {H "security:\n  attestation:\n    tolerate: debug-mode\n", 5,
     "tolerate: expected a list, got a scalar"},
    {H "security:\n  attestation:\n    ignore_advisories: \"*\"\n", 5,
     "ignore_advisories: \"*\" is only allowed when debug-mode is tolerated"},
    {H "security:\n  attestation:\n    ignore_advisories: [\"INTEL SA 1\"]\n", 5,
     "'INTEL SA 1' is not an advisory id"},
    {H "security:\n  attestation:\n    ignore_advisories: all\n", 5,
     "expected a list of advisory ids or \"*\""},
    {H "security:\n  attestation:\n    trusted_scone_qe_pubkeys: [abcd]\n", 5,
     "QE public key must be 64 hex characters"},
    {H "security:\n  singleton_enclaves: 2\n", 4,
     "singleton_enclaves: expected true or false, got '2'"},
    {H "security:\n  attestation:\n    one_time_password_shared_secret: MFRGGZDF\n", 5,
     "at least 128 are needed"},
    {H "security:\n  service_access_token: \"$$SCONE::tok$$\"\n", 4,
     "security.service_access_token: placeholder '$$SCONE::tok$$' names no secret"},
    {H "security:\n  attestation: [hardware]\n", 4,
     "security.attestation must be a mapping, got a list"},
};

/* Loads case i; true when it is refused with the expected error. Prints what it got if not. */
static bool check_case(size_t i)
{
    const struct bad *c = &cases[i];
    struct arca_diag diag;
    struct arca_session *s = NULL;
    arca_diag_init(&diag);
    int rc = arca_session_load(c->yaml, strlen(c->yaml), "bad.yaml", &s, &diag);
    bool found = false;
    struct arca_buf all;
    arca_buf_init(&all, 0);
    for (size_t j = 0; j < diag.n; j++) {
        struct arca_buf line;
        arca_buf_init(&line, 0);
        arca_diag_entry_format(&diag.v[j], &line);
        if (diag.v[j].line == c->line && strstr(arca_buf_cstr(&line), c->expect) != NULL)
            found = true;
        arca_buf_free(&line);
    }
    arca_diag_format(&diag, &all);
    bool ok = rc < 0 && s == NULL && found;
    if (!ok)
        fprintf(stderr, "case %zu (line %u, \"%s\"): rc=%d, diagnostics:\n%s", i, c->line,
                c->expect, rc, arca_buf_cstr(&all));
    arca_buf_free(&all);
    arca_session_free(s);
    arca_diag_free(&diag);
    return ok;
}

static void test_bad_table(void **state)
{
    (void)state;
    size_t failed = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        failed += !check_case(i);
    assert_int_equal(failed, 0);
}

static void test_table_size(void **state)
{
    (void)state;
    print_message("%zu malformed sessions\n", sizeof(cases) / sizeof(cases[0]));
    assert_true(sizeof(cases) / sizeof(cases[0]) >= 120);
}

static void test_unsupported_code(void **state)
{
    (void)state;
    const char *y =
        H "security:\n  attestation:\n    mode: maa\n    url: https://a.b.attest.azure.net\n"
          "    tolerate: [maa-managed-tcb]\n";
    struct arca_diag diag;
    struct arca_session *s = NULL;
    arca_diag_init(&diag);
    assert_int_equal(arca_session_load(y, strlen(y), "x.yaml", &s, &diag), ARCA_ERR_UNSUPPORTED);
    assert_int_equal(diag.n, 1);
    arca_diag_free(&diag);
}

static void test_all_errors_listed(void **state)
{
    (void)state;
    const char *y = "name: \"a b\"\nversion: \"0.9\"\nfoo: 1\n"
                    "services:\n  - name: s\n    pwd: rel\n";
    struct arca_diag diag;
    struct arca_session *s = NULL;
    arca_diag_init(&diag);
    assert_int_equal(arca_session_load(y, strlen(y), "m.yaml", &s, &diag), ARCA_ERR_FORMAT);
    assert_int_equal(diag.n, 5); /* name, version, foo, pwd, no attestation */
    /* sorted by position */
    for (size_t i = 1; i < diag.n; i++)
        assert_true(diag.v[i - 1].line <= diag.v[i].line);
    struct arca_buf out;
    arca_buf_init(&out, 0);
    assert_int_equal(arca_diag_format(&diag, &out), 0);
    assert_non_null(strstr(arca_buf_cstr(&out), "m.yaml:1:7: name: invalid name 'a b'"));
    assert_non_null(
        strstr(arca_buf_cstr(&out), "m.yaml:6:10: services[0].pwd: pwd must be an absolute path"));
    arca_buf_free(&out);
    arca_diag_free(&diag);
}

static void test_size_limit(void **state)
{
    (void)state;
    size_t n = ARCA_SESSION_MAX_BYTES + 10;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, '#', n);
    struct arca_diag diag;
    struct arca_session *s = NULL;
    arca_diag_init(&diag);
    assert_int_equal(arca_session_load(big, n, "big.yaml", &s, &diag), ARCA_ERR_TOO_LARGE);
    assert_int_equal(diag.n, 1);
    assert_non_null(strstr(diag.v[0].msg, "larger than"));
    arca_diag_free(&diag);
    free(big);
}

/* Explicit values are secrets: no diagnostic may repeat them, whatever is wrong with them. */
static void test_no_secret_in_diagnostics(void **state)
{
    (void)state;
    static const char *const leaky[] = {
        H SEC "    kind: ascii\n    value: \"S3CRETvalueXYZ\\x01\"\n",
        H SEC "    kind: binary\n    value: S3CRETvalueXYZ\n",
        H SEC "    kind: binary\n    value: 00S3CRETvalueXYZ0\n",
        H SEC "    kind: private-key\n    value: S3CRETvalueXYZ\n",
        H SEC "    kind: private-key\n    value: \"-----BEGIN PRIVATE KEY-----\\nS3CRETvalueXYZ\\n"
              "-----END PRIVATE KEY-----\\n\"\n",
        H SEC "    kind: x509\n    value: S3CRETvalueXYZ\n",
        H SEC "    kind: binary\n    size: 3\n    value: 53334352455476616c75655859\n",
        H SVC "    one_time_password_shared_secret: S3CRETvalueXYZ\n",
        H SVC "    one_time_password_shared_secret: S3CRETVALUEXYZ\n",
        H "security:\n  attestation:\n    one_time_password_shared_secret: S3CRETvalueXYZ\n",
        H SVC "    fspf_path: /f\n    fspf_key: S3CRETvalueXYZ\n    fspf_tag: 00\n",
    };
    for (size_t i = 0; i < sizeof(leaky) / sizeof(leaky[0]); i++) {
        struct arca_diag diag;
        struct arca_session *s = NULL;
        arca_diag_init(&diag);
        assert_true(arca_session_load(leaky[i], strlen(leaky[i]), "x.yaml", &s, &diag) < 0);
        struct arca_buf out;
        arca_buf_init(&out, 0);
        arca_diag_format(&diag, &out);
        if (strstr(arca_buf_cstr(&out), "S3CRET") != NULL ||
            strstr(arca_buf_cstr(&out), "53334352") != NULL)
            fprintf(stderr, "case %zu leaks: %s", i, arca_buf_cstr(&out));
        assert_null(strstr(arca_buf_cstr(&out), "S3CRET"));
        assert_null(strstr(arca_buf_cstr(&out), "53334352"));
        assert_true(diag.n >= 1);
        arca_buf_free(&out);
        arca_diag_free(&diag);
    }
}

/*
 * A `$$SCONE::name$$` access-policy entry is not resolved by anything yet (govern/access.h), so
 * it could only ever deny: the loader refuses it as not supported yet, at the entry, even when
 * the secret exists and anywhere in the tree.
 */
static void test_access_secret_entry_refused(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        unsigned line;
        const char *path;
    } refused[] = {
        {H "secrets:\n  - name: admins\n    kind: ascii\n"
           "access_policy:\n  read: [$$SCONE::admins$$]\n",
         7, "access_policy.read[0]: a key read from a secret ('$$SCONE::admins$$')"},
        {H "secrets:\n  - name: admins\n    kind: ascii\n"
           "access_policy:\n  update:\n    - require-at-least-1:\n        - CREATOR\n"
           "        - $$SCONE::admins$$\n",
         10, "access_policy.update[0].require-at-least-1[1]: a key read from a secret"},
        {H "secrets:\n  - name: admins\n    kind: ascii\n"
           "access_policy:\n  create_sessions: $$SCONE::admins$$\n",
         7, "access_policy.create_sessions: a key read from a secret"},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        struct arca_diag diag;
        struct arca_session *s = NULL;
        arca_diag_init(&diag);
        int rc = arca_session_load(refused[i].yaml, strlen(refused[i].yaml), "ap.yaml", &s, &diag);
        assert_int_equal(rc, ARCA_ERR_UNSUPPORTED);
        assert_null(s);
        assert_int_equal(diag.n, 1);
        assert_int_equal(diag.v[0].line, refused[i].line);
        struct arca_buf out;
        arca_buf_init(&out, 0);
        arca_diag_entry_format(&diag.v[0], &out);
        if (strstr(arca_buf_cstr(&out), refused[i].path) == NULL)
            fprintf(stderr, "case %zu: %s", i, arca_buf_cstr(&out));
        assert_non_null(strstr(arca_buf_cstr(&out), refused[i].path));
        assert_non_null(strstr(arca_buf_cstr(&out), "is not supported by arca yet"));
        arca_buf_free(&out);
        arca_diag_free(&diag);
    }
}

/* A large fragment used many times is bounded like the input itself. */
static void test_fragment_bomb(void **state)
{
    (void)state;
    struct arca_buf y;
    arca_buf_init(&y, 0);
    arca_buf_printf(&y, "name: t\nversion: \"0.3\"\nsecrets:\n  - name: f\n    kind: "
                        "config-fragment\n    value:\n");
    for (int i = 0; i < 3000; i++)
        arca_buf_printf(&y, "      - mrenclave: " MR "\n");
    arca_buf_printf(&y, "services:\n");
    for (int i = 0; i < 40; i++)
        arca_buf_printf(&y, "  - name: s%d\n    attestation: $$SCONE::f$$\n", i);
    struct arca_diag diag;
    struct arca_session *s = NULL;
    arca_diag_init(&diag);
    int rc = arca_session_load(arca_buf_cstr(&y), y.len, "bomb.yaml", &s, &diag);
    assert_true(rc < 0);
    assert_null(s);
    assert_int_equal(diag.n, 1);
    assert_non_null(
        strstr(diag.v[0].msg, "config-fragment substitution makes the session too large"));
    arca_diag_free(&diag);
    arca_buf_free(&y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_size),
        cmocka_unit_test(test_bad_table),
        cmocka_unit_test(test_unsupported_code),
        cmocka_unit_test(test_all_errors_listed),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_fragment_bomb),
        cmocka_unit_test(test_no_secret_in_diagnostics),
        cmocka_unit_test(test_access_secret_entry_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
