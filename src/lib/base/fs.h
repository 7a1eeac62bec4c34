/*
 * Small file-system helpers shared by the library and the programs: mkdir -p, bounded reads, and
 * the one atomic durable file writer.
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

/* Flags of arca_file_write. */
#define ARCA_FILE_SECRET 0x1u /* the content is secret: see arca_file_write */

/*
 * Replaces path with data[0..n) atomically and durably: a reader sees the old file or the new one,
 * never a mix, and after a 0 return the new one survives a crash. The steps: create a temporary
 * file "DIR/.BASE.PID.I.tmp" next to path (O_EXCL | O_NOFOLLOW, permissions mode as narrowed by
 * the umask; I counts 0..ARCA_FILE_TMP_TRIES-1 past temporary files that exist already, e.g. from
 * a crash or another thread), write everything, fsync, close, rename over path, fsync DIR. The
 * name starts with '.' so that directory scanners (collateral directories) skip it.
 *
 * Returns 0, or a negative code with the detail naming path and the step that failed:
 * ARCA_ERR_INVALID_ARG (no file name in path, unknown flags, secret content with group or other
 * permissions), ARCA_ERR_TOO_LARGE (path too long), ARCA_ERR_EXISTS (every temporary name taken),
 * ARCA_ERR_IO (any system call). On failure before the rename the temporary file is removed and
 * path is untouched; only a failing fsync of DIR after the rename leaves the new content in place
 * (then not yet durable).
 *
 * The writer makes no copy of data in memory (write(2) straight from the caller's bytes). With
 * ARCA_FILE_SECRET mode must not grant group or other permissions, and on failure the bytes
 * already written to the temporary file are overwritten with zeros and synced before it is
 * removed (best effort: a journaling or flash file system may keep older blocks).
 */
#define ARCA_FILE_TMP_TRIES 16
int arca_file_write(const char *path, const void *data, size_t n, mode_t mode, unsigned flags);

#endif
