/*
 * arcad's configuration file (docs/operations.md): a YAML mapping whose keys are arcad's long
 * flag names. It is turned into "--key value" arguments that go through the same getopt table
 * as the command line, so every flag is configurable without a second table to keep in sync.
 */
#ifndef ARCAD_CONFIG_FILE_H
#define ARCAD_CONFIG_FILE_H

#include <stddef.h>

struct option; /* <getopt.h> */

/* An argument vector whose strings (and the array) are owned; argv[argc] is NULL. */
struct arcad_args {
    int argc;
    char **argv;
};

/*
 * Parses text[0..n) (named name in errors) and appends "--key" [value] to out for each entry of
 * the top-level mapping. Keys must be long options of opts (NULL-terminated, as for
 * getopt_long); keys in refused (NULL-terminated, may be NULL) are refused as not
 * configurable. An option without an argument takes `true` (adds the flag) or `false` (adds
 * nothing); one with an argument takes a non-empty scalar. Anything else -- unknown or repeated
 * key, sequence or mapping value, alias, a second document -- is ARCA_ERR_FORMAT with a detail
 * "NAME:LINE: ..." naming the key. On failure out is as it was.
 */
int arcad_config_parse(const char *name, const char *text, size_t n, const struct option *opts,
                       const char *const *refused, struct arcad_args *out);

/* Reads path (at most 64 KiB) and parses it as arcad_config_parse. ARCA_ERR_NOT_FOUND /
 * ARCA_ERR_IO name path. */
int arcad_config_file_args(const char *path, const struct option *opts, const char *const *refused,
                           struct arcad_args *out);

/* Appends a copy of s to a (ARCA_ERR_ALLOC, a unchanged, on failure). */
int arcad_args_push(struct arcad_args *a, const char *s);

/* Frees every string and the array; a is empty afterwards. NULL-safe. */
void arcad_args_free(struct arcad_args *a);

#endif
