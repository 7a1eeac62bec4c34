/* Backup slots: the data directory's keys boxed to another machine's arcad (backup.h). */
#include "owner/backup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/fs.h"

#define PT_LEN (8 + 32 + 2 * ARCA_STORE_KEY_LEN)
#define BOX_MAX 512

int arca_backup_slot_path(const char *data_dir, const uint8_t k[32], char *out, size_t n)
{
    char hex[65];
    arca_hex_fmt(hex, k, 32);
    int w = snprintf(out, n, "%s/" ARCA_BACKUP_DIR "/%s.slot", data_dir, hex);
    ARCA_ENSURE(w > 0 && (size_t)w < n, ARCA_ERR_TOO_LARGE, "backup slot: path too long");
    return 0;
}

int arca_backup_slot_write(const char *data_dir, const struct arca_backup_target *t,
                           const struct arca_seal_keys *keys)
{
    ARCA_ENSURE(data_dir != NULL && t != NULL && keys != NULL, ARCA_ERR_INVALID_ARG,
                "backup slot: missing argument");
    char path[4200], dir[4200];
    ARCA_TRY(arca_backup_slot_path(data_dir, t->cas_key, path, sizeof(path)));
    snprintf(dir, sizeof(dir), "%s/" ARCA_BACKUP_DIR, data_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return arca_err_set(ARCA_ERR_IO, "backup slot: %s: %s", dir, strerror(errno));
    uint8_t pt[PT_LEN];
    memcpy(pt, ARCA_BACKUP_MAGIC, 8);
    memcpy(pt + 8, t->cas_key, 32);
    memcpy(pt + 40, keys->identity, ARCA_STORE_KEY_LEN);
    memcpy(pt + 40 + ARCA_STORE_KEY_LEN, keys->keystore, ARCA_STORE_KEY_LEN);
    struct arca_buf box;
    arca_buf_init(&box, BOX_MAX);
    int rc = arca_box_seal(t->enc_key, pt, sizeof(pt), &box);
    arca_wipe(pt, sizeof(pt));
    if (rc == 0)
        rc = arca_file_write(path, box.data, box.len, 0600, 0);
    arca_buf_free(&box);
    return rc < 0 ? arca_err_wrap(rc, "backup slot %s", path) : 0;
}

int arca_backup_slot_remove(const char *data_dir, const uint8_t k[32])
{
    ARCA_ENSURE(data_dir != NULL && k != NULL, ARCA_ERR_INVALID_ARG,
                "backup slot: missing argument");
    char path[4200];
    ARCA_TRY(arca_backup_slot_path(data_dir, k, path, sizeof(path)));
    if (unlink(path) != 0 && errno != ENOENT)
        return arca_err_set(ARCA_ERR_IO, "backup slot %s: %s", path, strerror(errno));
    return 0;
}

int arca_backup_slot_read(const char *data_dir, const uint8_t k[32], const struct arca_key *enc,
                          struct arca_seal_keys *out)
{
    ARCA_ENSURE(data_dir != NULL && k != NULL && enc != NULL && out != NULL, ARCA_ERR_INVALID_ARG,
                "backup slot: missing argument");
    memset(out, 0, sizeof(*out));
    char path[4200];
    ARCA_TRY(arca_backup_slot_path(data_dir, k, path, sizeof(path)));
    struct arca_buf file, pt;
    arca_buf_init(&file, BOX_MAX);
    arca_buf_init_secret(&pt, PT_LEN);
    int rc = arca_file_read(path, BOX_MAX, &file);
    if (rc < 0) {
        rc = rc == ARCA_ERR_NOT_FOUND ? ARCA_ERR_NOT_FOUND
                                      : arca_err_wrap(rc, "backup slot %s", path);
        goto out;
    }
    rc = arca_box_open(enc, file.data, file.len, &pt);
    /* The key id inside the box stops a slot made for another key from being renamed to ours. */
    if (rc < 0 || pt.len != PT_LEN || memcmp(pt.data, ARCA_BACKUP_MAGIC, 8) != 0 ||
        !arca_memeq(pt.data + 8, k, 32)) {
        rc = arca_err_set(ARCA_ERR_TAMPERED,
                          "backup slot %s does not open with this arcad's key (modified, or "
                          "made for another arcad)",
                          path);
        goto out;
    }
    memcpy(out->identity, pt.data + 40, ARCA_STORE_KEY_LEN);
    memcpy(out->keystore, pt.data + 40 + ARCA_STORE_KEY_LEN, ARCA_STORE_KEY_LEN);
out:
    arca_buf_free(&file);
    arca_buf_free(&pt);
    if (rc < 0)
        arca_wipe(out, sizeof(*out));
    return rc;
}
