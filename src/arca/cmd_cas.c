/* arca cas: placeholder until its issue lands. */
#include "cli.h"

int cmd_cas(struct arca_cli *cli, int argc, char **argv)
{
    (void)cli;
    (void)argc;
    (void)argv;
    return cli_fail(ARCA_EXIT_USAGE, "'cas' is not implemented yet");
}
