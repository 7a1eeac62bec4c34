/*
 * The CLI's side of arca's identities and its HTTPS client (libcurl, mutual TLS).
 *
 * Identity directory (--identity DIR, $ARCA_IDENTITY, default ~/.config/arca), mode 0700:
 *   key.pem   this client's P-256 private key (PKCS#8 PEM, 0600)
 *   cert.pem  a self-signed certificate for it (only the key counts to arcad)
 *   cas.json  pinned CASes: {"default": ADDR, "cas": {ADDR: {"cas_key": HEX64, ...}}}
 * Every connection to a CAS pins its key (CURLOPT_PINNEDPUBLICKEY sha256//...) as recorded by
 * `arca cas attest`; the CA chain itself is not trusted.
 */
#ifndef ARCA_CLIENT_H
#define ARCA_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "cli.h"

/* Reads a whole file (at most out->max bytes) into out. ARCA_ERR_NOT_FOUND / ARCA_ERR_IO with
 * the path in the detail. */
int cli_file_read(const char *path, struct arca_buf *out);

/* The identity directory for cli (borrowed or static storage); never NULL. */
const char *arca_identity_dir(const struct arca_cli *cli);

/* Reads cas.json of the identity dir into *out (json_decref), or an empty object. */
int arca_cas_db_load(const struct arca_cli *cli, json_t **out);
/* Writes cas.json atomically. */
int arca_cas_db_save(const struct arca_cli *cli, json_t *db);

struct arca_client;

/*
 * A client for the CAS of cli (--cas, $ARCA_CAS, else the default in cas.json), pinned to the
 * key `arca cas attest` recorded for that address. With_identity presents the client's
 * certificate (error if `arca self keygen` was not run). Errors have a detail that says what
 * to do; ARCA_ERR_NOT_FOUND when no CAS is known or attested. Free with arca_client_free.
 */
int arca_client_open(const struct arca_cli *cli, bool with_identity, struct arca_client **out);
/*
 * As arca_client_open for an explicit address, pinned to pinned_key_id (NULL: no pin, for the
 * first contact of `arca cas attest` only).
 */
int arca_client_open_addr(const struct arca_cli *cli, const char *addr,
                          const uint8_t *pinned_key_id, bool with_identity,
                          struct arca_client **out);
void arca_client_free(struct arca_client *c);
const char *arca_client_addr(const struct arca_client *c);

/*
 * One request: method "GET"/"POST", path starting with '/' (query included), optional body.
 * *status gets the HTTP status, answer the body (bounded to 16 MiB). Returns ARCA_ERR_NETWORK
 * (with curl's reason) when no answer came, including TLS and pin failures.
 */
int arca_client_request(struct arca_client *c, const char *method, const char *path,
                        const void *body, size_t n, long *status, struct arca_buf *answer);

/*
 * The same, parsing the answer as a JSON object into *out (json_decref; duplicate keys are
 * refused, api/json.h; a 2xx answer that does not parse is ARCA_ERR_NETWORK, since the CAS
 * did not speak the protocol). When the status is not 2xx,
 * prints the server's {"msg": [...]} to stderr and returns the matching negative code (the
 * answer is still returned in *out if it parsed). Convenience for the subcommands.
 */
int arca_client_json(struct arca_client *c, const char *method, const char *path, const void *body,
                     size_t n, long *status, json_t **out);

/* Maps a failed client call to a CLI exit code: network/TLS => ARCA_EXIT_CAS, else FAIL. */
int arca_client_exit_code(int rc);

/* One subcommand of a command group; run gets argv starting at the subcommand's name. opts
 * lists the options it takes (cli_check_options; NULL: run checks them itself). */
struct cli_sub {
    const char *name;
    int (*run)(struct arca_cli *cli, int argc, char **argv);
    const char *opts;
};

/*
 * The shared dispatch of a group (argv[0] = group name): takes -o/--output anywhere, then
 * runs the subcommand argv[1] from subs. No subcommand: usage to stderr, ARCA_EXIT_USAGE;
 * "-h", "--help" or "help" as the subcommand, or -h/--help anywhere after it: usage to stdout,
 * ARCA_EXIT_OK (so every `arca GROUP SUB --help` shows the group's help); unknown subcommand:
 * usage and an error naming it and the closest subcommand, ARCA_EXIT_USAGE; an option the
 * subcommand does not declare (cli_sub.opts): ARCA_EXIT_USAGE naming it. Returns the exit code.
 */
int cli_dispatch(struct arca_cli *cli, const struct cli_sub *subs, size_t n_subs,
                 void (*usage)(FILE *f), int argc, char **argv);

/* Prints j to stdout as indented JSON with sorted keys and a newline. j stays the caller's. */
void cli_print_json(const json_t *j);

#endif
