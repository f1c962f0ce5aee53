/* registry.c - every plugin sluice has: one line each. */
#include "pipeline/stage.h"

#include <string.h>

extern const sl_plugin sl_output_stdout;
extern const sl_plugin sl_output_redis;
extern const sl_plugin sl_processor_scenario;
extern const sl_plugin sl_output_lake;
extern const sl_plugin sl_input_tail;
extern const sl_plugin sl_input_kafka;

static const sl_plugin *const plugins[] = {
    &sl_output_stdout,
    &sl_output_redis,
    &sl_processor_scenario,
    &sl_output_lake,
    &sl_input_tail,
    &sl_input_kafka,
    NULL,
};

const sl_plugin *const *sl_plugins(void)
{
    return plugins;
}

const sl_plugin *sl_plugin_find(sl_stage_kind kind, const char *type)
{
    for (const sl_plugin *const *p = plugins; *p; p++)
        if ((*p)->kind == kind && strcmp((*p)->type, type) == 0)
            return *p;
    return NULL;
}
