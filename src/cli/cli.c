/* cli.c - `sluice` top-level dispatch and help. */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct command {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    { "run", sl_cmd_run, "run the pipeline (no -c: the embedded default)" },
    { "check", sl_cmd_check, "validate a configuration file" },
    { "gen", sl_cmd_gen, "generate events (logs, events) and send them" },
    { "log", sl_cmd_log, "inspect the log: topics, tail, offsets, verify" },
    { "lake", sl_cmd_lake, "inspect and compact the Parquet lake: ls, schema, cat, compact" },
    { "scenario", sl_cmd_scenario, "manage scenarios through the admin API: list, add, rm" },
    { "members", sl_cmd_members, "manage members through the admin API: import, list" },
    { "version", sl_cmd_version, "print the version" },
};

static void usage(FILE *out)
{
    fprintf(out,
            "sluice %s - a real-time log and event pipeline in one binary\n\n"
            "usage: sluice COMMAND [OPTIONS]\n\ncommands:\n",
            SLUICE_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`sluice COMMAND --help` describes each command.\n"
                 "Docs: README.md and docs/ in the source tree.\n");
}

int sl_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "--version"))
        name = "version";
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "sluice: unknown command '%s'\n\n", name);
    usage(stderr);
    return 2;
}

int sl_cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("sluice %s\n", SLUICE_VERSION);
    return 0;
}

int sl_cli_read_file(const char *path, sl_buf *out)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "sluice: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sl_buf_append(out, chunk, n);
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (bad) {
        fprintf(stderr, "sluice: read error on %s\n", path);
        return -1;
    }
    if (!out->data)
        sl_buf_append(out, "", 0);
    return 0;
}
