/* cmd_log.c - `sluice log`: inspect the log (being written; see below). */
#include "cli/cli.h"

#include <stdio.h>

int sl_cmd_log(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "sluice log: not available yet\n");
    return 1;
}
