/* The join messages of the peer channel (join.h). */
#include "peer/join.h"

#include <string.h>

#include "base/buf.h"
#include "base/enc.h"
#include "base/err.h"

#define PT_LEN (8 + 32 + 2 * ARCA_STORE_KEY_LEN + 8 + ARCA_STORE_HASH_LEN)
#define BOX_MAX 1024

int arca_peer_join_req_parse(const json_t *body, struct arca_peer_join_req *out)
{
    ARCA_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    ARCA_ENSURE(json_is_object(body), ARCA_ERR_FORMAT, "join request: no body");
    const char *op = json_string_value(json_object_get(body, "op"));
    ARCA_ENSURE(op != NULL, ARCA_ERR_FORMAT, "join request: no 'op'");
    int rc = 0;
    if (strcmp(op, "key") == 0) {
        const json_t *k = json_object_get(body, "enc_key");
        struct arca_buf b;
        arca_buf_init(&b, 64);
        bool good = json_is_string(k) && json_string_length(k) <= 64 &&
                    arca_base64_decode(&b, json_string_value(k), json_string_length(k)) == 0 &&
                    b.len == 32;
        if (good)
            memcpy(out->enc_key, b.data, 32);
        arca_buf_free(&b);
        if (!good)
            rc = arca_err_set(ARCA_ERR_FORMAT,
                              "join request: 'enc_key' must be 32 bytes in base64 (an X25519 "
                              "public key)");
        out->op = ARCA_PEER_JOIN_KEY;
    } else if (strcmp(op, "result") == 0) {
        const json_t *ok = json_object_get(body, "ok");
        const json_t *r = json_object_get(body, "reason");
        ARCA_ENSURE(json_is_boolean(ok), ARCA_ERR_FORMAT, "join request: 'ok' must be a boolean");
        ARCA_ENSURE(r == NULL ||
                        (json_is_string(r) && json_string_length(r) <= ARCA_PEER_JOIN_REASON_MAX),
                    ARCA_ERR_FORMAT, "join request: 'reason' must be a string of at most %d bytes",
                    ARCA_PEER_JOIN_REASON_MAX);
        if (r != NULL) {
            const char *s = json_string_value(r);
            size_t n = json_string_length(r);
            for (size_t i = 0; i < n; i++)
                ARCA_ENSURE(s[i] >= 0x20 && s[i] < 0x7f, ARCA_ERR_FORMAT,
                            "join request: 'reason' must be printable ASCII");
            memcpy(out->reason, s, n);
        }
        out->ok = json_is_true(ok);
        out->op = ARCA_PEER_JOIN_RESULT;
    } else {
        rc = arca_err_set(ARCA_ERR_FORMAT, "join request: 'op' must be key or result");
    }
    if (rc < 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

json_t *arca_peer_join_key_req(const uint8_t enc_key[32])
{
    struct arca_buf b;
    arca_buf_init(&b, 64);
    json_t *j = NULL;
    if (arca_base64_encode(&b, enc_key, 32) == 0)
        j = json_pack("{s:s, s:s%}", "op", "key", "enc_key", (const char *)b.data, b.len);
    arca_buf_free(&b);
    return j;
}

json_t *arca_peer_join_result_req(bool ok, const char *reason)
{
    char r[ARCA_PEER_JOIN_REASON_MAX + 1];
    size_t n = 0;
    for (; reason != NULL && reason[n] != '\0' && n < ARCA_PEER_JOIN_REASON_MAX; n++)
        r[n] = reason[n] >= 0x20 && reason[n] < 0x7f ? reason[n] : '?';
    r[n] = '\0';
    return json_pack("{s:s, s:b, s:s}", "op", "result", "ok", ok, "reason", r);
}

int arca_peer_join_answer(const uint8_t enc_key[32], const uint8_t joiner[32],
                          const struct arca_store_share *sh, json_t **answer)
{
    ARCA_ENSURE(enc_key != NULL && joiner != NULL && sh != NULL && answer != NULL,
                ARCA_ERR_INVALID_ARG, "join answer: missing argument");
    *answer = NULL;
    struct arca_buf pt, box, b64;
    arca_buf_init_secret(&pt, PT_LEN);
    arca_buf_init(&box, BOX_MAX);
    arca_buf_init(&b64, 0);
    int rc = 0;
    ARCA_GUARD(rc, arca_buf_put(&pt, ARCA_PEER_JOIN_MAGIC, 8), out);
    ARCA_GUARD(rc, arca_buf_put(&pt, joiner, 32), out);
    ARCA_GUARD(rc, arca_buf_put(&pt, sh->dbkey, sizeof(sh->dbkey)), out);
    ARCA_GUARD(rc, arca_buf_put(&pt, sh->idxroot, sizeof(sh->idxroot)), out);
    ARCA_GUARD(rc, arca_buf_put_u64be(&pt, sh->commit), out);
    ARCA_GUARD(rc, arca_buf_put(&pt, sh->head, sizeof(sh->head)), out);
    ARCA_GUARD(rc, arca_box_seal(enc_key, pt.data, pt.len, &box), out);
    ARCA_GUARD(rc, arca_base64_encode(&b64, box.data, box.len), out);
    *answer = json_pack("{s:s%}", "box", (const char *)b64.data, b64.len);
    ARCA_GUARD_ENSURE(rc, *answer != NULL, out, ARCA_ERR_ALLOC, "join answer: out of memory");
out:
    arca_buf_free(&pt);
    arca_buf_free(&box);
    arca_buf_free(&b64);
    return rc;
}

int arca_peer_join_open(const json_t *answer, const struct arca_key *enc, const uint8_t me[32],
                        struct arca_store_share *out)
{
    ARCA_ENSURE(enc != NULL && me != NULL && out != NULL, ARCA_ERR_INVALID_ARG,
                "join answer: missing argument");
    memset(out, 0, sizeof(*out));
    const json_t *b = json_object_get(answer, "box");
    ARCA_ENSURE(json_is_string(b) && json_string_length(b) <= 2 * BOX_MAX, ARCA_ERR_FORMAT,
                "join answer: missing or oversized 'box'");
    struct arca_buf box, pt;
    arca_buf_init(&box, BOX_MAX);
    arca_buf_init_secret(&pt, PT_LEN);
    int rc = arca_base64_decode(&box, json_string_value(b), json_string_length(b));
    if (rc < 0) {
        rc = arca_err_wrap(ARCA_ERR_FORMAT, "join answer: 'box'");
        goto out;
    }
    rc = arca_box_open(enc, box.data, box.len, &pt);
    struct arca_cur c;
    arca_cur_init(&c, pt.data, pt.len);
    uint8_t magic[8], who[32];
    if (rc == 0 && pt.len == PT_LEN && arca_cur_get(&c, magic, 8) == 0 &&
        memcmp(magic, ARCA_PEER_JOIN_MAGIC, 8) == 0 && arca_cur_get(&c, who, 32) == 0 &&
        arca_memeq(who, me, 32) && arca_cur_get(&c, out->dbkey, sizeof(out->dbkey)) == 0 &&
        arca_cur_get(&c, out->idxroot, sizeof(out->idxroot)) == 0 &&
        arca_cur_get_u64be(&c, &out->commit) == 0 &&
        arca_cur_get(&c, out->head, sizeof(out->head)) == 0 && arca_cur_done(&c)) {
        rc = 0;
    } else {
        rc = arca_err_set(ARCA_ERR_TAMPERED,
                          "join answer: the key box does not open with this arcad's key "
                          "(altered, or made for another arcad)");
    }
out:
    arca_buf_free(&box);
    arca_buf_free(&pt);
    if (rc < 0)
        arca_wipe(out, sizeof(*out));
    return rc;
}
