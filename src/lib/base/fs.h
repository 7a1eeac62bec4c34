/*
 * Small file-system helpers shared by the programs.
 */
#ifndef ARCA_BASE_FS_H
#define ARCA_BASE_FS_H

#include <sys/types.h>

#include "base/buf.h"

/* mkdir -p: creates path and any missing parents with mode (existing directories are left as
 * they are). 0, or ARCA_ERR_IO naming the component that could not be made. */
int arca_mkdirs(const char *path, mode_t mode);

/*
 * Appends everything readable from fd to out (named path in errors), never past out->max.
 * Returns 0, or ARCA_ERR_IO / ARCA_ERR_TOO_LARGE / ARCA_ERR_ALLOC with out restored to its old
 * length (and the partial bytes wiped if out is secret). Does not close fd.
 */
int arca_fd_read_all(int fd, const char *path, struct arca_buf *out);

/* Opens path and appends it whole to out as arca_fd_read_all, refusing a file of more than max
 * bytes (0: only out->max bounds it). ARCA_ERR_NOT_FOUND if missing. */
int arca_file_read(const char *path, size_t max, struct arca_buf *out);

#endif
