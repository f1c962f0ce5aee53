/*
 * test_nginx_fast.c - the NGINX parser's fast path (one SSE2 pass finding
 * where a value ends and whether it holds a backslash; values without one
 * are never searched again; $request's parts mapped in one walk) gives
 * exactly what the plain parser gave: the same fields, numbers, times,
 * method/path/protocol, JSON bytes, and the same refusals at the same
 * offsets with the same messages. The plain parser is kept in
 * test_nginx_reference.h; both run over many generated lines for the
 * combined and main formats and a custom one, built from the pieces that
 * steer the scan (quotes, backslash escapes valid and broken, pieces of
 * the literals themselves, runs across 16-byte edges, '-' values).
 */
#include "test_nginx_reference.h"

#include <criterion/criterion.h>
#include <string.h>

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * UINT64_C(2685821657736338717)) >> 32) % n;
}

/* A value: text with the bytes that matter to the matcher mixed in. */
static void put_value(sl_buf *b)
{
    static const char *const pieces[] = {
        "GET", " ", "/5?e_c=a&e_n=\\x5Cuace0&memberId=7", " HTTP/1.1", "-", "\\x22", "\\x5C",
        "\\xE9", "\\xZZ", "\\", "\\x4", "\"", "\" \"", " - ", " [", "] \"", "\" ", "200", "43",
        "Mozilla/5.0 (X11; Linux x86_64)", "10/Oct/2000:13:55:36 -0700", "\xC3\xA9", "\xFF",
        "abcdefghijklmnopqrstuvwxyz0123456789", "0.005", "971211336.123", "2000-10-10T13:55:36-07:00",
    };
    for (size_t n = rnd(5); n-- > 0;)
        sl_buf_append_str(b, pieces[rnd(SL_ARRAY_LEN(pieces))]);
}

/* A line shaped like the format (usually) with values that may break it. */
static void make_line(sl_buf *b, int which)
{
    sl_buf_reset(b);
    bool wild = rnd(4) == 0;
    if (which == 2)
        sl_buf_append_char(b, '<');
    if (which == 2) {
        if (wild) put_value(b); else sl_buf_append_str(b, "2000-10-10T13:55:36-07:00");
        sl_buf_append_str(b, "> 10.0.0.1:443 \"");
        put_value(b);
        sl_buf_append_str(b, "\" 200 0.005 971211336.123 \"");
        put_value(b);
        sl_buf_append_str(b, "\" ");
        put_value(b);
    } else {
        if (wild) put_value(b); else sl_buf_append_str(b, rnd(2) ? "10.187.241.129" : "-");
        sl_buf_append_str(b, " - ");
        if (rnd(2)) put_value(b); else sl_buf_append_char(b, '-');
        sl_buf_append_str(b, " [");
        if (wild) put_value(b); else sl_buf_append_str(b, "22/Nov/2026:09:46:29 +0900");
        sl_buf_append_str(b, "] \"");
        if (rnd(2))
            sl_buf_append_str(b, "GET /6?e_c=buttonClick&e_n=\\x5Cub85c\\x5Cuadf8&url=http%3A%2F%2Fshop HTTP/1.1");
        else
            put_value(b);
        sl_buf_append_str(b, "\" ");
        if (wild) put_value(b); else sl_buf_append_str(b, "200");
        sl_buf_append_char(b, ' ');
        if (wild) put_value(b); else sl_buf_append_str(b, rnd(2) ? "43" : "-");
        sl_buf_append_str(b, " \"");
        put_value(b);
        sl_buf_append_str(b, "\" \"");
        put_value(b);
        sl_buf_append_char(b, '"');
        if (which == 1) {
            sl_buf_append_str(b, " \"");
            put_value(b);
            sl_buf_append_char(b, '"');
        }
    }
    if (rnd(10) == 0)
        put_value(b); /* trailing junk */
    if (rnd(4) == 0)
        sl_buf_append_str(b, rnd(2) ? "\n" : "\r\n");
}

static bool same_view(sl_view a, sl_view b)
{
    return (a.ptr == NULL) == (b.ptr == NULL) && a.len == b.len &&
           (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

Test(nginx_fast, lines_parse_exactly_as_the_plain_parser_did)
{
    static const char custom[] =
        "<${time_iso8601}> $remote_addr:$remote_port \"$request\" $status $request_time "
        "$msec \"$http_user_agent\" $upstream_addr";
    const char *specs[3] = { "combined", "main", custom };
    rng_state = 1234567;
    static sl_nginx_line got, want;
    sl_buf line = SL_BUF_INIT;
    for (int which = 0; which < 3; which++) {
        sl_nginx_format *f = NULL;
        refn_sl_nginx_format *rf = NULL;
        sl_nginx_error err;
        cr_assert_eq(sl_nginx_format_new(specs[which], &f, &err), 0);
        cr_assert_eq(refn_sl_nginx_format_new(specs[which], &rf, &err), 0);
        for (int i = 0; i < 60000; i++) {
            make_line(&line, which);
            size_t len = line.len;
            char *copy = malloc(len ? len : 1); /* exactly its size: ASan sees an overread */
            memcpy(copy, line.data, len);
            char *s1 = malloc(len + 1), *s2 = malloc(len + 1);
            sl_nginx_error e1 = { 0 }, e2 = { 0 };
            int r1 = sl_nginx_parse(f, copy, len, &got, s1, len, &e1);
            int r2 = refn_sl_nginx_parse(rf, copy, len, &want, s2, len, &e2);
            cr_assert_eq(r1, r2, "rc %d vs %d: %s", r1, r2, line.data);
            if (r1 != 0) {
                cr_assert_str_eq(e1.message, e2.message, "%s", line.data);
                cr_assert_eq(e1.offset, e2.offset, "%s", line.data);
            } else {
                cr_assert_eq(got.nfields, want.nfields);
                for (size_t k = 0; k < got.nfields; k++) {
                    const sl_nginx_field *a = &got.fields[k], *b = &want.fields[k];
                    cr_assert(same_view(a->raw, b->raw) && same_view(a->value, b->value) &&
                                  a->absent == b->absent && a->num == b->num && a->type == b->type,
                              "field %zu differs: %s", k, line.data);
                }
                cr_assert(same_view(got.method, want.method) && same_view(got.path, want.path) &&
                              same_view(got.protocol, want.protocol),
                          "request parts differ: %s", line.data);
                cr_assert(got.has_ts == want.has_ts && got.ts_us == want.ts_us);
                sl_buf j1 = SL_BUF_INIT, j2 = SL_BUF_INIT;
                sl_nginx_line_to_json(&got, &j1);
                refn_sl_nginx_line_to_json(&want, &j2);
                cr_assert(j1.len == j2.len && memcmp(j1.data, j2.data, j1.len) == 0,
                          "JSON differs:\n  %s\n  %s", j1.data, j2.data);
                sl_buf_free(&j1);
                sl_buf_free(&j2);
            }
            free(copy);
            free(s1);
            free(s2);
        }
        sl_nginx_format_free(f);
        refn_sl_nginx_format_free(rf);
    }
    sl_buf_free(&line);
}
