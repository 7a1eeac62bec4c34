/* arca session: placeholder until its issue lands. */
#include "cli.h"

int cmd_session(struct arca_cli *cli, int argc, char **argv)
{
    (void)cli;
    (void)argc;
    (void)argv;
    return cli_fail(ARCA_EXIT_USAGE, "'session' is not implemented yet");
}
