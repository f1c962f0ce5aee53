/* cli.c - top-level dispatch and `sluice --help` (placeholder for bootstrap). */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int sl_cli_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("sluice %s\n", SLUICE_VERSION);
    return 0;
}
