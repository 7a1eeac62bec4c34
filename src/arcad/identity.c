/*
 * arcad's identity (DESIGN §3): one P-256 key pair (the CAS key; its SPKI hash is what
 * clients pin), a self-signed CAS CA certificate for it, and the TLS server certificate the CA
 * issues for the same key. Created on first start in DATA_DIR/identity/:
 *   key.sealed  nonce(12) || AES-256-GCM(sealing key "arcad-identity", PKCS#8 DER), 0600
 *   ca.pem      the CAS CA certificate
 *   cert.pem    the server certificate
 * The sealing key comes from the caller's sealer (simulation: platform secret + arcad's
 * measurement), so a copied data directory is useless on another host or with another binary.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arcad_internal.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/time.h"
#include "store/store.h"

#define IDENTITY_AAD "arcad-identity-v1"

/* dir + "/" + name into out[n]; ARCA_ERR_TOO_LARGE rather than a silently cut path. */
static int path_join(char *out, size_t n, const char *dir, const char *name)
{
    int w = snprintf(out, n, "%s/%s", dir, name);
    ARCA_ENSURE(w >= 0 && (size_t)w < n, ARCA_ERR_TOO_LARGE, "path %s/%s is too long", dir, name);
    return 0;
}
#define IDENTITY_FILE_MAX (64 * 1024)

/* Atomic and durable (base/fs.h), so a crash never leaves half a key. */
static int write_file(const char *dir, const char *name, const void *p, size_t n, mode_t mode)
{
    char path[4096];
    ARCA_TRY(path_join(path, sizeof(path), dir, name));
    return arca_file_write(path, p, n, mode, 0);
}

static int identity_fill_ids(struct arcad_identity *id)
{
    ARCA_TRY(arca_key_id(id->key, id->key_id));
    arca_hex_fmt(id->key_hex, id->key_id, sizeof(id->key_id));
    struct arca_buf b;
    arca_buf_init(&b, 128);
    int rc = arca_base58check_encode(&b, ARCA_KEYHASH_B58_VERSION, id->key_id, sizeof(id->key_id));
    if (rc == 0 && b.len < sizeof(id->key_b58))
        memcpy(id->key_b58, arca_buf_cstr(&b), b.len + 1);
    arca_buf_free(&b);
    return rc;
}

static int identity_create(const char *dir, const uint8_t seal_key[32], struct arcad_identity *id)
{
    int rc = 0;
    struct arca_buf der, sealed, pem;
    arca_buf_init_secret(&der, IDENTITY_FILE_MAX);
    arca_buf_init(&sealed, IDENTITY_FILE_MAX);
    arca_buf_init(&pem, IDENTITY_FILE_MAX);
    ARCA_GUARD(rc, arca_key_generate(ARCA_KEY_P256, &id->key), out);
    int64_t now = arca_time_now();
    struct arca_x509_params ca = {.common_name = "arca CAS CA",
                                  .organization = "arca",
                                  .is_ca = true,
                                  .path_len = 0,
                                  .not_before = now - 3600,
                                  .not_after = now + 20LL * 365 * 86400};
    ARCA_GUARD(rc, arca_x509_build(&ca, id->key, NULL, NULL, &id->ca), out);
    static const char *const san[] = {"dns:localhost", "dns:arcad", "ip:127.0.0.1", "ip:::1"};
    struct arca_x509_params leaf = {.common_name = "arcad",
                                    .organization = "arca",
                                    .path_len = -1,
                                    .san = san,
                                    .san_count = 4,
                                    .eku = ARCA_EKU_SERVER,
                                    .not_before = now - 3600,
                                    .not_after = now + 20LL * 365 * 86400};
    ARCA_GUARD(rc, arca_x509_build(&leaf, id->key, id->ca, id->key, &id->cert), out);

    uint8_t nonce[ARCA_AEAD_NONCE_LEN];
    ARCA_GUARD(rc, arca_random(nonce, sizeof(nonce)), out);
    ARCA_GUARD(rc, arca_key_private_der(id->key, &der), out);
    ARCA_GUARD(rc, arca_buf_put(&sealed, nonce, sizeof(nonce)), out);
    ARCA_GUARD(rc,
               arca_aead_seal(seal_key, nonce, IDENTITY_AAD, strlen(IDENTITY_AAD), der.data,
                              der.len, &sealed),
               out);
    ARCA_GUARD(rc, write_file(dir, "key.sealed", sealed.data, sealed.len, 0600), out);
    ARCA_GUARD(rc, arca_x509_to_pem(id->ca, &pem), out);
    ARCA_GUARD(rc, write_file(dir, "ca.pem", pem.data, pem.len, 0644), out);
    arca_buf_reset(&pem);
    ARCA_GUARD(rc, arca_x509_to_pem(id->cert, &pem), out);
    ARCA_GUARD(rc, write_file(dir, "cert.pem", pem.data, pem.len, 0644), out);
out:
    arca_buf_free(&der);
    arca_buf_free(&sealed);
    arca_buf_free(&pem);
    return rc;
}

static int identity_load(const char *dir, const uint8_t seal_key[32], struct arcad_identity *id)
{
    int rc = 0;
    char path[4096];
    struct arca_buf sealed, der, pem;
    arca_buf_init(&sealed, IDENTITY_FILE_MAX);
    arca_buf_init_secret(&der, IDENTITY_FILE_MAX);
    arca_buf_init(&pem, IDENTITY_FILE_MAX);
    ARCA_GUARD(rc, path_join(path, sizeof(path), dir, "key.sealed"), out);
    ARCA_GUARD(rc, arca_file_read(path, 0, &sealed), out);
    ARCA_GUARD_ENSURE(rc, sealed.len > ARCA_AEAD_NONCE_LEN + ARCA_AEAD_TAG_LEN, out,
                      ARCA_ERR_TAMPERED, "%s: too short to be a sealed key", path);
    rc = arca_aead_open(seal_key, sealed.data, IDENTITY_AAD, strlen(IDENTITY_AAD),
                        sealed.data + ARCA_AEAD_NONCE_LEN, sealed.len - ARCA_AEAD_NONCE_LEN, &der);
    if (rc < 0) {
        rc = arca_err_set(ARCA_ERR_TAMPERED,
                          "%s: cannot unseal (modified, or sealed on another platform or by "
                          "another arcad binary)",
                          path);
        goto out;
    }
    ARCA_GUARD(rc, arca_key_from_der(der.data, der.len, &id->key), out);
    ARCA_GUARD(rc, path_join(path, sizeof(path), dir, "ca.pem"), out);
    ARCA_GUARD(rc, arca_file_read(path, 0, &pem), out);
    ARCA_GUARD(rc, arca_x509_from_pem(pem.data, pem.len, &id->ca), out);
    arca_buf_reset(&pem);
    ARCA_GUARD(rc, path_join(path, sizeof(path), dir, "cert.pem"), out);
    ARCA_GUARD(rc, arca_file_read(path, 0, &pem), out);
    ARCA_GUARD(rc, arca_x509_from_pem(pem.data, pem.len, &id->cert), out);
    uint8_t kid[ARCA_SHA256_LEN], cid[ARCA_SHA256_LEN];
    ARCA_GUARD(rc, arca_key_id(id->key, kid), out);
    ARCA_GUARD(rc, arca_x509_key_id(id->cert, cid), out);
    ARCA_GUARD_ENSURE(rc, arca_memeq(kid, cid, sizeof(kid)), out, ARCA_ERR_TAMPERED,
                      "%s: certificate is not for arcad's key", path);
out:
    arca_buf_free(&sealed);
    arca_buf_free(&der);
    arca_buf_free(&pem);
    return rc;
}

int arcad_identity_load_or_create(const char *data_dir, const struct arca_store_sealer *sealer,
                                  struct arcad_identity *id, bool *created)
{
    ARCA_ENSURE_REF(data_dir);
    ARCA_ENSURE_REF(sealer);
    ARCA_ENSURE_REF(id);
    memset(id, 0, sizeof(*id));
    char dir[4096];
    ARCA_TRY(path_join(dir, sizeof(dir), data_dir, "identity"));
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        ARCA_BAIL(ARCA_ERR_IO, "%s: %s", dir, strerror(errno));
    uint8_t seal_key[32];
    ARCA_TRY(sealer->get_key(sealer->ctx, "arcad-identity", seal_key));
    char probe[4200];
    ARCA_TRY(path_join(probe, sizeof(probe), dir, "key.sealed"));
    bool exists = access(probe, F_OK) == 0;
    int rc = exists ? identity_load(dir, seal_key, id) : identity_create(dir, seal_key, id);
    arca_wipe(seal_key, sizeof(seal_key));
    if (rc == 0)
        rc = identity_fill_ids(id);
    if (rc < 0) {
        arcad_identity_free(id);
        return rc;
    }
    if (created != NULL)
        *created = !exists;
    return 0;
}

void arcad_identity_free(struct arcad_identity *id)
{
    if (id == NULL)
        return;
    arca_key_free(id->key);
    arca_x509_free(id->ca);
    arca_x509_free(id->cert);
    memset(id, 0, sizeof(*id));
}
