/*
 * Gramine's /dev/attestation pseudo-files (SGX DCAP): write the 64 bytes of REPORTDATA to
 * user_report_data, read the quote back from quote.
 */
#include "arcarun.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"

int arcarun_provider_gramine_evidence(const struct arcarun_provider_opts *opts,
                                      const uint8_t report_data[64], struct arcarun_evidence *out)
{
    ARCA_ENSURE_REF(opts);
    ARCA_ENSURE_REF(out);
    const char *dir = opts->gramine_dir ? opts->gramine_dir : ARCARUN_GRAMINE_DIR;
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        ARCA_BAIL(ARCA_ERR_NOT_FOUND, "%s: not available (%s): not inside a Gramine SGX enclave?",
                  dir, strerror(errno));
    int rc = 0;
    struct arca_buf type;
    arca_buf_init(&type, 64);
    /* attestation_type is optional in old Gramine versions; when present it must say dcap. */
    if (faccessat(dfd, "attestation_type", F_OK, 0) == 0) {
        ARCA_GUARD(rc, arcarun_read_file_at(dfd, dir, "attestation_type", &type), out);
        size_t n = type.len;
        while (n > 0 && (type.data[n - 1] == '\n' || type.data[n - 1] == '\0'))
            n--;
        ARCA_GUARD_ENSURE(rc, n == 4 && memcmp(type.data, "dcap", 4) == 0, out,
                          ARCA_ERR_UNSUPPORTED,
                          "%s/attestation_type: \"%.*s\" (arca needs dcap: set "
                          "sgx.remote_attestation = \"dcap\" in the manifest)",
                          dir, (int)(n > 16 ? 16 : n), (const char *)arca_buf_cstr(&type));
    }
    int fd = openat(dfd, "user_report_data", O_WRONLY | O_CLOEXEC);
    ARCA_GUARD_ENSURE(rc, fd >= 0, out, ARCA_ERR_IO, "%s/user_report_data: cannot open: %s", dir,
                      strerror(errno));
    ssize_t w = write(fd, report_data, 64);
    int werr = errno;
    close(fd);
    ARCA_GUARD_ENSURE(rc, w == 64, out, ARCA_ERR_IO, "%s/user_report_data: write: %s", dir,
                      w < 0 ? strerror(werr) : "short write");
    ARCA_GUARD(rc, arcarun_read_file_at(dfd, dir, "quote", &out->ev), out);
    ARCA_GUARD_ENSURE(rc, out->ev.len >= 48, out, ARCA_ERR_TRUNCATED,
                      "%s/quote: %zu bytes, too short for a quote", dir, out->ev.len);
    out->type = ARCA_EVIDENCE_SGX_DCAP;
out:
    arca_buf_free(&type);
    close(dfd);
    return rc;
}
