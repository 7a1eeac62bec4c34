/* arca session create|update|read|list|history|verify: placeholder until the server lands. */
#include "cli.h"

#define NOT_YET(fn)                                                                                \
    int fn(struct arca_cli *cli, int argc, char **argv)                                            \
    {                                                                                              \
        (void)cli;                                                                                 \
        (void)argc;                                                                                \
        return cli_fail(ARCA_EXIT_USAGE, "'session %s' is not implemented yet", argv[0]);          \
    }

NOT_YET(session_create)
NOT_YET(session_update)
NOT_YET(session_read)
NOT_YET(session_list)
NOT_YET(session_history)
NOT_YET(session_verify)
