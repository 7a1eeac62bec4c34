/*
 * Helpers shared by the arca-run unit tests (include after <cmocka.h>): small files written and
 * read back, and a child that cannot get a mount namespace.
 */
#ifndef ARCARUN_TEST_UTIL_H
#define ARCARUN_TEST_UTIL_H

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* Writes text to path (created or truncated) and sets its mode; fails the test otherwise. */
static inline void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* Reads a small file; returns a static buffer, or NULL if it cannot be read. */
static inline const char *read_small(const char *path)
{
    static char buf[512];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* A test's root directory (0755) and staging parent (01777, as /tmp) from mkdtemp templates;
 * 0, or -1. */
static inline int make_test_dirs(char *root_template, char *stage_template)
{
    if (mkdtemp(root_template) == NULL || mkdtemp(stage_template) == NULL)
        return -1;
    return chmod(root_template, 0755) == 0 && chmod(stage_template, 01777) == 0 ? 0 : -1;
}

/* Removes both directories with everything in them; 0, or -1. */
static inline int remove_test_dirs(const char *root, const char *stage)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", root, stage);
    return system(cmd) == 0 ? 0 : -1;
}

/* In a child: makes unshare(2) fail with EPERM from here on (no mount namespace to be had).
 * 0, or -1 if the filter cannot be installed. */
static inline int deny_unshare(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unshare, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        return -1;
    return 0;
}

#endif
