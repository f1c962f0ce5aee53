/*
 * config.c - YAML configuration: key tables, parsing, defaults, validation.
 *
 * The document is loaded whole with libyaml's document API (it keeps a line
 * number on every node), then walked section by section. Each section's
 * keys live in one table below; a key's default is written as text and
 * parsed by the same code as the file's values, so the reference printed by
 * sl_config_reference always matches what the parser does.
 */
#include "core/config.h"
#include "core/alloc.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* The core sections use the same key tables as plugins (sl_conf_key). */
typedef sl_conf_key conf_key;
#define K_STRING   SL_KEY_STRING
#define K_INT      SL_KEY_INT
#define K_BOOL     SL_KEY_BOOL
#define K_SIZE     SL_KEY_SIZE
#define K_DURATION SL_KEY_DURATION
#define K_ENUM     SL_KEY_ENUM
#define K_LISTEN   SL_KEY_LISTEN

#define CFG(field) SL_CONF_FIELD(sl_config, field)
#define TOPIC(field) SL_CONF_FIELD(sl_topic_config, field)

static const conf_key root_keys[] = {
    { "data_dir", K_STRING, "./sluice-data", CFG(data_dir), 0, NULL,
      "Directory for the log, the catalogue and (by default) the lake." },
    { "log_level", K_ENUM, "info", CFG(log_level), 0, "debug|info|warn|error",
      "Verbosity of sluice's own diagnostics on stderr." },
    { 0 },
};

static const conf_key log_keys[] = {
    { "backend", K_ENUM, "embedded", CFG(log_backend), 0, "embedded|kafka",
      "Where topics live: sluice's own segment files, or Apache Kafka." },
    { "fsync", K_ENUM, "group", CFG(log_fsync), 0, "always|group|os",
      "When an append is acknowledged: after its own fsync, after a shared fsync every "
      "`group_commit`, or after write(2)." },
    { "group_commit", K_DURATION, "2ms", CFG(log_group_commit_us), 1, NULL,
      "Interval of the shared fsync in `fsync: group`." },
    { "retention", K_DURATION, "7d", CFG(log_retention_ms), 1000, NULL,
      "Default age after which closed segments are deleted (per topic: `retention`)." },
    { "retention_bytes", K_SIZE, "0", CFG(log_retention_bytes), 0, NULL,
      "Default size limit per partition; 0 = none." },
    { "segment_bytes", K_SIZE, "256MiB", CFG(log_segment_bytes), 0, NULL,
      "Roll the active segment past this size." },
    { "segment_age", K_DURATION, "1h", CFG(log_segment_ms), 1000, NULL,
      "Roll the active segment past this age." },
    { "max_pending", K_SIZE, "64MiB", CFG(log_max_pending_bytes), 0, NULL,
      "Unsynced bytes beyond which appends are refused (HTTP 503) until the disk catches up." },
    { "compression", K_ENUM, "none", CFG(log_compress), 0, "none|zstd",
      "Default compression of record batches (per topic: `compression`)." },
    { 0 },
};

static const conf_key collector_keys[] = {
    { "listen", K_LISTEN, "127.0.0.1:8081", CFG(collector.listen), 0, NULL,
      "Address of the data plane: POST /api/collect, the tracking pixel, /health." },
    { "token", K_STRING, "", CFG(collector.token), 0, NULL,
      "Bearer token senders must present; empty = open." },
    { "threads", K_INT, "0", CFG(collector.threads), 0, NULL,
      "HTTP worker threads (epoll, each serving many connections); 0 = one per CPU core." },
    { "max_body", K_SIZE, "16MiB", CFG(collector_max_body), 0, NULL,
      "Largest request body accepted (decompressed); larger gets 413 before it is read." },
    { "max_events", K_INT, "10000", CFG(collector_max_events), 0, NULL,
      "Most events accepted in one request." },
    { "max_depth", K_INT, "32", CFG(collector_max_depth), 0, NULL,
      "Deepest JSON nesting accepted in an event." },
    { "retry_after", K_DURATION, "1s", CFG(collector_retry_after_s), 1000000, NULL,
      "Retry-After sent with 503 when the log cannot accept." },
    { 0 },
};

static const conf_key admin_keys[] = {
    { "listen", K_LISTEN, "127.0.0.1:8080", CFG(admin.listen), 0, NULL,
      "Address of the admin plane: dashboard, /metrics, /api/*." },
    { "token", K_STRING, "", CFG(admin.token), 0, NULL,
      "Bearer token for the admin API and dashboard; empty = open." },
    { "threads", K_INT, "4", CFG(admin.threads), 0, NULL, "Admin HTTP worker threads." },
    { "metrics_open", K_BOOL, "true", CFG(admin_metrics_open), 0, NULL,
      "Serve /metrics without the token, for Prometheus." },
    { 0 },
};

static const conf_key catalogue_keys[] = {
    { "postgres", K_STRING, "", CFG(catalogue_postgres), 0, NULL,
      "libpq connection string of the catalogue (scenarios, members, stats); empty = SQLite "
      "in data_dir/catalogue.db." },
    { 0 },
};

static const conf_key topic_keys[] = {
    { "partitions", K_INT, "1", TOPIC(spec.partitions), 0, NULL, "Number of partitions (1-1024)." },
    { "replication", K_INT, "1", TOPIC(spec.replication), 0, NULL,
      "Replication factor (Kafka backend)." },
    { "key", K_STRING, NULL, TOPIC(key), 0, NULL,
      "Dotted path of the field whose value is the record key (murmur2 partitioning); "
      "unset = keyless, spread per batch." },
    { "timestamp", K_STRING, "timestamp", TOPIC(timestamp_field), 0, NULL,
      "Dotted path of the event-time field (ISO-8601 or epoch s/ms/µs/ns)." },
    { "on_missing_timestamp", K_ENUM, "reject", TOPIC(ingest_time_fallback), 0, "reject|ingest_time",
      "An event without a parseable timestamp is rejected, or stamped with the ingest time." },
    { "retention", K_DURATION, NULL, TOPIC(spec.retention_ms), 1000, NULL,
      "Age after which closed segments are deleted; default `log.retention`." },
    { "retention_bytes", K_SIZE, NULL, TOPIC(spec.retention_bytes), 0, NULL,
      "Size limit per partition; default `log.retention_bytes`." },
    { "segment_bytes", K_SIZE, NULL, TOPIC(spec.segment_bytes), 0, NULL,
      "Segment size; default `log.segment_bytes`." },
    { "segment_age", K_DURATION, NULL, TOPIC(spec.segment_ms), 1000, NULL,
      "Segment age; default `log.segment_age`." },
    { "compression", K_ENUM, NULL, TOPIC(spec.compress), 0, "none|zstd",
      "Batch compression; default `log.compression`." },
    { 0 },
};

/* ---- the embedded default ------------------------------------------- */

static const char default_yaml[] =
    "# The embedded default: what `sluice run` uses without -c.\n"
    "data_dir: ./sluice-data\n"
    "log:\n"
    "  backend: embedded\n"
    "  fsync: group\n"
    "  retention: 7d\n"
    "topics:\n"
    "  logs.raw:\n"
    "    partitions: 3\n"
    "    key: service\n"
    "    require: { level: string, service: string, message: string }\n"
    "  events.activity:\n"
    "    partitions: 3\n"
    "    key: user_id\n"
    "    require: { event_id: string, user_id: string, event_type: string }\n"
    "  alerts.realtime: { partitions: 1, retention: 1d }\n"
    "  web.raw: { partitions: 3, key: memberId }\n"
    "  scenario.results: { partitions: 3, key: scenario_id }\n"
    "  scenario.stats: { partitions: 3, key: scenario_id, timestamp: window_start }\n"
    "collector:\n"
    "  listen: 127.0.0.1:8081\n"
    "  routes:\n"
    "    - { when: 'has(level)', topic: logs.raw }\n"
    "    - { when: 'has(event_type)', topic: events.activity }\n"
    "admin:\n"
    "  listen: 127.0.0.1:8080\n"
    "processors:\n"
    "  - { type: scenario, from: web.raw, to: scenario.results, stats_topic: scenario.stats,\n"
    "      optional: true }\n"
    "outputs:\n"
    "  # Parquet by event-time hour in <data_dir>/lake (./sluice-data/lake)\n"
    "  - { type: lake, from: [logs.raw, events.activity], compression: zstd, optional: true }\n";

const char *sl_config_default_yaml(void)
{
    return default_yaml;
}

/* ---- parsing context ------------------------------------------------- */

typedef struct parse_ctx {
    const char *name;
    yaml_document_t doc;
    sl_buf *errors;
    int nerrors;
    bool saw_topics;   /* the document declares topics: they replace the defaults */
    bool saw_routes;   /* likewise for collector.routes */
} parse_ctx;

/* Where a value came from, for messages: a YAML node, or a line and text. */
typedef struct conf_origin {
    const yaml_node_t *node;
    int line;
    const char *text;
} conf_origin;

static void conf_verror(parse_ctx *ctx, conf_origin o, const char *fmt, va_list ap)
{
    int line = o.node ? (int)o.node->start_mark.line + 1 : o.line;
    sl_buf_printf(ctx->errors, "%s:%d: ", ctx->name, line);
    sl_buf_vprintf(ctx->errors, fmt, ap);
    if (o.node && o.node->type == YAML_SCALAR_NODE)
        sl_buf_printf(ctx->errors, " (near '%.*s')", (int)SL_MIN(o.node->data.scalar.length, 60),
                      (const char *)o.node->data.scalar.value);
    else if (!o.node && o.text)
        sl_buf_printf(ctx->errors, " (near '%.60s')", o.text);
    sl_buf_append_char(ctx->errors, '\n');
    ctx->nerrors++;
}

static void conf_error(parse_ctx *ctx, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conf_error(parse_ctx *ctx, const yaml_node_t *node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    conf_verror(ctx, (conf_origin){ .node = node }, fmt, ap);
    va_end(ap);
}

static void origin_error(parse_ctx *ctx, conf_origin o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void origin_error(parse_ctx *ctx, conf_origin o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    conf_verror(ctx, o, fmt, ap);
    va_end(ap);
}

static void free_strings(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Expand ${VAR} and ${VAR:-default}; NULL (and an error) if VAR is unset. */
static char *expand_env(parse_ctx *ctx, const yaml_node_t *node, const char *s)
{
    sl_buf out = SL_BUF_INIT;
    for (const char *p = s; *p;) {
        if (p[0] != '$' || p[1] != '{') {
            sl_buf_append_char(&out, *p++);
            continue;
        }
        const char *close = strchr(p + 2, '}');
        if (!close) {
            conf_error(ctx, node, "unterminated ${ in value");
            sl_buf_free(&out);
            return NULL;
        }
        char *inner = sl_strndup(p + 2, (size_t)(close - p - 2));
        char *fallback = strstr(inner, ":-");
        if (fallback) {
            *fallback = '\0';
            fallback += 2;
        }
        const char *value = getenv(inner);
        if (!value || (!*value && fallback))
            value = fallback;
        if (!value) {
            conf_error(ctx, node, "environment variable %s is not set", inner);
            free(inner);
            sl_buf_free(&out);
            return NULL;
        }
        sl_buf_append_str(&out, value);
        free(inner);
        p = close + 1;
    }
    return sl_buf_steal(&out);
}

int sl_parse_size(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0)
        return SL_ERR_PARSE;
    while (*end == ' ')
        end++;
    static const struct { const char *suffix; double mult; } units[] = {
        { "", 1 }, { "B", 1 }, { "K", 1e3 }, { "KB", 1e3 }, { "KiB", 1024.0 },
        { "M", 1e6 }, { "MB", 1e6 }, { "MiB", 1048576.0 }, { "G", 1e9 }, { "GB", 1e9 },
        { "GiB", 1073741824.0 }, { "T", 1e12 }, { "TB", 1e12 }, { "TiB", 1099511627776.0 },
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(units); i++)
        if (strcmp(end, units[i].suffix) == 0) {
            *out = (int64_t)(v * units[i].mult);
            return 0;
        }
    return SL_ERR_PARSE;
}

int sl_parse_duration_us(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0)
        return SL_ERR_PARSE;
    static const struct { const char *suffix; double mult; } units[] = {
        { "us", 1 }, { "ms", 1e3 }, { "s", 1e6 }, { "m", 60e6 }, { "h", 3600e6 },
        { "d", 86400e6 }, { "w", 604800e6 },
    };
    if (*end == '\0' && v == 0) {
        *out = 0;
        return 0;
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(units); i++)
        if (strcmp(end, units[i].suffix) == 0) {
            *out = (int64_t)(v * units[i].mult);
            return 0;
        }
    return SL_ERR_PARSE;
}

static bool valid_listen(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return false;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    return *end == '\0' && port >= 0 && port <= 65535 && colon[1] != '\0';
}

static bool in_choices(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return true;
        if (!bar)
            break;
        p = bar + 1;
    }
    return false;
}

/*
 * Store text (already env-expanded) into base+key->offset by the key's kind.
 * Durations land in µs except where the table's field is in ms/s (handled
 * by the caller's field choice: *_ms fields get ms, *_s fields seconds).
 */
static int store_value(parse_ctx *ctx, conf_origin node, const conf_key *key, void *base,
                       const char *text)
{
    char *field = (char *)base + key->offset;
    int64_t v;
    switch (key->kind) {
    case K_STRING:
        free(*(char **)field);
        *(char **)field = sl_strdup(text);
        return 0;
    case K_LISTEN:
        if (!valid_listen(text)) {
            origin_error(ctx, node, "%s must be host:port", key->name);
            return -1;
        }
        free(*(char **)field);
        *(char **)field = sl_strdup(text);
        return 0;
    case K_INT: {
        char *end;
        errno = 0;
        long long n = strtoll(text, &end, 10);
        if (end == text || *end || errno) {
            origin_error(ctx, node, "%s must be an integer", key->name);
            return -1;
        }
        if (key->size == sizeof(int16_t))
            *(int16_t *)field = (int16_t)n;
        else if (key->size == sizeof(int32_t))
            *(int32_t *)field = (int32_t)n;
        else
            *(int64_t *)field = n;
        return 0;
    }
    case K_BOOL:
        if (!strcmp(text, "true") || !strcmp(text, "yes") || !strcmp(text, "on"))
            *(bool *)field = true;
        else if (!strcmp(text, "false") || !strcmp(text, "no") || !strcmp(text, "off"))
            *(bool *)field = false;
        else {
            origin_error(ctx, node, "%s must be true or false", key->name);
            return -1;
        }
        return 0;
    case K_SIZE:
        if (sl_parse_size(text, &v) < 0) {
            origin_error(ctx, node, "%s must be a size such as 512KiB, 64MiB or 1GB", key->name);
            return -1;
        }
        *(int64_t *)field = v;
        return 0;
    case K_DURATION: {
        if (sl_parse_duration_us(text, &v) < 0) {
            origin_error(ctx, node, "%s must be a duration such as 500ms, 5s, 10m, 7d", key->name);
            return -1;
        }
        *(int64_t *)field = (v + key->unit - 1) / key->unit;
        return 0;
    }
    case SL_KEY_LIST:
    case SL_KEY_MAP: {
        /* A scalar for a list is a list of one (a default or `from: logs.raw`). */
        char ***slot = (char ***)field;
        free_strings(*slot);
        if (key->kind == SL_KEY_MAP && *text) {
            origin_error(ctx, node, "%s must be a map (key: value pairs)", key->name);
            *slot = NULL;
            return -1;
        }
        *slot = sl_calloc(2, sizeof(char *));
        if (*text)
            (*slot)[0] = sl_strdup(text);
        return 0;
    }
    case K_ENUM:
        if (!in_choices(key->choices, text)) {
            origin_error(ctx, node, "%s must be one of %s", key->name, key->choices);
            return -1;
        }
        if (key->size == sizeof(bool)) { /* two-valued: the second choice is true */
            *(bool *)field = strcmp(text, strchr(key->choices, '|') + 1) == 0;
        } else {
            free(*(char **)field);
            *(char **)field = sl_strdup(text);
        }
        return 0;
    }
    return -1;
}

static void apply_defaults(const conf_key *keys, void *base)
{
    parse_ctx quiet = { .name = "<defaults>" };
    sl_buf ignored = SL_BUF_INIT;
    quiet.errors = &ignored;
    for (const conf_key *k = keys; k->name; k++)
        if (k->default_text)
            store_value(&quiet, (conf_origin){ 0 }, k, base, k->default_text);
    sl_buf_free(&ignored);
}

static void key_names(const conf_key *keys, sl_buf *out)
{
    for (const conf_key *k = keys; k->name; k++)
        sl_buf_printf(out, "%s%s", k == keys ? "" : ", ", k->name);
}

/* Parse one scalar key of a table; returns 1 if the key is not in it. */
static int parse_table_key(parse_ctx *ctx, const conf_key *keys, void *base, const char *name,
                           yaml_node_t *value)
{
    for (const conf_key *k = keys; k->name; k++) {
        if (strcmp(k->name, name) != 0)
            continue;
        if (value->type != YAML_SCALAR_NODE) {
            conf_error(ctx, value, "%s must be a single value", name);
            return 0;
        }
        char *text = expand_env(ctx, value, scalar(value));
        if (text)
            store_value(ctx, (conf_origin){ .node = value }, k, base, text);
        free(text);
        return 0;
    }
    return 1;
}

static void unknown_key(parse_ctx *ctx, yaml_node_t *keynode, const char *section,
                        const conf_key *keys, const char *extra)
{
    sl_buf known = SL_BUF_INIT;
    key_names(keys, &known);
    if (extra)
        sl_buf_printf(&known, ", %s", extra);
    conf_error(ctx, keynode, "unknown key '%s' in %s (known: %s)", scalar(keynode), section,
               known.data);
    sl_buf_free(&known);
}

#define FOR_EACH_PAIR(ctx, map_node, pair)                                                 \
    for (yaml_node_pair_t *pair = (map_node)->data.mapping.pairs.start;                    \
         pair < (map_node)->data.mapping.pairs.top; pair++)

static yaml_node_t *node_at(parse_ctx *ctx, int index)
{
    return yaml_document_get_node(&ctx->doc, index);
}

static bool expect_mapping(parse_ctx *ctx, yaml_node_t *n, const char *what)
{
    if (n->type == YAML_MAPPING_NODE)
        return true;
    conf_error(ctx, n, "%s must be a mapping (key: value lines)", what);
    return false;
}

static void parse_section(parse_ctx *ctx, yaml_node_t *map, const char *section,
                          const conf_key *keys, void *base)
{
    if (!expect_mapping(ctx, map, section))
        return;
    FOR_EACH_PAIR(ctx, map, pair) {
        yaml_node_t *k = node_at(ctx, pair->key), *v = node_at(ctx, pair->value);
        if (parse_table_key(ctx, keys, base, scalar(k) ? scalar(k) : "", v))
            unknown_key(ctx, k, section, keys, NULL);
    }
}

static int parse_field_type(const char *s, sl_field_type *out)
{
    static const char *names[] = { "any", "string", "number", "integer",
                                   "boolean", "object", "array", "timestamp" };
    for (int i = 0; i < (int)SL_ARRAY_LEN(names); i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (sl_field_type)i;
            return 0;
        }
    return -1;
}

static void parse_topic(parse_ctx *ctx, sl_config *cfg, yaml_node_t *keynode, yaml_node_t *map)
{
    const char *name = scalar(keynode);
    if (!name || !*name) {
        conf_error(ctx, keynode, "a topic needs a name");
        return;
    }
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '.' && *c != '_' && *c != '-') {
            conf_error(ctx, keynode, "topic names use letters, digits, '.', '_' and '-' only");
            return;
        }
    if (strlen(name) > 200 || !strcmp(name, ".") || !strcmp(name, "..")) {
        conf_error(ctx, keynode, "invalid topic name");
        return;
    }
    for (size_t i = 0; i < cfg->ntopics; i++)
        if (!strcmp(cfg->topics[i].spec.name, name)) {
            conf_error(ctx, keynode, "topic %s is declared twice", name);
            return;
        }
    cfg->topics = sl_realloc(cfg->topics, (cfg->ntopics + 1) * sizeof *cfg->topics);
    sl_topic_config *t = &cfg->topics[cfg->ntopics++];
    memset(t, 0, sizeof *t);
    apply_defaults(topic_keys, t);
    t->spec.name = sl_strdup(name);
    t->spec.retention_ms = -1;
    t->spec.retention_bytes = -1;
    t->spec.segment_bytes = -1;
    t->spec.segment_ms = -1;
    t->line = (int)keynode->start_mark.line + 1;
    bool compress_set = false;
    if (map->type == YAML_SCALAR_NODE && scalar(map)[0] == '\0')
        return; /* "topic:" with nothing: all defaults */
    if (!expect_mapping(ctx, map, "a topic"))
        return;
    FOR_EACH_PAIR(ctx, map, pair) {
        yaml_node_t *k = node_at(ctx, pair->key), *v = node_at(ctx, pair->value);
        const char *kname = scalar(k) ? scalar(k) : "";
        if (!strcmp(kname, "require")) {
            if (!expect_mapping(ctx, v, "require"))
                continue;
            FOR_EACH_PAIR(ctx, v, rp) {
                yaml_node_t *rk = node_at(ctx, rp->key), *rv = node_at(ctx, rp->value);
                sl_field_type type;
                if (!scalar(rk) || !scalar(rv) || parse_field_type(scalar(rv), &type) < 0) {
                    conf_error(ctx, rv, "require: a field's type is one of any, string, number, "
                                        "integer, boolean, object, array, timestamp");
                    continue;
                }
                t->required = sl_realloc(t->required, (t->nrequired + 1) * sizeof *t->required);
                t->required[t->nrequired].path = sl_strdup(scalar(rk));
                t->required[t->nrequired].type = type;
                t->nrequired++;
            }
            continue;
        }
        if (!strcmp(kname, "compression"))
            compress_set = true;
        if (parse_table_key(ctx, topic_keys, t, kname, v))
            unknown_key(ctx, k, "a topic", topic_keys, "require");
    }
    if (t->spec.partitions < 1 || t->spec.partitions > 1024)
        conf_error(ctx, keynode, "topic %s: partitions must be between 1 and 1024", name);
    if (!compress_set)
        t->spec.compress = cfg->log_compress;
}

/* Route conditions: has(path), path == 'value', or true. */
static int parse_route_condition(const char *when, sl_route *r)
{
    while (isspace((unsigned char)*when))
        when++;
    size_t n = strlen(when);
    while (n && isspace((unsigned char)when[n - 1]))
        n--;
    if (n == 4 && !strncmp(when, "true", 4)) {
        r->kind = SL_ROUTE_ALWAYS;
        return 0;
    }
    if (n > 5 && !strncmp(when, "has(", 4) && when[n - 1] == ')') {
        r->kind = SL_ROUTE_HAS;
        r->field = sl_strndup(when + 4, n - 5);
        return strlen(r->field) ? 0 : -1;
    }
    const char *eq = strstr(when, "==");
    if (eq && eq < when + n) {
        const char *f_end = eq;
        while (f_end > when && isspace((unsigned char)f_end[-1]))
            f_end--;
        const char *v = eq + 2;
        while (isspace((unsigned char)*v))
            v++;
        size_t vlen = (size_t)(when + n - v);
        if (f_end == when || vlen < 2 || (v[0] != '\'' && v[0] != '"') || v[vlen - 1] != v[0])
            return -1;
        r->kind = SL_ROUTE_EQUALS;
        r->field = sl_strndup(when, (size_t)(f_end - when));
        r->value = sl_strndup(v + 1, vlen - 2);
        return 0;
    }
    return -1;
}

static void parse_routes(parse_ctx *ctx, sl_config *cfg, yaml_node_t *seq)
{
    if (seq->type != YAML_SEQUENCE_NODE) {
        conf_error(ctx, seq, "routes must be a list of { when, topic }");
        return;
    }
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++) {
        yaml_node_t *item = node_at(ctx, *it);
        if (!expect_mapping(ctx, item, "a route"))
            continue;
        sl_route r = { .line = (int)item->start_mark.line + 1 };
        FOR_EACH_PAIR(ctx, item, pair) {
            yaml_node_t *k = node_at(ctx, pair->key), *v = node_at(ctx, pair->value);
            const char *kname = scalar(k) ? scalar(k) : "";
            if (!strcmp(kname, "when") && scalar(v)) {
                free(r.when);
                r.when = sl_strdup(scalar(v));
                if (parse_route_condition(r.when, &r) < 0)
                    conf_error(ctx, v, "a route condition is has(field), field == 'value' or true");
            } else if (!strcmp(kname, "topic") && scalar(v)) {
                free(r.topic);
                r.topic = sl_strdup(scalar(v));
            } else {
                conf_error(ctx, k, "unknown key '%s' in a route (known: when, topic)", kname);
            }
        }
        if (!r.topic) {
            conf_error(ctx, item, "a route needs a topic");
            free(r.when);
            free(r.field);
            free(r.value);
            continue;
        }
        if (!r.when) {
            r.when = sl_strdup("true");
            r.kind = SL_ROUTE_ALWAYS;
        }
        cfg->routes = sl_realloc(cfg->routes, (cfg->nroutes + 1) * sizeof *cfg->routes);
        cfg->routes[cfg->nroutes++] = r;
    }
}

static void parse_kafka(parse_ctx *ctx, sl_config *cfg, yaml_node_t *map)
{
    if (!expect_mapping(ctx, map, "kafka"))
        return;
    FOR_EACH_PAIR(ctx, map, pair) {
        yaml_node_t *k = node_at(ctx, pair->key), *v = node_at(ctx, pair->value);
        if (!scalar(k) || !scalar(v)) {
            conf_error(ctx, k, "kafka settings are librdkafka key: value pairs");
            continue;
        }
        char *text = expand_env(ctx, v, scalar(v));
        if (!text)
            continue;
        cfg->kafka_conf = sl_realloc(cfg->kafka_conf, (cfg->nkafka * 2 + 3) * sizeof(char *));
        cfg->kafka_conf[cfg->nkafka * 2] = sl_strdup(scalar(k));
        cfg->kafka_conf[cfg->nkafka * 2 + 1] = text;
        cfg->kafka_conf[cfg->nkafka * 2 + 2] = NULL;
        cfg->nkafka++;
    }
}

static void free_topics(sl_config *cfg)
{
    for (size_t i = 0; i < cfg->ntopics; i++) {
        sl_topic_config *t = &cfg->topics[i];
        free((char *)t->spec.name);
        free(t->key);
        free(t->timestamp_field);
        for (size_t j = 0; j < t->nrequired; j++)
            free(t->required[j].path);
        free(t->required);
    }
    free(cfg->topics);
    cfg->topics = NULL;
    cfg->ntopics = 0;
}

static void free_routes(sl_config *cfg)
{
    for (size_t i = 0; i < cfg->nroutes; i++) {
        free(cfg->routes[i].field);
        free(cfg->routes[i].value);
        free(cfg->routes[i].topic);
        free(cfg->routes[i].when);
    }
    free(cfg->routes);
    cfg->routes = NULL;
    cfg->nroutes = 0;
}

static void free_stage(sl_stage_config *st)
{
    free(st->type);
    free(st->name);
    for (size_t i = 0; i < st->npairs; i++) {
        free(st->pairs[i].key);
        free(st->pairs[i].scalar);
        free_strings(st->pairs[i].items);
    }
    free(st->pairs);
}

static const char *const stage_sections[] = { "inputs", "processors", "outputs" };

/* One entry of inputs/processors/outputs: type, name, and raw pairs. */
static void parse_stage(parse_ctx *ctx, sl_config *cfg, yaml_node_t *item, sl_stage_kind kind)
{
    const char *section = stage_sections[kind];
    if (!expect_mapping(ctx, item, "an entry of inputs, processors or outputs"))
        return;
    sl_stage_config st = { .kind = kind, .line = (int)item->start_mark.line + 1 };
    FOR_EACH_PAIR(ctx, item, pair) {
        yaml_node_t *k = node_at(ctx, pair->key), *v = node_at(ctx, pair->value);
        const char *kname = scalar(k) ? scalar(k) : "";
        if (!strcmp(kname, "type") || !strcmp(kname, "name")) {
            if (!scalar(v) || !*scalar(v)) {
                conf_error(ctx, v, "%s must be a non-empty name", kname);
                continue;
            }
            char **slot = !strcmp(kname, "type") ? &st.type : &st.name;
            free(*slot);
            *slot = sl_strdup(scalar(v));
            continue;
        }
        sl_conf_pair cp = { .key = sl_strdup(kname), .line = (int)v->start_mark.line + 1 };
        if (v->type == YAML_SCALAR_NODE) {
            cp.kind = SL_CONF_SCALAR;
            cp.scalar = expand_env(ctx, v, scalar(v));
            if (!cp.scalar)
                cp.scalar = sl_strdup("");
        } else if (v->type == YAML_SEQUENCE_NODE) {
            cp.kind = SL_CONF_LIST;
            size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
            cp.items = sl_calloc(n + 1, sizeof(char *));
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 it < v->data.sequence.items.top; it++) {
                yaml_node_t *e = node_at(ctx, *it);
                char *text = scalar(e) ? expand_env(ctx, e, scalar(e)) : NULL;
                if (!scalar(e))
                    conf_error(ctx, e, "%s: list items must be single values", kname);
                cp.items[cp.nitems++] = text ? text : sl_strdup("");
            }
        } else {
            cp.kind = SL_CONF_MAP;
            size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
            cp.items = sl_calloc(2 * n + 1, sizeof(char *));
            FOR_EACH_PAIR(ctx, v, mp) {
                yaml_node_t *mk = node_at(ctx, mp->key), *mv = node_at(ctx, mp->value);
                if (!scalar(mk) || !scalar(mv))
                    conf_error(ctx, mv, "%s: map values must be single values", kname);
                char *text = scalar(mv) ? expand_env(ctx, mv, scalar(mv)) : NULL;
                cp.items[cp.nitems++] = sl_strdup(scalar(mk) ? scalar(mk) : "");
                cp.items[cp.nitems++] = text ? text : sl_strdup("");
            }
        }
        st.pairs = sl_realloc(st.pairs, (st.npairs + 1) * sizeof *st.pairs);
        st.pairs[st.npairs++] = cp;
    }
    if (!st.type) {
        conf_error(ctx, item, "an entry of %s needs a type", section);
        free_stage(&st);
        return;
    }
    if (!st.name) { /* the type, numbered when repeated */
        st.name = sl_strdup(st.type);
        for (int k = 2; ; k++) {
            bool taken = false;
            for (size_t i = 0; i < cfg->nstages; i++)
                taken |= !strcmp(cfg->stages[i].name, st.name);
            if (!taken)
                break;
            free(st.name);
            st.name = sl_asprintf("%s-%d", st.type, k);
        }
    } else {
        for (size_t i = 0; i < cfg->nstages; i++)
            if (!strcmp(cfg->stages[i].name, st.name)) {
                conf_error(ctx, item, "two stages are named '%s'", st.name);
                break;
            }
    }
    cfg->stages = sl_realloc(cfg->stages, (cfg->nstages + 1) * sizeof *cfg->stages);
    cfg->stages[cfg->nstages++] = st;
}

/* A section in a file replaces the default's stages of that kind. */
static void parse_stages(parse_ctx *ctx, sl_config *cfg, yaml_node_t *seq, sl_stage_kind kind)
{
    size_t kept = 0;
    for (size_t i = 0; i < cfg->nstages; i++) {
        if (cfg->stages[i].kind == kind)
            free_stage(&cfg->stages[i]);
        else
            cfg->stages[kept++] = cfg->stages[i];
    }
    cfg->nstages = kept;
    if (seq->type == YAML_SCALAR_NODE && !*scalar(seq))
        return;
    if (seq->type != YAML_SEQUENCE_NODE) {
        conf_error(ctx, seq, "%s must be a list of entries (- { type: ..., ... })",
                   stage_sections[kind]);
        return;
    }
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++)
        parse_stage(ctx, cfg, node_at(ctx, *it), kind);
}

static void parse_root(parse_ctx *ctx, sl_config *cfg, yaml_node_t *root)
{
    yaml_node_t *topics = NULL, *topics_key = NULL;
    FOR_EACH_PAIR(ctx, root, pair) {
        yaml_node_t *k = node_at(ctx, pair->key), *v = node_at(ctx, pair->value);
        const char *name = scalar(k) ? scalar(k) : "";
        if (!strcmp(name, "log"))
            parse_section(ctx, v, "log", log_keys, cfg);
        else if (!strcmp(name, "collector")) {
            if (!expect_mapping(ctx, v, "collector"))
                continue;
            FOR_EACH_PAIR(ctx, v, cp) {
                yaml_node_t *ck = node_at(ctx, cp->key), *cv = node_at(ctx, cp->value);
                const char *cname = scalar(ck) ? scalar(ck) : "";
                if (!strcmp(cname, "routes")) {
                    ctx->saw_routes = true;
                    free_routes(cfg); /* routes in the file replace the defaults */
                    parse_routes(ctx, cfg, cv);
                } else if (parse_table_key(ctx, collector_keys, cfg, cname, cv))
                    unknown_key(ctx, ck, "collector", collector_keys, "routes");
            }
        } else if (!strcmp(name, "admin"))
            parse_section(ctx, v, "admin", admin_keys, cfg);
        else if (!strcmp(name, "catalogue"))
            parse_section(ctx, v, "catalogue", catalogue_keys, cfg);
        else if (!strcmp(name, "kafka"))
            parse_kafka(ctx, cfg, v);
        else if (!strcmp(name, "topics")) {
            topics = v; /* after log:, whose defaults topics inherit */
            topics_key = k;
        } else if (!strcmp(name, "inputs")) {
            parse_stages(ctx, cfg, v, SL_STAGE_INPUT);
        } else if (!strcmp(name, "processors")) {
            parse_stages(ctx, cfg, v, SL_STAGE_PROCESSOR);
        } else if (!strcmp(name, "outputs")) {
            parse_stages(ctx, cfg, v, SL_STAGE_OUTPUT);
        } else if (parse_table_key(ctx, root_keys, cfg, name, v))
            unknown_key(ctx, k, "the top level", root_keys,
                        "log, kafka, topics, collector, admin, catalogue, inputs, processors, "
                        "outputs");
    }
    if (topics) {
        ctx->saw_topics = true;
        free_topics(cfg);
    }
    if (topics && expect_mapping(ctx, topics, "topics"))
        FOR_EACH_PAIR(ctx, topics, pair)
            parse_topic(ctx, cfg, node_at(ctx, pair->key), node_at(ctx, pair->value));
    (void)topics_key;
}

static void finish_topics(sl_config *cfg)
{
    for (size_t i = 0; i < cfg->ntopics; i++) {
        sl_topic_spec *s = &cfg->topics[i].spec;
        if (s->retention_ms < 0)
            s->retention_ms = cfg->log_retention_ms;
        if (s->retention_bytes < 0)
            s->retention_bytes = cfg->log_retention_bytes;
        if (s->segment_bytes < 0)
            s->segment_bytes = cfg->log_segment_bytes;
        if (s->segment_ms < 0)
            s->segment_ms = cfg->log_segment_ms;
    }
}

static void validate(parse_ctx *ctx, sl_config *cfg)
{
    for (size_t i = 0; i < cfg->nroutes; i++) {
        sl_route *r = &cfg->routes[i];
        if (!sl_config_topic(cfg, r->topic)) {
            sl_buf_printf(ctx->errors, "%s:%d: route to undeclared topic '%s'\n", ctx->name,
                          r->line, r->topic);
            ctx->nerrors++;
        }
    }
    for (size_t i = 0; i < cfg->ntopics; i++)
        if (!strcmp(cfg->topics[i].spec.name, SL_DLQ_TOPIC)) {
            sl_buf_printf(ctx->errors, "%s:%d: topic %s is sluice's dead-letter topic and is "
                                       "always declared\n", ctx->name, cfg->topics[i].line,
                          SL_DLQ_TOPIC);
            ctx->nerrors++;
        }
    const char *port = strrchr(cfg->collector.listen, ':');
    if (!strcmp(cfg->collector.listen, cfg->admin.listen) && !(port && !strcmp(port, ":0"))) {
        sl_buf_printf(ctx->errors, "%s: collector.listen and admin.listen must differ\n",
                      ctx->name);
        ctx->nerrors++;
    }
}

/* Load one YAML document into cfg (on top of what is there). */
static int load_document(parse_ctx *ctx, sl_config *cfg, const char *yaml, size_t len)
{
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &ctx->doc)) {
        sl_buf_printf(ctx->errors, "%s:%zu: YAML syntax error: %s%s%s\n", ctx->name,
                      parser.problem_mark.line + 1, parser.problem ? parser.problem : "invalid",
                      parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return -1;
    }
    yaml_parser_delete(&parser);
    yaml_node_t *root = yaml_document_get_root_node(&ctx->doc);
    if (root && !(root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0)) {
        if (expect_mapping(ctx, root, "the configuration"))
            parse_root(ctx, cfg, root);
    }
    yaml_document_delete(&ctx->doc);
    return ctx->nerrors ? -1 : 0;
}

/*
 * A file is read on top of the embedded default: keys it leaves out keep
 * their defaults, `topics:` replaces the default topics, and
 * `collector.routes` the default routes (which a file declaring its own
 * topics but no routes does not keep: they name the default topics).
 */
int sl_config_parse(const char *name, const char *yaml, size_t len, sl_config **out,
                    sl_buf *errors)
{
    sl_config *cfg = sl_calloc(1, sizeof *cfg);
    cfg->path = sl_strdup(name);
    apply_defaults(root_keys, cfg);
    apply_defaults(log_keys, cfg);
    apply_defaults(collector_keys, cfg);
    apply_defaults(admin_keys, cfg);
    apply_defaults(catalogue_keys, cfg);

    bool is_default = yaml == default_yaml;
    parse_ctx base = { .name = "<default>", .errors = errors };
    if (!is_default && load_document(&base, cfg, default_yaml, sizeof default_yaml - 1) < 0)
        goto fail;
    parse_ctx ctx = { .name = name, .errors = errors };
    if (load_document(&ctx, cfg, yaml, len) < 0)
        goto fail;
    if (ctx.saw_topics && !ctx.saw_routes && !is_default)
        free_routes(cfg);
    finish_topics(cfg);
    validate(&ctx, cfg);
    if (ctx.nerrors)
        goto fail;
    *out = cfg;
    return 0;
fail:
    sl_config_free(cfg);
    return SL_ERR_CONFIG;
}

int sl_config_load(const char *path, sl_config **out, sl_buf *errors)
{
    if (!path)
        return sl_config_parse("<default>", default_yaml, sizeof default_yaml - 1, out, errors);
    FILE *f = fopen(path, "rb");
    if (!f) {
        sl_buf_printf(errors, "%s: cannot open: %s\n", path, strerror(errno));
        return SL_ERR_CONFIG;
    }
    sl_buf text = SL_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sl_buf_append(&text, chunk, n);
    int read_error = ferror(f);
    fclose(f);
    if (read_error) {
        sl_buf_printf(errors, "%s: read error\n", path);
        sl_buf_free(&text);
        return SL_ERR_CONFIG;
    }
    int rc = sl_config_parse(path, text.data ? text.data : "", text.len, out, errors);
    sl_buf_free(&text);
    return rc;
}

void sl_config_free(sl_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->data_dir);
    free(cfg->log_level);
    free(cfg->log_backend);
    free(cfg->log_fsync);
    for (size_t i = 0; i < cfg->nkafka * 2; i++)
        free(cfg->kafka_conf[i]);
    free(cfg->kafka_conf);
    free_topics(cfg);
    free_routes(cfg);
    for (size_t i = 0; i < cfg->nstages; i++)
        free_stage(&cfg->stages[i]);
    free(cfg->stages);
    free(cfg->collector.listen);
    free(cfg->collector.token);
    free(cfg->admin.listen);
    free(cfg->admin.token);
    free(cfg->catalogue_postgres);
    free(cfg);
}

const sl_topic_config *sl_config_topic(const sl_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->ntopics; i++)
        if (!strcmp(cfg->topics[i].spec.name, name))
            return &cfg->topics[i];
    return NULL;
}

void sl_config_log_options(const sl_config *cfg, sl_log_options *opts, sl_topic_spec **specs)
{
    memset(opts, 0, sizeof *opts);
    *specs = sl_calloc(cfg->ntopics ? cfg->ntopics : 1, sizeof **specs);
    for (size_t i = 0; i < cfg->ntopics; i++)
        (*specs)[i] = cfg->topics[i].spec;
    opts->backend = cfg->log_backend;
    opts->data_dir = cfg->data_dir;
    opts->fsync = !strcmp(cfg->log_fsync, "always") ? SL_FSYNC_ALWAYS
                  : !strcmp(cfg->log_fsync, "os")   ? SL_FSYNC_OS
                                                    : SL_FSYNC_GROUP;
    opts->group_commit_us = cfg->log_group_commit_us;
    opts->topics = *specs;
    opts->ntopics = cfg->ntopics;
    opts->max_pending_bytes = cfg->log_max_pending_bytes;
    opts->kafka_conf = (const char *const *)cfg->kafka_conf;
}

int sl_conf_apply(const sl_conf_key *keys, void *base, const sl_stage_config *stage,
                  const char *file, sl_buf *errors)
{
    parse_ctx ctx = { .name = file, .errors = errors };
    apply_defaults(keys, base);
    for (size_t i = 0; i < stage->npairs; i++) {
        const sl_conf_pair *cp = &stage->pairs[i];
        conf_origin at = { .line = cp->line, .text = cp->scalar };
        const conf_key *k = keys;
        while (k->name && strcmp(k->name, cp->key) != 0)
            k++;
        if (!k->name) {
            sl_buf known = SL_BUF_INIT;
            key_names(keys, &known);
            origin_error(&ctx, (conf_origin){ .line = cp->line },
                         "unknown key '%s' in %s '%s' (known: type, name%s%s)", cp->key,
                         stage_sections[stage->kind], stage->name, known.len ? ", " : "",
                         known.len ? known.data : "");
            sl_buf_free(&known);
            continue;
        }
        char ***slot = (char ***)((char *)base + k->offset);
        if (cp->kind == SL_CONF_SCALAR) {
            store_value(&ctx, at, k, base, cp->scalar);
        } else if ((cp->kind == SL_CONF_LIST && k->kind == SL_KEY_LIST) ||
                   (cp->kind == SL_CONF_MAP && k->kind == SL_KEY_MAP)) {
            free_strings(*slot);
            *slot = sl_calloc(cp->nitems + 1, sizeof(char *));
            for (size_t j = 0; j < cp->nitems; j++)
                (*slot)[j] = sl_strdup(cp->items[j]);
        } else {
            origin_error(&ctx, at, "%s must be %s", k->name,
                         k->kind == SL_KEY_LIST ? "a value or a list of values"
                         : k->kind == SL_KEY_MAP ? "a map of key: value"
                                                 : "a single value");
        }
    }
    return ctx.nerrors ? SL_ERR_CONFIG : 0;
}

void sl_conf_release(const sl_conf_key *keys, void *base)
{
    for (const conf_key *k = keys; k->name; k++) {
        char *field = (char *)base + k->offset;
        switch (k->kind) {
        case SL_KEY_STRING:
        case SL_KEY_LISTEN:
            free(*(char **)field);
            *(char **)field = NULL;
            break;
        case SL_KEY_ENUM:
            if (k->size != sizeof(bool)) {
                free(*(char **)field);
                *(char **)field = NULL;
            }
            break;
        case SL_KEY_LIST:
        case SL_KEY_MAP:
            free_strings(*(char ***)field);
            *(char ***)field = NULL;
            break;
        default:
            break;
        }
    }
}

void sl_conf_reference_table(sl_buf *out, const char *section, const sl_conf_key *keys)
{
    sl_buf_printf(out, "\n### `%s`\n\n| key | type | default | description |\n|---|---|---|---|\n",
                  section);
    static const char *kinds[] = { "string", "integer", "boolean", "size", "duration", "enum",
                                   "host:port", "list", "map" };
    for (const conf_key *k = keys; k->name; k++) {
        sl_buf_printf(out, "| `%s` | %s%s%s | %s%s%s | %s |\n", k->name, kinds[k->kind],
                      k->choices ? ": " : "", k->choices ? k->choices : "",
                      k->default_text ? "`" : "", k->default_text ? k->default_text : "(unset)",
                      k->default_text ? "`" : "", k->description);
    }
}

void sl_config_reference(sl_buf *out)
{
    sl_buf_append_str(out, "<!-- generated by `sluice check --reference`; do not edit -->\n");
    sl_conf_reference_table(out, "top level", root_keys);
    sl_conf_reference_table(out, "log", log_keys);
    sl_conf_reference_table(out, "topics.<name>", topic_keys);
    sl_buf_append_str(out,
        "\n`topics.<name>.require` maps dotted field paths to a type (`any`, `string`, "
        "`number`, `integer`, `boolean`, `object`, `array`, `timestamp`); events without "
        "them are rejected to `_dlq`.\n");
    sl_conf_reference_table(out, "collector", collector_keys);
    sl_buf_append_str(out,
        "\n`collector.routes` is a list of `{ when, topic }`, tried in order; the first "
        "match wins. `when` is `has(path)`, `path == 'value'` or `true`. A request's "
        "`?topic=` overrides the routes.\n");
    sl_conf_reference_table(out, "admin", admin_keys);
    sl_conf_reference_table(out, "catalogue", catalogue_keys);
    sl_buf_append_str(out,
        "\n`kafka` is a map of librdkafka settings passed through when `log.backend: kafka`.\n");
}
