/*
 * stage.h - how inputs, processors and outputs plug into sluice.
 *
 * A plugin is a static struct of callbacks (sl_plugin) plus a key table for
 * its configuration; adding one means a directory under src/input,
 * src/processor or src/output and one line in src/pipeline/registry.c.
 *
 * Every stage runs on its own thread. The runtime creates the stage from
 * its config entry (init), runs it (run) until sluice stops, and if run
 * returns an error it destroys the stage, waits (1 s, doubling to 60 s) and
 * creates it again: a failing stage is reported and retried, and never
 * holds resources that would block the next attempt or the other stages.
 *
 * Processors and outputs read topics as members of a consumer group; most
 * of them run sl_sink_run, which owns the poll loop: it hands each batch of
 * records to the plugin (write), asks it to make what it holds durable
 * (flush) every flush_interval, before partitions are revoked and at stop,
 * and the plugin commits the offsets of what its flush made durable
 * (sl_sink_commit). A flush that answers RETRY is retried with backoff while
 * reading pauses (backpressure reaches the log, not memory).
 *
 * Lifecycle of a stage: check (at config load, no side effects) -> init ->
 * run -> destroy. stop() may be called from another thread while run runs;
 * it only asks run to return.
 */
#ifndef SL_STAGE_H
#define SL_STAGE_H

#include "core/config.h"
#include "core/metrics.h"
#include "log/log.h"

#include <stdatomic.h>

typedef struct sl_stage sl_stage;

/* What a stage gets from the runtime. Valid for the stage's whole life. */
typedef struct sl_stage_env {
    const char *name;          /* instance name ("lake", "scenario") */
    const char *tag;           /* "output:lake", for log lines */
    sl_log *log;
    const sl_config *cfg;      /* the config the stage was created from */
    const char *config_file;   /* for messages */
    sl_stage *stage;           /* the runtime's handle (sl_stage_stopping) */
} sl_stage_env;

typedef struct sl_plugin {
    const char *type;
    sl_stage_kind kind;
    const char *description;
    const sl_conf_key *keys;   /* the plugin's configuration keys */
    size_t conf_size;          /* sizeof its config struct */
    /* Cross-checks once the keys are read (topics declared, paths, ...);
       appends "file:line: ..." lines to errors. Optional. */
    int (*check)(const void *conf, const sl_stage_config *entry, const sl_config *cfg,
                 sl_buf *errors);
    /* Create the stage; on failure nothing is left to free. */
    int (*init)(const sl_stage_env *env, const void *conf, void **state);
    /* The stage's body; returns 0 when asked to stop, <0 on failure. */
    int (*run)(void *state);
    /* Ask run to return soon (optional; sl_stage_stopping is also polled). */
    void (*stop)(void *state);
    void (*destroy)(void *state);
} sl_plugin;

/* True once sluice is stopping: run loops test it. */
bool sl_stage_stopping(const sl_stage *stage);
/* Sleep up to ms, returning early (true) when the stage is stopping. */
bool sl_stage_sleep(sl_stage *stage, int ms);

/* Report the stage's health for /metrics and the dashboard. */
typedef enum { SL_STAGE_UP, SL_STAGE_RETRYING, SL_STAGE_FAILING } sl_stage_health;
void sl_stage_set_health(sl_stage *stage, sl_stage_health health, const char *why);

/* ---- the shared consumer loop ------------------------------------------- */

typedef enum { SL_FLUSH_OK, SL_FLUSH_RETRY, SL_FLUSH_ERROR } sl_flush_result;

typedef struct sl_sink sl_sink;

typedef struct sl_sink_ops {
    /* Partitions were assigned; the plugin may sl_sink_seek them (the lake
       resumes from its own files). Optional. */
    void (*assigned)(void *state, sl_sink *sink, const sl_topic_partition *tps, size_t n);
    /* Records of one partition, in offset order. Return 0 to go on,
       SL_ERR_FULL to ask for a flush before more records, <0 to fail. */
    int (*write)(void *state, sl_sink *sink, const sl_fetch *records);
    /* Make everything written so far durable and commit it (revoking: the
       partitions are about to go away, so flush everything). */
    sl_flush_result (*flush)(void *state, sl_sink *sink, bool revoking);
} sl_sink_ops;

typedef struct sl_sink_options {
    const char *group;               /* default "sluice.<name>" */
    const char *const *topics;       /* the `from` topics */
    int64_t flush_interval_ms;       /* idle flush; default 1000 */
    size_t max_records;              /* per write call; default 10000 */
} sl_sink_options;

/* Join the group and run the loop until the stage stops (flushes at the end). */
int sl_sink_run(const sl_stage_env *env, const sl_sink_options *opts, const sl_sink_ops *ops,
                void *state);
/* Commit next_offset for a partition (durable on return). */
int sl_sink_commit(sl_sink *sink, const char *topic, int32_t partition, int64_t next_offset);
/* Move the read position of an assigned partition. */
int sl_sink_seek(sl_sink *sink, const char *topic, int32_t partition, int64_t offset);

/* For plugin checks: every name in topics (NULL-terminated) is declared;
   key names the config key for messages ("from"). */
int sl_stage_check_topics(char *const *topics, const char *key, const sl_stage_config *entry,
                          const sl_config *cfg, sl_buf *errors);

/* ---- the runtime ---------------------------------------------------------- */

typedef struct sl_pipeline sl_pipeline;

/* The plugin for a type and kind, or NULL. */
const sl_plugin *sl_plugin_find(sl_stage_kind kind, const char *type);
/* Every registered plugin, NULL-terminated. */
const sl_plugin *const *sl_plugins(void);

/* Validate every stage entry of cfg with its plugin (used by sluice check). */
int sl_pipeline_check(const sl_config *cfg, sl_buf *errors);

/* Load a configuration (NULL = the embedded default) and check its stages;
   errors go to errors. The one entry point for run, check and reload. */
int sl_pipeline_load_config(const char *path, sl_config **out, sl_buf *errors);

/*
 * Start the stages of cfg whose name or type is in `only` (NULL = all).
 * cfg and log must outlive the pipeline.
 */
int  sl_pipeline_start(const sl_config *cfg, sl_log *log, const char *only, sl_pipeline **out);
/* Ask every stage to stop, wait for them (they flush), free. NULL-safe. */
void sl_pipeline_stop(sl_pipeline *p);

#endif
