/*
 * config.h - sluice's one configuration file.
 *
 * YAML, every key has a default, `${VAR}` and `${VAR:-default}` expand
 * environment variables inside scalars. Each section's keys are declared once
 * in a table (config.c) with type, default, offsetof and description: the
 * parser, the defaults, the error messages of `sluice check` (file:line and
 * the offending text) and docs/configuration.md all come from those tables.
 *
 * With no file, sluice runs the embedded default (sl_config_default_yaml):
 * data in ./sluice-data, seed 004's topics, both listeners on loopback.
 */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include "core/buf.h"
#include "log/log.h"

/* Types a validation rule may require of a field. */
typedef enum {
    SL_FIELD_ANY, SL_FIELD_STRING, SL_FIELD_NUMBER, SL_FIELD_INTEGER,
    SL_FIELD_BOOLEAN, SL_FIELD_OBJECT, SL_FIELD_ARRAY, SL_FIELD_TIMESTAMP,
} sl_field_type;

typedef struct sl_field_rule {
    char *path;              /* dotted path: "metadata.status_code" */
    sl_field_type type;
} sl_field_rule;

typedef struct sl_topic_config {
    sl_topic_spec spec;       /* name, partitions, retention, ... */
    char *key;                /* dotted path of the key field; NULL = keyless */
    char *timestamp_field;    /* dotted path of the event time; default "timestamp" */
    bool ingest_time_fallback; /* no parseable timestamp: stamp ingest time instead of rejecting */
    sl_field_rule *required;  /* fields every event must have, with their types */
    size_t nrequired;
    int line;
} sl_topic_config;

/* A collector route: events matching `when` go to `topic`. */
typedef enum { SL_ROUTE_HAS, SL_ROUTE_EQUALS, SL_ROUTE_ALWAYS } sl_route_kind;
typedef struct sl_route {
    sl_route_kind kind;
    char *field;             /* dotted path */
    char *value;             /* SL_ROUTE_EQUALS: the string it must equal */
    char *topic;
    char *when;              /* the source text, for messages */
    int line;
} sl_route;

typedef struct sl_listen_config {
    char *listen;            /* host:port */
    char *token;             /* bearer token; "" = open */
    int threads;
} sl_listen_config;

typedef struct sl_config {
    char *path;              /* the file, or "<default>" */
    char *data_dir;
    char *log_level;

    /* log */
    char *log_backend;
    char *log_fsync;
    int64_t log_group_commit_us;
    int64_t log_retention_ms;
    int64_t log_retention_bytes;
    int64_t log_segment_bytes;
    int64_t log_segment_ms;
    int64_t log_max_pending_bytes;
    bool log_compress;

    char **kafka_conf;       /* NULL-terminated key, value pairs */
    size_t nkafka;

    sl_topic_config *topics;
    size_t ntopics;

    /* collector */
    sl_listen_config collector;
    int64_t collector_max_body;
    int64_t collector_max_events;
    int64_t collector_max_depth;
    int64_t collector_retry_after_s;
    sl_route *routes;
    size_t nroutes;

    /* admin */
    sl_listen_config admin;
    bool admin_metrics_open;  /* /metrics needs no token even when one is set */
} sl_config;

/*
 * Load and validate a configuration. path NULL = the embedded default.
 * On failure returns SL_ERR_CONFIG and appends one line per problem to
 * errors ("file:line: message (near 'text')"). On success *out is owned by
 * the caller: sl_config_free.
 */
int  sl_config_load(const char *path, sl_config **out, sl_buf *errors);
int  sl_config_parse(const char *name, const char *yaml, size_t len, sl_config **out,
                     sl_buf *errors);
void sl_config_free(sl_config *cfg);

const char *sl_config_default_yaml(void);

/* The topic's config, or NULL if undeclared. */
const sl_topic_config *sl_config_topic(const sl_config *cfg, const char *name);

/* Fill log options from the config; topics points into cfg (keep cfg alive). */
void sl_config_log_options(const sl_config *cfg, sl_log_options *opts, sl_topic_spec **specs);

/* The configuration reference (Markdown), generated from the key tables. */
void sl_config_reference(sl_buf *out);

/* Parse helpers shared with the CLI: "10MiB", "5s", "7d". */
int sl_parse_size(const char *s, int64_t *out);
int sl_parse_duration_us(const char *s, int64_t *out);

#endif
