/*
 * Positive tests of the session loader: every key lands in the typed model, defaults, fragment
 * substitution, the examples, and the canonical hash (stable under reformatting, sensitive to
 * every semantic change).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/enc.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "policy/session.h"

#define MR "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define MR48 MR "0123456789abcdef0123456789abcdef"
#define ED_PUB                                                                                     \
    "-----BEGIN PUBLIC KEY-----\\n"                                                                \
    "MCowBQYDK2VwAyEAEZtwLEqzMQoh0744RsIfmakc4MNS8nZNiHWpQXdEbnU=\\n"                              \
    "-----END PUBLIC KEY-----\\n"

static struct arca_session *load_ok(const char *y)
{
    struct arca_diag diag;
    struct arca_session *s = NULL;
    arca_diag_init(&diag);
    int rc = arca_session_load(y, strlen(y), "test.yaml", &s, &diag);
    if (rc != 0) {
        struct arca_buf b;
        arca_buf_init(&b, 0);
        arca_diag_format(&diag, &b);
        fprintf(stderr, "unexpected errors:\n%s", arca_buf_cstr(&b));
        arca_buf_free(&b);
    }
    arca_diag_free(&diag);
    assert_int_equal(rc, 0);
    assert_non_null(s);
    return s;
}

static void hash_of(const char *y, uint8_t out[32])
{
    struct arca_session *s = load_ok(y);
    uint8_t zero[32] = {0};
    assert_int_equal(arca_session_hash(s, zero, out), 0);
    arca_session_free(s);
}

static const char full[] =
    "name: ns/app\n"
    "version: \"0.3.11\"\n"
    "predecessor: " MR "\n"
    "services:\n"
    "  - name: web\n"
    "    command: python3 -c 'print(1)' \"a b\" c\\ d @@1\n"
    "    environment:\n"
    "      A: \"1\"\n"
    "      \\@\\@HOST: ignored\n"
    "      PW: $$SCONE::pw$$\n"
    "    pwd: /app\n"
    "    image_name: img\n"
    "    fspf_path: /fspf.pb\n"
    "    fspf_key: " MR "\n"
    "    fspf_tag: 00112233445566778899aabbccddeeff\n"
    "    fspf_update_policy: rollback_protected_reinitializable\n"
    "    attestation:\n"
    "      - mrenclave: [" MR ", " MR "]\n"
    "        signer: {mrsigner: " MR ", isvprodid: 7, isvsvn_min: 1, isvsvn_max: 0x10}\n"
    "      - tdx: {mrtd: " MR48 ", rtmr3: " MR48 ", mrowner: " MR48 "}\n"
    "      - snp: {measurement: " MR48 ", host_data: " MR ", min_tcb: {bootloader: 3, tee: 0, "
    "snp: 8, microcode: 115}}\n"
    "      - snp: {measurement: " MR48 ", min_tcb: 0x4405000000000002}\n"
    "      - simulation: {measurement: " MR "}\n"
    "    platforms: [" MR ", $$SCONE::plat$$]\n"
    "    one_time_password_shared_secret: MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U\n"
    "  - name: old\n"
    "    mrenclaves: [" MR "]\n"
    "secrets:\n"
    "  - name: pw\n"
    "    kind: ascii\n"
    "    size: 12\n"
    "    export:\n"
    "      - session: other\n"
    "        session_hash: " MR "\n"
    "      - namespace: partners\n"
    "      - {session: remote/app, cas_url: cas.example.com, cas_key: " MR "}\n"
    "      - \"cas.example.com/cas_key=" MR ",session=x/y\"\n"
    "  - name: bin\n"
    "    kind: binary\n"
    "    value: DEADbeef\n"
    "  - name: plat\n"
    "    kind: binary\n"
    "    size: 32\n"
    "  - name: k\n"
    "    kind: private-key\n"
    "    key_type: Ed25519\n"
    "    migrate: true\n"
    "  - name: ca\n"
    "    kind: x509-ca\n"
    "    private_key: k\n"
    "    valid_for: 1 year\n"
    "  - name: leaf\n"
    "    kind: x509\n"
    "    private_key: k\n"
    "    issuer: ca\n"
    "    common_name: leaf.example\n"
    "    endpoint: server\n"
    "    dns: [a.example, b.example]\n"
    "    san: [\"dns:c.example\", \"ip:10.0.0.1\", \"ip:::1\"]\n"
    "  - name: imp\n"
    "    import: {session: ../sibling, secret: their_pw}\n"
    "  - name: up\n"
    "    kind: ascii\n"
    "    provided_by: web\n"
    "    export_public: true\n"
    "images:\n"
    "  - name: img\n"
    "    volumes:\n"
    "      - {name: data, path: /data, update_policy: ephemeral}\n"
    "    injection_files:\n"
    "      - /etc/short.conf\n"
    "      - path: /etc/long.conf\n"
    "        permission: 0o640\n"
    "        content: \"pw=$$SCONE::pw$$\"\n"
    "volumes:\n"
    "  - name: data\n"
    "    export:\n"
    "      - to: {session: consumer, session_hash: " MR "}\n"
    "        update_policy: rollback_protected\n"
    "        volume_alias: shared\n"
    "  - name: theirs\n"
    "    import: {session: producer, volume: input}\n"
    "access_policy:\n"
    "  read: [CREATOR, " MR "]\n"
    "  update:\n"
    "    - require-at-least-2:\n"
    "        - signer: \"" ED_PUB "\"\n"
    "        - CREATOR\n"
    "        - require-all: [CREATOR]\n"
    "security:\n"
    "  singleton_enclaves: true\n"
    "  service_access_token: tok123\n"
    "  attestation:\n"
    "    mode: hardware\n"
    "    tolerate: [debug-mode, outdated-tcb]\n"
    "    ignore_advisories: \"*\"\n"
    "    trusted_scone_qe_pubkeys: [" MR "]\n"
    "secret_config:\n"
    "  store_in: !cas\n";

static void test_full_model(void **state)
{
    (void)state;
    struct arca_session *s = load_ok(full);
    assert_string_equal(s->name.s, "ns/app");
    assert_int_equal(s->name.pos.line, 1);
    assert_int_equal(s->version_minor, 11);
    assert_true(s->has_predecessor);
    assert_int_equal(s->predecessor[0], 0x01);
    char *parent = arca_session_parent_name(s);
    assert_string_equal(parent, "ns");
    free(parent);

    const struct arca_service *w = arca_session_find_service(s, "web");
    assert_non_null(w);
    assert_int_equal(w->argc, 6);
    assert_string_equal(w->argv[0].s, "python3");
    assert_string_equal(w->argv[2].s, "print(1)");
    assert_string_equal(w->argv[3].s, "a b");
    assert_string_equal(w->argv[4].s, "c d");
    assert_string_equal(w->argv[5].s, "@@1");
    assert_int_equal(w->n_env, 3);
    assert_string_equal(w->env[1].name.s, "HOST");
    assert_true(w->env[1].from_host);
    assert_string_equal(w->env[1].value.s, "");
    assert_string_equal(w->env[2].value.s, "$$SCONE::pw$$");
    assert_string_equal(w->pwd.s, "/app");
    assert_true(w->fspf_key.set && w->fspf_key.literal);
    assert_true(w->has_fspf_tag);
    assert_int_equal(w->fspf_tag[15], 0xff);
    assert_int_equal(w->fspf_update_policy, ARCA_FSPF_ROLLBACK_PROTECTED_REINITIALIZABLE);
    assert_int_equal(w->n_variants, 5);
    assert_int_equal(w->variants[0].n_mrenclave, 2);
    assert_true(w->variants[0].has_signer);
    assert_int_equal(w->variants[0].signer.isvprodid, 7);
    assert_true(w->variants[0].signer.has_isvsvn_max);
    assert_int_equal(w->variants[0].signer.isvsvn_max, 16);
    assert_true(w->variants[1].has_tdx);
    assert_true(w->variants[1].tdx.has_rtmr[3]);
    assert_false(w->variants[1].tdx.has_rtmr[0]);
    assert_true(w->variants[1].tdx.has_mrowner);
    assert_false(w->variants[1].tdx.has_mrconfigid);
    assert_true(w->variants[2].has_snp);
    assert_true(w->variants[2].snp.has_host_data);
    /* SNP TCB_VERSION: bootloader byte 0, tee byte 1, snp byte 6, microcode byte 7 */
    assert_true(w->variants[2].snp.min_tcb == 0x7308000000000003ull);
    assert_true(w->variants[3].snp.min_tcb == 0x4405000000000002ull);
    assert_true(w->variants[4].has_sim);
    assert_int_equal(w->n_platforms, 2);
    assert_true(w->platforms[0].literal);
    assert_string_equal(w->platforms[1].secret.s, "plat");
    assert_non_null(w->otp_secret.s);

    const struct arca_service *old = arca_session_find_service(s, "old");
    assert_true(old->mrenclaves_deprecated);
    assert_int_equal(old->n_variants, 1);
    assert_int_equal(old->variants[0].n_mrenclave, 1);

    const struct arca_secret *pw = arca_session_find_secret(s, "pw");
    assert_int_equal(pw->kind, ARCA_SECRET_ASCII);
    assert_int_equal(pw->size, 12);
    assert_int_equal(pw->n_exports, 4);
    assert_true(pw->exports[0].has_session_hash);
    assert_string_equal(pw->exports[1].namespace_.s, "partners");
    assert_string_equal(pw->exports[2].cas_url.s, "cas.example.com");
    assert_true(pw->exports[2].has_cas_key);
    assert_string_equal(pw->exports[3].session.s, "x/y");
    assert_string_equal(pw->exports[3].cas_url.s, "cas.example.com");
    assert_true(pw->exports[3].has_cas_key);
    const struct arca_secret *bin = arca_session_find_secret(s, "bin");
    assert_int_equal(bin->value_bytes_len, 4);
    assert_int_equal(bin->value_bytes[0], 0xde);
    assert_int_equal(arca_session_find_secret(s, "plat")->size, 32);
    const struct arca_secret *k = arca_session_find_secret(s, "k");
    assert_int_equal(k->key_type, ARCA_KEY_ED25519);
    assert_true(k->migrate);
    const struct arca_secret *ca = arca_session_find_secret(s, "ca");
    assert_true(ca->has_valid_for);
    assert_int_equal(ca->valid_for, 365 * 86400);
    const struct arca_secret *leaf = arca_session_find_secret(s, "leaf");
    assert_string_equal(leaf->issuer.s, "ca");
    assert_int_equal(leaf->endpoint, ARCA_ENDPOINT_SERVER);
    assert_int_equal(leaf->n_dns, 2);
    assert_int_equal(leaf->n_san, 3);
    assert_string_equal(leaf->common_name.s, "leaf.example");
    const struct arca_secret *imp = arca_session_find_secret(s, "imp");
    assert_true(imp->has_import);
    assert_int_equal(imp->kind, ARCA_SECRET_NONE);
    assert_string_equal(imp->import_from.session.s, "../sibling");
    assert_string_equal(imp->import_secret.s, "their_pw");
    const struct arca_secret *up = arca_session_find_secret(s, "up");
    assert_string_equal(up->provided_by.s, "web");
    assert_true(up->export_public);

    const struct arca_image *img = arca_session_find_image(s, "img");
    assert_int_equal(img->n_volumes, 1);
    assert_int_equal(img->volumes[0].update_policy, ARCA_FSPF_EPHEMERAL);
    assert_int_equal(img->n_files, 2);
    assert_false(img->files[0].has_content);
    assert_int_equal(img->files[0].mode, 0700);
    assert_true(img->files[1].has_content);
    assert_int_equal(img->files[1].mode, 0640);

    const struct arca_volume *data = arca_session_find_volume(s, "data");
    assert_int_equal(data->n_exports, 1);
    assert_string_equal(data->exports[0].volume_alias.s, "shared");
    assert_int_equal(data->exports[0].update_policy, ARCA_FSPF_ROLLBACK_PROTECTED);
    const struct arca_volume *th = arca_session_find_volume(s, "theirs");
    assert_true(th->has_import);
    assert_string_equal(th->import_volume.s, "input");

    assert_int_equal(s->access.read.n_entries, 2);
    assert_int_equal(s->access.read.entries[1].kind, ARCA_AP_KEYHASH);
    assert_int_equal(s->access.update.n_entries, 1);
    const struct arca_ap_node *t = &s->access.update.entries[0];
    assert_int_equal(t->kind, ARCA_AP_AT_LEAST);
    assert_int_equal(t->threshold, 2);
    assert_int_equal(t->n_children, 3);
    assert_int_equal(t->children[0].kind, ARCA_AP_SIGNER);
    assert_int_equal(t->children[0].signer_type, ARCA_KEY_ED25519);
    assert_int_equal(t->children[0].spki_der_len, 44);
    assert_int_equal(t->children[2].kind, ARCA_AP_ALL);
    assert_int_equal(t->children[2].threshold, 1);
    /* create_sessions defaults to update, list_sessions to read */
    assert_false(s->access.create_sessions.written);
    assert_int_equal(s->access.create_sessions.n_entries, 1);
    assert_int_equal(s->access.create_sessions.entries[0].kind, ARCA_AP_AT_LEAST);
    assert_int_equal(s->access.list_sessions.n_entries, 2);

    assert_true(s->security.singleton_enclaves);
    assert_string_equal(s->security.service_access_token.s, "tok123");
    assert_int_equal(s->security.mode, ARCA_ATT_MODE_HARDWARE);
    assert_int_equal(s->security.tolerate, ARCA_TOLERATE_DEBUG_MODE | ARCA_TOLERATE_OUTDATED_TCB);
    assert_true(s->security.ignore_all_advisories);
    assert_int_equal(s->security.n_trusted_qe_keys, 1);
    arca_session_free(s);
}

static void test_defaults(void **state)
{
    (void)state;
    struct arca_session *s = load_ok("name: d\nversion: \"0.3\"\n"
                                     "secrets:\n  - name: a\n    kind: ascii\n"
                                     "  - name: k\n    kind: private-key\n");
    assert_int_equal(s->access.read.n_entries, 1);
    assert_int_equal(s->access.read.entries[0].kind, ARCA_AP_CREATOR);
    assert_int_equal(s->access.update.entries[0].kind, ARCA_AP_CREATOR);
    assert_int_equal(s->access.create_sessions.entries[0].kind, ARCA_AP_CREATOR);
    assert_int_equal(s->access.list_sessions.entries[0].kind, ARCA_AP_CREATOR);
    assert_int_equal(arca_session_find_secret(s, "a")->size, 20);
    assert_int_equal(arca_session_find_secret(s, "k")->key_type, ARCA_KEY_P256);
    assert_int_equal(s->security.mode, ARCA_ATT_MODE_HARDWARE);
    assert_null(arca_session_find_service(s, "nope"));
    assert_null(arca_session_parent_name(s));
    arca_session_free(s);
}

static void test_versions(void **state)
{
    (void)state;
    char y[128];
    snprintf(y, sizeof(y), "name: v\nversion: \"0.3\"\n");
    arca_session_free(load_ok(y));
    for (int i = 0; i <= 11; i++) {
        snprintf(y, sizeof(y), "name: v\nversion: \"0.3.%d\"\n", i);
        struct arca_session *s = load_ok(y);
        assert_int_equal(s->version_minor, (unsigned)i);
        arca_session_free(s);
    }
    /* unquoted works too: YAML gives the same text */
    arca_session_free(load_ok("name: v\nversion: 0.3\n"));
}

static void test_mode_none_needs_no_variant(void **state)
{
    (void)state;
    arca_session_free(load_ok("name: n\nversion: \"0.3\"\nservices:\n  - name: s\n"
                              "    command: /bin/true\nsecurity:\n  attestation:\n"
                              "    mode: none\n"));
}

static void test_fragments(void **state)
{
    (void)state;
    struct arca_session *s = load_ok(
        "name: f\nversion: \"0.3.10\"\n"
        "services:\n  - name: s\n    attestation:\n      - $$SCONE::frag$$\n"
        "      - mrenclave: " MR "\n"
        "    platforms: [$$SCONE::plats$$]\n"
        "secrets:\n"
        "  - name: frag\n    kind: config-fragment\n    value:\n"
        "      - mrenclave: " MR "\n      - signer: {mrsigner: " MR ", isvprodid: 1}\n"
        "  - name: plats\n    kind: config-fragment\n    value: [" MR ", " MR "]\n"
        "  - name: ap\n    kind: config-fragment\n    value:\n      read: [ANY]\n"
        "  - name: sec\n    kind: config-fragment\n    value:\n      singleton_enclaves: true\n"
        "access_policy: $$SCONE::ap$$\n"
        "security: $$SCONE::sec$$\n");
    const struct arca_service *v = arca_session_find_service(s, "s");
    /* the fragment's two variants are spliced in before the written one */
    assert_int_equal(v->n_variants, 3);
    assert_true(v->variants[1].has_signer);
    assert_int_equal(v->n_platforms, 2);
    assert_true(v->platforms[1].literal);
    assert_int_equal(s->access.read.entries[0].kind, ARCA_AP_ANY);
    assert_true(s->security.singleton_enclaves);
    const struct arca_secret *frag = arca_session_find_secret(s, "frag");
    assert_non_null(frag->fragment);
    assert_int_equal(frag->fragment->type, ARCA_YNODE_SEQ);
    arca_session_free(s);
}

static void test_key_hash_base58(void **state)
{
    (void)state;
    uint8_t id[32];
    for (int i = 0; i < 32; i++)
        id[i] = (uint8_t)(i * 7 + 1);
    struct arca_buf b58;
    arca_buf_init(&b58, 0);
    assert_int_equal(arca_base58check_encode(&b58, ARCA_KEYHASH_B58_VERSION, id, 32), 0);
    char hex[65];
    arca_hex_fmt(hex, id, 32);
    char y[512];
    snprintf(y, sizeof(y), "name: k\nversion: \"0.3\"\naccess_policy:\n  read: [%s, %s]\n",
             arca_buf_cstr(&b58), hex);
    struct arca_session *s = load_ok(y);
    assert_int_equal(s->access.read.n_entries, 2);
    assert_memory_equal(s->access.read.entries[0].key_id, id, 32);
    assert_memory_equal(s->access.read.entries[1].key_id, id, 32);
    arca_session_free(s);
    arca_buf_free(&b58);
}

static void test_signer_p384_and_cert(void **state)
{
    (void)state;
    struct arca_key *p384 = NULL, *p256 = NULL;
    assert_int_equal(arca_key_generate(ARCA_KEY_P384, &p384), 0);
    assert_int_equal(arca_key_generate(ARCA_KEY_P256, &p256), 0);
    struct arca_buf pub, cert_pem;
    arca_buf_init(&pub, 0);
    arca_buf_init(&cert_pem, 0);
    assert_int_equal(arca_key_public_pem(p384, &pub), 0);
    struct arca_x509_params params;
    memset(&params, 0, sizeof(params));
    params.common_name = "admin";
    params.not_before = 1700000000;
    params.not_after = 1900000000;
    struct arca_x509 *cert = NULL;
    assert_int_equal(arca_x509_build(&params, p256, NULL, NULL, &cert), 0);
    assert_int_equal(arca_x509_to_pem(cert, &cert_pem), 0);
    struct arca_buf y;
    arca_buf_init(&y, 0);
    assert_int_equal(arca_buf_printf(&y, "name: c\nversion: \"0.3\"\naccess_policy:\n  read:\n"
                                         "    - |\n"),
                     0);
    for (const char *p = arca_buf_cstr(&cert_pem); *p;) {
        const char *nl = strchr(p, '\n');
        arca_buf_printf(&y, "      %.*s\n", (int)(nl - p), p);
        p = nl + 1;
    }
    arca_buf_printf(&y, "  update:\n    - signer: |\n");
    for (const char *p = arca_buf_cstr(&pub); *p;) {
        const char *nl = strchr(p, '\n');
        arca_buf_printf(&y, "        %.*s\n", (int)(nl - p), p);
        p = nl + 1;
    }
    struct arca_session *s = load_ok(arca_buf_cstr(&y));
    uint8_t want[32];
    assert_int_equal(arca_key_id(p256, want), 0);
    assert_int_equal(s->access.read.entries[0].kind, ARCA_AP_CERT);
    assert_memory_equal(s->access.read.entries[0].key_id, want, 32);
    assert_int_equal(arca_key_id(p384, want), 0);
    assert_int_equal(s->access.update.entries[0].signer_type, ARCA_KEY_P384);
    assert_memory_equal(s->access.update.entries[0].key_id, want, 32);
    arca_session_free(s);
    arca_buf_free(&y);
    arca_buf_free(&pub);
    arca_buf_free(&cert_pem);
    arca_x509_free(cert);
    arca_key_free(p384);
    arca_key_free(p256);
}

/* ---- canonical hash ---- */

static const char base_policy[] = "name: h\n"
                                  "version: \"0.3.10\"\n"
                                  "services:\n"
                                  "  - name: s\n"
                                  "    command: /bin/app --flag \"two words\"\n"
                                  "    environment:\n"
                                  "      A: one\n"
                                  "      B: \"2\"\n"
                                  "    pwd: /\n"
                                  "    attestation:\n"
                                  "      mrenclave: " MR "\n"
                                  "secrets:\n"
                                  "  - name: pw\n"
                                  "    kind: ascii\n"
                                  "    size: 20\n"
                                  "access_policy:\n"
                                  "  read: [CREATOR]\n";

/* Same meaning, different formatting, quoting, comments, key order and forms. */
static const char *const same_as_base[] = {
    /* flow style, single quotes, comments */
    "# a comment\n"
    "{name: 'h', version: '0.3.10', services: [{name: s, command: [/bin/app, --flag, 'two words'],"
    " environment: {B: '2', A: \"one\"}, pwd: '/', attestation: {mrenclave: '" MR "'}}], # c\n"
    " secrets: [{kind: ascii, name: pw}], access_policy: {read: CREATOR}}\n",
    /* key order shuffled, defaults written out explicitly, uppercase hex */
    "access_policy:\n"
    "  update: [CREATOR]\n"
    "  read:\n"
    "    - CREATOR\n"
    "secrets:\n"
    "  - size: 20\n"
    "    name: pw\n"
    "    kind: ascii\n"
    "version: \"0.3.10\"\n"
    "services:\n"
    "  - attestation:\n"
    "      - mrenclave: [0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF]\n"
    "    pwd: \"/\"\n"
    "    environment: {A: one, B: 2}\n"
    "    command: \"/bin/app   --flag 'two words'\"\n"
    "    name: s\n"
    "name: h\n",
    /* block scalars and a predecessor of null */
    "name: h\n"
    "version: \"0.3.10\"\n"
    "predecessor: ~\n"
    "services:\n"
    "  - name: >-\n"
    "      s\n"
    "    command: |-\n"
    "      /bin/app --flag \"two words\"\n"
    "    environment:\n"
    "      B: '2'\n"
    "      A: one\n"
    "    pwd: /\n"
    "    attestation:\n"
    "      mrenclave: " MR "\n"
    "secrets:\n"
    "  - name: pw\n"
    "    kind: ascii\n",
};

/* One semantic change each. */
static const char *const differ_from_base[] = {
    "name: h2\nversion: \"0.3.10\"\nservices:\n  - name: s\n    command: /bin/app --flag \"two "
    "words\"\n    environment:\n      A: one\n      B: \"2\"\n    pwd: /\n    attestation:\n"
    "      mrenclave: " MR "\nsecrets:\n  - name: pw\n    kind: ascii\n",
    "name: h\nversion: \"0.3.10\"\nservices:\n  - name: s\n    command: /bin/app --flag two "
    "words\n    environment:\n      A: one\n      B: \"2\"\n    pwd: /\n    attestation:\n"
    "      mrenclave: " MR "\nsecrets:\n  - name: pw\n    kind: ascii\n",
    "name: h\nversion: \"0.3.10\"\nservices:\n  - name: s\n    command: /bin/app --flag \"two "
    "words\"\n    environment:\n      A: one\n      B: \"3\"\n    pwd: /\n    attestation:\n"
    "      mrenclave: " MR "\nsecrets:\n  - name: pw\n    kind: ascii\n",
    "name: h\nversion: \"0.3.10\"\nservices:\n  - name: s\n    command: /bin/app --flag \"two "
    "words\"\n    environment:\n      A: one\n      B: \"2\"\n    pwd: /tmp\n    attestation:\n"
    "      mrenclave: " MR "\nsecrets:\n  - name: pw\n    kind: ascii\n",
    "name: h\nversion: \"0.3.10\"\nservices:\n  - name: s\n    command: /bin/app --flag \"two "
    "words\"\n    environment:\n      A: one\n      B: \"2\"\n    pwd: /\n    attestation:\n"
    "      mrenclave: 1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
    "secrets:\n  - name: pw\n    kind: ascii\n",
    "name: h\nversion: \"0.3.10\"\nservices:\n  - name: s\n    command: /bin/app --flag \"two "
    "words\"\n    environment:\n      A: one\n      B: \"2\"\n    pwd: /\n    attestation:\n"
    "      mrenclave: " MR "\nsecrets:\n  - name: pw\n    kind: ascii\n    size: 21\n",
    "name: h\nversion: \"0.3.10\"\nservices:\n  - name: s\n    command: /bin/app --flag \"two "
    "words\"\n    environment:\n      A: one\n      B: \"2\"\n    pwd: /\n    attestation:\n"
    "      mrenclave: " MR "\nsecrets:\n  - name: pw\n    kind: binary\n",
    "name: h\nversion: \"0.3.10\"\nservices:\n  - name: s\n    command: /bin/app --flag \"two "
    "words\"\n    environment:\n      A: one\n      B: \"2\"\n    pwd: /\n    attestation:\n"
    "      mrenclave: " MR "\nsecrets:\n  - name: pw\n    kind: ascii\naccess_policy:\n"
    "  read: [ANY]\n",
    "name: h\nversion: \"0.3.10\"\nservices:\n  - name: s\n    command: /bin/app --flag \"two "
    "words\"\n    environment:\n      A: one\n      B: \"2\"\n    pwd: /\n    attestation:\n"
    "      mrenclave: " MR "\nsecrets:\n  - name: pw\n    kind: ascii\nsecurity:\n"
    "  singleton_enclaves: true\n",
    "name: h\nversion: \"0.3.11\"\nservices:\n  - name: s\n    command: /bin/app --flag \"two "
    "words\"\n    environment:\n      A: one\n      B: \"2\"\n    pwd: /\n    attestation:\n"
    "      mrenclave: " MR "\nsecrets:\n  - name: pw\n    kind: ascii\n",
    "name: h\nversion: \"0.3.10\"\npredecessor: " MR "\nservices:\n  - name: s\n    command: "
    "/bin/app --flag \"two words\"\n    environment:\n      A: one\n      B: \"2\"\n    pwd: /\n"
    "    attestation:\n      mrenclave: " MR "\nsecrets:\n  - name: pw\n    kind: ascii\n",
    "name: h\nversion: \"0.3.10\"\nservices:\n  - name: s\n    command: /bin/app --flag \"two "
    "words\"\n    environment:\n      A: one\n      \\@\\@B: \"2\"\n    pwd: /\n    attestation:\n"
    "      mrenclave: " MR "\nsecrets:\n  - name: pw\n    kind: ascii\n",
    "name: h\nversion: \"0.3.10\"\nservices:\n  - name: s\n    command: /bin/app --flag \"two "
    "words\"\n    environment:\n      A: one\n      B: \"2\"\n    pwd: /\n    attestation:\n"
    "      mrenclave: " MR "\nsecrets:\n  - name: pw\n    kind: ascii\n    export_public: true\n",
};

static void test_hash_stable(void **state)
{
    (void)state;
    uint8_t base[32], h[32];
    hash_of(base_policy, base);
    for (size_t i = 0; i < sizeof(same_as_base) / sizeof(same_as_base[0]); i++) {
        hash_of(same_as_base[i], h);
        if (memcmp(h, base, 32) != 0)
            fprintf(stderr, "variant %zu hashes differently\n", i);
        assert_memory_equal(h, base, 32);
    }
}

static void test_hash_sensitive(void **state)
{
    (void)state;
    size_t n = sizeof(differ_from_base) / sizeof(differ_from_base[0]);
    uint8_t hashes[16][32];
    assert_true(n < 16);
    hash_of(base_policy, hashes[0]);
    for (size_t i = 0; i < n; i++) {
        hash_of(differ_from_base[i], hashes[i + 1]);
        for (size_t j = 0; j <= i; j++) {
            if (memcmp(hashes[i + 1], hashes[j], 32) == 0)
                fprintf(stderr, "change %zu hashes like %zu\n", i, j);
            assert_memory_not_equal(hashes[i + 1], hashes[j], 32);
        }
    }
    /* the creator is part of the hash */
    struct arca_session *s = load_ok(base_policy);
    uint8_t c1[32] = {0}, c2[32] = {1}, h1[32], h2[32];
    assert_int_equal(arca_session_hash(s, c1, h1), 0);
    assert_int_equal(arca_session_hash(s, c2, h2), 0);
    assert_memory_not_equal(h1, h2, 32);
    /* and the hash is deterministic */
    assert_int_equal(arca_session_hash(s, c2, h1), 0);
    assert_memory_equal(h1, h2, 32);
    arca_session_free(s);
}

static void test_examples(void **state)
{
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/examples", ARCA_SOURCE_DIR);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    size_t n = 0;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".yaml") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct arca_diag diag;
        struct arca_session *s = NULL;
        arca_diag_init(&diag);
        int rc = arca_session_load_file(path, &s, &diag);
        if (rc != 0) {
            struct arca_buf b;
            arca_buf_init(&b, 0);
            arca_diag_format(&diag, &b);
            fprintf(stderr, "%s", arca_buf_cstr(&b));
            arca_buf_free(&b);
        }
        assert_int_equal(rc, 0);
        uint8_t h[32];
        assert_int_equal(arca_session_hash(s, NULL, h), 0);
        arca_session_free(s);
        arca_diag_free(&diag);
        n++;
    }
    closedir(d);
    assert_true(n >= 8);
}

static void test_load_file_missing(void **state)
{
    (void)state;
    struct arca_diag diag;
    struct arca_session *s = NULL;
    arca_diag_init(&diag);
    assert_int_equal(arca_session_load_file("/nonexistent/x.yaml", &s, &diag), ARCA_ERR_IO);
    assert_int_equal(diag.n, 1);
    assert_non_null(strstr(diag.v[0].msg, "cannot open"));
    arca_diag_free(&diag);
}

static void test_name_check(void **state)
{
    (void)state;
    assert_int_equal(arca_session_name_check("a/b-c_d.e~f", 11, true), 0);
    assert_int_equal(arca_session_name_check("a/b", 3, false), ARCA_ERR_FORMAT);
    assert_int_equal(arca_session_name_check("", 0, true), ARCA_ERR_FORMAT);
    assert_int_equal(arca_session_name_check("a/", 2, true), ARCA_ERR_FORMAT);
    assert_string_equal(arca_secret_kind_name(ARCA_SECRET_X509_CA), "x509-ca");
    assert_string_equal(arca_fspf_policy_name(ARCA_FSPF_EPHEMERAL), "ephemeral");
}

/* Placeholder validation resolves dotted secret names as expansion does, skips the formats of
 * imports without a kind, and lists every bad placeholder of a string, not just the first. */
static void test_placeholder_validation(void **state)
{
    (void)state;
    arca_session_free(load_ok(
        "name: p\nversion: \"0.3\"\nservices:\n  - name: s\n    attestation: {mrenclave: " MR "}\n"
        "    command: run $$SCONE::db.crt$$ $$SCONE::db.key$$ "
        "$$SCONE::db.key:hex$$ $$SCONE::k.hex$$\n"
        "    environment:\n      I: $$SCONE::imp:base64$$\n"
        "secrets:\n  - name: db.crt\n    kind: ascii\n"
        "  - name: db.key\n    kind: binary\n"
        "  - name: k\n    kind: binary\n"
        "  - name: imp\n    import: {session: other, secret: x}\n"));
    const char *bad =
        "name: p\nversion: \"0.3\"\nservices:\n  - name: s\n    attestation: {mrenclave: " MR "}\n"
        "    command: run $$SCONE::nope.crt$$ $$SCONE::db.crt:privatekey$$ "
        "$$SCONE::db.crt$$\n"
        "secrets:\n  - name: db.crt\n    kind: ascii\n";
    struct arca_diag diag;
    struct arca_session *s = NULL;
    arca_diag_init(&diag);
    assert_true(arca_session_load(bad, strlen(bad), "bad.yaml", &s, &diag) < 0);
    assert_null(s);
    struct arca_buf b;
    arca_buf_init(&b, 0);
    assert_int_equal(arca_diag_format(&diag, &b), 0);
    const char *text = arca_buf_cstr(&b);
    assert_int_equal(diag.n, 2);
    assert_non_null(strstr(text, "bad.yaml:6:"));
    assert_non_null(strstr(text, "placeholder '$$SCONE::nope$$' names no secret"));
    assert_non_null(strstr(text, "placeholder for ascii secret 'db.crt'"));
    arca_buf_free(&b);
    arca_diag_free(&diag);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_model),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_mode_none_needs_no_variant),
        cmocka_unit_test(test_fragments),
        cmocka_unit_test(test_key_hash_base58),
        cmocka_unit_test(test_signer_p384_and_cert),
        cmocka_unit_test(test_hash_stable),
        cmocka_unit_test(test_hash_sensitive),
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_load_file_missing),
        cmocka_unit_test(test_name_check),
        cmocka_unit_test(test_placeholder_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
