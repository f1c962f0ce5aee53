/* main.c - the sluice command line: dispatch to a subcommand (src/cli/). */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return sl_cli_main(argc, argv);
}
