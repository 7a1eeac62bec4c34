/*
 * Absolute file paths as arca accepts them for injected files and working directories: one rule,
 * checked where a policy is uploaded, where arca-run parses its configuration and where arca-run
 * creates anything, so that a path refused at launch is refused at upload already.
 */
#ifndef ARCA_BASE_PATH_H
#define ARCA_BASE_PATH_H

#include <stdbool.h>
#include <stddef.h>

#define ARCA_PATH_MAX 4095     /* bytes, without a terminating NUL (PATH_MAX - 1) */
#define ARCA_PATH_NAME_MAX 255 /* bytes per component (NAME_MAX) */

/*
 * Checks that the len bytes at path (not NUL-terminated, untrusted) are a normalised absolute
 * path: starting with '/', at most ARCA_PATH_MAX bytes, no NUL byte, no empty component ("//"),
 * no "." or ".." component, no trailing '/', no component over ARCA_PATH_NAME_MAX bytes. "/"
 * itself is normal (callers that need a file refuse it). Returns 0, or ARCA_ERR_FORMAT with a
 * detail naming the rule and the byte offset (never the path: callers add what it is).
 */
int arca_path_check(const char *path, size_t len);

/*
 * Iterates over the components of a path that passed arca_path_check: start with *off = 0;
 * each call sets *name and *name_len to the next component and returns true, false after the last.
 * *is_last says whether the component returned is the final one. Nothing is allocated.
 */
bool arca_path_next(const char *path, size_t len, size_t *off, const char **name, size_t *name_len,
                    bool *is_last);

#endif
