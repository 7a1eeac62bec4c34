/*
 * The volume manifest: encoding, the untrusted-input parser, and its authentication (the root
 * tag). The encoding is canonical, so parse followed by encode gives back the same bytes
 * (the fuzz target checks this).
 */
#include "volume/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"

#define HEADER_LEN (8 + 4 + 4 + 4 + ARCA_VOLUME_ID_LEN + ARCA_VOLUME_CHECK_LEN + 12 + 4)
/* The smallest entry: a directory with a one-byte name. */
#define ENTRY_MIN (1 + 2 + 2 + 1)
#define FILE_EXTRA (8 + ARCA_VOLUME_SALT_LEN + ARCA_VOLUME_FILE_TAG_LEN)

int arca_volume_manifest_new(uint32_t chunk_size, uint32_t root_mode,
                             struct arca_volume_manifest **out)
{
    ARCA_ENSURE_REF(out);
    struct arca_volume_manifest *m = calloc(1, sizeof(*m));
    ARCA_ENSURE(m != NULL, ARCA_ERR_ALLOC, "volume manifest: out of memory");
    m->format = ARCA_VOLUME_FORMAT;
    m->chunk_size = chunk_size;
    m->root_mode = root_mode & 0777;
    *out = m;
    return 0;
}

void arca_volume_manifest_free(struct arca_volume_manifest *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->count; i++)
        free(m->entries[i].path);
    free(m->entries);
    free(m);
}

int arca_volume_manifest_add(struct arca_volume_manifest *m, enum arca_volume_type type,
                             uint32_t mode, const char *path, size_t plen, uint64_t size)
{
    ARCA_ENSURE_REF(m);
    ARCA_ENSURE_REF(path);
    ARCA_ENSURE(m->count < ARCA_VOLUME_ENTRIES_MAX, ARCA_ERR_TOO_LARGE,
                "volume: more than %d files and directories", ARCA_VOLUME_ENTRIES_MAX);
    if (m->count == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        struct arca_volume_entry *n = realloc(m->entries, ncap * sizeof(*n));
        ARCA_ENSURE(n != NULL, ARCA_ERR_ALLOC, "volume manifest: out of memory");
        m->entries = n;
        m->cap = ncap;
    }
    char *p = malloc(plen + 1);
    ARCA_ENSURE(p != NULL, ARCA_ERR_ALLOC, "volume manifest: out of memory");
    memcpy(p, path, plen);
    p[plen] = '\0';
    struct arca_volume_entry *e = &m->entries[m->count++];
    memset(e, 0, sizeof(*e));
    e->type = type;
    e->mode = mode & 0777;
    e->path = p;
    e->path_len = plen;
    e->size = size;
    return 0;
}

int arca_volume_path_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int entry_cmp(const void *x, const void *y)
{
    const struct arca_volume_entry *a = x, *b = y;
    return arca_volume_path_cmp(a->path, a->path_len, b->path, b->path_len);
}

void arca_volume_manifest_sort(struct arca_volume_manifest *m)
{
    if (m->count > 1)
        qsort(m->entries, m->count, sizeof(m->entries[0]), entry_cmp);
}

/* Binary search over the first n entries. */
static const struct arca_volume_entry *find_in(const struct arca_volume_entry *v, size_t n,
                                               const char *path, size_t plen)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = arca_volume_path_cmp(v[mid].path, v[mid].path_len, path, plen);
        if (c == 0)
            return &v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const struct arca_volume_entry *arca_volume_manifest_find(const struct arca_volume_manifest *m,
                                                          const char *path, size_t plen)
{
    return find_in(m->entries, m->count, path, plen);
}

int arca_volume_name_check(const char *name, size_t len)
{
    ARCA_ENSURE(len > 0, ARCA_ERR_FORMAT, "empty path component");
    ARCA_ENSURE(!(len == 1 && name[0] == '.') && !(len == 2 && name[0] == '.' && name[1] == '.'),
                ARCA_ERR_FORMAT, "'.' or '..' component");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        /* Control characters would let a name forge lines in listings and errors. */
        ARCA_ENSURE(c >= 0x20 && c != 0x7f && c != '/', ARCA_ERR_FORMAT,
                    "byte 0x%02x at %zu of a name (control characters, NUL and '/' are not "
                    "allowed)",
                    c, i);
    }
    return 0;
}

/* Checks a whole relative path: components valid, not the reserved manifest name, and its
 * parent (if any) among the earlier entries as a directory. */
static int path_check(const struct arca_volume_entry *earlier, size_t n, const char *p, size_t len)
{
    ARCA_ENSURE(len > 0 && len <= ARCA_VOLUME_PATH_MAX, ARCA_ERR_FORMAT,
                "path length %zu outside 1..%d", len, ARCA_VOLUME_PATH_MAX);
    size_t start = 0, last_slash = 0;
    bool nested = false;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && p[i] != '/')
            continue;
        ARCA_TRY(arca_volume_name_check(p + start, i - start));
        if (i < len) {
            last_slash = i;
            nested = true;
        }
        start = i + 1;
    }
    size_t mlen = strlen(ARCA_VOLUME_MANIFEST_NAME);
    ARCA_ENSURE(nested || len != mlen || memcmp(p, ARCA_VOLUME_MANIFEST_NAME, mlen) != 0,
                ARCA_ERR_FORMAT, "'%s' at the top is reserved for the manifest",
                ARCA_VOLUME_MANIFEST_NAME);
    if (nested) {
        const struct arca_volume_entry *parent = find_in(earlier, n, p, last_slash);
        ARCA_ENSURE(parent != NULL && parent->type == ARCA_VOLUME_DIR, ARCA_ERR_FORMAT,
                    "parent directory '%.*s' is not listed before it", (int)last_slash, p);
    }
    return 0;
}

uint64_t arca_volume_ciphertext_size(uint64_t size, uint32_t chunk_size)
{
    uint64_t chunks = size == 0 ? 1 : (size + chunk_size - 1) / chunk_size;
    return size + chunks * ARCA_VOLUME_CHUNK_TAG_LEN;
}

static int chunk_size_ok(uint32_t c)
{
    return c >= ARCA_VOLUME_CHUNK_MIN && c <= ARCA_VOLUME_CHUNK_MAX && (c & (c - 1)) == 0;
}

/* ---- encoding ------------------------------------------------------------------------------ */

static int encode_body(const struct arca_volume_manifest *m, struct arca_buf *out)
{
    ARCA_ENSURE(m->count <= UINT32_MAX, ARCA_ERR_TOO_LARGE, "volume manifest: too many entries");
    ARCA_TRY(arca_buf_put(out, ARCA_VOLUME_MAGIC, 8));
    ARCA_TRY(arca_buf_put_u32be(out, m->format));
    ARCA_TRY(arca_buf_put_u32be(out, m->chunk_size));
    ARCA_TRY(arca_buf_put_u32be(out, m->root_mode));
    ARCA_TRY(arca_buf_put(out, m->volume_id, sizeof(m->volume_id)));
    ARCA_TRY(arca_buf_put(out, m->key_check, sizeof(m->key_check)));
    ARCA_TRY(arca_buf_put(out, m->nonce, sizeof(m->nonce)));
    ARCA_TRY(arca_buf_put_u32be(out, (uint32_t)m->count));
    for (size_t i = 0; i < m->count; i++) {
        const struct arca_volume_entry *e = &m->entries[i];
        ARCA_ENSURE(e->path_len <= ARCA_VOLUME_PATH_MAX, ARCA_ERR_TOO_LARGE,
                    "volume manifest: path of %zu bytes", e->path_len);
        ARCA_TRY(arca_buf_put_u8(out, (uint8_t)e->type));
        ARCA_TRY(arca_buf_put_u16be(out, (uint16_t)e->mode));
        ARCA_TRY(arca_buf_put_u16be(out, (uint16_t)e->path_len));
        ARCA_TRY(arca_buf_put(out, e->path, e->path_len));
        if (e->type == ARCA_VOLUME_FILE) {
            ARCA_TRY(arca_buf_put_u64be(out, e->size));
            ARCA_TRY(arca_buf_put(out, e->salt, sizeof(e->salt)));
            ARCA_TRY(arca_buf_put(out, e->file_tag, sizeof(e->file_tag)));
        }
    }
    return 0;
}

int arca_volume_manifest_encode(const struct arca_volume_manifest *m, struct arca_buf *out)
{
    ARCA_ENSURE_REF(m);
    ARCA_ENSURE_REF(out);
    size_t old = out->len;
    int rc = encode_body(m, out);
    if (rc == 0)
        rc = arca_buf_put(out, m->root_tag, sizeof(m->root_tag));
    if (rc < 0)
        out->len = old;
    return rc;
}

/* ---- parsing ------------------------------------------------------------------------------- */

/* Every read names its field and offset, so a corrupt manifest says where it breaks. */
static int get(struct arca_cur *c, void *out, size_t n, const char *field, size_t entry)
{
    if (arca_cur_get(c, out, n) == 0)
        return 0;
    if (entry == SIZE_MAX)
        return arca_err_set(ARCA_ERR_TRUNCATED,
                            "volume manifest: %s at offset %zu: needs %zu bytes, %zu left", field,
                            c->off, n, arca_cur_left(c));
    return arca_err_set(ARCA_ERR_TRUNCATED,
                        "volume manifest: entry %zu %s at offset %zu: needs %zu bytes, %zu left",
                        entry, field, c->off, n, arca_cur_left(c));
}

static uint32_t be32(const uint8_t b[4])
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int parse_entry(struct arca_cur *c, struct arca_volume_manifest *m, size_t i)
{
    size_t at = c->off;
    uint8_t h[5];
    ARCA_TRY(get(c, h, sizeof(h), "type, mode and path length", i));
    uint8_t type = h[0];
    uint32_t mode = (uint32_t)h[1] << 8 | h[2];
    size_t plen = (size_t)h[3] << 8 | h[4];
    ARCA_ENSURE(type == ARCA_VOLUME_DIR || type == ARCA_VOLUME_FILE, ARCA_ERR_FORMAT,
                "volume manifest: entry %zu at offset %zu: unknown type %u", i, at, type);
    ARCA_ENSURE(mode <= 0777, ARCA_ERR_FORMAT,
                "volume manifest: entry %zu mode at offset %zu: 0%o has bits beyond 0777", i,
                at + 1, mode);
    const uint8_t *pp = NULL;
    if (arca_cur_get_ptr(c, &pp, plen) < 0)
        return arca_err_set(ARCA_ERR_TRUNCATED,
                            "volume manifest: entry %zu path at offset %zu: needs %zu bytes, %zu "
                            "left",
                            i, c->off, plen, arca_cur_left(c));
    const char *path = (const char *)pp;
    int rc = path_check(m->entries, m->count, path, plen);
    if (rc < 0)
        return arca_err_wrap(rc, "volume manifest: entry %zu path at offset %zu", i, at + 5);
    if (m->count > 0) {
        const struct arca_volume_entry *prev = &m->entries[m->count - 1];
        ARCA_ENSURE(arca_volume_path_cmp(prev->path, prev->path_len, path, plen) < 0,
                    ARCA_ERR_FORMAT,
                    "volume manifest: entry %zu at offset %zu: '%.*s' is not after '%s' "
                    "(entries must be sorted and unique)",
                    i, at, (int)plen, path, prev->path);
    }
    uint64_t size = 0;
    uint8_t salt[ARCA_VOLUME_SALT_LEN] = {0}, ftag[ARCA_VOLUME_FILE_TAG_LEN] = {0};
    if (type == ARCA_VOLUME_FILE) {
        size_t soff = c->off;
        uint8_t sb[8];
        ARCA_TRY(get(c, sb, sizeof(sb), "size", i));
        size = (uint64_t)be32(sb) << 32 | be32(sb + 4);
        ARCA_ENSURE(size <= ARCA_VOLUME_FILE_MAX, ARCA_ERR_TOO_LARGE,
                    "volume manifest: entry %zu size at offset %zu: %llu bytes is over the limit",
                    i, soff, (unsigned long long)size);
        ARCA_TRY(get(c, salt, sizeof(salt), "salt", i));
        ARCA_TRY(get(c, ftag, sizeof(ftag), "file tag", i));
    }
    ARCA_TRY(arca_volume_manifest_add(m, (enum arca_volume_type)type, mode, path, plen, size));
    struct arca_volume_entry *e = &m->entries[m->count - 1];
    memcpy(e->salt, salt, sizeof(salt));
    memcpy(e->file_tag, ftag, sizeof(ftag));
    return 0;
}

static int parse_into(struct arca_cur *c, struct arca_volume_manifest *m)
{
    uint8_t magic[8], u32[4];
    ARCA_TRY(get(c, magic, sizeof(magic), "magic", SIZE_MAX));
    ARCA_ENSURE(memcmp(magic, ARCA_VOLUME_MAGIC, 8) == 0, ARCA_ERR_FORMAT,
                "volume manifest: magic at offset 0: not an arca volume manifest");
    ARCA_TRY(get(c, u32, 4, "format", SIZE_MAX));
    m->format = be32(u32);
    ARCA_ENSURE(m->format == ARCA_VOLUME_FORMAT, ARCA_ERR_FORMAT,
                "volume manifest: format at offset 8: %u is not supported (only %d)", m->format,
                ARCA_VOLUME_FORMAT);
    ARCA_TRY(get(c, u32, 4, "chunk size", SIZE_MAX));
    m->chunk_size = be32(u32);
    ARCA_ENSURE(chunk_size_ok(m->chunk_size), ARCA_ERR_FORMAT,
                "volume manifest: chunk size at offset 12: %u is not a power of two in %u..%u",
                m->chunk_size, ARCA_VOLUME_CHUNK_MIN, ARCA_VOLUME_CHUNK_MAX);
    ARCA_TRY(get(c, u32, 4, "root mode", SIZE_MAX));
    m->root_mode = be32(u32);
    ARCA_ENSURE(m->root_mode <= 0777, ARCA_ERR_FORMAT,
                "volume manifest: root mode at offset 16: 0%o has bits beyond 0777", m->root_mode);
    ARCA_TRY(get(c, m->volume_id, sizeof(m->volume_id), "volume id", SIZE_MAX));
    ARCA_TRY(get(c, m->key_check, sizeof(m->key_check), "key check", SIZE_MAX));
    ARCA_TRY(get(c, m->nonce, sizeof(m->nonce), "nonce", SIZE_MAX));
    ARCA_TRY(get(c, u32, 4, "entry count", SIZE_MAX));
    uint32_t count = be32(u32);
    /* Bound the count by the bytes that are there before allocating for it. */
    size_t left = arca_cur_left(c);
    size_t room = left >= ARCA_VOLUME_ROOT_TAG_LEN ? left - ARCA_VOLUME_ROOT_TAG_LEN : 0;
    ARCA_ENSURE(count <= ARCA_VOLUME_ENTRIES_MAX && count <= room / ENTRY_MIN, ARCA_ERR_FORMAT,
                "volume manifest: entry count at offset %d: %u entries cannot fit in %zu bytes "
                "(or exceed %d)",
                HEADER_LEN - 4, count, left, ARCA_VOLUME_ENTRIES_MAX);
    for (uint32_t i = 0; i < count; i++)
        ARCA_TRY(parse_entry(c, m, i));
    ARCA_TRY(get(c, m->root_tag, sizeof(m->root_tag), "root tag", SIZE_MAX));
    ARCA_ENSURE(arca_cur_done(c), ARCA_ERR_FORMAT,
                "volume manifest: %zu trailing bytes at offset %zu after the root tag",
                arca_cur_left(c), c->off);
    return 0;
}

int arca_volume_manifest_parse(const uint8_t *p, size_t n, struct arca_volume_manifest **out)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(p != NULL || n == 0, ARCA_ERR_INVALID_ARG, "volume manifest: NULL input");
    ARCA_ENSURE(n <= ARCA_VOLUME_MANIFEST_MAX, ARCA_ERR_TOO_LARGE,
                "volume manifest: %zu bytes is over the %zu-byte limit", n,
                ARCA_VOLUME_MANIFEST_MAX);
    struct arca_volume_manifest *m = NULL;
    ARCA_TRY(arca_volume_manifest_new(0, 0, &m));
    struct arca_cur c;
    arca_cur_init(&c, p, n);
    int rc = parse_into(&c, m);
    if (rc < 0) {
        arca_volume_manifest_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---- keys and the root tag ------------------------------------------------------------------ */

static int derive(const struct arca_volume_manifest *m, const uint8_t key[32], const char *label,
                  uint8_t *out, size_t outlen)
{
    char info[64];
    int n = snprintf(info, sizeof(info), "arca-volume-v1 %s", label);
    return arca_hkdf(ARCA_SHA256, m->volume_id, sizeof(m->volume_id), key, 32, info, (size_t)n, out,
                     outlen);
}

int arca_volume_file_key(struct arca_hkdf_ctx *kdf, const struct arca_volume_manifest *m,
                         const struct arca_volume_entry *e, const uint8_t key[32], uint8_t out[32])
{
    ARCA_ENSURE_REF(m);
    ARCA_ENSURE_REF(e);
    ARCA_ENSURE_REF(key);
    static const char label[] = "arca-volume-v1 file-key";
    uint8_t salt[ARCA_VOLUME_ID_LEN + ARCA_VOLUME_SALT_LEN];
    memcpy(salt, m->volume_id, ARCA_VOLUME_ID_LEN);
    memcpy(salt + ARCA_VOLUME_ID_LEN, e->salt, ARCA_VOLUME_SALT_LEN);
    /* info = label || 0x00 || path: the key is bound to the file's place in the tree. */
    uint8_t info[sizeof(label) + ARCA_VOLUME_PATH_MAX];
    ARCA_ENSURE(e->path_len <= ARCA_VOLUME_PATH_MAX, ARCA_ERR_INVALID_ARG, "volume: path too long");
    memcpy(info, label, sizeof(label)); /* with its NUL as the separator */
    memcpy(info + sizeof(label), e->path, e->path_len);
    size_t infolen = sizeof(label) + e->path_len;
    if (kdf != NULL)
        return arca_hkdf_ctx_derive(kdf, salt, sizeof(salt), key, 32, info, infolen, out, 32);
    return arca_hkdf(ARCA_SHA256, salt, sizeof(salt), key, 32, info, infolen, out, 32);
}

/* The root tag: AES-256-GCM under the manifest key with the whole encoding (minus the tag) as
 * associated data and nothing to encrypt, i.e. a GMAC of the manifest. */
static int root_tag(const struct arca_volume_manifest *m, const uint8_t key[32],
                    uint8_t out[ARCA_VOLUME_ROOT_TAG_LEN])
{
    uint8_t mkey[32];
    struct arca_buf body, tag;
    arca_buf_init(&body, ARCA_VOLUME_MANIFEST_MAX);
    arca_buf_init(&tag, ARCA_VOLUME_ROOT_TAG_LEN);
    int rc = derive(m, key, "manifest-key", mkey, sizeof(mkey));
    if (rc == 0)
        rc = encode_body(m, &body);
    if (rc == 0)
        rc = arca_aead_seal(mkey, m->nonce, body.data, body.len, NULL, 0, &tag);
    if (rc == 0)
        memcpy(out, tag.data, ARCA_VOLUME_ROOT_TAG_LEN);
    arca_wipe(mkey, sizeof(mkey));
    arca_buf_free(&body);
    arca_buf_free(&tag);
    return rc;
}

int arca_volume_manifest_seal(struct arca_volume_manifest *m, const uint8_t key[32])
{
    ARCA_ENSURE_REF(m);
    ARCA_ENSURE_REF(key);
    ARCA_ENSURE(chunk_size_ok(m->chunk_size), ARCA_ERR_INVALID_ARG,
                "volume: chunk size %u is not a power of two in %u..%u", m->chunk_size,
                ARCA_VOLUME_CHUNK_MIN, ARCA_VOLUME_CHUNK_MAX);
    static const uint8_t zero[ARCA_VOLUME_ID_LEN];
    if (memcmp(m->volume_id, zero, sizeof(zero)) == 0)
        ARCA_TRY(arca_random(m->volume_id, sizeof(m->volume_id)));
    /* A fresh nonce per seal: the manifest key stays the same across rewrites of a volume. */
    ARCA_TRY(arca_random(m->nonce, sizeof(m->nonce)));
    ARCA_TRY(derive(m, key, "key-check", m->key_check, sizeof(m->key_check)));
    return root_tag(m, key, m->root_tag);
}

int arca_volume_manifest_authenticate(const struct arca_volume_manifest *m, const uint8_t key[32])
{
    ARCA_ENSURE_REF(m);
    ARCA_ENSURE_REF(key);
    uint8_t check[ARCA_VOLUME_CHECK_LEN], tag[ARCA_VOLUME_ROOT_TAG_LEN];
    ARCA_TRY(derive(m, key, "key-check", check, sizeof(check)));
    ARCA_ENSURE(arca_memeq(check, m->key_check, sizeof(check)), ARCA_ERR_SIGNATURE,
                "the key does not open this volume (wrong key, or the manifest's key check "
                "was modified)");
    ARCA_TRY(root_tag(m, key, tag));
    ARCA_ENSURE(arca_memeq(tag, m->root_tag, sizeof(tag)), ARCA_ERR_TAMPERED,
                "the manifest " ARCA_VOLUME_MANIFEST_NAME
                " does not match its root tag (it was modified)");
    return 0;
}
