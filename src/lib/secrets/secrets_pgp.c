/*
 * `kind: pgp-key` secrets: an OpenPGP key made by crypto/pgp.h (Ed25519 primary key with the
 * secret's name as its user id, Curve25519 encryption subkey). The value's bytes are
 *   secret_len:u32 || binary secret key || binary public key
 * so that both parts survive the sealed store and exports as one blob; the placeholder formats
 * `privatekey:` / `publickey:` `asciiarmored|binary|base64` cut it apart.
 */
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "crypto/pgp.h"
#include "secrets/secrets_internal.h"

int arca_secret_pgp_make(const struct arca_secret_spec *sp, int64_t now,
                         struct arca_secret_value **out)
{
    ARCA_ENSURE_REF(sp);
    ARCA_ENSURE_REF(out);
    struct arca_buf blob, pub;
    arca_buf_init_secret(&blob, ARCA_SECRET_SIZE_MAX);
    arca_buf_init(&pub, ARCA_SECRET_SIZE_MAX);
    int rc = arca_buf_put_u32be(&blob, 0);
    if (rc == 0)
        rc = arca_pgp_key_generate(sp->name, strlen(sp->name), now, &blob, &pub, NULL);
    if (rc == 0) {
        uint32_t n = (uint32_t)(blob.len - 4);
        blob.data[0] = (uint8_t)(n >> 24);
        blob.data[1] = (uint8_t)(n >> 16);
        blob.data[2] = (uint8_t)(n >> 8);
        blob.data[3] = (uint8_t)n;
        rc = arca_buf_put(&blob, pub.data, pub.len);
    }
    if (rc == 0)
        rc = arca_secret_value_new_bytes(ARCA_SECRET_PGP_KEY, blob.data, blob.len,
                                         ARCA_SECRET_FLAG_GENERATED, out);
    arca_buf_free(&blob);
    arca_buf_free(&pub);
    return rc < 0 ? arca_err_wrap(rc, "secret '%s': cannot make the OpenPGP key", sp->name) : 0;
}

int arca_secret_pgp_render(const struct arca_secret_value *v, const char *f, struct arca_buf *tmp)
{
    struct arca_cur c;
    uint32_t sn = 0;
    const uint8_t *sec = NULL;
    arca_cur_init(&c, v->bytes, v->len);
    if (arca_cur_get_u32be(&c, &sn) < 0 || arca_cur_get_ptr(&c, &sec, sn) < 0 || arca_cur_done(&c))
        ARCA_BAIL(ARCA_ERR_FORMAT, "pgp-key value is not a secret and a public key");
    const uint8_t *pub = sec + sn;
    size_t pn = v->len - 4 - sn;
    bool priv = strncmp(f, "privatekey:", 11) == 0;
    const char *form = f + (priv ? 11 : strncmp(f, "publickey:", 10) == 0 ? 10 : 0);
    const uint8_t *p = priv ? sec : pub;
    size_t n = priv ? sn : pn;
    if (form == f)
        ARCA_BAIL(ARCA_ERR_FORMAT, "format \"%.32s\" does not apply to a pgp-key secret", f);
    if (strcmp(form, "asciiarmored") == 0)
        return arca_pgp_armor(p, n, priv, tmp);
    if (strcmp(form, "binary") == 0)
        return arca_buf_put(tmp, p, n);
    if (strcmp(form, "base64") == 0)
        return arca_base64_encode(tmp, p, n);
    ARCA_BAIL(ARCA_ERR_FORMAT, "format \"%.32s\" does not apply to a pgp-key secret", f);
}
