/*
 * The attestation pipeline without HTTP (attest/attest.h): a sealed store with sessions, the
 * INSECURE simulation platform for evidence, a fresh TLS key per launcher. One accepted launch
 * through the wire codec, then each refusal in its place in the order of checks with its own
 * reason: no client certificate, nonce replayed / not issued / expired, simulation not
 * allowed, evidence for another key, unknown session or service, wrong measurement, platform
 * not listed, access token missing or wrong (a placeholder token is its secret's value, not
 * its text), one-time password missing, wrong or reused; the throttle of failed attempts per
 * session/service; a stranger's request writes nothing; and the config id grammar.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/attest_wire.h"
#include "attest/attest.h"
#include "audit/audit.h"
#include "attest/binding.h"
#include "base/enc.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "crypto/totp.h"
#include "evidence/sim.h"
#include "limits/limits.h"
#include "secrets/secrets.h"
#include "store/store.h"
#include "store_test_util.h"

#define NOW 1800000000
#define OTP_SECRET "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

struct fx {
    char *dir;
    struct arca_store_fixed_sealer fs;
    struct arca_store *store;
    struct arca_sim_platform *sim;
    struct arca_attest_ctx ctx;
    struct arca_key *key, *other;
    struct arca_buf spki, spki_other;
    uint8_t measurement[32];
};

/* Commits yaml as session name with the stored secrets blob[0..len). */
static void put_yaml(struct fx *f, const char *name, uint8_t tag, char *yaml, const uint8_t *blob,
                     size_t len)
{
    struct arca_store_session rec;
    test_session(&rec, name, tag, NULL, 1);
    rec.yaml = yaml;
    rec.yaml_len = strlen(yaml);
    if (arca_store_session_commit(f->store, &rec, blob, len) < 0)
        fail_msg("commit %s: %s", name, arca_err_detail());
}

static void put_session(struct fx *f, const char *name, uint8_t tag, const char *extra_service,
                        const char *extra_security)
{
    char mhex[65], yaml[2048];
    arca_hex_fmt(mhex, f->measurement, 32);
    snprintf(yaml, sizeof(yaml),
             "name: %s\nversion: \"0.3.10\"\nservices:\n  - name: app\n"
             "    command: /bin/app --flag @@1\n"
             "    environment: {PW: \"$$SCONE::pw$$\", PLAIN: hello}\n"
             "    pwd: /srv\n"
             "    attestation: [{mrenclave: [\"%s\"]}]\n%s"
             "secrets: [{name: pw, kind: ascii, value: \"s3cret-pw\"}]\n"
             "security:\n  attestation: {mode: simulation}\n%s",
             name, mhex, extra_service, extra_security);
    struct arca_secret_set *set = NULL;
    struct arca_secret_value *v = NULL;
    struct arca_buf blob;
    arca_buf_init_secret(&blob, 0);
    assert_int_equal(arca_secret_set_new(&set), 0);
    assert_int_equal(arca_secret_value_new_bytes(ARCA_SECRET_ASCII, "s3cret-pw", 9, 0, &v), 0);
    assert_int_equal(arca_secret_set_add(set, "pw", 2, v), 0);
    assert_int_equal(arca_secret_set_encode(set, &blob), 0);
    put_yaml(f, name, tag, yaml, blob.data, blob.len);
    arca_secret_value_free(v);
    arca_secret_set_free(set);
    arca_buf_free(&blob);
}

/* Sessions whose attestation variants are config-fragments imported from "board". */
static void put_imports(struct fx *f)
{
    char mhex[65], yaml[2048];
    arca_hex_fmt(mhex, f->measurement, 32);
    snprintf(yaml, sizeof(yaml),
             "name: board\nversion: \"0.3.10\"\nsecrets:\n"
             "  - name: rel\n    kind: config-fragment\n    value: [{mrenclave: \"%s\"}]\n"
             "    export: [{session: imp}, {session: imp2}]\n"
             "  - name: other\n    kind: config-fragment\n    value: [{mrenclave: \"%064d\"}]\n"
             "    export: [{session: imp4}]\n"
             "  - name: bad\n    kind: config-fragment\n    value: [{mrenclave: \"12\"}]\n"
             "    export: [{session: imp3}]\n"
             "  - name: pw\n    kind: ascii\n    value: x\n    export: [{session: imp5}]\n",
             mhex, 7);
    put_yaml(f, "board", 20, yaml, NULL, 0);
    static const char *const imp[][3] = {
        {"imp", "$$SCONE::rel$$", "rel"},        /* the whole attestation */
        {"imp2", "[\"$$SCONE::rel$$\"]", "rel"}, /* an entry of the list, without kind */
        {"imp3", "$$SCONE::rel$$", "bad"},       /* a value that does not fit */
        {"imp4", "$$SCONE::rel$$", "other"},     /* another measurement */
        {"imp5", "$$SCONE::rel$$", "pw"},        /* no value */
        {"imp6", "$$SCONE::rel$$", "rel"},       /* not exported to imp6 */
    };
    for (size_t i = 0; i < sizeof(imp) / sizeof(imp[0]); i++) {
        snprintf(yaml, sizeof(yaml),
                 "name: %s\nversion: \"0.3.10\"\nservices:\n  - name: app\n"
                 "    command: /bin/app\n    attestation: %s\n"
                 "secrets:\n  - name: rel\n%s    import: {session: board, secret: %s}\n"
                 "security:\n  attestation: {mode: simulation}\n",
                 imp[i][0], imp[i][1], i == 1 ? "" : "    kind: config-fragment\n", imp[i][2]);
        put_yaml(f, imp[i][0], (uint8_t)(21 + i), yaml, NULL, 0);
    }
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->dir = tdir_make();
    uint8_t k[32];
    test_seal_key(k, 7);
    arca_store_fixed_sealer_init(&f->fs, k);
    char sim[600];
    snprintf(sim, sizeof(sim), "%s/sim", f->dir);
    if (test_store_open(f->dir, &f->fs, true, &f->store) != 0 ||
        arca_sim_platform_open(sim, &f->sim) != 0 || arca_attest_ctx_init(&f->ctx, 60) != 0 ||
        arca_key_generate(ARCA_KEY_P256, &f->key) != 0 ||
        arca_key_generate(ARCA_KEY_P256, &f->other) != 0) {
        fprintf(stderr, "setup: %s\n", arca_err_detail());
        return -1;
    }
    arca_buf_init(&f->spki, 0);
    arca_buf_init(&f->spki_other, 0);
    if (arca_key_spki_der(f->key, &f->spki) != 0 ||
        arca_key_spki_der(f->other, &f->spki_other) != 0)
        return -1;
    memset(f->measurement, 0x11, 32);
    f->ctx.store = f->store;
    f->ctx.verify.allow_simulation = true;
    put_session(f, "pipe", 1, "", "");
    put_session(f, "tok", 2, "", "  service_access_token: tok-123456\n");
    put_session(f, "otp", 3, "    one_time_password_shared_secret: " OTP_SECRET "\n", "");
    put_session(f, "tokp", 5, "", "  service_access_token: \"$$SCONE::pw$$\"\n");
    put_session(f, "plat", 4,
                "    platforms: [\"" /* 32 bytes of 0xab */
                "abababababababababababababababababababababababababababababababab\"]\n",
                "");
    put_imports(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    arca_attest_ctx_clear(&f->ctx);
    arca_buf_free(&f->spki);
    arca_buf_free(&f->spki_other);
    arca_key_free(f->key);
    arca_key_free(f->other);
    arca_sim_platform_free(f->sim);
    arca_store_close(f->store);
    arca_store_fixed_sealer_wipe(&f->fs);
    tdir_remove(f->dir);
    free(f);
    return 0;
}

/* A request as arca-run makes it: a fresh challenge, sim evidence of measurement bound to
 * (bind_spki, nonce, config_id). */
static void request(struct fx *f, const char *config_id, const uint8_t *measurement,
                    const struct arca_buf *bind_spki, struct arca_attest_request *r)
{
    arca_attest_request_init(r);
    struct arca_challenge_answer ch;
    assert_int_equal(arca_attest_challenge(&f->ctx, NOW, &ch), 0);
    assert_int_equal(ch.expires_in, 60);
    memcpy(r->nonce, ch.nonce, sizeof(r->nonce));
    r->config_id = strdup(config_id);
    r->evidence_type = ARCA_EVIDENCE_SIM;
    uint8_t rd[64];
    assert_int_equal(arca_launch_binding(bind_spki->data, bind_spki->len, r->nonce, config_id, rd),
                     0);
    assert_int_equal(arca_sim_evidence_make(f->sim, measurement, rd, &r->evidence), 0);
    char *argv[] = {"/usr/bin/arca-run", "host-arg", NULL};
    char *envp[] = {"HOME=/root", NULL};
    assert_int_equal(arca_attest_request_set_host(r, argv, 2, envp), 0);
}

/* Runs r against f's key; returns the result and the reason (copied). */
static int run(struct fx *f, const struct arca_attest_request *r, const struct arca_buf *spki,
               int64_t now, struct arca_attest_outcome *o, char *reason, size_t len)
{
    struct arca_launch_config c;
    memset(o, 0, sizeof(*o));
    int rc =
        arca_attest_run(&f->ctx, spki ? spki->data : NULL, spki ? spki->len : 0, r, now, &c, o);
    snprintf(reason, len, "%s", rc < 0 ? arca_err_detail() : "");
    arca_launch_config_free(&c);
    return rc;
}

static void refused(struct fx *f, const char *config_id, int want, const char *needle)
{
    struct arca_attest_request r;
    request(f, config_id, f->measurement, &f->spki, &r);
    struct arca_attest_outcome o;
    char reason[ARCA_ERR_DETAIL_MAX + 1];
    int rc = run(f, &r, &f->spki, NOW, &o, reason, sizeof(reason));
    if (rc != want || strstr(reason, needle) == NULL)
        fail_msg("%s: got %d \"%s\", expected %d \"%s\"", config_id, rc, reason, want, needle);
    arca_attest_request_free(&r);
}

/* The whole exchange through the wire codec, as arcad runs it. */
static void test_accepted_through_the_wire(void **state)
{
    struct fx *f = *state;
    struct arca_attest_request r;
    request(f, "pipe/app", f->measurement, &f->spki, &r);
    struct arca_buf body, answer;
    arca_buf_init_secret(&body, 0);
    arca_buf_init_secret(&answer, 0);
    assert_int_equal(arca_attest_request_encode(&r, &body), 0);
    json_t *j = json_loadb((const char *)body.data, body.len, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(j);
    struct arca_attest_outcome o;
    int rc = arca_attest_exchange(&f->ctx, j, f->spki.data, f->spki.len, NOW, &answer, &o);
    if (rc < 0)
        fail_msg("exchange: %s", arca_err_detail());
    assert_string_equal(o.session, "pipe");
    assert_string_equal(o.service, "app");
    assert_string_equal(o.evidence_type, "sim");
    assert_string_equal(o.measurement,
                        "1111111111111111111111111111111111111111111111111111111111111111");
    uint8_t kid[32];
    char khex[65];
    assert_int_equal(arca_key_id(f->key, kid), 0);
    arca_hex_fmt(khex, kid, 32);
    assert_string_equal(o.peer, khex);
    struct arca_launch_config c;
    assert_int_equal(arca_launch_config_decode(answer.data, answer.len, &c), 0);
    assert_int_equal(c.argc, 3);
    assert_string_equal(c.argv[0], "/bin/app");
    assert_string_equal(c.argv[2], "host-arg");
    assert_int_equal(c.envc, 2);
    assert_string_equal(c.envp[0], "PW=s3cret-pw");
    assert_string_equal(c.pwd, "/srv");
    arca_launch_config_free(&c);

    /* The same request again: the nonce is used up. */
    arca_buf_reset(&answer);
    assert_int_equal(arca_attest_exchange(&f->ctx, j, f->spki.data, f->spki.len, NOW, &answer, &o),
                     ARCA_ERR_REPLAY);
    assert_non_null(strstr(arca_err_detail(), "used already"));
    assert_int_equal(answer.len, 0);
    json_decref(j);
    arca_buf_free(&body);
    arca_buf_free(&answer);
    arca_attest_request_free(&r);
}

/* Every fsync of the audit log fails (the opened line of a log without a store is not
 * synced, the attestation line is). */
static int fail_fsync(void *arg, const char *op)
{
    int *n = arg;
    return strcmp(op, "fsync") == 0 && ++*n > 0 ? EIO : 0;
}

/* Fail-closed audit: an acceptance whose durable audit line cannot be written is refused and
 * its configuration (secrets) is not handed out. */
static void test_audit_failure_refuses(void **state)
{
    struct fx *f = *state;
    char path[600];
    snprintf(path, sizeof(path), "%s/audit.log", f->dir);
    int fsyncs = 0;
    struct arca_audit_options ao = {
        .path = path, .key = f->key, .fault = fail_fsync, .fault_arg = &fsyncs};
    struct arca_audit *a = NULL;
    assert_int_equal(arca_audit_open(&ao, &a), 0);
    assert_int_equal(fsyncs, 0);
    f->ctx.audit = a;
    struct arca_attest_request r;
    request(f, "pipe/app", f->measurement, &f->spki, &r);
    struct arca_buf body, answer;
    arca_buf_init_secret(&body, 0);
    arca_buf_init_secret(&answer, 0);
    assert_int_equal(arca_attest_request_encode(&r, &body), 0);
    json_t *j = json_loadb((const char *)body.data, body.len, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(j);
    struct arca_attest_outcome o;
    assert_int_equal(arca_attest_exchange(&f->ctx, j, f->spki.data, f->spki.len, NOW, &answer, &o),
                     ARCA_ERR_IO);
    assert_non_null(strstr(arca_err_detail(), "audit line could not be written"));
    assert_int_equal(answer.len, 0);
    assert_int_equal(fsyncs, 1);
    f->ctx.audit = NULL;
    arca_audit_close(a);
    json_decref(j);
    arca_buf_free(&body);
    arca_buf_free(&answer);
    arca_attest_request_free(&r);
}

static void test_nonce_refusals(void **state)
{
    struct fx *f = *state;
    struct arca_attest_request r;
    struct arca_attest_outcome o;
    char reason[ARCA_ERR_DETAIL_MAX + 1];
    /* Expired: the nonce is checked before anything else is. */
    request(f, "pipe/app", f->measurement, &f->spki, &r);
    assert_int_equal(run(f, &r, &f->spki, NOW + 61, &o, reason, sizeof(reason)), ARCA_ERR_EXPIRED);
    assert_non_null(strstr(reason, "expired"));
    /* Not issued by us: one bit of the MAC flipped. */
    r.nonce[20] ^= 1;
    assert_int_equal(run(f, &r, &f->spki, NOW, &o, reason, sizeof(reason)),
                     ARCA_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(reason, "not issued"));
    arca_attest_request_free(&r);
    /* Another context (a restarted arcad) did not issue it either. */
    struct arca_attest_ctx other = f->ctx;
    assert_int_equal(arca_attest_ctx_init(&other, 0), 0);
    assert_int_equal(other.nonce_ttl, ARCA_ATTEST_NONCE_TTL_DEFAULT);
    struct arca_challenge_answer ch;
    assert_int_equal(arca_attest_challenge(&other, NOW, &ch), 0);
    assert_int_equal(arca_attest_nonce_check(&f->ctx, ch.nonce, NOW, NULL),
                     ARCA_ERR_UNAUTHENTICATED);
    assert_int_equal(arca_attest_nonce_check(&other, ch.nonce, NOW, NULL), 0);
    arca_attest_ctx_clear(&other);
}

static void test_no_client_certificate(void **state)
{
    struct fx *f = *state;
    struct arca_attest_request r;
    request(f, "pipe/app", f->measurement, &f->spki, &r);
    struct arca_attest_outcome o;
    char reason[ARCA_ERR_DETAIL_MAX + 1];
    assert_int_equal(run(f, &r, NULL, NOW, &o, reason, sizeof(reason)), ARCA_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(reason, "no client certificate"));
    assert_string_equal(o.session, "pipe"); /* named in the audit line */
    arca_attest_request_free(&r);
}

static void test_evidence_refusals(void **state)
{
    struct fx *f = *state;
    struct arca_attest_request r;
    struct arca_attest_outcome o;
    char reason[ARCA_ERR_DETAIL_MAX + 1];
    /* Relayed: made for another key. */
    request(f, "pipe/app", f->measurement, &f->spki_other, &r);
    assert_int_equal(run(f, &r, &f->spki, NOW, &o, reason, sizeof(reason)), ARCA_ERR_POLICY);
    assert_non_null(strstr(reason, "man in the middle"));
    arca_attest_request_free(&r);
    /* Bound to another config id than the one asked for. */
    request(f, "pipe/app", f->measurement, &f->spki, &r);
    free(r.config_id);
    r.config_id = strdup("tok/app");
    assert_int_equal(run(f, &r, &f->spki, NOW, &o, reason, sizeof(reason)), ARCA_ERR_POLICY);
    arca_attest_request_free(&r);
    /* Simulation switched off. */
    f->ctx.verify.allow_simulation = false;
    request(f, "pipe/app", f->measurement, &f->spki, &r);
    assert_int_equal(run(f, &r, &f->spki, NOW, &o, reason, sizeof(reason)), ARCA_ERR_INSECURE);
    assert_non_null(strstr(reason, "--allow-simulation"));
    f->ctx.verify.allow_simulation = true;
    arca_attest_request_free(&r);
    /* Another program. */
    uint8_t m[32];
    memset(m, 0x22, 32);
    request(f, "pipe/app", m, &f->spki, &r);
    assert_int_equal(run(f, &r, &f->spki, NOW, &o, reason, sizeof(reason)), ARCA_ERR_POLICY);
    assert_non_null(strstr(o.measurement, "2222"));
    arca_attest_request_free(&r);
    /* No collateral for a DCAP quote. */
    request(f, "pipe/app", f->measurement, &f->spki, &r);
    r.evidence_type = ARCA_EVIDENCE_TDX;
    assert_int_equal(run(f, &r, &f->spki, NOW, &o, reason, sizeof(reason)), ARCA_ERR_NOT_FOUND);
    assert_non_null(strstr(reason, "ARCA_COLLATERAL"));
    arca_attest_request_free(&r);
}

static void test_policy_refusals(void **state)
{
    struct fx *f = *state;
    refused(f, "nope/app", ARCA_ERR_NOT_FOUND, "unknown session nope");
    refused(f, "pipe/nosvc", ARCA_ERR_NOT_FOUND, "unknown service nosvc");
    refused(f, "plat/app", ARCA_ERR_POLICY, "is not listed in services[app].platforms");
    refused(f, "tok/app", ARCA_ERR_UNAUTHENTICATED, "none was sent");
    refused(f, "otp/app", ARCA_ERR_UNAUTHENTICATED, "requires a one-time password");

    struct arca_attest_request r;
    struct arca_attest_outcome o;
    char reason[ARCA_ERR_DETAIL_MAX + 1];
    request(f, "tok/app", f->measurement, &f->spki, &r);
    r.access_token = strdup("tok-wrong");
    assert_int_equal(run(f, &r, &f->spki, NOW, &o, reason, sizeof(reason)),
                     ARCA_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(reason, "does not match"));
    assert_null(strstr(reason, "tok-"));
    arca_attest_request_free(&r);
    request(f, "tok/app", f->measurement, &f->spki, &r);
    r.access_token = strdup("tok-123456");
    assert_int_equal(run(f, &r, &f->spki, NOW, &o, reason, sizeof(reason)), 0);
    arca_attest_request_free(&r);
}

/* Attestation variants imported from another session are resolved and checked at attestation
 * (issue 13 item 3); refusals name the import and the field. */
static void test_imported_attestation(void **state)
{
    struct fx *f = *state;
    struct arca_attest_request r;
    struct arca_attest_outcome o;
    char reason[ARCA_ERR_DETAIL_MAX + 1];
    const char *ok[] = {"imp/app", "imp2/app"};
    for (size_t i = 0; i < 2; i++) {
        request(f, ok[i], f->measurement, &f->spki, &r);
        if (run(f, &r, &f->spki, NOW, &o, reason, sizeof(reason)) != 0)
            fail_msg("%s: %s", ok[i], reason);
        arca_attest_request_free(&r);
    }
    refused(f, "imp3/app", ARCA_ERR_FORMAT,
            "services[0].attestation: imported config-fragment 'rel' does not fit there: "
            "services[0].attestation[0].mrenclave");
    refused(f, "imp4/app", ARCA_ERR_POLICY, "is not listed");
    refused(f, "imp5/app", ARCA_ERR_NOT_FOUND,
            "services[0].attestation: imported config-fragment 'rel': secrets[rel].import: "
            "board has no value for pw yet");
    refused(f, "imp6/app", ARCA_ERR_DENIED,
            "services[0].attestation: imported config-fragment "
            "'rel'");
}

/* Like refused() with an access token; returns the code and fills o. */
static int try_token(struct fx *f, const char *config_id, const char *token, int64_t now,
                     struct arca_attest_outcome *o, char *reason, size_t len)
{
    struct arca_attest_request r;
    request(f, config_id, f->measurement, &f->spki, &r);
    r.access_token = token ? strdup(token) : NULL;
    int rc = run(f, &r, &f->spki, now, o, reason, len);
    arca_attest_request_free(&r);
    return rc;
}

/* A placeholder token means the secret's value, as everywhere else, not its own text. */
static void test_access_token_placeholder(void **state)
{
    struct fx *f = *state;
    struct arca_attest_outcome o;
    char reason[ARCA_ERR_DETAIL_MAX + 1];
    assert_int_equal(try_token(f, "tokp/app", "$$SCONE::pw$$", NOW, &o, reason, sizeof(reason)),
                     ARCA_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(reason, "does not match"));
    assert_int_equal(try_token(f, "tokp/app", "s3cret-p", NOW, &o, reason, sizeof(reason)),
                     ARCA_ERR_UNAUTHENTICATED);
    assert_int_equal(try_token(f, "tokp/app", "s3cret-pw", NOW, &o, reason, sizeof(reason)), 0);
}

/* Failed attestations of a verified caller are counted per session/service: slowed down,
 * locked out (once reported for the audit), refused before any work while waiting; a success
 * forgets them; other services are not affected. */
static void test_throttle(void **state)
{
    struct fx *f = *state;
    struct arca_throttle_cfg tc;
    arca_throttle_cfg_default(&tc);
    tc.free_failures = 1;
    tc.lockout_failures = 3;
    tc.lockout_ms = 10 * 1000;
    struct arca_throttle *th = NULL;
    assert_int_equal(arca_throttle_new(&tc, &th), 0);
    f->ctx.throttle = th;
    struct arca_attest_outcome o;
    char reason[ARCA_ERR_DETAIL_MAX + 1];
    /* Free failure, then one that makes the next try wait 1 s. */
    assert_int_equal(try_token(f, "tok/app", "bad", NOW, &o, reason, sizeof(reason)),
                     ARCA_ERR_UNAUTHENTICATED);
    assert_int_equal(try_token(f, "tok/app", "bad", NOW, &o, reason, sizeof(reason)),
                     ARCA_ERR_UNAUTHENTICATED);
    assert_false(o.locked_out);
    assert_true(o.verified);
    /* Waiting: refused before the evidence is looked at, even with the right token. */
    assert_int_equal(try_token(f, "tok/app", "tok-123456", NOW, &o, reason, sizeof(reason)),
                     ARCA_ERR_LIMIT);
    assert_non_null(
        strstr(reason, "tok/app: too many failed tries: slowed down; try again in 1 s"));
    assert_false(o.verified);
    assert_string_equal(o.measurement, "");
    /* Another service is not slowed down. */
    assert_int_equal(try_token(f, "pipe/app", NULL, NOW, &o, reason, sizeof(reason)), 0);
    /* The third failure locks it out, reported once. */
    assert_int_equal(try_token(f, "tok/app", "bad", NOW + 1, &o, reason, sizeof(reason)),
                     ARCA_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(reason, "does not match"));
    assert_true(o.locked_out);
    assert_int_equal(try_token(f, "tok/app", "tok-123456", NOW + 2, &o, reason, sizeof(reason)),
                     ARCA_ERR_LIMIT);
    assert_non_null(strstr(reason, "locked out; try again in 9 s"));
    assert_false(o.locked_out);
    /* One-time passwords count alike (their own key). */
    assert_int_equal(try_token(f, "otp/app", NULL, NOW, &o, reason, sizeof(reason)),
                     ARCA_ERR_UNAUTHENTICATED);
    /* After the lockout: accepted, and the success forgets the failures (the next one is
     * free again). */
    assert_int_equal(try_token(f, "tok/app", "tok-123456", NOW + 11, &o, reason, sizeof(reason)),
                     0);
    assert_int_equal(try_token(f, "tok/app", "bad", NOW + 11, &o, reason, sizeof(reason)),
                     ARCA_ERR_UNAUTHENTICATED);
    assert_int_equal(try_token(f, "tok/app", "tok-123456", NOW + 11, &o, reason, sizeof(reason)),
                     0);
    /* Another program (appraisal refused) is not a guess and is not counted. */
    uint8_t m[32];
    memset(m, 0x22, 32);
    for (int i = 0; i < 5; i++) {
        struct arca_attest_request r;
        request(f, "tok/app", m, &f->spki, &r);
        assert_int_equal(run(f, &r, &f->spki, NOW + 11, &o, reason, sizeof(reason)),
                         ARCA_ERR_POLICY);
        assert_true(o.verified);
        arca_attest_request_free(&r);
    }
    /* Refusals before the evidence verified are not counted (a stranger cannot lock a service
     * out): a relayed request, many times over. */
    for (int i = 0; i < 5; i++) {
        struct arca_attest_request r;
        request(f, "tok/app", f->measurement, &f->spki_other, &r);
        r.access_token = strdup("bad");
        assert_int_equal(run(f, &r, &f->spki, NOW + 11, &o, reason, sizeof(reason)),
                         ARCA_ERR_POLICY);
        assert_false(o.verified);
        arca_attest_request_free(&r);
    }
    assert_int_equal(try_token(f, "tok/app", "tok-123456", NOW + 11, &o, reason, sizeof(reason)),
                     0);
    f->ctx.throttle = NULL;
    arca_throttle_free(th);
}

/* A request whose evidence does not verify or is not bound to the connection writes nothing:
 * its nonce is not used up, so the launcher's own request with it still succeeds. */
static void test_unverified_writes_nothing(void **state)
{
    struct fx *f = *state;
    struct arca_attest_request r, relayed;
    struct arca_attest_outcome o;
    char reason[ARCA_ERR_DETAIL_MAX + 1];
    request(f, "pipe/app", f->measurement, &f->spki, &r);
    request(f, "pipe/app", f->measurement, &f->spki_other, &relayed);
    memcpy(relayed.nonce, r.nonce, sizeof(r.nonce));
    assert_int_equal(run(f, &relayed, &f->spki, NOW, &o, reason, sizeof(reason)), ARCA_ERR_POLICY);
    relayed.evidence.data[0] ^= 1;
    assert_int_not_equal(run(f, &relayed, &f->spki, NOW, &o, reason, sizeof(reason)), 0);
    assert_int_equal(run(f, &r, &f->spki, NOW, &o, reason, sizeof(reason)), 0);
    assert_int_equal(run(f, &r, &f->spki, NOW, &o, reason, sizeof(reason)), ARCA_ERR_REPLAY);
    /* Used nonces live in memory (nonce.c), not in the store: no single-use record of it. */
    assert_int_equal(
        arca_store_once_take(f->store, "challenge", r.nonce, sizeof(r.nonce), NOW, NULL),
        ARCA_ERR_NOT_FOUND);
    arca_attest_purge(&f->ctx, NOW + 3600);
    arca_attest_request_free(&r);
    arca_attest_request_free(&relayed);
}

static void test_one_time_password(void **state)
{
    struct fx *f = *state;
    struct arca_buf key;
    arca_buf_init_secret(&key, 0);
    assert_int_equal(arca_base32_decode(&key, OTP_SECRET, strlen(OTP_SECRET)), 0);
    uint32_t code = 0;
    assert_int_equal(arca_totp(key.data, key.len, NOW / 30, 6, &code), 0);
    char id[64], wrong[64];
    snprintf(id, sizeof(id), "otp/app@%06u", code);
    snprintf(wrong, sizeof(wrong), "otp/app@%06u", (code + 1) % 1000000);
    arca_buf_free(&key);
    refused(f, wrong, ARCA_ERR_UNAUTHENTICATED, "not valid now");
    struct arca_attest_request r;
    struct arca_attest_outcome o;
    char reason[ARCA_ERR_DETAIL_MAX + 1];
    request(f, id, f->measurement, &f->spki, &r);
    assert_int_equal(run(f, &r, &f->spki, NOW, &o, reason, sizeof(reason)), 0);
    arca_attest_request_free(&r);
    refused(f, id, ARCA_ERR_REPLAY, "one-time password was used already");
}

static void test_target_parse(void **state)
{
    (void)state;
    struct arca_attest_target t;
    assert_int_equal(arca_attest_target_parse("a/b/svc@123456", &t), 0);
    assert_string_equal(t.session, "a/b");
    assert_string_equal(t.service, "svc");
    assert_true(t.has_otp);
    assert_string_equal(t.otp, "123456");
    assert_int_equal(arca_attest_target_parse("s/svc", &t), 0);
    assert_false(t.has_otp);
    static const char *const bad[] = {"nosvc",         "/svc",         "s/",       "s/svc@12345",
                                      "s/svc@1234567", "s/svc@12345x", "s/@123456"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(arca_attest_target_parse(bad[i], &t), ARCA_ERR_FORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted_through_the_wire),
        cmocka_unit_test(test_audit_failure_refuses),
        cmocka_unit_test(test_nonce_refusals),
        cmocka_unit_test(test_no_client_certificate),
        cmocka_unit_test(test_evidence_refusals),
        cmocka_unit_test(test_policy_refusals),
        cmocka_unit_test(test_imported_attestation),
        cmocka_unit_test(test_one_time_password),
        cmocka_unit_test(test_access_token_placeholder),
        cmocka_unit_test(test_throttle),
        cmocka_unit_test(test_unverified_writes_nothing),
        cmocka_unit_test(test_target_parse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
