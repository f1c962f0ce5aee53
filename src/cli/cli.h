/*
 * cli.h - subcommands of the sluice binary. Each takes the arguments after
 * its name (argv[0] is the subcommand) and returns the process exit status:
 * 0 success, 1 failure, 2 usage error.
 */
#ifndef SL_CLI_H
#define SL_CLI_H

int sl_cli_main(int argc, char **argv);

#include "core/buf.h"

/* Read a whole file ("-" = standard input) into out; 0, or -1 with a message on stderr. */
int sl_cli_read_file(const char *path, sl_buf *out);

int sl_cmd_run(int argc, char **argv);
int sl_cmd_check(int argc, char **argv);
int sl_cmd_log(int argc, char **argv);
int sl_cmd_lake(int argc, char **argv);
int sl_cmd_gen(int argc, char **argv);
int sl_cmd_scenario(int argc, char **argv);
int sl_cmd_members(int argc, char **argv);
int sl_cmd_version(int argc, char **argv);

#endif
