/* Successor slots (slot.h). */
#include "owner/slot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/fs.h"
#include "crypto/crypto.h"

#define PURPOSE_IDENTITY "arcad-identity"
#define PURPOSE_KEYSTORE "arca-keystore"
#define PT_LEN (2 * ARCA_STORE_KEY_LEN)

int arca_slot_path(const char *data_dir, const uint8_t m[32], char *out, size_t n)
{
    ARCA_ENSURE_REF(data_dir);
    char hex[65];
    arca_hex_fmt(hex, m, 32);
    int w = snprintf(out, n, "%s/successors/%s.slot", data_dir, hex);
    ARCA_ENSURE(w > 0 && (size_t)w < n, ARCA_ERR_TOO_LARGE, "slot: data dir path too long");
    return 0;
}

int arca_seal_keys_get(const struct arca_store_sealer *sealer, struct arca_seal_keys *out)
{
    ARCA_ENSURE(sealer != NULL && sealer->get_key != NULL && out != NULL, ARCA_ERR_INVALID_ARG,
                "slot: no sealer");
    int rc = sealer->get_key(sealer->ctx, PURPOSE_IDENTITY, out->identity);
    if (rc == 0)
        rc = sealer->get_key(sealer->ctx, PURPOSE_KEYSTORE, out->keystore);
    if (rc < 0)
        arca_wipe(out, sizeof(*out));
    return rc;
}

static int keys_get_key(void *ctx, const char *purpose, uint8_t key[ARCA_STORE_KEY_LEN])
{
    const struct arca_seal_keys *k = ctx;
    if (purpose != NULL && strcmp(purpose, PURPOSE_IDENTITY) == 0)
        memcpy(key, k->identity, ARCA_STORE_KEY_LEN);
    else if (purpose != NULL && strcmp(purpose, PURPOSE_KEYSTORE) == 0)
        memcpy(key, k->keystore, ARCA_STORE_KEY_LEN);
    else
        return arca_err_set(ARCA_ERR_UNSUPPORTED, "slot: no inherited key for purpose '%s'",
                            purpose != NULL ? purpose : "");
    return 0;
}

void arca_seal_keys_sealer(const struct arca_seal_keys *keys, struct arca_store_sealer *out)
{
    out->get_key = keys_get_key;
    out->ctx = (void *)keys;
}

static void build_aad(const uint8_t m[32], uint8_t aad[40])
{
    memcpy(aad, ARCA_SLOT_MAGIC, 8);
    memcpy(aad + 8, m, 32);
}

int arca_slot_write(const char *data_dir, const uint8_t m[32], arca_slot_key_fn key_fn,
                    void *key_ctx, const struct arca_seal_keys *keys)
{
    ARCA_ENSURE(data_dir != NULL && m != NULL && key_fn != NULL && keys != NULL,
                ARCA_ERR_INVALID_ARG, "slot: missing argument");
    char path[4200], dir[4200];
    ARCA_TRY(arca_slot_path(data_dir, m, path, sizeof(path)));
    snprintf(dir, sizeof(dir), "%s/successors", data_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return arca_err_set(ARCA_ERR_IO, "slot: %s: %s", dir, strerror(errno));
    uint8_t k[ARCA_STORE_KEY_LEN], pt[PT_LEN], aad[40], file[ARCA_SLOT_FILE_LEN];
    struct arca_buf ct;
    arca_buf_init(&ct, ARCA_SLOT_FILE_LEN);
    int rc;
    memcpy(pt, keys->identity, ARCA_STORE_KEY_LEN);
    memcpy(pt + ARCA_STORE_KEY_LEN, keys->keystore, ARCA_STORE_KEY_LEN);
    build_aad(m, aad);
    memcpy(file, ARCA_SLOT_MAGIC, 8);
    ARCA_GUARD(rc, key_fn(key_ctx, m, k), out);
    ARCA_GUARD(rc, arca_random(file + 8, ARCA_AEAD_NONCE_LEN), out);
    ARCA_GUARD(rc, arca_aead_seal(k, file + 8, aad, sizeof(aad), pt, sizeof(pt), &ct), out);
    ARCA_GUARD_ENSURE(rc, ct.len == ARCA_SLOT_FILE_LEN - 20, out, ARCA_ERR_INTERNAL,
                      "slot: sealed %zu bytes", ct.len);
    memcpy(file + 20, ct.data, ct.len);
    rc = arca_file_write(path, file, sizeof(file), 0600, 0);
    if (rc < 0)
        rc = arca_err_wrap(rc, "slot %s", path);
out:
    arca_wipe(k, sizeof(k));
    arca_wipe(pt, sizeof(pt));
    arca_buf_free(&ct);
    return rc;
}

int arca_slot_read(const char *data_dir, const uint8_t m[32], arca_slot_key_fn key_fn,
                   void *key_ctx, struct arca_seal_keys *out)
{
    ARCA_ENSURE(data_dir != NULL && m != NULL && key_fn != NULL && out != NULL,
                ARCA_ERR_INVALID_ARG, "slot: missing argument");
    memset(out, 0, sizeof(*out));
    char path[4200];
    ARCA_TRY(arca_slot_path(data_dir, m, path, sizeof(path)));
    struct arca_buf file, pt;
    arca_buf_init(&file, ARCA_SLOT_FILE_LEN + 1);
    arca_buf_init_secret(&pt, PT_LEN);
    uint8_t k[ARCA_STORE_KEY_LEN], aad[40];
    int rc = arca_file_read(path, ARCA_SLOT_FILE_LEN + 1, &file);
    if (rc < 0) {
        rc = rc == ARCA_ERR_NOT_FOUND ? ARCA_ERR_NOT_FOUND : arca_err_wrap(rc, "slot %s", path);
        goto out;
    }
    ARCA_GUARD_ENSURE(
        rc, file.len == ARCA_SLOT_FILE_LEN && memcmp(file.data, ARCA_SLOT_MAGIC, 8) == 0, out,
        ARCA_ERR_TAMPERED, "successor slot %s: not a slot file (%zu bytes)", path, file.len);
    build_aad(m, aad);
    ARCA_GUARD(rc, key_fn(key_ctx, m, k), out);
    rc = arca_aead_open(k, file.data + 8, aad, sizeof(aad), file.data + 20, ARCA_SLOT_FILE_LEN - 20,
                        &pt);
    if (rc < 0 || pt.len != PT_LEN) {
        rc = arca_err_set(ARCA_ERR_TAMPERED,
                          "successor slot %s does not verify (modified, or made for another "
                          "platform)",
                          path);
        goto out;
    }
    memcpy(out->identity, pt.data, ARCA_STORE_KEY_LEN);
    memcpy(out->keystore, pt.data + ARCA_STORE_KEY_LEN, ARCA_STORE_KEY_LEN);
out:
    arca_wipe(k, sizeof(k));
    arca_buf_free(&file);
    arca_buf_free(&pt);
    if (rc < 0)
        arca_wipe(out, sizeof(*out));
    return rc;
}
