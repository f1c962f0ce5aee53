/*
 * fuzz_expr.c - libFuzzer target for the expression language.
 *
 * The input is expression text. What must hold:
 *
 *   - compiling never crashes; a refusal is SL_ERR_PARSE with one message
 *     that starts "at <offset>: " and names an offset inside the text;
 *   - what compiles prints a canonical text that compiles again and prints
 *     the same (a fixed point);
 *   - the original and the recompiled expression agree, as conditions and
 *     as values, on a handful of fixed events (one object, and an event
 *     plus a member record), including events whose keys and strings use
 *     escapes, duplicates and nesting.
 *
 * The input is copied into a buffer of exactly its size so that
 * AddressSanitizer sees any read past the end.
 */
#include "core/buf.h"
#include "expr/expr.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile uint64_t sink;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_expr: check failed: %s: ", #cond);       \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
            abort();                                                       \
        }                                                                  \
    } while (0)

static const char *const EVENTS[] = {
    ("{\"age\":25,\"gender\":\"MALE\",\"h\":\"10\",\"a\":1,\"b\":2.5,\"s\":\"abc\",\"t\":true,"
     "\"n\":null,\"arr\":[1,\"x\",[2]],\"o\":{\"x\":\"10\",\"y z\":{\"q\":-1}},\"k-1\":\"09\"}"),
    ("{\"a\":\"1\",\"b\":\"x\",\"s\":\"a\\\"b\\u00e9\\n\",\"\\u0061ge\":\"20\",\"a\":3,"
     "\"arr\":[],\"o\":[1,2],\"big\":9223372036854775807,\"f\":1e300,\"neg\":-0.0}"),
    "{}",
    "{ \"s\" : \"\" , \"arr\" : [ \"\" , null ] , \"o\" : { } }",
};

static const char *const MEMBER = "{\"age\":41,\"gender\":\"FEMALE\",\"o\":{\"z\":1},\"c\":[\"a\"]}";

static void value_text(const sl_expr_value *v, sl_buf *out)
{
    sl_buf_reset(out);
    if (sl_expr_value_text(v, out) < 0)
        sl_buf_printf(out, "<type %d>", (int)v->type);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *src = malloc(size ? size : 1);
    memcpy(src, data, size);
    sl_expr *e = NULL, *e2 = NULL;
    sl_buf err = SL_BUF_INIT, t1 = SL_BUF_INIT, t2 = SL_BUF_INIT;
    sl_buf x1 = SL_BUF_INIT, x2 = SL_BUF_INIT;

    int rc = sl_expr_compile(src, size, &e, &err);
    if (rc != 0) {
        CHECK(rc == SL_ERR_PARSE && e == NULL, "rc %d", rc);
        CHECK(err.data && strncmp(err.data, "at ", 3) == 0, "message <%s>", err.data);
        unsigned long at = strtoul(err.data + 3, NULL, 10);
        CHECK(at <= size, "offset %lu past %zu: %s", at, size, err.data);
        sink += err.len;
        goto done;
    }

    sl_expr_to_string(e, &t1);
    sl_buf_reset(&err);
    rc = sl_expr_compile(t1.data, t1.len, &e2, &err);
    CHECK(rc == 0, "canonical <%s> does not compile: %s", t1.data, err.data);
    sl_expr_to_string(e2, &t2);
    CHECK(t1.len == t2.len && memcmp(t1.data, t2.data, t1.len) == 0, "<%s> then <%s>", t1.data,
          t2.data);
    CHECK(sl_expr_field_count(e) == sl_expr_field_count(e2), "field counts differ for <%s>",
          t1.data);

    for (size_t i = 0; i < sizeof EVENTS / sizeof EVENTS[0]; i++) {
        sl_view ev = sl_view_of(EVENTS[i]);
        bool r1 = sl_expr_eval_bool(e, ev), r2 = sl_expr_eval_bool(e2, ev);
        CHECK(r1 == r2, "<%s> gives %d, recompiled %d, on %s", t1.data, r1, r2, EVENTS[i]);
        sl_view objs[2] = { ev, sl_view_of(MEMBER) };
        r1 = sl_expr_eval_bool_ctx(e, objs, 2);
        r2 = sl_expr_eval_bool_ctx(e2, objs, 2);
        CHECK(r1 == r2, "<%s> with the member: %d vs %d on %s", t1.data, r1, r2, EVENTS[i]);
        sink += r1;

        sl_expr_value v1, v2;
        CHECK(sl_expr_eval(e, ev, &v1) == 0 && sl_expr_eval(e2, ev, &v2) == 0, "eval failed");
        CHECK(v1.type == v2.type, "<%s> types %d vs %d on %s", t1.data, v1.type, v2.type, EVENTS[i]);
        value_text(&v1, &x1);
        value_text(&v2, &x2);
        CHECK(x1.len == x2.len && memcmp(x1.data, x2.data, x1.len) == 0,
              "<%s> values %s vs %s on %s", t1.data, x1.data, x2.data, EVENTS[i]);
        sink += x1.len;
        double d;
        if (sl_expr_value_number(&v1, &d))
            sink += (uint64_t)(d != d);
    }

done:
    sl_expr_free(e);
    sl_expr_free(e2);
    sl_buf_free(&err);
    sl_buf_free(&t1);
    sl_buf_free(&t2);
    sl_buf_free(&x1);
    sl_buf_free(&x2);
    free(src);
    return 0;
}
