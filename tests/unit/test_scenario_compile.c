/*
 * test_scenario_compile.c - seed-001 scenario JSON to an expression and a
 * projection.
 *
 * The seed's scenario 5 (age > 20 AND gender == MALE AND h >= 9) over a
 * table of enriched events with the expected success flag; OR scenarios;
 * every operator and form of "right"; invalid scenarios and their
 * messages; projections that must be valid JSON with exactly the kept
 * fields; the JSON echo; and a differential check of the one-pass scan
 * against sl_json_get over random events (whitespace, nesting, escaped
 * and duplicate keys included).
 *
 * The PRNG seed is fixed; SL_TEST_SEED=<n> in the environment mixes in
 * another, and failures print it.
 */
#include "core/buf.h"
#include "core/json.h"
#include "expr/scenario.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- helpers ------------------------------------------------------------- */

/* The seed's scenario, word for word (with the elided log_format filled). */
static const char *const SEED_5 =
    "{\n"
    "  \"scenario_id\": 5,\n"
    "  \"title\": \"9\xec\x8b\x9c \xec\x9d\xb4\xed\x9b\x84 \xea\xb5\xac\xeb\xa7\xa4 \xeb\xb2\x84\xed\x8a\xbc\xec\x9d\x84 "
    "\xed\x81\xb4\xeb\xa6\xad\xed\x95\x9c \xec\x84\xb1\xec\x9d\xb8 \xeb\x82\xa8\xec\x84\xb1 \xec\x82\xac\xec\x9a\xa9\xec\x9e\x90 "
    "\xed\x95\x84\xed\x84\xb0\xeb\xa7\x81\",\n"
    "  \"manager\": \"admin_user\",\n"
    "  \"log_format\": {\n"
    "    \"e_c\": 0,\n"
    "    \"e_a\": 0,\n"
    "    \"memberId\": 1,\n"
    "    \"h\": 1,\n"
    "    \"res\": 0,\n"
    "    \"url\": 1\n"
    "  },\n"
    "  \"filters\": [\n"
    "    { \"left\": \"age\", \"operator\": \">\", \"right\": \"20\" },\n"
    "    { \"left\": \"gender\", \"operator\": \"==\", \"right\": \"MALE\" },\n"
    "    { \"left\": \"h\", \"operator\": \">=\", \"right\": \"9\" }\n"
    "  ],\n"
    "  \"logical_operator\": \"AND\"\n"
    "}\n";

static sl_scenario *parse(const char *json)
{
    sl_scenario *s = NULL;
    sl_buf err = SL_BUF_INIT;
    int rc = sl_scenario_parse(sl_view_of(json), &s, &err);
    cr_assert_eq(rc, 0, "scenario refused: %s\n%s", err.data ? err.data : "", json);
    cr_assert_not_null(s);
    sl_buf_free(&err);
    return s;
}

static char *expression_of(const sl_scenario *s)
{
    sl_buf b = SL_BUF_INIT;
    sl_expr_to_string(s->filter, &b);
    return sl_buf_steal(&b);
}

#define EXPRESSION(json, want)                                                        \
    do {                                                                              \
        sl_scenario *s_ = parse(json);                                                \
        char *got_ = expression_of(s_);                                               \
        cr_assert_str_eq(got_, want, "%s\ncompiled to <%s>, wanted <%s>", json, got_, want); \
        free(got_);                                                                   \
        sl_scenario_free(s_);                                                         \
    } while (0)

/* Match through all three entry points, which must agree. */
static bool matches(const sl_scenario *s, const char *event, const char *member)
{
    sl_view objs[2] = { sl_view_of(event), member ? sl_view_of(member) : SL_VIEW_NULL };
    bool a = sl_scenario_match(s, objs, 2);
    bool b = sl_expr_eval_bool_ctx(s->filter, objs, 2);
    bool c = false;
    sl_buf out = SL_BUF_INIT;
    sl_scenario_apply(s, objs, 2, &out, &c);
    sl_buf_free(&out);
    cr_assert(a == b && b == c, "entry points disagree on %s + %s", event, member);
    return a;
}

static char *error_of(const char *json)
{
    sl_scenario *s = (sl_scenario *)0x1;
    sl_buf err = SL_BUF_INIT;
    int rc = sl_scenario_parse(sl_view_of(json), &s, &err);
    cr_assert_eq(rc, SL_ERR_PARSE, "accepted: %s", json);
    cr_assert_null(s);
    cr_assert_not_null(err.data);
    return sl_buf_steal(&err);
}

#define REFUSED(json, want)                                                        \
    do {                                                                           \
        char *got_ = error_of(json);                                               \
        cr_assert_str_eq(got_, want, "%s\ngot:    %s\nwanted: %s", json, got_, want); \
        free(got_);                                                                \
    } while (0)

/* A scenario around the given filters and logical operator. */
static char *scenario(const char *filters, const char *logic)
{
    sl_buf b = SL_BUF_INIT;
    sl_buf_printf(&b, "{\"scenario_id\":9,\"log_format\":{\"a\":1},\"filters\":[%s]", filters);
    if (logic)
        sl_buf_printf(&b, ",\"logical_operator\":\"%s\"", logic);
    sl_buf_append_char(&b, '}');
    return sl_buf_steal(&b);
}

/* ---- the seed's scenario 5 ----------------------------------------------- */

Test(scenario, seed_scenario_5_parses_as_written)
{
    sl_scenario *s = parse(SEED_5);
    cr_assert_eq(s->id, 5);
    cr_assert_str_eq(s->title, "9시 이후 구매 버튼을 클릭한 성인 남성 사용자 필터링");
    cr_assert_str_eq(s->manager, "admin_user");
    cr_assert_eq(s->logic, SL_SCENARIO_AND);
    cr_assert_eq(s->nfields, 6);
    cr_assert_eq(s->nkept, 3);
    cr_assert_str_eq(s->fields[2].name, "memberId");
    cr_assert(s->fields[2].keep && !s->fields[0].keep);
    cr_assert_eq(s->nfilters, 3);
    cr_assert_str_eq(s->filters[0].left, "age");
    cr_assert_str_eq(s->filters[0].op, ">");
    cr_assert_str_eq(s->filters[0].right, "\"20\"");
    char *x = expression_of(s);
    cr_assert_str_eq(x, "age > 20 && gender == 'MALE' && h >= 9");
    free(x);
    sl_scenario_free(s);
    sl_scenario_free(NULL);
}

Test(scenario, seed_scenario_5_over_a_table_of_events)
{
    /* Pixel events carry every parameter as a string; members come from
       the members table (age a number, gender a string). */
    static const struct {
        const char *event, *member;
        bool success;
    } table[] = {
        { "{\"memberId\":\"1\",\"h\":\"9\"}", "{\"age\":21,\"gender\":\"MALE\"}", true },
        { "{\"memberId\":\"1\",\"h\":\"10\"}", "{\"age\":35,\"gender\":\"MALE\"}", true },
        { "{\"memberId\":\"1\",\"h\":\"23\"}", "{\"age\":99,\"gender\":\"MALE\"}", true },
        { "{\"memberId\":\"1\",\"h\":\"09\"}", "{\"age\":21,\"gender\":\"MALE\"}", true },
        { "{\"memberId\":\"1\",\"h\":9}", "{\"age\":\"21\",\"gender\":\"MALE\"}", true },
        { "{\"memberId\":\"1\",\"h\":\"8\"}", "{\"age\":21,\"gender\":\"MALE\"}", false },
        { "{\"memberId\":\"1\",\"h\":\"0\"}", "{\"age\":40,\"gender\":\"MALE\"}", false },
        { "{\"memberId\":\"1\",\"h\":\"10\"}", "{\"age\":20,\"gender\":\"MALE\"}", false },
        { "{\"memberId\":\"1\",\"h\":\"10\"}", "{\"age\":19,\"gender\":\"MALE\"}", false },
        { "{\"memberId\":\"1\",\"h\":\"10\"}", "{\"age\":30,\"gender\":\"FEMALE\"}", false },
        { "{\"memberId\":\"1\",\"h\":\"10\"}", "{\"age\":30,\"gender\":\"male\"}", false },
        { "{\"memberId\":\"1\",\"h\":\"10\"}", "{\"age\":30}", false },
        { "{\"memberId\":\"1\",\"h\":\"10\"}", "{\"gender\":\"MALE\"}", false },
        { "{\"memberId\":\"1\",\"h\":\"10\"}", NULL, false },              /* unknown member */
        { "{\"memberId\":\"1\"}", "{\"age\":30,\"gender\":\"MALE\"}", false }, /* no h */
        { "{\"memberId\":\"1\",\"h\":\"\"}", "{\"age\":30,\"gender\":\"MALE\"}", false },
        { "{\"memberId\":\"1\",\"h\":\"nine\"}", "{\"age\":30,\"gender\":\"MALE\"}", false },
        { "{\"memberId\":\"1\",\"h\":null}", "{\"age\":30,\"gender\":\"MALE\"}", false },
        { "{\"memberId\":\"1\",\"h\":\"10\"}", "{\"age\":\"unknown\",\"gender\":\"MALE\"}", false },
        { "{\"memberId\":\"1\",\"h\":\"10\"}", "{\"age\":20.5,\"gender\":\"MALE\"}", true },
        /* The event's own fields come first. */
        { "{\"h\":\"10\",\"age\":18}", "{\"age\":30,\"gender\":\"MALE\"}", false },
        { "{\"h\":\"10\",\"gender\":\"MALE\"}", "{\"age\":30,\"gender\":\"FEMALE\"}", true },
    };
    sl_scenario *s = parse(SEED_5);
    for (size_t i = 0; i < SL_ARRAY_LEN(table); i++)
        cr_assert_eq(matches(s, table[i].event, table[i].member), table[i].success,
                     "row %zu: %s + %s should give success %d", i, table[i].event,
                     table[i].member ? table[i].member : "(none)", table[i].success);
    sl_scenario_free(s);
}

Test(scenario, or_scenarios)
{
    char *json = scenario("{\"left\":\"age\",\"operator\":\"<\",\"right\":\"18\"},"
                          "{\"left\":\"e_c\",\"operator\":\"==\",\"right\":\"purchase\"}", "OR");
    sl_scenario *s = parse(json);
    char *x = expression_of(s);
    cr_assert_str_eq(x, "age < 18 || e_c == 'purchase'");
    free(x);
    cr_assert(matches(s, "{\"age\":10,\"e_c\":\"scroll\"}", NULL));
    cr_assert(matches(s, "{\"age\":30,\"e_c\":\"purchase\"}", NULL));
    cr_assert(matches(s, "{\"e_c\":\"purchase\"}", NULL));
    cr_assert(!matches(s, "{\"age\":30,\"e_c\":\"scroll\"}", NULL));
    cr_assert(!matches(s, "{}", NULL));
    sl_scenario_free(s);
    free(json);

    json = scenario("{\"left\":\"a\",\"operator\":\"==\",\"right\":1}", "or");
    EXPRESSION(json, "a == 1");
    free(json);
    json = scenario("", "And");
    EXPRESSION(json, "true");
    free(json);
    json = scenario("{\"left\":\"a\",\"operator\":\"==\",\"right\":1},"
                    "{\"left\":\"b\",\"operator\":\"==\",\"right\":2}", NULL);
    EXPRESSION(json, "a == 1 && b == 2"); /* AND when not given */
    free(json);
}

/* ---- operators and the right side ---------------------------------------- */

Test(scenario, every_operator_and_form_of_right)
{
    static const struct {
        const char *filter, *expression;
    } table[] = {
        { "\"left\":\"a\",\"operator\":\"==\",\"right\":\"x\"", "a == 'x'" },
        { "\"left\":\"a\",\"operator\":\"!=\",\"right\":\"x\"", "a != 'x'" },
        { "\"left\":\"a\",\"operator\":\">\",\"right\":\"20\"", "a > 20" },
        { "\"left\":\"a\",\"operator\":\">=\",\"right\":\"-2.50\"", "a >= -2.5" },
        { "\"left\":\"a\",\"operator\":\"<\",\"right\":\"+7\"", "a < 7" },
        { "\"left\":\"a\",\"operator\":\"<=\",\"right\":\"1e3\"", "a <= 1000.0" },
        { "\"left\":\"a\",\"operator\":\"<=\",\"right\":\"abc\"", "a <= 'abc'" },
        { "\"left\":\"a\",\"operator\":\"==\",\"right\":\"20\"", "a == '20'" },
        { "\"left\":\"a\",\"operator\":\"==\",\"right\":-0.5", "a == -0.5" },
        { "\"left\":\"a\",\"operator\":\"==\",\"right\":true", "a == true" },
        { "\"left\":\"a\",\"operator\":\"!=\",\"right\":null", "a != null" },
        { "\"left\":\"a\",\"operator\":\"in\",\"right\":[\"x\",2,true,null]", "a in ['x', 2, true, null]" },
        { "\"left\":\"a\",\"operator\":\"in\",\"right\":\"MALE, FEMALE ,,x\"", "a in ['MALE', 'FEMALE', 'x']" },
        { "\"left\":\"a\",\"operator\":\"IN\",\"right\":\"one\"", "a in ['one']" },
        { "\"left\":\"a\",\"operator\":\"not in\",\"right\":[1]", "a not in [1]" },
        { "\"left\":\"a\",\"operator\":\"contains\",\"right\":\"bot\"", "a contains 'bot'" },
        { "\"left\":\"a\",\"operator\":\"startswith\",\"right\":\"http\"", "a startswith 'http'" },
        { "\"left\":\"a\",\"operator\":\"endswith\",\"right\":\".png\"", "a endswith '.png'" },
        { "\"left\":\"meta.status\",\"operator\":\">=\",\"right\":500", "meta.status >= 500" },
        { "\"left\":\"user-agent\",\"operator\":\"contains\",\"right\":\"it's\"", "`user-agent` contains 'it\\'s'" },
        { "\"left\":\"in\",\"operator\":\"==\",\"right\":\"a\\nb\\u00e9\"", "`in` == 'a\\nbé'" },
        { "\"left\":\"`q`\",\"operator\":\"==\",\"right\":1", "```q``` == 1" },
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(table); i++) {
        char filter[256];
        snprintf(filter, sizeof filter, "{%s}", table[i].filter);
        char *json = scenario(filter, "AND");
        EXPRESSION(json, table[i].expression);
        free(json);
    }
}

Test(scenario, operators_evaluate_as_their_expressions)
{
    char *json = scenario(
        "{\"left\":\"ua\",\"operator\":\"contains\",\"right\":\"bot\"},"
        "{\"left\":\"e_c\",\"operator\":\"in\",\"right\":\"buttonClick, scroll\"},"
        "{\"left\":\"url\",\"operator\":\"startswith\",\"right\":\"http://shop/\"},"
        "{\"left\":\"res\",\"operator\":\"not in\",\"right\":[\"800x600\"]},"
        "{\"left\":\"cookie\",\"operator\":\"!=\",\"right\":\"0\"}",
        "AND");
    sl_scenario *s = parse(json);
    const char *base = "{\"ua\":\"googlebot/2\",\"e_c\":\"scroll\",\"url\":\"http://shop/x\","
                       "\"res\":\"1920x1080\",\"cookie\":\"1\"}";
    cr_assert(matches(s, base, NULL));
    cr_assert(!matches(s, "{\"ua\":\"Mozilla\",\"e_c\":\"scroll\",\"url\":\"http://shop/x\","
                          "\"res\":\"1920x1080\",\"cookie\":\"1\"}", NULL));
    cr_assert(!matches(s, "{\"ua\":\"bot\",\"e_c\":\"purchase\",\"url\":\"http://shop/x\","
                          "\"res\":\"1920x1080\",\"cookie\":\"1\"}", NULL));
    cr_assert(!matches(s, "{\"ua\":\"bot\",\"e_c\":\"scroll\",\"url\":\"https://shop/x\","
                          "\"res\":\"1920x1080\",\"cookie\":\"1\"}", NULL));
    cr_assert(!matches(s, "{\"ua\":\"bot\",\"e_c\":\"scroll\",\"url\":\"http://shop/x\","
                          "\"res\":\"800x600\",\"cookie\":\"1\"}", NULL));
    cr_assert(!matches(s, "{\"ua\":\"bot\",\"e_c\":\"scroll\",\"url\":\"http://shop/x\","
                          "\"res\":\"1920x1080\",\"cookie\":0}", NULL));
    /* A filter on a missing field is false, "not in" and "!=" included. */
    cr_assert(!matches(s, "{\"ua\":\"bot\",\"e_c\":\"scroll\",\"url\":\"http://shop/x\","
                          "\"cookie\":\"1\"}", NULL));
    cr_assert(!matches(s, "{\"ua\":\"bot\",\"e_c\":\"scroll\",\"url\":\"http://shop/x\","
                          "\"res\":\"1920x1080\"}", NULL));
    sl_scenario_free(s);
    free(json);

    /* With > >= < <= a numeric string is a number: "unknown" is not > 20
       (typed as an expression, age > '20' would compare the strings). */
    json = scenario("{\"left\":\"age\",\"operator\":\">\",\"right\":\"20\"}", "AND");
    s = parse(json);
    cr_assert(!matches(s, "{\"age\":\"unknown\"}", NULL));
    cr_assert(matches(s, "{\"age\":\"21\"}", NULL));
    sl_scenario_free(s);
    free(json);
    sl_expr *e = NULL;
    cr_assert_eq(sl_expr_compile("age > '20'", 10, &e, NULL), 0);
    cr_assert(sl_expr_eval_bool(e, sl_view_of("{\"age\":\"unknown\"}")));
    sl_expr_free(e);
}

/* ---- invalid scenarios --------------------------------------------------- */

Test(scenario, invalid_scenarios_name_the_bad_part)
{
    REFUSED("", "invalid JSON at offset 0: unexpected end of input, expected a value");
    REFUSED("{\"scenario_id\":1,", "invalid JSON at offset 17: unexpected end of input, expected a key in object");
    REFUSED("{} x", "invalid JSON at offset 3: unexpected text after the scenario object");
    REFUSED("[1]", "a scenario must be a JSON object, not array");
    REFUSED("{}", "scenario_id: missing; log_format: missing (an object of field names to 0 or 1); "
                  "filters: missing (an array, [] for none)");
    REFUSED("{\"scenario_id\":0,\"log_format\":{},\"filters\":[]}",
            "scenario_id: must be a positive integer");
    REFUSED("{\"scenario_id\":\"5\",\"log_format\":{},\"filters\":[]}",
            "scenario_id: must be a positive integer");
    REFUSED("{\"scenario_id\":1.5,\"log_format\":{},\"filters\":[]}",
            "scenario_id: must be a positive integer");
    REFUSED("{\"scenario_id\":-3,\"log_format\":{},\"filters\":[]}",
            "scenario_id: must be a positive integer");
    REFUSED("{\"scenario_id\":99999999999999999999,\"log_format\":{},\"filters\":[]}",
            "scenario_id: must be a positive integer");
    REFUSED("{\"scenario_id\":1,\"scenario_id\":2,\"log_format\":{},\"filters\":[]}",
            "scenario_id: given twice");
    REFUSED("{\"scenario_id\":1,\"title\":5,\"manager\":[],\"log_format\":{},\"filters\":[]}",
            "title: must be a string; manager: must be a string");
    REFUSED("{\"scenario_id\":1,\"log_format\":[],\"filters\":[]}",
            "log_format: must be an object of field names to 0 or 1");
    REFUSED("{\"scenario_id\":1,\"log_format\":{\"a\":2,\"b\":\"1\",\"c\":1,\"c\":0},\"filters\":[]}",
            "log_format.a: must be 0 or 1; log_format.b: must be 0 or 1; log_format.c: given twice");
    REFUSED("{\"scenario_id\":1,\"log_format\":{},\"filters\":{}}",
            "filters: must be an array of {\"left\", \"operator\", \"right\"} objects");
    REFUSED("{\"scenario_id\":1,\"log_format\":{},\"filters\":[],\"logical_operator\":\"XOR\"}",
            "logical_operator: must be AND or OR");
    REFUSED("{\"scenario_id\":1,\"log_format\":{},\"filters\":[],\"logical_operator\":1}",
            "logical_operator: must be AND or OR");

    char *json = scenario("{\"left\":\"a\",\"operator\":\"==\",\"right\":1},"
                          "{\"left\":\"b\",\"operator\":\"=~\",\"right\":\"x\"}", "AND");
    REFUSED(json, "filters[1].operator: unknown operator '=~' (one of == != > >= < <= in, not in, "
                  "contains, startswith, endswith)");
    free(json);
    json = scenario("{\"left\":\"b\",\"operator\":\"=\",\"right\":\"x\"}", "AND");
    REFUSED(json, "filters[0].operator: unknown operator '='; did you mean '=='?");
    free(json);
    json = scenario("5,{\"left\":3,\"operator\":7},{\"left\":\"x\",\"operator\":\"==\",\"right\":1,\"rigth\":2}",
                    "AND");
    REFUSED(json, "filters[0]: must be an object with left, operator and right; "
                  "filters[1].left: must be a field name (a string); "
                  "filters[1].operator: must be a string, one of == != > >= < <= in, not in, contains, "
                  "startswith, endswith; filters[1].right: missing; "
                  "filters[2]: unknown key 'rigth' (expected left, operator, right)");
    free(json);
    json = scenario("{\"left\":\"\",\"operator\":\"==\",\"right\":1},"
                    "{\"left\":\"a..b\",\"operator\":\"==\",\"right\":1},"
                    "{\"left\":\"a.\",\"operator\":\"==\",\"right\":1},"
                    "{\"left\":\"a\\u0000b\",\"operator\":\"==\",\"right\":1}", "AND");
    REFUSED(json, "filters[0].left: must name a field; "
                  "filters[1].left: empty key in 'a..b' (dots separate nested keys); "
                  "filters[2].left: empty key in 'a.' (dots separate nested keys); "
                  "filters[3].left: field name contains a NUL character");
    free(json);
    json = scenario("{\"left\":\"a\",\"operator\":\"in\",\"right\":5},"
                    "{\"left\":\"a\",\"operator\":\"in\",\"right\":\" , \"},"
                    "{\"left\":\"a\",\"operator\":\"in\",\"right\":[1,[2],{}]},"
                    "{\"left\":\"a\",\"operator\":\"==\",\"right\":[1]},"
                    "{\"left\":\"a\",\"operator\":\">\",\"right\":{}},"
                    "{\"left\":\"a\",\"operator\":\">\",\"right\":1e999},"
                    "{\"left\":\"a\",\"operator\":\"==\",\"right\":1,\"left\":\"b\"}", "AND");
    REFUSED(json, "filters[0].right: 'in' takes a list or a comma-separated string; "
                  "filters[1].right: empty list; "
                  "filters[2].right[1]: must be a string, number, boolean or null; "
                  "filters[2].right[2]: must be a string, number, boolean or null; "
                  "filters[3].right: must be a string, number, boolean or null, not an array; "
                  "filters[4].right: must be a string, number, boolean or null, not an object; "
                  "filters[5].right: number out of range; "
                  "filters[6].left: given twice");
    free(json);

    /* err may be NULL; other keys are not ours and are ignored. */
    sl_scenario *s = (sl_scenario *)0x1;
    cr_assert_eq(sl_scenario_parse(sl_view_of("{}"), &s, NULL), SL_ERR_PARSE);
    cr_assert_null(s);
    s = parse("{\"scenario_id\":3,\"log_format\":{},\"filters\":[],\"created_at\":\"x\","
              "\"expression\":\"whatever\",\"title\":null}");
    cr_assert_str_eq(s->title, "");
    sl_scenario_free(s);
}

Test(scenario, too_many_fields_are_refused)
{
    sl_buf b = SL_BUF_INIT;
    sl_buf_append_str(&b, "{\"scenario_id\":1,\"log_format\":{");
    for (int i = 0; i < SL_SCENARIO_MAX_KEPT + 1; i++)
        sl_buf_printf(&b, "%s\"f%d\":1", i ? "," : "", i);
    sl_buf_append_str(&b, "},\"filters\":[]}");
    REFUSED(b.data, "log_format: keeps 257 fields, more than 256");

    sl_buf_reset(&b);
    sl_buf_append_str(&b, "{\"scenario_id\":1,\"log_format\":{},\"filters\":[");
    for (int i = 0; i < SL_EXPR_MAX_FIELDS + 1; i++)
        sl_buf_printf(&b, "%s{\"left\":\"f%d\",\"operator\":\"==\",\"right\":1}", i ? "," : "", i);
    sl_buf_append_str(&b, "]}");
    char *msg = error_of(b.data);
    cr_assert(strstr(msg, "filters: at ") && strstr(msg, "more than 128 distinct fields"), "%s", msg);
    free(msg);
    sl_buf_free(&b);
}

/* ---- projection ---------------------------------------------------------- */

/* The members of a projected object, checked to be valid JSON. */
static void expect_projection(const char *got, const char *const *keys, const char *const *values,
                              size_t n)
{
    size_t end;
    sl_json_error je;
    cr_assert_eq(sl_json_validate(got, strlen(got), 0, &end, &je), 0, "not JSON: %s (%s)", got,
                 je.message);
    cr_assert_eq(end, strlen(got));
    sl_json_iter it;
    sl_view k, v;
    size_t i = 0;
    sl_json_iter_init(&it, sl_view_of(got));
    while (sl_json_object_next(&it, &k, &v)) {
        cr_assert(i < n, "extra member %.*s in %s", (int)k.len, k.ptr, got);
        cr_assert(sl_json_key_eq(k, keys[i], strlen(keys[i])), "member %zu of %s is %.*s, wanted %s",
                  i, got, (int)k.len, k.ptr, keys[i]);
        cr_assert(sl_view_eq(v, sl_view_of(values[i])), "value of %s in %s is %.*s, wanted %s",
                  keys[i], got, (int)v.len, v.ptr, values[i]);
        i++;
    }
    cr_assert_eq(i, n, "%s has %zu members, wanted %zu", got, i, n);
}

Test(scenario, projection_keeps_exactly_the_fields_marked_1)
{
    sl_scenario *s = parse(SEED_5);
    const char *ev = "{\"e_c\":\"buttonClick\",\"e_a\":\"Clicked\",\"e_n\":\"\\uace0\\uba74\","
                     "\"url\":\"http://shop/p?a=1&b=\\\"2\\\"\",\"urlref\":\"http://shop/\","
                     "\"_idn\":\"0\",\"cookie\":\"1\",\"res\":\"1920x1080\",\"memberId\":123456,"
                     "\"h\" : [ 9 , {\"x\":\"}\"} ] }";
    sl_buf out = SL_BUF_INIT;
    int n = sl_scenario_project(s, sl_view_of(ev), &out);
    cr_assert_eq(n, 3);
    /* log_format's order, values verbatim; res (0) and urlref (unlisted) dropped. */
    cr_assert_str_eq(out.data, "{\"memberId\":123456,\"h\":[ 9 , {\"x\":\"}\"} ],"
                               "\"url\":\"http://shop/p?a=1&b=\\\"2\\\"\"}");
    const char *keys[] = { "memberId", "h", "url" };
    const char *values[] = { "123456", "[ 9 , {\"x\":\"}\"} ]", "\"http://shop/p?a=1&b=\\\"2\\\"\"" };
    expect_projection(out.data, keys, values, 3);

    /* A kept field the event lacks is left out; a member record fills in. */
    sl_buf_reset(&out);
    n = sl_scenario_project(s, sl_view_of("{\"h\":\"10\",\"res\":\"x\"}"), &out);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(out.data, "{\"h\":\"10\"}");
    sl_buf_reset(&out);
    sl_view objs[2] = { sl_view_of("{\"h\":\"10\"}"), sl_view_of("{\"memberId\":7,\"url\":null}") };
    n = sl_scenario_project_ctx(s, objs, 2, &out);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(out.data, "{\"memberId\":7,\"h\":\"10\",\"url\":null}");
    sl_buf_reset(&out);
    n = sl_scenario_project(s, sl_view_of("{}"), &out);
    cr_assert_eq(n, 0);
    cr_assert_str_eq(out.data, "{}");

    /* Duplicate keys: the last one; escaped keys are the same keys. */
    sl_buf_reset(&out);
    n = sl_scenario_project(s, sl_view_of("{\"h\":1,\"\\u0068\":2,\"memberI\\u0064\":3}"), &out);
    cr_assert_str_eq(out.data, "{\"memberId\":3,\"h\":2}");

    /* Appends to what the buffer holds; the processor's pattern of closing
       the object itself gives valid JSON. */
    sl_buf_reset(&out);
    sl_buf_append_str(&out, "prefix:");
    n = sl_scenario_project(s, sl_view_of("{\"h\":\"10\"}"), &out);
    cr_assert_str_eq(out.data, "prefix:{\"h\":\"10\"}");
    sl_buf_reset(&out);
    n = sl_scenario_project(s, sl_view_of("{\"h\":\"10\"}"), &out);
    out.len--; /* drop '}' */
    sl_buf_printf(&out, "%s\"success\":1,\"scenario_id\":5,\"date\":\"2025-06-18T12:50:10Z\"}",
                  n ? "," : "");
    const char *k2[] = { "h", "success", "scenario_id", "date" };
    const char *v2[] = { "\"10\"", "1", "5", "\"2025-06-18T12:50:10Z\"" };
    expect_projection(out.data, k2, v2, 4);
    sl_buf_free(&out);
    sl_scenario_free(s);
}

Test(scenario, apply_gives_match_and_projection_in_one_pass)
{
    sl_scenario *s = parse(SEED_5);
    const char *ev = "{\"memberId\":\"42\",\"h\":\"11\",\"url\":\"u\",\"res\":\"r\"}";
    const char *member = "{\"member_id\":42,\"age\":33,\"gender\":\"MALE\"}";
    sl_view objs[2] = { sl_view_of(ev), sl_view_of(member) };
    sl_buf a = SL_BUF_INIT, b = SL_BUF_INIT;
    bool matched = false;
    int na = sl_scenario_apply(s, objs, 2, &a, &matched);
    int nb = sl_scenario_project_ctx(s, objs, 2, &b);
    cr_assert(matched);
    cr_assert_eq(na, nb);
    cr_assert_str_eq(a.data, b.data);
    cr_assert_str_eq(a.data, "{\"memberId\":\"42\",\"h\":\"11\",\"url\":\"u\"}");
    sl_buf_reset(&a);
    objs[1] = sl_view_of("{\"age\":12,\"gender\":\"MALE\"}");
    na = sl_scenario_apply(s, objs, 2, &a, &matched);
    cr_assert(!matched);
    cr_assert_eq(na, 3);
    sl_buf_free(&a);
    sl_buf_free(&b);
    sl_scenario_free(s);
}

Test(scenario, many_kept_fields_use_the_hash_table)
{
    sl_buf j = SL_BUF_INIT, ev = SL_BUF_INIT, out = SL_BUF_INIT;
    sl_buf_append_str(&j, "{\"scenario_id\":2,\"log_format\":{");
    sl_buf_append_char(&ev, '{');
    for (int i = 0; i < 60; i++) {
        sl_buf_printf(&j, "%s\"k%d\":%d", i ? "," : "", i, i % 3 != 0);
        sl_buf_printf(&ev, "%s\"k%d\":%d", i ? "," : "", 59 - i, 59 - i);
    }
    sl_buf_append_str(&j, "},\"filters\":[{\"left\":\"k1\",\"operator\":\"==\",\"right\":1}]}");
    sl_buf_append_char(&ev, '}');
    sl_scenario *s = parse(j.data);
    cr_assert_eq(s->nkept, 40);
    int n = sl_scenario_project(s, sl_buf_view(&ev), &out);
    cr_assert_eq(n, 40);
    sl_json_iter it;
    sl_view k, v;
    int i = 0, want = 1;
    sl_json_iter_init(&it, sl_buf_view(&out));
    while (sl_json_object_next(&it, &k, &v)) {
        char name[16];
        snprintf(name, sizeof name, "k%d", want);
        cr_assert(sl_json_key_eq(k, name, strlen(name)), "member %d is %.*s", i, (int)k.len, k.ptr);
        cr_assert_eq(atoi(v.ptr), want);
        want += want % 3 == 1 ? 1 : 2;
        i++;
    }
    cr_assert_eq(i, 40);
    sl_view one = sl_buf_view(&ev);
    cr_assert(sl_scenario_match(s, &one, 1));
    sl_scenario_free(s);
    sl_buf_free(&j);
    sl_buf_free(&ev);
    sl_buf_free(&out);
}

/* ---- the JSON echo ------------------------------------------------------- */

Test(scenario, to_json_parses_back_to_the_same_scenario)
{
    const char *inputs[] = {
        SEED_5,
        "{\"scenario_id\":12,\"title\":\"t \\\"q\\\"\",\"log_format\":{\"a\\nb\":1,\"c\":false},"
        "\"filters\":[{\"left\":\"x.y\",\"operator\":\"NOT IN\",\"right\":\"a,b\"},"
        "{\"left\":\"z\",\"operator\":\"in\",\"right\":[ 1, \"2\" ]}],\"logical_operator\":\"or\"}",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(inputs); i++) {
        sl_scenario *s = parse(inputs[i]);
        sl_buf a = SL_BUF_INIT, b = SL_BUF_INIT;
        sl_scenario_to_json(s, &a);
        size_t end;
        cr_assert_eq(sl_json_validate(a.data, a.len, 0, &end, NULL), 0, "%s", a.data);
        sl_scenario *t = parse(a.data);
        sl_scenario_to_json(t, &b);
        cr_assert_str_eq(a.data, b.data);
        sl_scenario_free(s);
        sl_scenario_free(t);
        sl_buf_free(&a);
        sl_buf_free(&b);
    }
    sl_scenario *s = parse(SEED_5);
    sl_buf a = SL_BUF_INIT;
    sl_scenario_to_json(s, &a);
    cr_assert_str_eq(a.data,
        "{\"scenario_id\":5,\"title\":\"9시 이후 구매 버튼을 클릭한 성인 남성 사용자 필터링\","
        "\"manager\":\"admin_user\",\"log_format\":{\"e_c\":0,\"e_a\":0,\"memberId\":1,\"h\":1,"
        "\"res\":0,\"url\":1},\"filters\":[{\"left\":\"age\",\"operator\":\">\",\"right\":\"20\"},"
        "{\"left\":\"gender\",\"operator\":\"==\",\"right\":\"MALE\"},{\"left\":\"h\",\"operator\":"
        "\">=\",\"right\":\"9\"}],\"logical_operator\":\"AND\",\"expression\":"
        "\"age > 20 && gender == 'MALE' && h >= 9\"}");
    sl_buf_free(&a);
    sl_scenario_free(s);
}

/* ---- the one-pass scan against sl_json_get -------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static unsigned pick(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static const char *const KEYS[] = { "a", "b", "ab", "key", "k2", "long_key_name", "", "é", "x y" };

static void blank(sl_buf *b)
{
    static const char *const ws[] = { "", "", "", " ", "\n  ", "\t" };
    sl_buf_append_str(b, ws[pick(SL_ARRAY_LEN(ws))]);
}

static void random_value(sl_buf *b, int depth)
{
    static const char *const scalars[] = {
        "1", "-2.5e3", "true", "false", "null", "\"s\"", "\"with \\\"quotes\\\" and \\\\\"",
        "\"}]{[,:\"", "\"\\u00e9\"", "\"a long string value that crosses the sixty-four byte window of the scan\"",
    };
    unsigned k = depth > 2 ? 0 : pick(6);
    if (k == 4) {
        sl_buf_append_char(b, '[');
        unsigned n = pick(4);
        for (unsigned i = 0; i < n; i++) {
            blank(b);
            if (i)
                sl_buf_append_char(b, ',');
            random_value(b, depth + 1);
        }
        sl_buf_append_char(b, ']');
    } else if (k == 5) {
        sl_buf_append_char(b, '{');
        unsigned n = pick(4);
        for (unsigned i = 0; i < n; i++) {
            if (i)
                sl_buf_append_char(b, ',');
            blank(b);
            sl_buf_printf(b, "\"%s\"", KEYS[pick(SL_ARRAY_LEN(KEYS))]);
            blank(b);
            sl_buf_append_char(b, ':');
            blank(b);
            random_value(b, depth + 1);
        }
        sl_buf_append_char(b, '}');
    } else {
        sl_buf_append_str(b, scalars[pick(SL_ARRAY_LEN(scalars))]);
    }
}

/* A key as JSON, sometimes spelled with escapes. */
static void random_key(sl_buf *b, const char *key)
{
    sl_buf_append_char(b, '"');
    for (const char *p = key; *p; p++) {
        if (pick(6) == 0 && (unsigned char)*p < 0x80)
            sl_buf_printf(b, "\\u%04x", (unsigned char)*p);
        else
            sl_buf_append_char(b, *p);
    }
    sl_buf_append_char(b, '"');
}

Test(scenario, one_pass_scan_agrees_with_sl_json_get)
{
    uint64_t seed = 0x5eed0002;
    const char *env = getenv("SL_TEST_SEED");
    if (env && *env)
        seed ^= strtoull(env, NULL, 0) * UINT64_C(0x9e3779b97f4a7c15);
    rng_state = seed;

    /* Keep every key of KEYS; project random events; compare each member
       with sl_json_get on the same event. */
    sl_buf j = SL_BUF_INIT, ev = SL_BUF_INIT, out = SL_BUF_INIT;
    sl_buf_append_str(&j, "{\"scenario_id\":1,\"log_format\":{");
    for (size_t i = 0; i < SL_ARRAY_LEN(KEYS); i++)
        sl_buf_printf(&j, "%s\"%s\":1", i ? "," : "", KEYS[i]);
    sl_buf_append_str(&j, "},\"filters\":[]}");
    sl_scenario *s = parse(j.data);

    for (int round = 0; round < 5000; round++) {
        sl_buf_reset(&ev);
        blank(&ev);
        sl_buf_append_char(&ev, '{');
        unsigned n = pick(12);
        for (unsigned i = 0; i < n; i++) {
            blank(&ev);
            if (i)
                sl_buf_append_char(&ev, ','), blank(&ev);
            random_key(&ev, KEYS[pick(SL_ARRAY_LEN(KEYS))]);
            blank(&ev);
            sl_buf_append_char(&ev, ':');
            blank(&ev);
            random_value(&ev, 0);
        }
        blank(&ev);
        sl_buf_append_char(&ev, '}');
        size_t end;
        sl_json_error je;
        cr_assert_eq(sl_json_validate(ev.data, ev.len, 0, &end, &je), 0, "generator: %s: %s",
                     ev.data, je.message);

        sl_buf_reset(&out);
        int written = sl_scenario_project(s, sl_buf_view(&ev), &out);
        cr_assert_eq(sl_json_validate(out.data, out.len, 0, &end, &je), 0,
                     "seed %llu: projection of %s is not JSON: %s", (unsigned long long)seed,
                     ev.data, out.data);
        int expected = 0;
        sl_json_iter it;
        sl_view k, v;
        sl_json_iter_init(&it, sl_buf_view(&out));
        for (size_t i = 0; i < SL_ARRAY_LEN(KEYS); i++) {
            sl_view want;
            if (!sl_json_get(sl_buf_view(&ev), KEYS[i], &want))
                continue;
            expected++;
            cr_assert(sl_json_object_next(&it, &k, &v), "seed %llu: %s lacks %s in %s",
                      (unsigned long long)seed, out.data, KEYS[i], ev.data);
            cr_assert(sl_json_key_eq(k, KEYS[i], strlen(KEYS[i])) && sl_view_eq(v, want),
                      "seed %llu: %s: member %.*s = %.*s, sl_json_get gives %s = %.*s",
                      (unsigned long long)seed, ev.data, (int)k.len, k.ptr, (int)v.len, v.ptr,
                      KEYS[i], (int)want.len, want.ptr);
        }
        cr_assert(!sl_json_object_next(&it, &k, &v), "seed %llu: extra member in %s",
                  (unsigned long long)seed, out.data);
        cr_assert_eq(written, expected);
    }
    sl_scenario_free(s);
    sl_buf_free(&j);
    sl_buf_free(&ev);
    sl_buf_free(&out);
}

/* ---- many scenarios, one scan ---------------------------------------------- */

/* A random event object over KEYS (keys sometimes escaped or repeated). */
static void random_event(sl_buf *ev)
{
    sl_buf_reset(ev);
    blank(ev);
    sl_buf_append_char(ev, '{');
    unsigned n = pick(12);
    for (unsigned i = 0; i < n; i++) {
        blank(ev);
        if (i)
            sl_buf_append_char(ev, ','), blank(ev);
        random_key(ev, KEYS[pick(SL_ARRAY_LEN(KEYS))]);
        blank(ev);
        sl_buf_append_char(ev, ':');
        blank(ev);
        random_value(ev, 0);
    }
    blank(ev);
    sl_buf_append_char(ev, '}');
}

/* The first member named key (decoded), as sl_json_object_next walks. */
static sl_view first_member(sl_view object, const char *key)
{
    sl_json_iter it;
    sl_view k, v;
    sl_json_iter_init(&it, object);
    while (sl_json_object_next(&it, &k, &v))
        if (sl_json_key_eq(k, key, strlen(key)))
            return v;
    return SL_VIEW_NULL;
}

/*
 * Scenarios over overlapping keys (nested paths, OR and AND, none at
 * all), one union: for random events and members, applying each scenario
 * through the union gives exactly what sl_scenario_apply gives, and the
 * extra keys are the first occurrences.
 */
Test(scenario, union_of_keys_agrees_with_apply)
{
    rng_state = 0x5eed0003;
    const char *defs[] = {
        SEED_5,
        "{\"scenario_id\":2,\"log_format\":{\"a\":1,\"b\":0,\"key\":1,\"x y\":1},"
        "\"filters\":[{\"left\":\"a\",\"operator\":\">\",\"right\":0},"
        "{\"left\":\"key.k2\",\"operator\":\"==\",\"right\":\"s\"}],\"logical_operator\":\"OR\"}",
        "{\"scenario_id\":3,\"log_format\":{\"long_key_name\":1,\"\":1,\"é\":1},"
        "\"filters\":[{\"left\":\"ab\",\"operator\":\"!=\",\"right\":true},"
        "{\"left\":\"b\",\"operator\":\"in\",\"right\":[1,\"s\",null]}]}",
        "{\"scenario_id\":4,\"log_format\":{},\"filters\":[]}",
    };
    enum { N = SL_ARRAY_LEN(defs) };
    sl_scenario *s[N];
    sl_view extra[2] = { SL_VIEW_LIT("a"), SL_VIEW_LIT("key") };
    sl_scenario_keys *keys = sl_scenario_keys_new(extra, 2);
    for (size_t i = 0; i < N; i++) {
        s[i] = parse(defs[i]);
        cr_assert_eq(sl_scenario_keys_add(keys, s[i]), i);
    }
    sl_scenario_keys_finish(keys);
    sl_scenario_event scanned;
    sl_scenario_event_init(&scanned);
    sl_buf ev = SL_BUF_INIT, member = SL_BUF_INIT, a = SL_BUF_INIT, b = SL_BUF_INIT;
    for (int round = 0; round < 4000; round++) {
        random_event(&ev);
        random_event(&member);
        sl_view objs[2] = { sl_buf_view(&ev), pick(3) ? sl_buf_view(&member) : SL_VIEW_NULL };
        sl_scenario_keys_scan(keys, objs[0], &scanned);
        for (size_t x = 0; x < 2; x++) {
            sl_view want = first_member(objs[0], x ? "key" : "a");
            sl_view got = sl_scenario_event_extra(&scanned, x);
            cr_assert(want.ptr ? sl_view_eq(got, want) && got.ptr == want.ptr : !got.ptr,
                      "extra %zu of %s", x, ev.data);
        }
        for (size_t i = 0; i < N; i++) {
            sl_buf_reset(&a);
            sl_buf_reset(&b);
            bool ma = false, mb = false, mc = false;
            int na = sl_scenario_apply(s[i], objs, objs[1].ptr ? 2 : 1, &a, &ma);
            int nb = sl_scenario_keys_apply(keys, i, &scanned, objs[1], &b, &mb);
            sl_scenario_keys_apply(keys, i, &scanned, objs[1], NULL, &mc);
            cr_assert_eq(ma, mb, "scenario %zu over %s / %s", i, ev.data, member.data);
            cr_assert_eq(ma, mc);
            cr_assert_eq(na, nb);
            cr_assert_str_eq(a.data, b.data, "scenario %zu over %s", i, ev.data);
        }
    }
    sl_scenario_event_free(&scanned);
    sl_scenario_keys_free(keys);
    for (size_t i = 0; i < N; i++)
        sl_scenario_free(s[i]);
    sl_buf_free(&ev);
    sl_buf_free(&member);
    sl_buf_free(&a);
    sl_buf_free(&b);
}
