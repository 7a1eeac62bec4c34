/* `arca cas` owner subcommands (cmd_owner.c) and the attestation they share with `arca cas
 * attest` (cmd_cas.c). */
#ifndef ARCA_CMD_OWNER_H
#define ARCA_CMD_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

#define CAS_MAX_MEASUREMENTS 16

/* What `arca cas attest` accepts: --accept-simulation, --measurement HEX (repeatable). */
struct cas_attest_opts {
    bool accept_sim;
    uint8_t meas[CAS_MAX_MEASUREMENTS][32];
    size_t nmeas;
    bool quiet; /* print nothing on success (the caller reports) */
    bool use;   /* --use: make it the default CAS without asking */
};

/* Takes argv[*i] for `arca cas CMD`: an attest option (--accept-simulation, --use, --measurement HEX,
 * advancing *i past its value) into o, else the first positional argument into *addr. Anything
 * else is a usage error (printed). Returns an exit code. */
int cas_take_arg(const char *cmd, struct cas_attest_opts *o, int argc, char **argv, int *i,
                 const char **addr);

/* Attests the CAS at addr and pins its key (cas_key gets it). Returns an exit code; failures
 * are printed. */
int cas_attest_pin(struct arca_cli *cli, const char *addr, const struct cas_attest_opts *o,
                   uint8_t cas_key[32]);

int cas_provision(struct arca_cli *cli, int argc, char **argv);
int cas_register_upgrade(struct arca_cli *cli, int argc, char **argv);
int cas_register_backup(struct arca_cli *cli, int argc, char **argv);
int cas_owner(struct arca_cli *cli, int argc, char **argv);
int cas_rotate_key(struct arca_cli *cli, int argc, char **argv);
int cas_audit_checkpoint(struct arca_cli *cli, int argc, char **argv);
int cas_snapshot(struct arca_cli *cli, int argc, char **argv);

#endif
