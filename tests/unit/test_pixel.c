/*
 * test_pixel.c - the tracking pixel's event builder (shared with the tail
 * input) and its pieces: seed 001's example request, the pixel's own
 * fields and the parameters that may not shadow them, absent headers,
 * non-UTF-8 header bytes, the record key, the refusals with their reasons,
 * the routing rule for paths, and the GIF itself.
 */
#include "core/json.h"
#include "input/pixel/pixel.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#define TS INT64_C(1750218610123456) /* 2025-06-18T03:50:10.123456Z */

static sl_pixel_builder *b_;

static void setup(void)
{
    b_ = sl_pixel_builder_new();
}

static void teardown(void)
{
    sl_pixel_builder_free(b_);
}

TestSuite(pixel, .init = setup, .fini = teardown);

static sl_pixel_hit hit_of(const char *path, const char *query)
{
    return (sl_pixel_hit){ .path = sl_view_of(path),
                           .query = query ? sl_view_of(query) : SL_VIEW_NULL,
                           .ip = SL_VIEW_LIT("203.0.113.9"),
                           .user_agent = SL_VIEW_LIT("Mozilla/5.0"),
                           .referer = SL_VIEW_LIT("http://shop/p/1"),
                           .ts_us = TS };
}

/* Build, check it is valid JSON, return it (caller frees). */
static char *build(const sl_pixel_hit *h, sl_view *key)
{
    sl_buf out = SL_BUF_INIT;
    sl_pixel_error err = { 0 };
    sl_view k;
    int rc = sl_pixel_event_build(b_, h, &out, &k, &err);
    cr_assert_eq(rc, 0, "refused: %s", err.message);
    size_t end;
    sl_json_error jerr = { 0 };
    cr_assert_eq(sl_json_validate(out.data, out.len, 0, &end, &jerr), 0, "invalid JSON (%s): %s",
                 jerr.message, out.data);
    if (key)
        *key = k;
    return sl_buf_steal(&out);
}

static void refused(const char *path, const char *query, const char *reason, const char *message,
                    size_t offset)
{
    sl_pixel_hit h = hit_of(path, query);
    sl_buf out = SL_BUF_INIT;
    sl_buf_append_str(&out, "kept");
    sl_pixel_error err = { 0 };
    sl_view key;
    cr_assert_eq(sl_pixel_event_build(b_, &h, &out, &key, &err), SL_ERR_PARSE, "accepted %s?%s",
                 path, query);
    cr_assert_str_eq(err.reason, reason);
    cr_assert_not_null(strstr(err.message, message), "message '%s' lacks '%s'", err.message,
                       message);
    cr_assert_eq(err.offset, offset, "offset %zu, wanted %zu", err.offset, offset);
    cr_assert_str_eq(out.data, "kept", "a refused hit wrote into out");
    sl_buf_free(&out);
}

Test(pixel, seed_001_example_becomes_one_event)
{
    sl_pixel_hit h = hit_of("/5", "e_c=buttonClick&e_a=Clicked&e_n=\\uace0\\uba74\\ud560\\ub2f9"
                                  "\\ud558\\uae30&url=http://shop/product_detail/name&urlref=http:"
                                  "//shop/&_idn=0&cookie=1&res=1920x1080&memberId=123456");
    sl_view key;
    char *ev = build(&h, &key);
    cr_assert_str_eq(ev, "{\"scenario_id\":5,\"e_c\":\"buttonClick\",\"e_a\":\"Clicked\","
                         "\"e_n\":\"고면할당하기\",\"url\":\"http://shop/product_detail/name\","
                         "\"urlref\":\"http://shop/\",\"_idn\":\"0\",\"cookie\":\"1\","
                         "\"res\":\"1920x1080\",\"memberId\":\"123456\",\"ip\":\"203.0.113.9\","
                         "\"user_agent\":\"Mozilla/5.0\",\"referer\":\"http://shop/p/1\","
                         "\"ts\":\"2025-06-18T03:50:10.123456Z\"}");
    cr_assert(sl_view_eq_str(key, "123456"));
    free(ev);
}

Test(pixel, the_pixels_own_fields_win_over_parameters_of_the_same_name)
{
    sl_pixel_hit h = hit_of("/7", "ip=1.2.3.4&ts=0&scenario_id=9&referer=x&user_agent=y&a=1");
    char *ev = build(&h, NULL);
    cr_assert_str_eq(ev, "{\"scenario_id\":7,\"a\":\"1\",\"ip\":\"203.0.113.9\","
                         "\"user_agent\":\"Mozilla/5.0\",\"referer\":\"http://shop/p/1\","
                         "\"ts\":\"2025-06-18T03:50:10.123456Z\"}");
    free(ev);
}

Test(pixel, absent_headers_are_left_out_and_no_query_is_fine)
{
    sl_pixel_hit h = { .path = SL_VIEW_LIT("/42"), .ts_us = TS };
    sl_view key;
    char *ev = build(&h, &key);
    cr_assert_str_eq(ev, "{\"scenario_id\":42,\"ts\":\"2025-06-18T03:50:10.123456Z\"}");
    cr_assert_eq(key.len, 0);
    free(ev);
    /* An empty memberId is no key; repeated, the last one is the key. */
    h = hit_of("/1", "memberId=&x=");
    ev = build(&h, &key);
    cr_assert_eq(key.len, 0);
    cr_assert_not_null(strstr(ev, "\"memberId\":\"\",\"x\":\"\""));
    free(ev);
    h = hit_of("/1", "memberId=1&memberId=2");
    ev = build(&h, &key);
    cr_assert(sl_view_eq_str(key, "2"));
    free(ev);
}

Test(pixel, header_bytes_that_are_not_utf8_become_replacement_characters)
{
    sl_pixel_hit h = hit_of("/5", "a=1");
    h.user_agent = SL_VIEW_LIT("Mozilla \xe9t\xe9 \"q\" \\ \x01");
    char *ev = build(&h, NULL);
    cr_assert_not_null(strstr(ev, "\"user_agent\":\"Mozilla \xef\xbf\xbdt\xef\xbf\xbd \\\"q\\\" "
                                  "\\\\ \\u0001\""), "%s", ev);
    free(ev);
}

Test(pixel, the_second_is_reused_but_the_microseconds_are_not)
{
    sl_pixel_hit h = hit_of("/5", NULL);
    h.ts_us = TS;
    char *a = build(&h, NULL);
    h.ts_us = TS + 1;
    char *b = build(&h, NULL);
    h.ts_us = TS + 1000000 - 123456;
    char *c = build(&h, NULL);
    cr_assert_not_null(strstr(a, "03:50:10.123456Z"));
    cr_assert_not_null(strstr(b, "03:50:10.123457Z"));
    cr_assert_not_null(strstr(c, "03:50:11.000000Z"));
    free(a);
    free(b);
    free(c);
}

Test(pixel, refusals_name_the_problem)
{
    refused("/abc", "e_c=a", "bad_scenario_id", "the scenario id must be decimal digits", 1);
    refused("/0", NULL, "bad_scenario_id", "must be positive", 1);
    refused("/99999999999999999999", NULL, "bad_scenario_id", "larger than", 19);
    refused("/5", "e_c=a&e_n=%G1", "bad_query", "parameter 'e_n' at byte 10: broken %-escape '%G1'",
            10);
    refused("/5", "e_n=\\ud83d", "bad_query", "lone high surrogate", 4);
    refused("/5", "e_n=\\u12", "bad_query", "\\u", 4);
    refused("/5", "e_n=%FF%FE", "bad_query", "UTF-8", 4);
}

Test(pixel, which_paths_the_collector_routes_to_the_pixel)
{
    cr_assert(sl_pixel_path_is_candidate("/5"));
    cr_assert(sl_pixel_path_is_candidate("/abc")); /* refused with 400 */
    cr_assert_not(sl_pixel_path_is_candidate("/"));
    cr_assert_not(sl_pixel_path_is_candidate("/favicon.ico"));
    cr_assert_not(sl_pixel_path_is_candidate("/health"));
    cr_assert_not(sl_pixel_path_is_candidate("/robots.txt"));
    cr_assert_not(sl_pixel_path_is_candidate("/api/collect"));
    cr_assert_not(sl_pixel_path_is_candidate("/5/x"));
    cr_assert_not(sl_pixel_path_is_candidate(NULL));
}

Test(pixel, the_gif_is_a_complete_1x1_gif89a)
{
    cr_assert_eq(sl_pixel_gif_len, 43);
    cr_assert(memcmp(sl_pixel_gif, "GIF89a", 6) == 0);
    cr_assert_eq(sl_pixel_gif[6] | sl_pixel_gif[7] << 8, 1);   /* width */
    cr_assert_eq(sl_pixel_gif[8] | sl_pixel_gif[9] << 8, 1);   /* height */
    cr_assert_eq(sl_pixel_gif[19], 0x21);                        /* extension */
    cr_assert_eq(sl_pixel_gif[20], 0xF9);                        /* graphic control */
    cr_assert_eq(sl_pixel_gif[22] & 1, 1);                       /* transparent */
    cr_assert_eq(sl_pixel_gif[27], 0x2C);                        /* image descriptor */
    cr_assert_eq(sl_pixel_gif[sl_pixel_gif_len - 1], 0x3B);     /* trailer */
}

Test(pixel, json_text_writer_copies_plain_ascii_and_escapes_the_rest)
{
    sl_buf out = SL_BUF_INIT;
    sl_pixel_append_json_text(&out, SL_VIEW_LIT("plain text longer than eight bytes"));
    sl_pixel_append_json_text(&out, SL_VIEW_LIT("tab\there"));
    sl_pixel_append_json_text(&out, SL_VIEW_LIT("\xed\xa0\x80")); /* an encoded surrogate */
    sl_pixel_append_json_text(&out, SL_VIEW_LIT("한국어"));
    cr_assert_str_eq(out.data, "\"plain text longer than eight bytes\"\"tab\\there\""
                               "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"\"한국어\"");
    sl_buf_free(&out);
}
