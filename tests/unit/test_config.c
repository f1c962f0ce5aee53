/* test_config.c - YAML config: defaults, key tables, errors with file:line. */
#include "core/config.h"

#include <criterion/criterion.h>
#include <stdlib.h>

static sl_config *parse_ok(const char *yaml)
{
    sl_buf errors = SL_BUF_INIT;
    sl_config *cfg = NULL;
    int rc = sl_config_parse("t.yaml", yaml, strlen(yaml), &cfg, &errors);
    cr_assert_eq(rc, 0, "unexpected errors: %s", errors.data ? errors.data : "");
    sl_buf_free(&errors);
    return cfg;
}

static char *parse_err(const char *yaml)
{
    sl_buf errors = SL_BUF_INIT;
    sl_config *cfg = NULL;
    int rc = sl_config_parse("t.yaml", yaml, strlen(yaml), &cfg, &errors);
    cr_assert_eq(rc, SL_ERR_CONFIG, "expected an error for:\n%s", yaml);
    cr_assert_null(cfg);
    return sl_buf_steal(&errors);
}

Test(config, embedded_default_has_seed_004_topics_and_listeners)
{
    sl_buf errors = SL_BUF_INIT;
    sl_config *cfg = NULL;
    cr_assert_eq(sl_config_load(NULL, &cfg, &errors), 0, "%s", errors.data);
    cr_assert_str_eq(cfg->data_dir, "./sluice-data");
    cr_assert_str_eq(cfg->collector.listen, "127.0.0.1:8081");
    cr_assert_str_eq(cfg->admin.listen, "127.0.0.1:8080");
    cr_assert_str_eq(cfg->log_fsync, "group");
    const sl_topic_config *logs = sl_config_topic(cfg, "logs.raw");
    cr_assert_not_null(logs);
    cr_assert_eq(logs->spec.partitions, 3);
    cr_assert_str_eq(logs->key, "service");
    cr_assert_eq(logs->spec.retention_ms, 7LL * 86400 * 1000);
    cr_assert_eq(sl_config_topic(cfg, "alerts.realtime")->spec.partitions, 1);
    cr_assert_eq(sl_config_topic(cfg, "alerts.realtime")->spec.retention_ms, 86400LL * 1000);
    cr_assert_eq(sl_config_topic(cfg, "events.activity")->nrequired, 3);
    cr_assert_eq(cfg->nroutes, 2);
    cr_assert_eq(cfg->routes[0].kind, SL_ROUTE_HAS);
    cr_assert_str_eq(cfg->routes[0].field, "level");
    cr_assert_str_eq(cfg->routes[0].topic, "logs.raw");
    cr_assert_eq(cfg->log_group_commit_us, 2000);
    cr_assert_eq(cfg->collector_max_body, 16LL << 20);
    sl_config_free(cfg);
    sl_buf_free(&errors);
}

Test(config, values_sizes_durations_env_and_routes)
{
    setenv("SL_TEST_PORT", "9999", 1);
    unsetenv("SL_TEST_UNSET");
    sl_config *cfg = parse_ok("data_dir: /tmp/x\n"
                              "log: { fsync: always, group_commit: 500us, segment_bytes: 1MiB, "
                              "retention: 2h, compression: zstd }\n"
                              "topics:\n"
                              "  a: { partitions: 4, key: 'meta.id', on_missing_timestamp: ingest_time }\n"
                              "  b:\n"
                              "    compression: none\n"
                              "    require: { level: string, n: integer, ts: timestamp }\n"
                              "collector:\n"
                              "  listen: 127.0.0.1:${SL_TEST_PORT}\n"
                              "  token: ${SL_TEST_UNSET:-fallback}\n"
                              "  max_body: 10MB\n"
                              "  routes:\n"
                              "    - { when: \"kind == 'x'\", topic: a }\n"
                              "    - { when: true, topic: b }\n");
    cr_assert_str_eq(cfg->collector.listen, "127.0.0.1:9999");
    cr_assert_str_eq(cfg->collector.token, "fallback");
    cr_assert_eq(cfg->collector_max_body, 10000000);
    cr_assert_eq(cfg->log_group_commit_us, 500);
    const sl_topic_config *a = sl_config_topic(cfg, "a"), *b = sl_config_topic(cfg, "b");
    cr_assert_eq(a->spec.partitions, 4);
    cr_assert_eq(a->spec.segment_bytes, 1 << 20);
    cr_assert_eq(a->spec.retention_ms, 2 * 3600 * 1000);
    cr_assert(a->spec.compress, "topics inherit log.compression");
    cr_assert(!b->spec.compress);
    cr_assert(a->ingest_time_fallback);
    cr_assert(!b->ingest_time_fallback);
    cr_assert_eq(b->nrequired, 3);
    cr_assert_eq(b->required[1].type, SL_FIELD_INTEGER);
    cr_assert_eq(cfg->nroutes, 2);
    cr_assert_eq(cfg->routes[0].kind, SL_ROUTE_EQUALS);
    cr_assert_str_eq(cfg->routes[0].field, "kind");
    cr_assert_str_eq(cfg->routes[0].value, "x");
    cr_assert_eq(cfg->routes[1].kind, SL_ROUTE_ALWAYS);
    sl_config_free(cfg);
}

Test(config, errors_name_file_line_and_text)
{
    char *e = parse_err("log:\n  fsync: sometimes\n");
    cr_assert(strstr(e, "t.yaml:2: fsync must be one of always|group|os (near 'sometimes')"), "%s", e);
    free(e);

    e = parse_err("data_dir: x\nlgo:\n  fsync: os\n");
    cr_assert(strstr(e, "t.yaml:2: unknown key 'lgo' in the top level"), "%s", e);
    free(e);

    e = parse_err("topics:\n  t: { partitions: 0 }\n");
    cr_assert(strstr(e, "t.yaml:2: topic t: partitions must be between 1 and 1024"), "%s", e);
    free(e);

    e = parse_err("topics:\n  t: {}\ncollector:\n  routes:\n    - { when: 'has(x)', topic: nope }\n");
    cr_assert(strstr(e, "t.yaml:5: route to undeclared topic 'nope'"), "%s", e);
    free(e);

    e = parse_err("collector:\n  listen: nowhere\n");
    cr_assert(strstr(e, "t.yaml:2: listen must be host:port"), "%s", e);
    free(e);

    e = parse_err("log: [1, 2\n");
    cr_assert(strstr(e, "t.yaml:2: YAML syntax error") || strstr(e, "t.yaml:1: YAML syntax error"),
              "%s", e);
    free(e);

    unsetenv("SL_TEST_NOPE");
    e = parse_err("data_dir: ${SL_TEST_NOPE}\n");
    cr_assert(strstr(e, "t.yaml:1: environment variable SL_TEST_NOPE is not set"), "%s", e);
    free(e);

    e = parse_err("topics:\n  ../etc: {}\n");
    cr_assert(strstr(e, "topic names use letters"), "%s", e);
    free(e);

    e = parse_err("topics:\n  _dlq: {}\n");
    cr_assert(strstr(e, "dead-letter topic"), "%s", e);
    free(e);
}

Test(config, several_errors_reported_at_once)
{
    char *e = parse_err("log:\n  fsync: x\n  group_commit: soon\ncollector:\n  max_body: big\n");
    cr_assert(strstr(e, "t.yaml:2:"), "%s", e);
    cr_assert(strstr(e, "t.yaml:3: group_commit must be a duration"), "%s", e);
    cr_assert(strstr(e, "t.yaml:5: max_body must be a size"), "%s", e);
    free(e);
}

Test(config, parse_size_and_duration)
{
    int64_t v;
    cr_assert_eq(sl_parse_size("512KiB", &v), 0);
    cr_assert_eq(v, 512 * 1024);
    cr_assert_eq(sl_parse_size("1.5GB", &v), 0);
    cr_assert_eq(v, 1500000000LL);
    cr_assert_lt(sl_parse_size("12 parsecs", &v), 0);
    cr_assert_eq(sl_parse_duration_us("7d", &v), 0);
    cr_assert_eq(v, 7LL * 86400 * 1000000);
    cr_assert_eq(sl_parse_duration_us("250ms", &v), 0);
    cr_assert_eq(v, 250000);
    cr_assert_eq(sl_parse_duration_us("0", &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_lt(sl_parse_duration_us("5", &v), 0, "a bare number has no unit");
}

Test(config, reference_lists_every_section)
{
    sl_buf out = SL_BUF_INIT;
    sl_config_reference(&out);
    cr_assert(strstr(out.data, "### `log`"));
    cr_assert(strstr(out.data, "| `fsync` | enum: always|group|os | `group` |"));
    cr_assert(strstr(out.data, "### `topics.<name>`"));
    cr_assert(strstr(out.data, "### `collector`"));
    cr_assert(strstr(out.data, "### `admin`"));
    sl_buf_free(&out);
}

Test(config, a_file_is_read_on_top_of_the_default)
{
    sl_config *cfg = parse_ok("# nothing but a comment\n");
    cr_assert_not_null(sl_config_topic(cfg, "logs.raw"), "an empty file keeps the default topics");
    cr_assert_eq(cfg->nroutes, 2, "and the default routes");
    sl_config_free(cfg);

    cfg = parse_ok("topics:\n  mine: { partitions: 2 }\n");
    cr_assert_null(sl_config_topic(cfg, "logs.raw"), "declared topics replace the defaults");
    cr_assert_eq(cfg->ntopics, 1);
    cr_assert_eq(cfg->nroutes, 0, "default routes name default topics: dropped");
    sl_config_free(cfg);

    cfg = parse_ok("collector:\n  routes:\n    - { when: true, topic: alerts.realtime }\n");
    cr_assert_eq(cfg->nroutes, 1);
    cr_assert_not_null(sl_config_topic(cfg, "logs.raw"));
    sl_config_free(cfg);
}
