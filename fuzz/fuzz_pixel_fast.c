/*
 * fuzz_pixel_fast.c - differential libFuzzer target for the fast paths of
 * the line -> event conversion: the optimised query decoder, event builder
 * and NGINX parser against the plain code they replaced, kept verbatim in
 * tests/unit/test_pixel_reference.h and tests/unit/test_nginx_reference.h.
 *
 * Input layout: byte 0 picks what is compared, the rest is the subject.
 *
 *   byte 0 % 3 == 0   a query string: sl_query_parse, its JSON members
 *              == 1   a pixel hit: the bytes up to the first '\n' are the
 *                     query, the rest the User-Agent (any bytes)
 *              == 2   an NGINX combined line: sl_nginx_parse and its JSON
 *
 * Everything must be identical: return codes, parameters, JSON bytes,
 * keys, refusal reasons, messages and offsets. Subjects are copied into
 * buffers of exactly their size, so ASan sees any read past them.
 */
#include "test_nginx_reference.h"
#include "test_pixel_reference.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, ...)                                                             \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "fuzz_pixel_fast: check failed: %s: ", #cond);           \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
            abort();                                                                 \
        }                                                                            \
    } while (0)

static bool same_bytes(const sl_buf *a, const sl_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static bool same_view(sl_view a, sl_view b)
{
    return (a.ptr == NULL) == (b.ptr == NULL) && a.len == b.len &&
           (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static void compare_query(const char *q, size_t len)
{
    static sl_query got, want;
    char *s1 = malloc(len ? len : 1), *s2 = malloc(len ? len : 1);
    sl_query_error e1, e2;
    memset(&e1, 0, sizeof e1);
    memset(&e2, 0, sizeof e2);
    int r1 = sl_query_parse(q, len, &got, s1, len, &e1);
    int r2 = ref_sl_query_parse(q, len, &want, s2, len, &e2);
    CHECK(r1 == r2, "rc %d vs %d", r1, r2);
    if (r1 != 0) {
        CHECK(strcmp(e1.message, e2.message) == 0 && e1.offset == e2.offset, "%s / %s",
              e1.message, e2.message);
    } else {
        CHECK(got.count == want.count, "count %zu vs %zu", got.count, want.count);
        for (size_t i = 0; i < got.count; i++) {
            const sl_query_param *a = &got.params[i], *b = &want.params[i];
            CHECK(sl_view_eq(a->key, b->key) && sl_view_eq(a->value, b->value) &&
                      a->has_equals == b->has_equals && a->offset == b->offset &&
                      a->shadowed == b->shadowed,
                  "parameter %zu", i);
        }
        sl_buf j1 = SL_BUF_INIT, j2 = SL_BUF_INIT;
        bool c1 = false, c2 = false;
        sl_query_append_json(&got, &j1, &c1);
        ref_sl_query_append_json(&want, &j2, &c2);
        CHECK(c1 == c2 && same_bytes(&j1, &j2), "JSON %s / %s", j1.data, j2.data);
        sl_buf_free(&j1);
        sl_buf_free(&j2);
    }
    free(s1);
    free(s2);
}

static void compare_hit(const char *data, size_t n)
{
    static sl_pixel_builder *fast, *plain;
    if (!fast) {
        fast = sl_pixel_builder_new();
        plain = sl_pixel_builder_new();
    }
    const char *nl = memchr(data, '\n', n);
    size_t qlen = nl ? (size_t)(nl - data) : n;
    sl_pixel_hit hit = { .path = SL_VIEW_LIT("/5"), .query = { data, qlen },
                         .ip = SL_VIEW_LIT("10.0.0.1"),
                         .user_agent = nl ? (sl_view){ nl + 1, n - qlen - 1 } : SL_VIEW_NULL,
                         .ts_us = 1750218610123456 };
    sl_buf o1 = SL_BUF_INIT, o2 = SL_BUF_INIT;
    sl_view k1, k2;
    sl_pixel_error e1, e2;
    memset(&e1, 0, sizeof e1);
    memset(&e2, 0, sizeof e2);
    int r1 = sl_pixel_event_build(fast, &hit, &o1, &k1, &e1);
    int r2 = refp_sl_pixel_event_build(plain, &hit, &o2, &k2, &e2);
    CHECK(r1 == r2, "rc %d vs %d", r1, r2);
    if (r1 == 0)
        CHECK(same_bytes(&o1, &o2) && sl_view_eq(k1, k2), "event %s / %s", o1.data, o2.data);
    else
        CHECK(strcmp(e1.reason, e2.reason) == 0 && strcmp(e1.message, e2.message) == 0 &&
                  e1.offset == e2.offset,
              "refusal %s / %s", e1.message, e2.message);
    sl_buf_free(&o1);
    sl_buf_free(&o2);
}

static void compare_line(const char *line, size_t len)
{
    static sl_nginx_format *f;
    static refn_sl_nginx_format *rf;
    static sl_nginx_line got, want;
    sl_nginx_error e1, e2;
    if (!f && (sl_nginx_format_new("combined", &f, &e1) != 0 ||
               refn_sl_nginx_format_new("combined", &rf, &e2) != 0))
        abort();
    char *s1 = malloc(len ? len : 1), *s2 = malloc(len ? len : 1);
    memset(&e1, 0, sizeof e1);
    memset(&e2, 0, sizeof e2);
    int r1 = sl_nginx_parse(f, line, len, &got, s1, len, &e1);
    int r2 = refn_sl_nginx_parse(rf, line, len, &want, s2, len, &e2);
    CHECK(r1 == r2, "rc %d vs %d", r1, r2);
    if (r1 != 0) {
        CHECK(strcmp(e1.message, e2.message) == 0 && e1.offset == e2.offset, "%s / %s",
              e1.message, e2.message);
    } else {
        for (size_t k = 0; k < got.nfields; k++)
            CHECK(same_view(got.fields[k].raw, want.fields[k].raw) &&
                      same_view(got.fields[k].value, want.fields[k].value) &&
                      got.fields[k].num == want.fields[k].num,
                  "field %zu", k);
        CHECK(same_view(got.method, want.method) && same_view(got.path, want.path) &&
                  same_view(got.protocol, want.protocol),
              "request parts");
        sl_buf j1 = SL_BUF_INIT, j2 = SL_BUF_INIT;
        sl_nginx_line_to_json(&got, &j1);
        refn_sl_nginx_line_to_json(&want, &j2);
        CHECK(same_bytes(&j1, &j2), "JSON %s / %s", j1.data, j2.data);
        sl_buf_free(&j1);
        sl_buf_free(&j2);
    }
    free(s1);
    free(s2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t n = size - 1;
    char *s = malloc(n ? n : 1);
    memcpy(s, data + 1, n);
    switch (data[0] % 3) {
    case 0: compare_query(s, n); break;
    case 1: compare_hit(s, n); break;
    default: compare_line(s, n); break;
    }
    free(s);
    return 0;
}
