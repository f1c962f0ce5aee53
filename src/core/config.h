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

#include <stddef.h>

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

/* ---- plugin entries (inputs, processors, outputs) ---------------------- */

/* A value of a plugin entry as written: a scalar, a list or a map of scalars. */
typedef enum { SL_CONF_SCALAR, SL_CONF_LIST, SL_CONF_MAP } sl_conf_value_kind;

typedef struct sl_conf_pair {
    char *key;
    sl_conf_value_kind kind;
    char *scalar;          /* SL_CONF_SCALAR, ${VAR} expanded */
    char **items;          /* LIST: values; MAP: key, value, key, value ... (NULL-terminated) */
    size_t nitems;
    int line;
} sl_conf_pair;

typedef enum { SL_STAGE_INPUT, SL_STAGE_PROCESSOR, SL_STAGE_OUTPUT } sl_stage_kind;

/* One entry of inputs:, processors: or outputs:, before its plugin reads it. */
typedef struct sl_stage_config {
    sl_stage_kind kind;
    char *type;            /* the plugin */
    char *name;            /* `name:`, else the type (type-2, type-3 when repeated) */
    sl_conf_pair *pairs;   /* every other key */
    size_t npairs;
    int line;
} sl_stage_config;

/* How a plugin declares its keys: one table, as config.c does for its own. */
typedef enum {
    SL_KEY_STRING, SL_KEY_INT, SL_KEY_BOOL, SL_KEY_SIZE, SL_KEY_DURATION, SL_KEY_ENUM,
    SL_KEY_LISTEN,
    SL_KEY_LIST,           /* char ** (NULL-terminated); a scalar is a list of one */
    SL_KEY_MAP,            /* char ** key, value, ... (NULL-terminated) */
} sl_key_kind;

typedef struct sl_conf_key {
    const char *name;
    sl_key_kind kind;
    const char *default_text; /* parsed like a value; NULL = unset */
    size_t offset;
    size_t size;              /* sizeof the field (int widths, enum stored as bool) */
    int64_t unit;             /* SL_KEY_DURATION: µs per stored unit (1, 1000, 1000000) */
    const char *choices;      /* SL_KEY_ENUM: "a|b|c"; stored as bool when size is 1 */
    const char *description;
} sl_conf_key;

/* offsetof and sizeof a field of struct type T, for sl_conf_key tables. */
#define SL_CONF_FIELD(T, field) offsetof(T, field), sizeof(((T *)0)->field)

/*
 * Fill base (a plugin's config struct) from a stage entry: defaults first,
 * then the entry's pairs. Problems are appended to errors as
 * "file:line: ..."; returns 0 or SL_ERR_CONFIG.
 */
int  sl_conf_apply(const sl_conf_key *keys, void *base, const sl_stage_config *stage,
                   const char *file, sl_buf *errors);
/* Free the strings, lists and maps sl_conf_apply stored in base. */
void sl_conf_release(const sl_conf_key *keys, void *base);
/* A Markdown table of keys for the configuration reference. */
void sl_conf_reference_table(sl_buf *out, const char *section, const sl_conf_key *keys);

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

    /* catalogue: scenarios, members, stats */
    char *catalogue_postgres; /* libpq conninfo; "" = SQLite in data_dir */

    /* inputs, processors, outputs: validated by their plugins (pipeline/) */
    sl_stage_config *stages;
    size_t nstages;
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
