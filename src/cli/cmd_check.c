/* cmd_check.c - `sluice check -c FILE`: validate a configuration. */
#include "cli/cli.h"
#include "core/config.h"
#include "pipeline/stage.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void check_usage(FILE *out)
{
    fprintf(out, "usage: sluice check -c FILE\n"
                 "       sluice check --reference\n\n"
                 "Validates a configuration file and prints each problem as FILE:LINE: message.\n"
                 "Exit status 0 when valid, 1 when not.\n\n"
                 "  -c, --config FILE   the file to check (omit to check the embedded default)\n"
                 "      --default       print the embedded default configuration\n"
                 "      --reference     print the configuration reference (Markdown)\n");
}

int sl_cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "reference", no_argument, NULL, 'r' },
        { "default", no_argument, NULL, 'd' },      { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    const char *path = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'r': {
            sl_buf out = SL_BUF_INIT;
            sl_config_reference(&out);
            static const char *const kinds[] = { "inputs", "processors", "outputs" };
            for (int kind = SL_STAGE_INPUT; kind <= SL_STAGE_OUTPUT; kind++)
                for (const sl_plugin *const *p = sl_plugins(); *p; p++) {
                    if ((int)(*p)->kind != kind)
                        continue;
                    char section[96];
                    snprintf(section, sizeof section, "%s: type %s", kinds[kind], (*p)->type);
                    sl_conf_reference_table(&out, section, (*p)->keys);
                    sl_buf_printf(&out, "\n%s. Every entry also takes `type` and `name` (default: "
                                        "the type).\n", (*p)->description);
                }
            fputs(out.data, stdout);
            sl_buf_free(&out);
            return 0;
        }
        case 'd': fputs(sl_config_default_yaml(), stdout); return 0;
        case 'h': check_usage(stdout); return 0;
        default: check_usage(stderr); return 2;
        }
    }
    sl_buf errors = SL_BUF_INIT;
    sl_config *cfg = NULL;
    if (sl_pipeline_load_config(path, &cfg, &errors) < 0) {
        fputs(errors.data ? errors.data : "invalid configuration\n", stderr);
        sl_buf_free(&errors);
        return 1;
    }
    printf("%s: ok (%zu topics, %zu routes, %zu stages, data in %s)\n", cfg->path, cfg->ntopics,
           cfg->nroutes, cfg->nstages, cfg->data_dir);
    sl_config_free(cfg);
    sl_buf_free(&errors);
    return 0;
}
