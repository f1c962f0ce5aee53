/* test_ingest.c - splitting, routing, validation and stamping of bodies. */
#include "core/json.h"
#include "input/http/ingest.h"

#include <criterion/criterion.h>
#include <stdlib.h>

static sl_config *cfg;
static const sl_ingest_limits limits = { .max_depth = 32, .max_events = 100 };

static void setup(void)
{
    sl_buf errors = SL_BUF_INIT;
    cr_assert_eq(sl_config_load(NULL, &cfg, &errors), 0, "%s", errors.data);
    sl_buf_free(&errors);
}

static void teardown(void)
{
    sl_config_free(cfg);
}

static sl_ingest_plan plan_of(const char *body)
{
    sl_ingest_plan plan;
    sl_ingest_plan_body(cfg, NULL, sl_view_of(body), &limits, 42, &plan);
    return plan;
}

#define LOG(extra) \
    "{\"timestamp\":\"2026-01-11T09:19:26Z\",\"level\":\"INFO\",\"service\":\"api\",\"message\":\"m\"" extra "}"
#define EVT "{\"event_id\":\"e\",\"timestamp\":1768123166,\"user_id\":\"u\\u0031\",\"event_type\":\"CLICK\"}"

TestSuite(ingest, .init = setup, .fini = teardown);

Test(ingest, object_array_and_ndjson)
{
    sl_ingest_plan p = plan_of(LOG(""));
    cr_assert_eq(p.status, 0);
    cr_assert_eq(p.n, 1);
    cr_assert_null(p.items[0].reason);
    cr_assert_str_eq(p.items[0].topic->spec.name, "logs.raw");
    cr_assert_eq(p.items[0].ts_us, 1768123166000000LL);
    cr_assert(sl_view_eq_str(p.items[0].key, "api"));
    sl_ingest_plan_free(&p);

    p = plan_of(" [" LOG("") ", " EVT "]\n");
    cr_assert_eq(p.status, 0);
    cr_assert_eq(p.n, 2);
    cr_assert_str_eq(p.items[1].topic->spec.name, "events.activity");
    cr_assert(sl_view_eq_str(p.items[1].key, "u1"), "escaped keys are decoded");
    cr_assert_eq(p.items[1].ts_us, 1768123166000000LL);
    sl_ingest_plan_free(&p);

    p = plan_of(LOG("") "\n\n" EVT "\r\n" LOG(",\"x\":1") "\n");
    cr_assert_eq(p.status, 0);
    cr_assert_eq(p.n, 3);
    for (size_t i = 0; i < 3; i++)
        cr_assert_null(p.items[i].reason, "%zu: %s", i, p.items[i].error);
    cr_assert_eq(p.items[2].index, 2);
    sl_ingest_plan_free(&p);
}

Test(ingest, ndjson_bad_line_is_one_reject)
{
    sl_ingest_plan p = plan_of(LOG("") "\n{\"level\": nope}\n" LOG("") "\n");
    cr_assert_eq(p.status, 0);
    cr_assert_eq(p.n, 3);
    cr_assert_null(p.items[0].reason);
    cr_assert_str_eq(p.items[1].reason, "malformed_json");
    cr_assert(strstr(p.items[1].error, "line 2"), "%s", p.items[1].error);
    cr_assert_null(p.items[2].reason);
    sl_ingest_plan_free(&p);
}

Test(ingest, malformed_body_fails_whole_with_offset)
{
    sl_ingest_plan p = plan_of("[" LOG("") ", {\"a\":}]");
    cr_assert_eq(p.status, 400);
    cr_assert_str_eq(p.reason, "malformed_json");
    cr_assert(strstr(p.error, "malformed JSON at byte"), "%s", p.error);
    cr_assert_gt(p.error_offset, 80);
    sl_ingest_plan_free(&p);

    p = plan_of("[1] trailing");
    cr_assert_eq(p.status, 400);
    sl_ingest_plan_free(&p);

    p = plan_of("");
    cr_assert_eq(p.status, 400);
    cr_assert_str_eq(p.reason, "empty_body");
    sl_ingest_plan_free(&p);
}

Test(ingest, depth_limit_and_event_count)
{
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    sl_ingest_plan p;
    sl_ingest_plan_body(cfg, NULL, (sl_view){ deep, 200 }, &limits, 0, &p);
    cr_assert_eq(p.status, 400);
    cr_assert_str_eq(p.reason, "too_deep");
    sl_ingest_plan_free(&p);

    sl_buf many = SL_BUF_INIT;
    sl_buf_append_char(&many, '[');
    for (int i = 0; i < 101; i++)
        sl_buf_printf(&many, "%s" LOG(""), i ? "," : "");
    sl_buf_append_char(&many, ']');
    sl_ingest_plan_body(cfg, NULL, sl_buf_view(&many), &limits, 0, &p);
    cr_assert_eq(p.status, 413);
    sl_ingest_plan_free(&p);
    sl_buf_free(&many);
}

Test(ingest, validation_reasons)
{
    sl_ingest_plan p = plan_of("[{\"timestamp\":\"2026-01-11T09:19:26Z\",\"level\":1,\"service\":\"a\","
                               "\"message\":\"m\"},"
                               "{\"timestamp\":\"2026-01-11T09:19:26Z\",\"level\":\"I\",\"message\":\"m\"},"
                               "{\"timestamp\":\"soon\",\"level\":\"I\",\"service\":\"a\",\"message\":\"m\"},"
                               "{\"level\":\"I\",\"service\":\"a\",\"message\":\"m\"},"
                               "\"str\", {\"other\":1}]");
    cr_assert_eq(p.status, 0);
    cr_assert_eq(p.n, 6);
    const char *want[] = { "wrong_type", "missing_field", "bad_timestamp", "bad_timestamp",
                           "not_object", "no_route" };
    for (size_t i = 0; i < 6; i++)
        cr_assert_str_eq(p.items[i].reason, want[i], "item %zu: %s", i, p.items[i].error);
    cr_assert(strstr(p.items[0].error, "field 'level' must be a string, got number"), "%s",
              p.items[0].error);
    cr_assert(strstr(p.items[3].error, "timestamp field 'timestamp' is missing"), "%s",
              p.items[3].error);
    sl_ingest_plan_free(&p);
}

Test(ingest, forced_topic_and_ingest_time)
{
    sl_buf errors = SL_BUF_INIT;
    sl_config *c2 = NULL;
    const char *yaml = "topics:\n  t: { on_missing_timestamp: ingest_time, key: 'a.b' }\n";
    cr_assert_eq(sl_config_parse("x", yaml, strlen(yaml), &c2, &errors), 0, "%s", errors.data);
    sl_ingest_plan p;
    const char *body = "{\"a\":{\"b\":12}}";
    sl_ingest_plan_body(c2, sl_config_topic(c2, "t"), sl_view_of(body), &limits, 777, &p);
    cr_assert_eq(p.status, 0);
    cr_assert_null(p.items[0].reason, "%s", p.items[0].error);
    cr_assert_eq(p.items[0].ts_us, 777);
    cr_assert(sl_view_eq_str(p.items[0].key, "12"), "number keys use their text");
    sl_ingest_plan_free(&p);
    sl_config_free(c2);
    sl_buf_free(&errors);
}

Test(ingest, dlq_envelope_is_json_and_keeps_bytes)
{
    sl_buf out = SL_BUF_INIT;
    sl_dlq_envelope(&out, "collector", "wrong_type", "bad \"x\"", "logs.raw", 3,
                    sl_view_of("{\"a\":1}"), 0);
    size_t end;
    cr_assert_eq(sl_json_validate(out.data, out.len, 8, &end, NULL), 0, "%s", out.data);
    sl_view v;
    cr_assert(sl_json_get(sl_buf_view(&out), "original", &v));
    sl_buf dec = SL_BUF_INIT;
    sl_json_string_decode(v, &dec);
    cr_assert_str_eq(dec.data, "{\"a\":1}");
    sl_buf_reset(&out);
    sl_dlq_envelope(&out, "collector", "invalid_utf8", "e", NULL, -1,
                    (sl_view){ "\xff\xfe\x00z", 4 }, 0);
    cr_assert(strstr(out.data, "\"original_base64\":\"//4Aeg==\""), "%s", out.data);
    cr_assert(strstr(out.data, "\"topic\":null"));
    sl_buf_free(&out);
    sl_buf_free(&dec);
}
