/* arca audit subcommands split out of cmd_audit.c (which dispatches them). */
#ifndef ARCA_CMD_AUDIT_H
#define ARCA_CMD_AUDIT_H

#include "cli.h"

/* arca audit show|tail (cmd_audit_show.c); argv[0] is "show" or "tail". Returns an exit code. */
int audit_show(struct arca_cli *cli, int argc, char **argv);

#endif
