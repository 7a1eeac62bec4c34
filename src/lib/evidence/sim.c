/*
 * The simulation TEE - INSECURE, for development without TEE hardware (sim.h,
 * docs/simulation-tee.md).
 *
 * Nothing here protects anything: the platform key and secret are ordinary files of the user
 * running arca. The file modes only keep other local users out. What the simulation does
 * give is the same code path as real evidence (measurement, report data binding, platform
 * identity, sealing), so that sessions and launches can be developed and tested anywhere.
 */
#include "evidence/sim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "crypto/crypto.h"

#define SIM_KEY_FILE "platform-key.pem"
#define SIM_SECRET_FILE "platform-secret"
#define SIM_SECRET_LEN 32
#define SIM_KEY_FILE_MAX 16384
#define SIM_SPKI_MAX 512
#define SIM_SIG_MAX 128
#define SIM_SEAL_SALT "arca-sim-seal-v1"

struct arca_sim_platform {
    char *dir;
    struct arca_key *key;
    uint8_t secret[SIM_SECRET_LEN];
};

/* ---- the platform directory ------------------------------------------------------------- */

/* The default directory: ARCA_SIM_DIR, $XDG_DATA_HOME/arca-sim, $HOME/.local/share/arca-sim. */
static int sim_default_dir(char *out, size_t n)
{
    const char *env = getenv("ARCA_SIM_DIR");
    int w;
    if (env != NULL && env[0] != '\0')
        w = snprintf(out, n, "%s", env);
    else if ((env = getenv("XDG_DATA_HOME")) != NULL && env[0] == '/')
        w = snprintf(out, n, "%s/arca-sim", env);
    else if ((env = getenv("HOME")) != NULL && env[0] != '\0')
        w = snprintf(out, n, "%s/.local/share/arca-sim", env);
    else
        ARCA_BAIL(ARCA_ERR_INVALID_ARG, "simulation TEE (INSECURE): no platform directory: set "
                                        "ARCA_SIM_DIR, XDG_DATA_HOME or HOME");
    ARCA_ENSURE(w > 0 && (size_t)w < n, ARCA_ERR_INVALID_ARG,
                "simulation TEE (INSECURE): platform directory path too long");
    return 0;
}

/* Creates every missing parent of path (mode 0700, as mkdir -p would with umask 077). */
static int mkdir_parents(const char *path)
{
    char tmp[PATH_MAX];
    ARCA_ENSURE(strlen(path) < sizeof(tmp), ARCA_ERR_INVALID_ARG,
                "simulation TEE (INSECURE): path too long: %s", path);
    strcpy(tmp, path);
    for (char *s = tmp + 1; *s != '\0'; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            ARCA_BAIL(ARCA_ERR_IO, "simulation TEE (INSECURE): mkdir %s: %s", tmp, strerror(errno));
        *s = '/';
    }
    return 0;
}

/* Refuses a file or directory that is not ours or that group/others may access: the platform
 * secret would then be readable, or the key replaceable, by another local user. */
static int check_private(const struct stat *st, const char *path, bool dir)
{
    ARCA_ENSURE(dir ? S_ISDIR(st->st_mode) : S_ISREG(st->st_mode), ARCA_ERR_INSECURE,
                "simulation TEE (INSECURE): %s is not a %s", path,
                dir ? "directory" : "regular file");
    ARCA_ENSURE(st->st_uid == geteuid(), ARCA_ERR_INSECURE,
                "simulation TEE (INSECURE): %s is owned by uid %u, not by this user (%u)", path,
                (unsigned)st->st_uid, (unsigned)geteuid());
    ARCA_ENSURE((st->st_mode & 077) == 0, ARCA_ERR_INSECURE,
                "simulation TEE (INSECURE): %s has mode %04o: group/others may access it "
                "(want %s)",
                path, (unsigned)(st->st_mode & 07777), dir ? "0700" : "0600");
    return 0;
}

/* Reads a private file fully into out; ARCA_ERR_NOT_FOUND if it does not exist. */
static int read_private(const char *path, struct arca_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return arca_err_set(errno == ENOENT ? ARCA_ERR_NOT_FOUND : ARCA_ERR_IO,
                            "simulation TEE (INSECURE): open %s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    ARCA_GUARD_ENSURE(rc, fstat(fd, &st) == 0, out, ARCA_ERR_IO,
                      "simulation TEE (INSECURE): stat %s: %s", path, strerror(errno));
    ARCA_GUARD(rc, check_private(&st, path, false), out);
    ARCA_GUARD(rc, arca_fd_read_all(fd, path, out), out);
out:
    close(fd);
    return rc;
}

/*
 * Creates path with exactly the given bytes, mode 0600, without ever exposing a partial file:
 * write a unique temporary file, then link() it into place. link fails with EEXIST when a
 * concurrent process (arcad and arca-run starting together) won the race; the caller then
 * reads the winner's file. Returns ARCA_ERR_EXISTS in that case.
 */
static int create_private(const char *dir, const char *name, const void *p, size_t n)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    ARCA_ENSURE(snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path) &&
                    snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.tmp", dir, name, (long)getpid()) <
                        (int)sizeof(tmp),
                ARCA_ERR_INVALID_ARG, "simulation TEE (INSECURE): path too long: %s", dir);
    (void)unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        ARCA_BAIL(ARCA_ERR_IO, "simulation TEE (INSECURE): create %s: %s", tmp, strerror(errno));
    int rc = 0;
    const uint8_t *b = p;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, b + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        ARCA_GUARD_ENSURE(rc, w > 0, out, ARCA_ERR_IO, "simulation TEE (INSECURE): write %s: %s",
                          tmp, strerror(errno));
        done += (size_t)w;
    }
    ARCA_GUARD_ENSURE(rc, fsync(fd) == 0, out, ARCA_ERR_IO,
                      "simulation TEE (INSECURE): fsync %s: %s", tmp, strerror(errno));
    if (link(tmp, path) != 0) {
        rc = errno == EEXIST ? ARCA_ERR_EXISTS
                             : arca_err_set(ARCA_ERR_IO, "simulation TEE (INSECURE): link %s: %s",
                                            path, strerror(errno));
    }
out:
    close(fd);
    (void)unlink(tmp);
    return rc;
}

static int load_key(struct arca_sim_platform *p, const char *path, bool *created)
{
    struct arca_buf pem;
    arca_buf_init_secret(&pem, SIM_KEY_FILE_MAX);
    int rc = read_private(path, &pem);
    if (rc == ARCA_ERR_NOT_FOUND) {
        struct arca_key *k = NULL;
        ARCA_GUARD(rc, arca_key_generate(ARCA_KEY_P256, &k), out);
        rc = arca_key_private_pem(k, &pem);
        arca_key_free(k);
        if (rc < 0)
            goto out;
        rc = create_private(p->dir, SIM_KEY_FILE, pem.data, pem.len);
        arca_buf_reset(&pem);
        if (rc < 0 && rc != ARCA_ERR_EXISTS)
            goto out;
        *created = rc == 0;
        /* Read back what is on disk: the same bytes, or those of a concurrent creator. */
        ARCA_GUARD(rc, read_private(path, &pem), out);
    } else if (rc < 0) {
        goto out;
    }
    rc = arca_key_from_pem(pem.data, pem.len, &p->key);
    if (rc < 0) {
        rc = arca_err_wrap(rc, "simulation TEE (INSECURE): %s", path);
        goto out;
    }
    ARCA_GUARD_ENSURE(rc, arca_key_type(p->key) == ARCA_KEY_P256 && arca_key_has_private(p->key),
                      out, ARCA_ERR_FORMAT,
                      "simulation TEE (INSECURE): %s is not a P-256 private key", path);
out:
    arca_buf_free(&pem);
    return rc;
}

static int load_secret(struct arca_sim_platform *p, const char *path, bool *created)
{
    struct arca_buf s;
    arca_buf_init_secret(&s, 1024);
    int rc = read_private(path, &s);
    if (rc == ARCA_ERR_NOT_FOUND) {
        uint8_t fresh[SIM_SECRET_LEN];
        ARCA_GUARD(rc, arca_random(fresh, sizeof(fresh)), out);
        rc = create_private(p->dir, SIM_SECRET_FILE, fresh, sizeof(fresh));
        arca_wipe(fresh, sizeof(fresh));
        if (rc < 0 && rc != ARCA_ERR_EXISTS)
            goto out;
        *created = *created || rc == 0;
        ARCA_GUARD(rc, read_private(path, &s), out);
    } else if (rc < 0) {
        goto out;
    }
    ARCA_GUARD_ENSURE(rc, s.len == SIM_SECRET_LEN, out, ARCA_ERR_FORMAT,
                      "simulation TEE (INSECURE): %s holds %zu bytes, expected %d", path, s.len,
                      SIM_SECRET_LEN);
    memcpy(p->secret, s.data, SIM_SECRET_LEN);
out:
    arca_buf_free(&s);
    return rc;
}

int arca_sim_platform_open(const char *dir, struct arca_sim_platform **out)
{
    ARCA_ENSURE_REF(out);
    char d[PATH_MAX];
    if (dir == NULL) {
        ARCA_TRY(sim_default_dir(d, sizeof(d)));
    } else {
        ARCA_ENSURE(dir[0] != '\0' && strlen(dir) < sizeof(d), ARCA_ERR_INVALID_ARG,
                    "simulation TEE (INSECURE): bad platform directory");
        strcpy(d, dir);
    }
    size_t l = strlen(d);
    while (l > 1 && d[l - 1] == '/')
        d[--l] = '\0';

    ARCA_TRY(mkdir_parents(d));
    if (mkdir(d, 0700) != 0 && errno != EEXIST)
        ARCA_BAIL(ARCA_ERR_IO, "simulation TEE (INSECURE): mkdir %s: %s", d, strerror(errno));
    struct stat st;
    if (lstat(d, &st) != 0)
        ARCA_BAIL(ARCA_ERR_IO, "simulation TEE (INSECURE): stat %s: %s", d, strerror(errno));
    ARCA_TRY(check_private(&st, d, true));

    struct arca_sim_platform *p = calloc(1, sizeof(*p));
    if (p == NULL)
        ARCA_BAIL(ARCA_ERR_ALLOC, "simulation TEE (INSECURE): out of memory");
    int rc = 0;
    bool created = false;
    char path[PATH_MAX];
    p->dir = strdup(d);
    ARCA_GUARD_ENSURE(rc, p->dir != NULL, fail, ARCA_ERR_ALLOC,
                      "simulation TEE (INSECURE): out of memory");
    ARCA_GUARD_ENSURE(rc, snprintf(path, sizeof(path), "%s/" SIM_KEY_FILE, d) < (int)sizeof(path),
                      fail, ARCA_ERR_INVALID_ARG, "simulation TEE (INSECURE): path too long");
    ARCA_GUARD(rc, load_key(p, path, &created), fail);
    ARCA_GUARD_ENSURE(rc,
                      snprintf(path, sizeof(path), "%s/" SIM_SECRET_FILE, d) < (int)sizeof(path),
                      fail, ARCA_ERR_INVALID_ARG, "simulation TEE (INSECURE): path too long");
    ARCA_GUARD(rc, load_secret(p, path, &created), fail);
    arca_warn("sim", "INSECURE simulation TEE platform %s at %s: evidence from it proves nothing",
              created ? "created" : "opened", d);
    *out = p;
    return 0;
fail:
    arca_sim_platform_free(p);
    return rc;
}

void arca_sim_platform_free(struct arca_sim_platform *p)
{
    if (p == NULL)
        return;
    arca_key_free(p->key);
    free(p->dir);
    arca_wipe(p->secret, sizeof(p->secret));
    free(p);
}

const char *arca_sim_platform_dir(const struct arca_sim_platform *p)
{
    return p != NULL ? p->dir : NULL;
}

int arca_sim_platform_id(const struct arca_sim_platform *p, uint8_t out[32])
{
    ARCA_ENSURE_REF(p);
    ARCA_ENSURE_REF(out);
    int rc = arca_key_id(p->key, out);
    return rc < 0 ? arca_err_wrap(rc, "simulation TEE (INSECURE): platform id") : 0;
}

/* ---- measurement --------------------------------------------------------------------------- */

int arca_sim_measure_fd(int fd, uint8_t out[32])
{
    ARCA_ENSURE_REF(out);
    struct stat st;
    ARCA_ENSURE(fd >= 0 && fstat(fd, &st) == 0, ARCA_ERR_IO,
                "simulation TEE (INSECURE): measure: bad file descriptor %d", fd);
    ARCA_ENSURE(S_ISREG(st.st_mode), ARCA_ERR_INVALID_ARG,
                "simulation TEE (INSECURE): measure: not a regular file");
    struct arca_hash_ctx *h = NULL;
    ARCA_TRY(arca_hash_ctx_new(ARCA_SHA256, &h));
    uint8_t *chunk = malloc(65536);
    int rc = 0;
    ARCA_GUARD_ENSURE(rc, chunk != NULL, out, ARCA_ERR_ALLOC,
                      "simulation TEE (INSECURE): out of memory");
    /* pread from 0: the descriptor's offset stays where it was, for fexecve. */
    for (off_t off = 0;;) {
        ssize_t r = pread(fd, chunk, 65536, off);
        if (r < 0 && errno == EINTR)
            continue;
        ARCA_GUARD_ENSURE(rc, r >= 0, out, ARCA_ERR_IO,
                          "simulation TEE (INSECURE): measure: read at %lld: %s", (long long)off,
                          strerror(errno));
        if (r == 0)
            break;
        ARCA_GUARD(rc, arca_hash_ctx_update(h, chunk, (size_t)r), out);
        off += r;
    }
    rc = arca_hash_ctx_final(h, out);
out:
    free(chunk);
    arca_hash_ctx_free(h);
    return rc;
}

int arca_sim_measure_path(const char *path, uint8_t out[32])
{
    ARCA_ENSURE_REF(path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return arca_err_set(errno == ENOENT ? ARCA_ERR_NOT_FOUND : ARCA_ERR_IO,
                            "simulation TEE (INSECURE): measure %s: %s", path, strerror(errno));
    int rc = arca_sim_measure_fd(fd, out);
    close(fd);
    if (rc < 0)
        return arca_err_wrap(rc, "%s", path);
    return 0;
}

/* ---- evidence ------------------------------------------------------------------------------ */

int arca_sim_evidence_make(const struct arca_sim_platform *p, const uint8_t measurement[32],
                           const uint8_t report_data[64], struct arca_buf *ev)
{
    ARCA_ENSURE_REF(p);
    ARCA_ENSURE_REF(measurement);
    ARCA_ENSURE_REF(report_data);
    ARCA_ENSURE_REF(ev);
    struct arca_buf b, spki, sig;
    int rc;
    arca_buf_init(&b, ARCA_SIM_MAX_EVIDENCE);
    arca_buf_init(&spki, SIM_SPKI_MAX);
    arca_buf_init(&sig, SIM_SIG_MAX);
    ARCA_GUARD(rc, arca_key_spki_der(p->key, &spki), out);
    ARCA_GUARD(rc, arca_buf_put(&b, ARCA_SIM_MAGIC, 8), out);
    ARCA_GUARD(rc, arca_buf_put_u16be(&b, ARCA_SIM_VERSION), out);
    ARCA_GUARD(rc, arca_buf_put(&b, measurement, 32), out);
    ARCA_GUARD(rc, arca_buf_put(&b, report_data, 64), out);
    ARCA_GUARD(rc, arca_buf_put_u16be(&b, (uint16_t)spki.len), out);
    ARCA_GUARD(rc, arca_buf_put(&b, spki.data, spki.len), out);
    ARCA_GUARD(rc, arca_sign(p->key, ARCA_SHA256, b.data, b.len, &sig), out);
    /* An over-long field would make the u16 lengths lie: never emit such evidence. */
    ARCA_GUARD_ENSURE(rc, spki.len <= SIM_SPKI_MAX && sig.len <= SIM_SIG_MAX, out,
                      ARCA_ERR_INTERNAL, "simulation TEE (INSECURE): key or signature too long");
    ARCA_GUARD(rc, arca_buf_put_u16be(&b, (uint16_t)sig.len), out);
    ARCA_GUARD(rc, arca_buf_put(&b, sig.data, sig.len), out);
    ARCA_GUARD(rc, arca_buf_put(ev, b.data, b.len), out);
out:
    if (rc < 0)
        rc = arca_err_wrap(rc, "simulation TEE (INSECURE): make evidence");
    arca_buf_free(&b);
    arca_buf_free(&spki);
    arca_buf_free(&sig);
    return rc;
}

int arca_sim_evidence_verify(const void *ev, size_t n, struct arca_claims *claims)
{
    return arca_sim_evidence_verify_cached(NULL, ev, n, claims);
}

int arca_sim_evidence_verify_cached(struct arca_key_cache *keys, const void *ev, size_t n,
                                    struct arca_claims *claims)
{
    ARCA_ENSURE_REF(ev);
    ARCA_ENSURE(n <= ARCA_SIM_MAX_EVIDENCE, ARCA_ERR_TOO_LARGE,
                "sim evidence (INSECURE): %zu bytes, more than %d", n, ARCA_SIM_MAX_EVIDENCE);
    struct arca_cur c;
    uint8_t magic[8];
    uint16_t version, spki_len, sig_len;
    uint8_t measurement[32], report_data[64];
    const uint8_t *spki, *sig;
    int rc;
    arca_cur_init(&c, ev, n);

#define SIM_GET(expr, what)                                                                        \
    do {                                                                                           \
        size_t at_ = c.off;                                                                        \
        if ((rc = (expr)) < 0)                                                                     \
            return arca_err_set(rc,                                                                \
                                "sim evidence (INSECURE): truncated in %s at offset %zu of "       \
                                "%zu",                                                             \
                                what, at_, n);                                                     \
    } while (0)

    SIM_GET(arca_cur_get(&c, magic, sizeof(magic)), "magic");
    ARCA_ENSURE(memcmp(magic, ARCA_SIM_MAGIC, 8) == 0, ARCA_ERR_FORMAT,
                "sim evidence (INSECURE): bad magic at offset 0 (not \"" ARCA_SIM_MAGIC "\")");
    SIM_GET(arca_cur_get_u16be(&c, &version), "version");
    ARCA_ENSURE(version == ARCA_SIM_VERSION, ARCA_ERR_UNSUPPORTED,
                "sim evidence (INSECURE): version %u at offset 8 (arca reads %d)", version,
                ARCA_SIM_VERSION);
    SIM_GET(arca_cur_get(&c, measurement, sizeof(measurement)), "measurement");
    SIM_GET(arca_cur_get(&c, report_data, sizeof(report_data)), "report data");
    SIM_GET(arca_cur_get_u16be(&c, &spki_len), "key length");
    ARCA_ENSURE(spki_len > 0 && spki_len <= SIM_SPKI_MAX, ARCA_ERR_FORMAT,
                "sim evidence (INSECURE): platform key length %u at offset 106 out of range",
                spki_len);
    SIM_GET(arca_cur_get_ptr(&c, &spki, spki_len), "platform key");
    size_t signed_len = c.off;
    SIM_GET(arca_cur_get_u16be(&c, &sig_len), "signature length");
    ARCA_ENSURE(sig_len > 0 && sig_len <= SIM_SIG_MAX, ARCA_ERR_FORMAT,
                "sim evidence (INSECURE): signature length %u at offset %zu out of range", sig_len,
                signed_len);
    SIM_GET(arca_cur_get_ptr(&c, &sig, sig_len), "signature");
    ARCA_ENSURE(arca_cur_done(&c), ARCA_ERR_FORMAT,
                "sim evidence (INSECURE): %zu trailing bytes after the signature at offset %zu",
                arca_cur_left(&c), c.off);
#undef SIM_GET

    struct arca_key *k = NULL;
    rc = arca_key_cache_get(keys, spki, spki_len, &k);
    if (rc < 0)
        return arca_err_wrap(ARCA_ERR_FORMAT,
                             "sim evidence (INSECURE): platform key at offset 108");
    ARCA_GUARD_ENSURE(rc, arca_key_type(k) == ARCA_KEY_P256 && !arca_key_has_private(k), out,
                      ARCA_ERR_FORMAT,
                      "sim evidence (INSECURE): platform key at offset 108 is not a P-256 public "
                      "key");
    rc = arca_verify(k, ARCA_SHA256, ev, signed_len, sig, sig_len);
    if (rc < 0) {
        rc = arca_err_set(ARCA_ERR_SIGNATURE,
                          "sim evidence (INSECURE): signature does not verify with the "
                          "platform key it names");
        goto out;
    }
    if (claims != NULL) {
        struct arca_claims cl;
        memset(&cl, 0, sizeof(cl));
        cl.type = ARCA_EVIDENCE_SIM;
        cl.debug = false;
        cl.tcb_status = ARCA_TCB_UP_TO_DATE;
        memcpy(cl.mrenclave, measurement, sizeof(measurement));
        memcpy(cl.report_data, report_data, sizeof(report_data));
        ARCA_GUARD(rc, arca_sha256(spki, spki_len, cl.platform_id), out);
        cl.platform_id_len = ARCA_SHA256_LEN;
        *claims = cl;
    }
    rc = 0;
out:
    arca_key_cache_put(keys, k);
    return rc;
}

int arca_sim_seal_key(const struct arca_sim_platform *p, const uint8_t measurement[32],
                      const char *purpose, uint8_t out[32])
{
    ARCA_ENSURE_REF(p);
    ARCA_ENSURE_REF(measurement);
    ARCA_ENSURE_REF(purpose);
    ARCA_ENSURE_REF(out);
    size_t plen = strlen(purpose);
    ARCA_ENSURE(plen > 0 && plen <= 256, ARCA_ERR_INVALID_ARG,
                "simulation TEE (INSECURE): seal key purpose must be 1..256 bytes");
    uint8_t info[32 + 256];
    memcpy(info, measurement, 32);
    memcpy(info + 32, purpose, plen);
    int rc = arca_hkdf(ARCA_SHA256, SIM_SEAL_SALT, strlen(SIM_SEAL_SALT), p->secret,
                       sizeof(p->secret), info, 32 + plen, out, 32);
    return rc < 0 ? arca_err_wrap(rc, "simulation TEE (INSECURE): seal key") : 0;
}
