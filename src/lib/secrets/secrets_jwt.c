/*
 * `kind: jwt` secrets (session language 0.3.12): a JSON Web Token (RFC 7519) in JWS compact
 * form, signed by a private-key secret. The header is {"alg":ALG,"typ":"JWT"}; the claims are
 * the definition's string claims in written order, then iat and nbf (the time the token is
 * made) and exp. The value holds the token text; `$$SCONE::name$$` gives it.
 */
#include <jansson.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "crypto/jws.h"
#include "secrets/secrets_internal.h"

/* Sets key of o to a new string j (taking it); false if j is NULL or the set fails. */
static bool set_new(json_t *o, const char *key, json_t *j)
{
    return j != NULL && json_object_set_new(o, key, j) == 0;
}

/* The claims as compact JSON text (malloc'ed; free with free()). */
static int claims_json(const struct arca_secret_spec *sp, int64_t now, int64_t exp, char **out)
{
    json_t *o = json_object();
    if (o == NULL)
        ARCA_BAIL(ARCA_ERR_ALLOC, "secret '%s': out of memory", sp->name);
    int rc = 0;
    for (size_t i = 0; i + 1 < sp->claims_count; i += 2) {
        const char *v = sp->claims[i + 1];
        if (!set_new(o, sp->claims[i], json_stringn(v, strlen(v)))) {
            rc = arca_err_set(ARCA_ERR_FORMAT, "secret '%s': claim '%.60s' is not UTF-8 text",
                              sp->name, sp->claims[i]);
            goto done;
        }
    }
    if (!set_new(o, "iat", json_integer(now)) || !set_new(o, "nbf", json_integer(now)) ||
        !set_new(o, "exp", json_integer(exp))) {
        rc = arca_err_set(ARCA_ERR_ALLOC, "secret '%s': out of memory", sp->name);
        goto done;
    }
    *out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (*out == NULL)
        rc = arca_err_set(ARCA_ERR_ALLOC, "secret '%s': out of memory", sp->name);
done:
    json_decref(o);
    return rc;
}

int arca_secret_jwt_make(const struct arca_secret_spec *sp, const struct arca_key *signer,
                         int64_t now, struct arca_secret_value **out)
{
    ARCA_ENSURE_REF(sp);
    ARCA_ENSURE_REF(signer);
    ARCA_ENSURE_REF(out);
    const char *alg = sp->jwt_alg ? sp->jwt_alg : arca_jws_alg_for_key(arca_key_type(signer));
    if (alg == NULL)
        ARCA_BAIL(ARCA_ERR_UNSUPPORTED,
                  "secret '%s': signer '%s' has a %s key, which no JWS "
                  "algorithm uses",
                  sp->name, sp->signer ? sp->signer : "?",
                  arca_key_type_name(arca_key_type(signer)));
    ARCA_ENSURE(sp->jwt_valid_for >= 0, ARCA_ERR_INVALID_ARG, "secret '%s': validity is negative",
                sp->name);
    int64_t exp = sp->jwt_until != 0       ? sp->jwt_until
                  : sp->jwt_valid_for != 0 ? now + sp->jwt_valid_for
                                           : now + ARCA_SECRET_JWT_DEFAULT_VALID_FOR;
    if (exp <= now)
        ARCA_BAIL(ARCA_ERR_INVALID_ARG, "secret '%s': validity until is already past", sp->name);
    char header[64];
    int hlen = snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    char *claims = NULL;
    ARCA_TRY(claims_json(sp, now, exp, &claims));
    struct arca_buf tok;
    arca_buf_init_secret(&tok, 0);
    int rc = arca_jws_sign(signer, alg, header, (size_t)hlen, claims, strlen(claims), &tok);
    free(claims);
    if (rc < 0) {
        arca_buf_free(&tok);
        return arca_err_wrap(rc, "secret '%s': cannot sign the token", sp->name);
    }
    rc = arca_secret_value_new_bytes(ARCA_SECRET_JWT, tok.data, tok.len, ARCA_SECRET_FLAG_GENERATED,
                                     out);
    arca_buf_free(&tok);
    return rc;
}

bool arca_secret_jwt_due(const struct arca_secret_value *v, int64_t now)
{
    if (v == NULL || v->kind != ARCA_SECRET_JWT || v->bytes == NULL)
        return false;
    const char *t = (const char *)v->bytes, *dot1 = memchr(t, '.', v->len);
    if (dot1 == NULL)
        return false;
    const char *p = dot1 + 1, *dot2 = memchr(p, '.', v->len - (size_t)(p - t));
    if (dot2 == NULL)
        return false;
    struct arca_buf claims;
    arca_buf_init(&claims, 1u << 20);
    bool due = false;
    if (arca_base64url_decode(&claims, p, (size_t)(dot2 - p)) == 0) {
        json_t *o = json_loadb((const char *)claims.data, claims.len, JSON_REJECT_DUPLICATES, NULL);
        json_int_t iat = json_integer_value(json_object_get(o, "iat"));
        json_int_t exp = json_integer_value(json_object_get(o, "exp"));
        if (o != NULL && exp > iat)
            due = now >= iat + (exp - iat) / 3 * 2;
        json_decref(o);
    }
    arca_buf_free(&claims);
    return due;
}
