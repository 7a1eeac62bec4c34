/*
 * Linux configfs-tsm (TDX and SEV-SNP guests): one report is one directory under
 * /sys/kernel/config/tsm/report; write inblob, read outblob (and auxblob), checking that the
 * generation counter did not move under us (another writer would have changed the inputs).
 */
#include "arcarun.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "crypto/crypto.h"

static int read_generation(int reqfd, const char *path, unsigned long long *gen)
{
    struct arca_buf b;
    arca_buf_init(&b, 64);
    int rc = arcarun_read_file_at(reqfd, path, "generation", &b);
    if (rc == 0) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(arca_buf_cstr(&b), &end, 10);
        if (errno != 0 || end == arca_buf_cstr(&b) || (*end != '\0' && *end != '\n'))
            rc = arca_err_set(ARCA_ERR_FORMAT, "%s/generation: not a number", path);
        else
            *gen = v;
    }
    arca_buf_free(&b);
    return rc;
}

int arcarun_tsm_request(int reqfd, const char *reqpath, const uint8_t report_data[64],
                        struct arcarun_evidence *out)
{
    ARCA_ENSURE_REF(reqpath);
    ARCA_ENSURE_REF(out);
    int rc = 0;
    struct arca_buf prov;
    arca_buf_init(&prov, 64);
    int fd = openat(reqfd, "inblob", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        ARCA_BAIL(ARCA_ERR_IO, "%s/inblob: cannot open: %s", reqpath, strerror(errno));
    ssize_t w = write(fd, report_data, 64);
    int werr = errno;
    close(fd);
    if (w != 64)
        ARCA_BAIL(ARCA_ERR_IO, "%s/inblob: write: %s", reqpath,
                  w < 0 ? strerror(werr) : "short write");
    unsigned long long g1 = 0, g2 = 0;
    ARCA_GUARD(rc, read_generation(reqfd, reqpath, &g1), out);
    ARCA_GUARD(rc, arcarun_read_file_at(reqfd, reqpath, "provider", &prov), out);
    const char *p = arca_buf_cstr(&prov);
    if (strcmp(p, "tdx_guest\n") == 0 || strcmp(p, "tdx_guest") == 0)
        out->type = ARCA_EVIDENCE_TDX;
    else if (strcmp(p, "sev_guest\n") == 0 || strcmp(p, "sev_guest") == 0)
        out->type = ARCA_EVIDENCE_SNP;
    else
        ARCA_GUARD_ENSURE(rc, false, out, ARCA_ERR_UNSUPPORTED,
                          "%s/provider: unknown TSM provider (arca knows tdx_guest and sev_guest)",
                          reqpath);
    ARCA_GUARD(rc, arcarun_read_file_at(reqfd, reqpath, "outblob", &out->ev), out);
    ARCA_GUARD_ENSURE(rc, out->ev.len > 0, out, ARCA_ERR_TRUNCATED, "%s/outblob: empty", reqpath);
    if (out->type == ARCA_EVIDENCE_SNP && faccessat(reqfd, "auxblob", F_OK, 0) == 0) {
        /* The host may or may not provide the certificate table; without it arcad fetches the
         * VCEK from its collateral service. */
        if (arcarun_read_file_at(reqfd, reqpath, "auxblob", &out->aux) < 0)
            arca_buf_reset(&out->aux);
    }
    ARCA_GUARD(rc, read_generation(reqfd, reqpath, &g2), out);
    ARCA_GUARD_ENSURE(rc, g1 == g2, out, ARCA_ERR_CONFLICT,
                      "%s: another writer changed the request (generation %llu -> %llu)", reqpath,
                      g1, g2);
out:
    if (rc < 0) {
        arca_buf_reset(&out->ev);
        arca_buf_reset(&out->aux);
        out->type = ARCA_EVIDENCE_NONE;
    }
    arca_buf_free(&prov);
    return rc;
}

int arcarun_provider_tsm_evidence(const struct arcarun_provider_opts *opts,
                                  const uint8_t report_data[64], struct arcarun_evidence *out)
{
    ARCA_ENSURE_REF(opts);
    ARCA_ENSURE_REF(out);
    const char *dir = opts->tsm_dir ? opts->tsm_dir : ARCARUN_TSM_DIR;
    uint8_t rnd[8];
    ARCA_TRY(arca_random(rnd, sizeof(rnd)));
    char name[64];
    snprintf(name, sizeof(name), "arca-run-%ld-%02x%02x%02x%02x", (long)getpid(), rnd[0], rnd[1],
             rnd[2], rnd[3]);
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        ARCA_BAIL(ARCA_ERR_NOT_FOUND, "%s: not available (%s): not a TDX/SNP guest with configfs?",
                  dir, strerror(errno));
    if (mkdirat(root, name, 0700) < 0) {
        int e = errno;
        close(root);
        ARCA_BAIL(ARCA_ERR_IO, "%s: cannot create report request: %s", path, strerror(e));
    }
    int rc = 0;
    int reqfd = openat(root, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (reqfd < 0)
        rc = arca_err_set(ARCA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    else {
        rc = arcarun_tsm_request(reqfd, path, report_data, out);
        close(reqfd);
    }
    /* configfs removes the whole report with its directory. */
    (void)unlinkat(root, name, AT_REMOVEDIR);
    close(root);
    return rc;
}
