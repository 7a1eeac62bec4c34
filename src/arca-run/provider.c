/*
 * Choosing an evidence provider (ARCA_TEE) and the small file helpers the providers share.
 */
#include "arcarun.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"

void arcarun_evidence_init(struct arcarun_evidence *e)
{
    e->type = ARCA_EVIDENCE_NONE;
    arca_buf_init(&e->ev, ARCARUN_MAX_EVIDENCE);
    arca_buf_init(&e->aux, ARCARUN_MAX_EVIDENCE);
}

void arcarun_evidence_free(struct arcarun_evidence *e)
{
    if (e == NULL)
        return;
    arca_buf_free(&e->ev);
    arca_buf_free(&e->aux);
    e->type = ARCA_EVIDENCE_NONE;
}

static const struct arcarun_provider provider_sim = {"sim", arcarun_provider_sim_evidence};
static const struct arcarun_provider provider_gramine = {"gramine",
                                                         arcarun_provider_gramine_evidence};
static const struct arcarun_provider provider_tsm = {"tsm", arcarun_provider_tsm_evidence};

int arcarun_provider_select(const char *tee, const struct arcarun_provider_opts *opts,
                            const struct arcarun_provider **out)
{
    ARCA_ENSURE_REF(opts);
    ARCA_ENSURE_REF(out);
    if (tee == NULL || tee[0] == '\0' || strcmp(tee, "auto") == 0) {
        const char *gdir = opts->gramine_dir ? opts->gramine_dir : ARCARUN_GRAMINE_DIR;
        const char *tdir = opts->tsm_dir ? opts->tsm_dir : ARCARUN_TSM_DIR;
        int dfd = open(gdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            struct stat st;
            bool has_quote = fstatat(dfd, "quote", &st, 0) == 0;
            close(dfd);
            if (has_quote) {
                *out = &provider_gramine;
                return 0;
            }
        }
        struct stat st;
        if (stat(tdir, &st) == 0 && S_ISDIR(st.st_mode)) {
            *out = &provider_tsm;
            return 0;
        }
        /* auto never falls back to the simulation: that would silently make an insecure
         * launch out of a misconfigured secure one. */
        ARCA_BAIL(ARCA_ERR_NOT_FOUND,
                  "ARCA_TEE=auto: no TEE interface found (neither %s/quote nor %s); set "
                  "ARCA_TEE=sim to use the INSECURE simulation TEE",
                  gdir, tdir);
    }
    if (strcmp(tee, "sim") == 0)
        *out = &provider_sim;
    else if (strcmp(tee, "gramine") == 0)
        *out = &provider_gramine;
    else if (strcmp(tee, "tsm") == 0)
        *out = &provider_tsm;
    else
        ARCA_BAIL(ARCA_ERR_INVALID_ARG,
                  "ARCA_TEE: unknown value (expected sim, gramine, tsm or auto)");
    return 0;
}

int arcarun_read_file_at(int dirfd, const char *dirpath, const char *name, struct arca_buf *out)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        ARCA_BAIL(ARCA_ERR_IO, "%s/%s: cannot open: %s", dirpath, name, strerror(errno));
    size_t start = out->len;
    int rc = 0;
    for (;;) {
        uint8_t chunk[4096];
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = arca_err_set(ARCA_ERR_IO, "%s/%s: read: %s", dirpath, name, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        rc = arca_buf_put(out, chunk, (size_t)n);
        if (rc < 0) {
            rc = arca_err_set(rc, "%s/%s: larger than %zu bytes", dirpath, name, out->max);
            break;
        }
    }
    close(fd);
    if (rc < 0)
        out->len = start; /* no partial output */
    return rc;
}
