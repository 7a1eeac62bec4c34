/*
 * The program arca-run runs (issue 9, item 6): one sealed copy, measured and executed.
 *
 * arcarun_program_open copies the program file once into a sealed memfd (no write, grow or
 * shrink, seals sealed): the simulation measurement (`arca-run --measure` and the attested
 * launch alike) reads that copy, so a file rewritten in place afterwards changes nothing.
 * arcarun_exec_at then shows the copy at the program's real path: the kernel refuses to
 * bind-mount a memfd (it lives on an internal mount), so the sealed bytes are copied onto a
 * private tmpfs, the tmpfs is made read-only, the copy is checked byte for byte against the
 * sealed memfd and bind-mounted read-only over the real path in arca-run's private mount
 * namespace. A script's $0 is then its own path and /proc/self/exe names the real file.
 */
#ifndef ARCARUN_PROGRAM_H
#define ARCARUN_PROGRAM_H

#include <stdbool.h>

/* Largest program arca-run copies (the copy lives in memory until exec). */
#define ARCARUN_PROGRAM_MAX ((long long)1 << 30)

/*
 * Copies the regular file open as src (from offset 0, at most ARCARUN_PROGRAM_MAX bytes) into
 * a new memfd with its permission bits and seals it (F_SEAL_WRITE | F_SEAL_GROW |
 * F_SEAL_SHRINK | F_SEAL_SEAL). *out: the memfd, close-on-exec, caller closes. name is used in
 * errors only.
 */
int arcarun_program_seal(int src, const char *name, int *out);

/* True if fd is a memfd carrying all four seals of arcarun_program_seal. */
bool arcarun_program_is_sealed(int fd);

/* True if the file open as fd starts with "#!" (read with pread: the offset stays). */
bool arcarun_program_is_script(int fd);

/*
 * Inside the private mount namespace: puts a read-only copy of the sealed memfd over path
 * (absolute) as described above, the staging tmpfs in staging_parent (NULL = "/tmp"). *out is
 * a read-only, close-on-exec descriptor opened through path, proven to be that copy.
 */
int arcarun_program_place(int sealed, const char *path, const char *staging_parent, int *out);

#endif
