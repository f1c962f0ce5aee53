/*
 * fuzz_scenario.c - libFuzzer target for the scenario compiler.
 *
 * The input is read as scenario JSON. What must hold:
 *
 *   - input that is not valid JSON (sl_json_validate) is refused;
 *   - a refusal is SL_ERR_PARSE with a message, and no scenario;
 *   - an accepted scenario has an id > 0 and a filter expression whose
 *     canonical text compiles again;
 *   - its JSON echo is valid JSON and parses back to the same echo;
 *   - projecting fixed events gives valid JSON objects with at most the
 *     kept fields, and sl_scenario_apply agrees with match + project;
 *   - the scenario and its echo in one key union (sl_scenario_keys), over
 *     one scan of each event, give what sl_scenario_apply gives.
 *
 * The input is copied into a buffer of exactly its size so that
 * AddressSanitizer sees any read past the end.
 */
#include "core/buf.h"
#include "core/json.h"
#include "expr/scenario.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile uint64_t sink;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_scenario: check failed: %s: ", #cond);   \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
            abort();                                                       \
        }                                                                  \
    } while (0)

static const char *const EVENTS[] = {
    ("{\"scenario_id\":5,\"e_c\":\"buttonClick\",\"e_a\":\"Clicked\",\"url\":\"http://x/p\","
     "\"memberId\":\"123456\",\"h\":\"10\",\"res\":\"1920x1080\",\"age\":30,\"gender\":\"MALE\"}"),
    "{\"a\":1,\"a\":[1,{\"b\":\"}\"}],\"\\u0068\":\"9\",\"x y\":null,\"\":\"empty\"}",
    "{}",
};

static const char *const MEMBER = "{\"member_id\":123456,\"age\":21,\"gender\":\"FEMALE\"}";

static bool valid_json(const sl_buf *b)
{
    size_t end;
    return b->data && sl_json_validate(b->data, b->len, 0, &end, NULL) == 0 && end == b->len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    sl_view json = { text, size };
    sl_scenario *s = NULL, *s2 = NULL;
    sl_buf err = SL_BUF_INIT, echo = SL_BUF_INIT, echo2 = SL_BUF_INIT;
    sl_buf out = SL_BUF_INIT, out2 = SL_BUF_INIT, x = SL_BUF_INIT;
    sl_scenario_keys *keys = NULL;
    sl_scenario_event scanned;
    sl_scenario_event_init(&scanned);

    size_t end;
    bool is_json = sl_json_validate(text, size, 0, &end, NULL) == 0;
    int rc = sl_scenario_parse(json, &s, &err);
    if (!is_json)
        CHECK(rc == SL_ERR_PARSE, "invalid JSON accepted");
    if (rc != 0) {
        CHECK(rc == SL_ERR_PARSE && !s && err.len > 0, "rc %d", rc);
        sink += err.len;
        goto done;
    }

    CHECK(s->id > 0, "id %lld", (long long)s->id);
    CHECK(s->nkept <= s->nfields && s->nkept <= SL_SCENARIO_MAX_KEPT, "kept %zu", s->nkept);
    sl_expr_to_string(s->filter, &x);
    sl_expr *e = NULL;
    CHECK(sl_expr_compile(x.data, x.len, &e, NULL) == 0, "expression <%s> does not compile", x.data);
    sl_expr_free(e);

    sl_scenario_to_json(s, &echo);
    CHECK(valid_json(&echo), "echo is not JSON: %s", echo.data);
    sl_buf_reset(&err);
    rc = sl_scenario_parse(sl_buf_view(&echo), &s2, &err);
    CHECK(rc == 0, "echo refused: %s: %s", err.data, echo.data);
    sl_scenario_to_json(s2, &echo2);
    CHECK(echo.len == echo2.len && memcmp(echo.data, echo2.data, echo.len) == 0,
          "echo changed: %s then %s", echo.data, echo2.data);

    sl_view extra[2] = { SL_VIEW_LIT("scenario_id"), SL_VIEW_LIT("memberId") };
    keys = sl_scenario_keys_new(extra, 2);
    size_t which[2] = { sl_scenario_keys_add(keys, s), sl_scenario_keys_add(keys, s2) };
    sl_scenario_keys_finish(keys);

    for (size_t i = 0; i < sizeof EVENTS / sizeof EVENTS[0]; i++) {
        sl_view objs[2] = { sl_view_of(EVENTS[i]), sl_view_of(MEMBER) };
        sl_buf_reset(&out);
        sl_buf_reset(&out2);
        int n = sl_scenario_project_ctx(s, objs, 2, &out);
        CHECK(n >= 0 && (size_t)n <= s->nkept, "projected %d of %zu", n, s->nkept);
        CHECK(valid_json(&out), "projection is not JSON: %s", out.data);
        bool matched = false;
        int n2 = sl_scenario_apply(s, objs, 2, &out2, &matched);
        CHECK(n2 == n && out.len == out2.len && memcmp(out.data, out2.data, out.len) == 0,
              "apply projects %s, project %s", out2.data, out.data);
        CHECK(matched == sl_scenario_match(s, objs, 2), "apply and match disagree on %s",
              EVENTS[i]);
        CHECK(matched == sl_scenario_match(s2, objs, 2), "the echo matches differently on %s",
              EVENTS[i]);
        sink += (uint64_t)n + matched;
        sl_scenario_keys_scan(keys, objs[0], &scanned);
        for (int k = 0; k < 2; k++) {
            bool m2 = !matched;
            sl_buf_reset(&out2);
            int n3 = sl_scenario_keys_apply(keys, which[k], &scanned, objs[1], &out2, &m2);
            CHECK(m2 == matched && n3 == n && out.len == out2.len &&
                      memcmp(out.data, out2.data, out.len) == 0,
                  "the union gives %s (%d), apply %s (%d) on %s", out2.data, m2, out.data,
                  matched, EVENTS[i]);
        }
    }

done:
    sl_scenario_keys_free(keys);
    sl_scenario_event_free(&scanned);
    sl_scenario_free(s);
    sl_scenario_free(s2);
    sl_buf_free(&err);
    sl_buf_free(&echo);
    sl_buf_free(&echo2);
    sl_buf_free(&out);
    sl_buf_free(&out2);
    sl_buf_free(&x);
    free(text);
    return 0;
}
