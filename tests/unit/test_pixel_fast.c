/*
 * test_pixel_fast.c - the pixel's fast paths (the one-pass query scan,
 * views for parts with nothing to decode or escape, the shadowed-key set,
 * the SSE2/SWAR JSON text writers) give exactly what the plain code they
 * replaced gave: the same parameters, the same JSON bytes, the same
 * refusals with the same messages and offsets. The plain code is kept in
 * test_pixel_reference.h; both run over many generated queries and hits
 * built from the pieces that steer the fast paths (runs of plain text
 * across 16- and 64-byte block edges, %XX, '+', \uXXXX and surrogates,
 * raw UTF-8 and bytes that are not, quotes, control bytes, NULs, repeated
 * and reserved keys, empty segments, broken escapes).
 */
#include "test_pixel_reference.h"

#include <criterion/criterion.h>
#include <string.h>

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    /* xorshift64*: deterministic, so a failure can be replayed. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * UINT64_C(2685821657736338717)) >> 32) % n;
}

static void put_hex_byte(sl_buf *b, unsigned v)
{
    static const char hex[] = "0123456789ABCDEFabcdef";
    char t[3] = { '%', hex[v >> 4], hex[v & 15] };
    if (rnd(4) == 0 && (v & 15) >= 10)
        t[2] = hex[(v & 15) + 6]; /* lower case */
    sl_buf_append(b, t, 3);
}

/* One piece of a name or value. */
static void put_piece(sl_buf *b)
{
    static const char *const words[] = { "buttonClick", "Clicked", "http://shop.example.com/p/1",
                                         "1920x1080", "0", "w-3-17", "a", "", "abcdefghijklmnopq",
                                         "x.y_z~" };
    switch (rnd(24)) {
    case 0: case 1: case 2: case 3: case 4: case 5:
        sl_buf_append_str(b, words[rnd(SL_ARRAY_LEN(words))]);
        break;
    case 6: { /* a long plain run, across block edges */
        size_t n = rnd(80);
        for (size_t i = 0; i < n; i++)
            sl_buf_append_char(b, (char)('a' + rnd(26)));
        break;
    }
    case 7: /* a percent-encoded UTF-8 character */
        put_hex_byte(b, 0xEA + rnd(3));
        put_hex_byte(b, 0x80 + rnd(64));
        put_hex_byte(b, 0x80 + rnd(64));
        break;
    case 8: /* any percent-encoded byte: quotes, controls, '%', '&', invalid UTF-8 */
        put_hex_byte(b, rnd(256));
        break;
    case 9:
        sl_buf_append_char(b, '+');
        break;
    case 10: { /* \uXXXX, sometimes percent-encoded, sometimes a surrogate */
        static const unsigned units[] = { 0xACE0, 0x0041, 0x0022, 0x005C, 0x0001, 0xD83D,
                                          0xDE00, 0x00E9, 0x0000 };
        char t[16];
        snprintf(t, sizeof t, "%su%04X", rnd(3) == 0 ? "%5C" : "\\", units[rnd(SL_ARRAY_LEN(units))]);
        sl_buf_append_str(b, t);
        break;
    }
    case 11: /* a valid surrogate pair */
        sl_buf_append_str(b, "\\uD83D\\uDE00");
        break;
    case 12: { /* broken escapes */
        static const char *const broken[] = { "%G1", "%4", "%", "\\u12", "\\uZZZZ", "\\x", "\\",
                                              "\\u" };
        sl_buf_append_str(b, broken[rnd(SL_ARRAY_LEN(broken))]);
        break;
    }
    case 13: /* raw UTF-8 */
        sl_buf_append_str(b, rnd(2) ? "\xEC\xBF\xA0" : "\xC3\xA9");
        break;
    case 14: /* a raw byte that may not be UTF-8 */
        sl_buf_append_char(b, (char)(0x80 + rnd(128)));
        break;
    case 15:
        sl_buf_append_char(b, '"');
        break;
    case 16: /* control bytes, DEL and NUL */
        sl_buf_append_char(b, (char)(rnd(3) == 0 ? 0x7F : rnd(0x20)));
        break;
    case 17:
        sl_buf_append_char(b, '=');
        break;
    case 18:
        sl_buf_append_char(b, '\\');
        break;
    default:
        sl_buf_append_char(b, (char)(0x20 + rnd(0x5F)));
        break;
    }
}

/* A query: parameters with keys that repeat and collide with the pixel's
   own names, empty segments, a leading '?' now and then. */
static void make_query(sl_buf *b, bool clean)
{
    static const char *const keys[] = { "e_c", "e_n", "memberId", "url", "ip", "ts", "referer",
                                        "user_agent", "scenario_id", "long_key_name_1",
                                        "long_key_name_2", "long_key_name_1x", "h", "uid" };
    sl_buf_reset(b);
    if (rnd(10) == 0)
        sl_buf_append_char(b, '?');
    size_t n = rnd(14);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 || rnd(8) == 0)
            sl_buf_append_str(b, rnd(12) == 0 ? "&&" : "&");
        if (rnd(4))
            sl_buf_append_str(b, keys[rnd(SL_ARRAY_LEN(keys))]);
        else
            for (size_t k = rnd(3); k-- > 0;)
                put_piece(b);
        if (rnd(8) == 0)
            continue; /* a bare key */
        sl_buf_append_char(b, '=');
        for (size_t k = rnd(5); k-- > 0;) {
            if (clean && rnd(3))
                sl_buf_append_str(b, "plain-value_0123");
            else
                put_piece(b);
        }
    }
    if (rnd(10) == 0)
        sl_buf_append_char(b, '&');
}

static void expect_same_query(const char *q, size_t len)
{
    static sl_query got, want;
    char *s1 = malloc(len + 1), *s2 = malloc(len + 1);
    char *copy = malloc(len ? len : 1); /* exactly its size: ASan sees an overread */
    memcpy(copy, q, len);
    sl_query_error e1 = { 0 }, e2 = { 0 };
    int r1 = sl_query_parse(copy, len, &got, s1, len, &e1);
    int r2 = ref_sl_query_parse(copy, len, &want, s2, len, &e2);
    cr_assert_eq(r1, r2, "rc %d, reference %d for query '%.*s'", r1, r2, (int)len, q);
    if (r1 != 0) {
        cr_assert_str_eq(e1.message, e2.message, "query '%.*s'", (int)len, q);
        cr_assert_eq(e1.offset, e2.offset, "query '%.*s'", (int)len, q);
    } else {
        cr_assert_eq(got.count, want.count, "query '%.*s'", (int)len, q);
        for (size_t i = 0; i < got.count; i++) {
            const sl_query_param *a = &got.params[i], *b = &want.params[i];
            cr_assert(sl_view_eq(a->key, b->key) && sl_view_eq(a->value, b->value) &&
                          a->has_equals == b->has_equals && a->offset == b->offset &&
                          a->shadowed == b->shadowed,
                      "parameter %zu differs in query '%.*s'", i, (int)len, q);
        }
        for (int comma = 0; comma < 2; comma++) {
            sl_buf j1 = SL_BUF_INIT, j2 = SL_BUF_INIT;
            bool c1 = comma, c2 = comma;
            sl_query_append_json(&got, &j1, &c1);
            ref_sl_query_append_json(&want, &j2, &c2);
            cr_assert(c1 == c2 && j1.len == j2.len && memcmp(j1.data ? j1.data : "", j2.data ? j2.data : "", j1.len) == 0,
                      "JSON differs for query '%.*s':\n  %s\n  %s", (int)len, q, j1.data, j2.data);
            sl_buf_free(&j1);
            sl_buf_free(&j2);
        }
    }
    free(s1);
    free(s2);
    free(copy);
}

Test(pixel_fast, queries_decode_exactly_as_the_plain_decoder_did)
{
    rng_state = UINT64_C(0x9E3779B97F4A7C15);
    sl_buf q = SL_BUF_INIT;
    for (int i = 0; i < 200000; i++) {
        make_query(&q, i % 2 == 0);
        expect_same_query(q.data ? q.data : "", q.len);
    }
    sl_buf_free(&q);
}

Test(pixel_fast, parameter_limit_and_block_edges)
{
    sl_buf q = SL_BUF_INIT;
    /* 127, 128 and 129 parameters: the limit and its message. */
    for (int n = 127; n <= 129; n++) {
        sl_buf_reset(&q);
        for (int i = 0; i < n; i++)
            sl_buf_printf(&q, "%sk%d=v", i ? "&" : "", i);
        expect_same_query(q.data, q.len);
    }
    /* A '&', '%' or '"' at every position around the 16- and 64-byte edges. */
    const char specials[] = "&=%+\\\"\x01\x80";
    for (size_t len = 1; len < 140; len++)
        for (size_t at = 0; at < len; at++)
            for (size_t s = 0; s < sizeof specials - 1; s++) {
                sl_buf_reset(&q);
                for (size_t i = 0; i < len; i++)
                    sl_buf_append_char(&q, i == at ? specials[s] : (char)('a' + i % 26));
                expect_same_query(q.data, q.len);
            }
    sl_buf_free(&q);
}

static void random_text(sl_buf *b, bool *absent)
{
    sl_buf_reset(b);
    *absent = rnd(8) == 0;
    size_t n = rnd(6);
    for (size_t i = 0; i < n; i++)
        put_piece(b);
}

Test(pixel_fast, events_are_built_byte_for_byte_as_before)
{
    rng_state = 42;
    sl_pixel_builder *fast = sl_pixel_builder_new(), *plain = sl_pixel_builder_new();
    sl_buf q = SL_BUF_INIT, ip = SL_BUF_INIT, ua = SL_BUF_INIT, ref = SL_BUF_INIT;
    static const char *const paths[] = { "/5", "/6", "/123456", "/", "/abc", "/0", "/5x", "" };
    for (int i = 0; i < 100000; i++) {
        make_query(&q, i % 2 == 0);
        bool no_ip, no_ua, no_ref;
        random_text(&ip, &no_ip);
        random_text(&ua, &no_ua);
        random_text(&ref, &no_ref);
        sl_pixel_hit hit = {
            .path = sl_view_of(paths[rnd(4) ? 0 : rnd(SL_ARRAY_LEN(paths))]),
            .query = { q.data ? q.data : "", q.len },
            .ip = no_ip ? SL_VIEW_NULL : (sl_view){ ip.data ? ip.data : "", ip.len },
            .user_agent = no_ua ? SL_VIEW_NULL : (sl_view){ ua.data ? ua.data : "", ua.len },
            .referer = no_ref ? SL_VIEW_NULL : (sl_view){ ref.data ? ref.data : "", ref.len },
            .ts_us = (int64_t)rnd(2000000000) * 1000 + rnd(1000),
        };
        if (rnd(10) == 0)
            hit.query = SL_VIEW_NULL;
        sl_buf o1 = SL_BUF_INIT, o2 = SL_BUF_INIT;
        sl_view k1, k2;
        sl_pixel_error e1 = { 0 }, e2 = { 0 };
        int r1 = sl_pixel_event_build(fast, &hit, &o1, &k1, &e1);
        int r2 = refp_sl_pixel_event_build(plain, &hit, &o2, &k2, &e2);
        cr_assert_eq(r1, r2, "rc for query '%.*s'", (int)q.len, q.data);
        if (r1 == 0) {
            cr_assert(o1.len == o2.len && memcmp(o1.data, o2.data, o1.len) == 0,
                      "events differ:\n  %s\n  %s", o1.data, o2.data);
            cr_assert(sl_view_eq(k1, k2), "keys differ for query '%.*s'", (int)q.len, q.data);
        } else {
            cr_assert_str_eq(e1.reason, e2.reason);
            cr_assert_str_eq(e1.message, e2.message);
            cr_assert_eq(e1.offset, e2.offset);
        }
        sl_buf_free(&o1);
        sl_buf_free(&o2);

        /* The text writer alone, on the same random bytes. */
        sl_buf t1 = SL_BUF_INIT, t2 = SL_BUF_INIT;
        sl_pixel_append_json_text(&t1, (sl_view){ ua.data ? ua.data : "", ua.len });
        refp_sl_pixel_append_json_text(&t2, (sl_view){ ua.data ? ua.data : "", ua.len });
        cr_assert(t1.len == t2.len && memcmp(t1.data, t2.data, t1.len) == 0, "text differs: %s / %s",
                  t1.data, t2.data);
        sl_buf_free(&t1);
        sl_buf_free(&t2);
    }
    sl_buf_free(&q);
    sl_buf_free(&ip);
    sl_buf_free(&ua);
    sl_buf_free(&ref);
    sl_pixel_builder_free(fast);
    sl_pixel_builder_free(plain);
}

Test(pixel_fast, utf8_json_text_is_what_sl_buf_append_json_string_writes)
{
    rng_state = 7;
    sl_buf t = SL_BUF_INIT;
    for (int i = 0; i < 50000; i++) {
        sl_buf_reset(&t);
        for (size_t k = rnd(8); k-- > 0;)
            put_piece(&t);
        sl_view v = { t.data ? t.data : "", t.len };
        if (!sl_utf8_valid(v.ptr, v.len))
            continue;
        sl_buf a = SL_BUF_INIT, b = SL_BUF_INIT;
        sl_query_append_json_utf8(&a, v);
        sl_buf_append_json_string(&b, v.ptr, v.len);
        cr_assert(a.len == b.len && memcmp(a.data, b.data, a.len) == 0, "%s / %s", a.data, b.data);
        sl_buf_free(&a);
        sl_buf_free(&b);
    }
    sl_buf_free(&t);
}
