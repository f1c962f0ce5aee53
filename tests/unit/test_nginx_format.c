/*
 * test_nginx_format.c - NGINX access-log lines through compiled log_formats:
 * the built-in combined and main formats, custom formats (${var}, typed
 * variables, a variable at the end of the line), NGINX's \xHH escapes, '-'
 * fields, time offsets, the pixel's request path, the JSON events, and
 * malformed lines and formats with the exact messages users will read.
 *
 * The differential test against Fluentd's nginx regular expression is in
 * test_nginx_pcre2.c.
 */
#include "core/json.h"
#include "input/tail/nginx_format.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

static sl_nginx_format *fmt(const char *name_or_spec)
{
    sl_nginx_format *f = NULL;
    sl_nginx_error err = { 0 };
    int rc = sl_nginx_format_new(name_or_spec, &f, &err);
    cr_assert_eq(rc, 0, "format \"%s\" refused: %s", name_or_spec, err.message);
    return f;
}

static sl_nginx_line line_;
static char scratch_[4096];

static const sl_nginx_line *parse(const sl_nginx_format *f, const char *line)
{
    sl_nginx_error err = { 0 };
    int rc = sl_nginx_parse(f, line, strlen(line), &line_, scratch_, sizeof scratch_, &err);
    cr_assert_eq(rc, 0, "line refused: %s\n  %s", err.message, line);
    return &line_;
}

/* The line must be refused with exactly this message. */
static void refused(const sl_nginx_format *f, const char *line, const char *message)
{
    sl_nginx_error err = { 0 };
    int rc = sl_nginx_parse(f, line, strlen(line), &line_, scratch_, sizeof scratch_, &err);
    cr_assert_eq(rc, SL_ERR_PARSE, "line accepted (rc %d): %s", rc, line);
    cr_assert_str_eq(err.message, message, "for line: %s\n  got:    %s\n  wanted: %s", line,
                     err.message, message);
}

static char *json_of(const sl_nginx_line *l)
{
    sl_buf b = SL_BUF_INIT;
    sl_nginx_line_to_json(l, &b);
    size_t end;
    sl_json_error jerr = { 0 };
    cr_assert_eq(sl_json_validate(b.data, b.len, 0, &end, &jerr), 0, "invalid JSON (%s): %s",
                 jerr.message, b.data);
    cr_assert_eq(end, b.len);
    return sl_buf_steal(&b);
}

#define VIEW_IS(v, s)                                                                  \
    do {                                                                               \
        sl_view v_ = (v);                                                              \
        cr_assert(v_.ptr != NULL, "%s is absent, wanted \"%s\"", #v, (s));             \
        cr_assert(sl_view_eq_str(v_, (s)), "%s = \"%.*s\", wanted \"%s\"", #v,        \
                  (int)v_.len, v_.ptr, (s));                                           \
    } while (0)

#define FIELD(l, name) (sl_nginx_line_get((l), (name)))

#define COMBINED_LINE                                                                   \
    "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" "   \
    "200 2326 \"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\""

/* 2000-10-10T20:55:36Z */
#define OCT10_US INT64_C(971211336000000)

Test(nginx_format, combined_line)
{
    sl_nginx_format *f = fmt("combined");
    const sl_nginx_line *l = parse(f, COMBINED_LINE);
    cr_assert_eq(l->nfields, 8);
    VIEW_IS(FIELD(l, "remote_addr")->value, "127.0.0.1");
    VIEW_IS(FIELD(l, "remote_user")->value, "frank");
    VIEW_IS(FIELD(l, "time_local")->raw, "10/Oct/2000:13:55:36 -0700");
    cr_assert_eq(FIELD(l, "time_local")->num, OCT10_US);
    cr_assert(l->has_ts);
    cr_assert_eq(l->ts_us, OCT10_US);
    VIEW_IS(l->method, "GET");
    VIEW_IS(l->path, "/apache_pb.gif");
    VIEW_IS(l->protocol, "HTTP/1.0");
    VIEW_IS(FIELD(l, "request")->value, "GET /apache_pb.gif HTTP/1.0");
    cr_assert_eq(FIELD(l, "status")->type, SL_NGINX_INT);
    cr_assert_eq(FIELD(l, "status")->num, 200);
    cr_assert_eq(FIELD(l, "body_bytes_sent")->num, 2326);
    VIEW_IS(FIELD(l, "http_referer")->value, "http://www.example.com/start.html");
    VIEW_IS(FIELD(l, "http_user_agent")->value, "Mozilla/4.08 [en] (Win98; I ;Nav)");
    cr_assert_null(FIELD(l, "http_x_forwarded_for"));

    char *json = json_of(l);
    cr_assert_str_eq(json,
                     "{\"remote_addr\":\"127.0.0.1\",\"remote_user\":\"frank\","
                     "\"time_local\":\"10/Oct/2000:13:55:36 -0700\","
                     "\"ts\":\"2000-10-10T20:55:36.000000Z\","
                     "\"method\":\"GET\",\"path\":\"/apache_pb.gif\",\"protocol\":\"HTTP/1.0\","
                     "\"status\":200,\"body_bytes_sent\":2326,"
                     "\"http_referer\":\"http://www.example.com/start.html\","
                     "\"http_user_agent\":\"Mozilla/4.08 [en] (Win98; I ;Nav)\"}");
    free(json);
    sl_nginx_format_free(f);
}

Test(nginx_format, main_adds_forwarded_for)
{
    sl_nginx_format *f = fmt("main");
    cr_assert_eq(sl_nginx_format_nfields(f), 9);
    cr_assert_eq(sl_nginx_format_index(f, "http_x_forwarded_for"), 8);
    cr_assert_eq(sl_nginx_format_index(f, "nope"), -1);
    const sl_nginx_line *l = parse(f, COMBINED_LINE " \"203.0.113.7, 10.0.0.1\"");
    VIEW_IS(FIELD(l, "http_x_forwarded_for")->value, "203.0.113.7, 10.0.0.1");
    l = parse(f, COMBINED_LINE " \"-\"");
    cr_assert(FIELD(l, "http_x_forwarded_for")->absent);

    /* A main line given to combined: the error says what is left over. */
    sl_nginx_format *c = fmt("combined");
    refused(c, COMBINED_LINE " \"-\"",
            "at byte 157: expected the end of the line after $http_user_agent and '\"', "
            "found ' \"-\"'");
    sl_nginx_format_free(c);
    sl_nginx_format_free(f);
}

Test(nginx_format, dash_is_absent)
{
    sl_nginx_format *f = fmt("combined");
    const sl_nginx_line *l =
        parse(f, "10.0.0.2 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 304 0 \"-\" \"-\"");
    cr_assert(FIELD(l, "remote_user")->absent);
    cr_assert_eq(FIELD(l, "remote_user")->value.len, 0);
    cr_assert(FIELD(l, "http_referer")->absent);
    cr_assert(FIELD(l, "http_user_agent")->absent);
    cr_assert_not(FIELD(l, "remote_addr")->absent);
    cr_assert_eq(FIELD(l, "body_bytes_sent")->num, 0);
    char *json = json_of(l);
    cr_assert_str_eq(json, "{\"remote_addr\":\"10.0.0.2\",\"time_local\":\"10/Oct/2000:13:55:36 -0700\","
                           "\"ts\":\"2000-10-10T20:55:36.000000Z\",\"method\":\"GET\",\"path\":\"/\","
                           "\"protocol\":\"HTTP/1.1\",\"status\":304,\"body_bytes_sent\":0}");
    free(json);
    /* A quoted value with more than the dash is a value. */
    l = parse(f, "10.0.0.2 - -- [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 304 0 \"--\" \"-x\"");
    VIEW_IS(FIELD(l, "remote_user")->value, "--");
    VIEW_IS(FIELD(l, "http_referer")->value, "--");
    VIEW_IS(FIELD(l, "http_user_agent")->value, "-x");
    sl_nginx_format_free(f);
}

Test(nginx_format, escapes_are_decoded)
{
    sl_nginx_format *f = fmt("combined");
    /* NGINX escapes '"', '\\', control bytes and bytes >= 0x7F. */
    const sl_nginx_line *l =
        parse(f, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /q?a=\\x22b\\x22&c=\\x5Cu0041 HTTP/1.1\" "
                 "200 5 \"-\" \"say \\x22hi\\x22 \\x5C \\xEC\\x83\\x81\\xED\\x92\\x88 tab\\x09end\"");
    VIEW_IS(FIELD(l, "http_user_agent")->value, "say \"hi\" \\ \xEC\x83\x81\xED\x92\x88 tab\tend");
    VIEW_IS(FIELD(l, "http_user_agent")->raw,
            "say \\x22hi\\x22 \\x5C \\xEC\\x83\\x81\\xED\\x92\\x88 tab\\x09end");
    VIEW_IS(l->method, "GET");
    VIEW_IS(l->path, "/q?a=\"b\"&c=\\u0041");
    VIEW_IS(l->protocol, "HTTP/1.1");
    char *json = json_of(l);
    cr_assert(strstr(json, "\"path\":\"/q?a=\\\"b\\\"&c=\\\\u0041\"") != NULL, "%s", json);
    cr_assert(strstr(json, "\"http_user_agent\":\"say \\\"hi\\\" \\\\ \xEC\x83\x81\xED\x92\x88 tab\\tend\"") != NULL,
              "%s", json);
    free(json);

    /* Lower-case hex is read too; NUL decodes to a NUL byte. */
    l = parse(f, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 5 \"\\x2f\\x00x\" \"-\"");
    cr_assert_eq(FIELD(l, "http_referer")->value.len, 3);
    cr_assert_eq(memcmp(FIELD(l, "http_referer")->value.ptr, "/\0x", 3), 0);
    json = json_of(l);
    cr_assert(strstr(json, "\"http_referer\":\"/\\u0000x\"") != NULL, "%s", json);
    free(json);
    sl_nginx_format_free(f);
}

Test(nginx_format, bytes_that_are_not_utf8_become_replacement_characters)
{
    sl_nginx_format *f = fmt("combined");
    /* A Latin-1 agent: \xE9 alone is not UTF-8. */
    const sl_nginx_line *l =
        parse(f, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 5 \"-\" \"caf\\xE9 \\xC3\\xA9\"");
    VIEW_IS(FIELD(l, "http_user_agent")->value, "caf\xE9 \xC3\xA9");
    char *json = json_of(l);
    cr_assert(strstr(json, "\"http_user_agent\":\"caf\xEF\xBF\xBD \xC3\xA9\"") != NULL, "%s", json);
    free(json);
    sl_nginx_format_free(f);
}

Test(nginx_format, time_offsets)
{
    sl_nginx_format *f = fmt("$time_local");
    /* One instant, written in three zones. */
    cr_assert_eq(parse(f, "10/Oct/2000:13:55:36 -0700")->ts_us, OCT10_US);
    cr_assert_eq(parse(f, "11/Oct/2000:05:55:36 +0900")->ts_us, OCT10_US);
    cr_assert_eq(parse(f, "10/Oct/2000:20:55:36 +0000")->ts_us, OCT10_US);
    cr_assert_eq(parse(f, "10/Oct/2000:15:25:36 -0530")->ts_us, OCT10_US);
    /* Across a year boundary, a leap day, the epoch. */
    cr_assert_eq(parse(f, "01/Jan/2026:08:00:00 +0900")->ts_us, INT64_C(1767222000000000));
    cr_assert_eq(parse(f, "29/Feb/2024:00:00:00 +0000")->ts_us, INT64_C(1709164800000000));
    cr_assert_eq(parse(f, "01/Jan/1970:09:00:00 +0900")->ts_us, 0);
    cr_assert_eq(parse(f, "31/Dec/1969:23:59:59 +0000")->ts_us, -1000000);

    refused(f, "29/Feb/2023:00:00:00 +0000",
            "at byte 0: $time_local is not a time like 10/Oct/2000:13:55:36 -0700: "
            "'29/Feb/2023:00:00:00 +0000'");
    refused(f, "31/Apr/2024:00:00:00 +0000",
            "at byte 0: $time_local is not a time like 10/Oct/2000:13:55:36 -0700: "
            "'31/Apr/2024:00:00:00 +0000'");
    refused(f, "10/oct/2000:13:55:36 -0700",
            "at byte 0: $time_local is not a time like 10/Oct/2000:13:55:36 -0700: "
            "'10/oct/2000:13:55:36 -0700'");
    refused(f, "10/Oct/2000:24:00:00 -0700",
            "at byte 0: $time_local is not a time like 10/Oct/2000:13:55:36 -0700: "
            "'10/Oct/2000:24:00:00 -0700'");
    refused(f, "10/Oct/2000:13:55:36 0700",
            "at byte 0: $time_local is not a time like 10/Oct/2000:13:55:36 -0700: "
            "'10/Oct/2000:13:55:36 0700'");
    refused(f, "1/Oct/2000:13:55:36 -0700",
            "at byte 0: $time_local is not a time like 10/Oct/2000:13:55:36 -0700: "
            "'1/Oct/2000:13:55:36 -0700'");
    sl_nginx_format_free(f);
}

Test(nginx_format, custom_format_with_braces_iso_msec_and_a_tail_variable)
{
    sl_nginx_format *f = fmt("[${time_iso8601}] ${remote_addr}:$remote_port \"$request\" "
                             "$status rt=$request_time ms=$msec $host up=$upstream_addr");
    cr_assert_eq(sl_nginx_format_nfields(f), 9);
    const sl_nginx_line *l =
        parse(f, "[2026-01-11T18:19:26+09:00] 192.0.2.1:51234 \"POST /api/collect HTTP/2.0\" "
                 "201 rt=0.005 ms=1768123166.291 shop.example.com up=10.0.0.9:8081, 10.0.0.8:8081");
    VIEW_IS(FIELD(l, "time_iso8601")->raw, "2026-01-11T18:19:26+09:00");
    cr_assert_eq(FIELD(l, "time_iso8601")->num, INT64_C(1768123166000000));
    /* ts comes from the first time variable. */
    cr_assert_eq(l->ts_us, INT64_C(1768123166000000));
    cr_assert_eq(FIELD(l, "remote_port")->num, 51234);
    cr_assert_eq(FIELD(l, "request_time")->type, SL_NGINX_DECIMAL);
    cr_assert_eq(FIELD(l, "request_time")->num, 5000);
    cr_assert_eq(FIELD(l, "msec")->num, INT64_C(1768123166291000));
    VIEW_IS(FIELD(l, "upstream_addr")->value, "10.0.0.9:8081, 10.0.0.8:8081");
    VIEW_IS(FIELD(l, "host")->value, "shop.example.com");
    char *json = json_of(l);
    cr_assert_str_eq(json,
                     "{\"time_iso8601\":\"2026-01-11T18:19:26+09:00\","
                     "\"ts\":\"2026-01-11T09:19:26.000000Z\",\"remote_addr\":\"192.0.2.1\","
                     "\"remote_port\":51234,\"method\":\"POST\",\"path\":\"/api/collect\","
                     "\"protocol\":\"HTTP/2.0\",\"status\":201,\"request_time\":0.005,"
                     "\"msec\":1768123166.291,\"host\":\"shop.example.com\","
                     "\"upstream_addr\":\"10.0.0.9:8081, 10.0.0.8:8081\"}");
    free(json);

    refused(f, "[2026-01-11T18:19:26+09:00] 192.0.2.1:51234 \"GET / HTTP/1.1\" 200 rt=.5 ms=1.0 h up=-",
            "at byte 68: $request_time is not a decimal number: '.5'");
    refused(f, "[2026-01-11T18:19:26+09:00] 192.0.2.1:51234 \"GET / HTTP/1.1\" 200 rt=0.5 ms=1. h up=-",
            "at byte 75: $msec is not epoch seconds with milliseconds like 971211336.123: '1.'");
    refused(f, "[2026-13-11T18:19:26+09:00] 192.0.2.1:51234 \"GET / HTTP/1.1\" 200 rt=0.5 ms=1 h up=-",
            "at byte 1: $time_iso8601 is not a time like 2000-10-10T13:55:36-07:00: "
            "'2026-13-11T18:19:26+09:00'");
    refused(f, "2026-01-11T18:19:26+09:00] 192.0.2.1:51234",
            "at byte 0: expected '[' at the start of the line, found '2'");
    sl_nginx_format_free(f);

    /* msec without time_local: ts from msec. Leading zeros leave the JSON. */
    f = fmt("$msec $request_time");
    l = parse(f, "1768123166.291 000.120");
    cr_assert_eq(l->ts_us, INT64_C(1768123166291000));
    cr_assert_eq(FIELD(l, "request_time")->num, 120000);
    json = json_of(l);
    cr_assert_str_eq(json, "{\"msec\":1768123166.291,\"ts\":\"2026-01-11T09:19:26.291000Z\","
                           "\"request_time\":0.120}");
    free(json);
    sl_nginx_format_free(f);
}

Test(nginx_format, pixel_request_path)
{
    sl_nginx_format *f = fmt("combined");
    const sl_nginx_line *l =
        parse(f, "203.0.113.9 - - [18/Jun/2025:12:50:10 +0900] \"GET /5?e_c=buttonClick&e_a=Clicked"
                 "&e_n=\\x5Cuace0\\x5Cuba74&url=http://shop.example/product_detail/product_name"
                 "&urlref=http://shop.example/&_idn=0&cookie=1&res=1920x1080&memberId=123456 HTTP/1.1\" "
                 "200 43 \"http://shop.example/\" \"Mozilla/5.0\"");
    VIEW_IS(l->path, "/5?e_c=buttonClick&e_a=Clicked&e_n=\\uace0\\uba74"
                     "&url=http://shop.example/product_detail/product_name"
                     "&urlref=http://shop.example/&_idn=0&cookie=1&res=1920x1080&memberId=123456");
    cr_assert_eq(l->ts_us, INT64_C(1750218610000000));
    sl_nginx_format_free(f);
}

Test(nginx_format, request_shapes)
{
    sl_nginx_format *f = fmt("\"$request\" $status");
    const sl_nginx_line *l = parse(f, "\"GET /no-protocol\" 200");
    VIEW_IS(l->method, "GET");
    VIEW_IS(l->path, "/no-protocol");
    cr_assert_null(l->protocol.ptr);

    /* Spaces in the path stay in the path (as in Fluentd's regex). */
    l = parse(f, "\"GET /a b  c HTTP/1.1\" 200");
    VIEW_IS(l->path, "/a b  c");
    VIEW_IS(l->protocol, "HTTP/1.1");

    l = parse(f, "\"GET  /two-spaces   HTTP/1.1\" 200");
    VIEW_IS(l->path, "/two-spaces");
    VIEW_IS(l->protocol, "HTTP/1.1");

    l = parse(f, "\"OPTIONS\" 400");
    VIEW_IS(l->method, "OPTIONS");
    cr_assert_null(l->path.ptr);
    cr_assert_null(l->protocol.ptr);

    /* Escapes before the split points: offsets land in the decoded value. */
    l = parse(f, "\"G\\x45T /\\x22x\\x22 HTTP/1.\\x31\" 200");
    VIEW_IS(l->method, "GET");
    VIEW_IS(l->path, "/\"x\"");
    VIEW_IS(l->protocol, "HTTP/1.1");

    /* An empty request (a client that closed early) and a TLS handshake
       sent to a plain port: kept whole as "request". */
    l = parse(f, "\"\" 400");
    cr_assert_null(l->method.ptr);
    char *json = json_of(l);
    cr_assert_str_eq(json, "{\"request\":\"\",\"status\":400}");
    free(json);
    l = parse(f, "\"\\x16\\x03\\x01\\x02\\x00\\x01\" 400");
    cr_assert_eq(l->method.len, 6);
    cr_assert_eq(memcmp(l->method.ptr, "\x16\x03\x01\x02\x00\x01", 6), 0);
    json = json_of(l);
    cr_assert_str_eq(json, "{\"method\":\"\\u0016\\u0003\\u0001\\u0002\\u0000\\u0001\",\"status\":400}");
    free(json);
    l = parse(f, "\"-\" 400");
    cr_assert(FIELD(l, "request")->absent);
    cr_assert_null(l->method.ptr);
    json = json_of(l);
    cr_assert_str_eq(json, "{\"status\":400}");
    free(json);
    l = parse(f, "\" GET /\" 400");
    cr_assert_null(l->method.ptr);
    json = json_of(l);
    cr_assert_str_eq(json, "{\"request\":\" GET /\",\"status\":400}");
    free(json);
    sl_nginx_format_free(f);
}

Test(nginx_format, malformed_lines)
{
    sl_nginx_format *f = fmt("combined");
    refused(f, "127.0.0.1 - frank[10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1 \"-\" \"-\"",
            "at byte 12: expected ' [' after $remote_user");
    refused(f, "127.0.0.1 frank [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1 \"-\" \"-\"",
            "at byte 0: expected ' - ' after $remote_addr");
    refused(f, "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 2x0 1 \"-\" \"-\"",
            "at byte 60: $status is not a number: '2x0'");
    refused(f, "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 99999999999999999999 \"-\" \"-\"",
            "at byte 64: $body_bytes_sent is out of range: '99999999999999999999'");
    refused(f, "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1 \"-\" \"a\\qb\"",
            "at byte 72: invalid escape '\\qb' in $http_user_agent (NGINX writes \\xHH)");
    refused(f, "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1 \"-\" \"a\\xG0\"",
            "at byte 72: invalid escape '\\xG0' in $http_user_agent (NGINX writes \\xHH)");
    refused(f, "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1 \"-\" \"a\\x4\"",
            "at byte 72: invalid escape '\\x4' in $http_user_agent (NGINX writes \\xHH)");
    refused(f, "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1 \"-\"",
            "at byte 67: expected '\" \"' after $http_referer");
    refused(f, "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1 \"-\" \"curl",
            "at byte 71: expected '\"' after $http_user_agent");
    refused(f, "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1 \"-\" \"a\"b\"",
            "at byte 73: expected the end of the line after $http_user_agent and '\"', found 'b\"'");
    refused(f, "", "at byte 0: expected ' - ' after $remote_addr");
    refused(f, "garbage", "at byte 0: expected ' - ' after $remote_addr");
    sl_nginx_format_free(f);
}

Test(nginx_format, line_endings_and_nul_bytes)
{
    sl_nginx_format *f = fmt("combined");
    const sl_nginx_line *l = parse(f, COMBINED_LINE "\r\n");
    VIEW_IS(FIELD(l, "http_user_agent")->value, "Mozilla/4.08 [en] (Win98; I ;Nav)");
    l = parse(f, COMBINED_LINE "\n");
    VIEW_IS(FIELD(l, "http_user_agent")->value, "Mozilla/4.08 [en] (Win98; I ;Nav)");

    /* A raw NUL is data, not the end of the line. */
    static const char nul[] = "1.2.3.4 - a\0b [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\0y\"";
    sl_nginx_error err;
    cr_assert_eq(sl_nginx_parse(f, nul, sizeof nul - 1, &line_, scratch_, sizeof scratch_, &err), 0,
                 "%s", err.message);
    cr_assert_eq(FIELD(&line_, "remote_user")->value.len, 3);
    cr_assert_eq(FIELD(&line_, "http_user_agent")->value.len, 3);
    char *json = json_of(&line_);
    cr_assert(strstr(json, "\"remote_user\":\"a\\u0000b\"") != NULL, "%s", json);
    free(json);
    sl_nginx_format_free(f);
}

Test(nginx_format, scratch_is_only_needed_for_escapes)
{
    sl_nginx_format *f = fmt("combined");
    sl_nginx_error err;
    /* No escapes: no scratch at all is fine. */
    cr_assert_eq(sl_nginx_parse(f, COMBINED_LINE, strlen(COMBINED_LINE), &line_, NULL, 0, &err), 0);
    const char *esc = "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\\x22b\"";
    char small[4];
    cr_assert_eq(sl_nginx_parse(f, esc, strlen(esc), &line_, small, sizeof small, &err), SL_ERR_TOOBIG);
    cr_assert_str_eq(err.message, "at byte 69: no room to decode $http_user_agent: the scratch buffer "
                                  "has 4 of the 6 bytes needed");
    /* A scratch as long as the line is always enough. */
    char *exact = malloc(strlen(esc));
    cr_assert_eq(sl_nginx_parse(f, esc, strlen(esc), &line_, exact, strlen(esc), &err), 0);
    VIEW_IS(FIELD(&line_, "http_user_agent")->value, "a\"b");
    free(exact);
    sl_nginx_format_free(f);
}

static void format_refused(const char *spec, const char *message)
{
    sl_nginx_format *f = (sl_nginx_format *)0x1;
    sl_nginx_error err = { 0 };
    cr_assert_eq(sl_nginx_format_compile(spec, strlen(spec), &f, &err), SL_ERR_PARSE,
                 "format accepted: %s", spec);
    cr_assert_null(f);
    cr_assert_str_eq(err.message, message, "for format: %s\n  got:    %s\n  wanted: %s", spec,
                     err.message, message);
}

Test(nginx_format, malformed_formats)
{
    format_refused("$host$request_uri",
                   "at byte 5: $request_uri follows $host with no text between them, so where "
                   "one ends is unknown");
    format_refused("$remote_addr ${host", "at byte 13: variable '${' is not closed by '}' after a "
                                          "name of letters, digits and '_'");
    format_refused("${}", "at byte 0: '$' is not followed by a variable name");
    format_refused("cost: $ 5", "at byte 6: '$' is not followed by a variable name");
    format_refused("just text", "at byte 0: the format has no $variable");
    format_refused("", "at byte 0: the format has no $variable");
    format_refused("$status $status", "at byte 8: $status appears twice in the format");
    char many[1024] = "";
    for (int i = 0; i <= SL_NGINX_MAX_FIELDS; i++)
        sprintf(many + strlen(many), "$v%d ", i);
    format_refused(many, "at byte 230: more than 48 variables in the format");
}

Test(nginx_format, spec_and_builtin_names)
{
    sl_nginx_format *f = fmt("combined");
    cr_assert_str_eq(sl_nginx_format_spec(f),
                     "$remote_addr - $remote_user [$time_local] \"$request\" $status "
                     "$body_bytes_sent \"$http_referer\" \"$http_user_agent\"");
    sl_nginx_format_free(f);
    sl_nginx_format_free(NULL);
    /* A spec that reads like the combined one but written out: same result. */
    f = fmt("$remote_addr - $remote_user [$time_local] \"$request\" $status "
            "$body_bytes_sent \"$http_referer\" \"$http_user_agent\"");
    const sl_nginx_line *l = parse(f, COMBINED_LINE);
    cr_assert_eq(l->nfields, 8);
    sl_nginx_format_free(f);
}

Test(nginx_format, append_json_composes_with_other_members)
{
    sl_nginx_format *f = fmt("$remote_addr $status");
    const sl_nginx_line *l = parse(f, "10.1.1.1 204");
    sl_buf b = SL_BUF_INIT;
    sl_buf_append_str(&b, "{\"scenario_id\":5");
    bool comma = true;
    sl_nginx_line_append_json(l, &b, &comma);
    sl_buf_append_char(&b, '}');
    cr_assert_str_eq(b.data, "{\"scenario_id\":5,\"remote_addr\":\"10.1.1.1\",\"status\":204}");
    sl_buf_free(&b);

    /* All absent: nothing is written and *comma stays as it was. */
    l = parse(f, "- -");
    comma = false;
    sl_nginx_line_append_json(l, &b, &comma);
    cr_assert_eq(b.len, 0);
    cr_assert_not(comma);
    sl_buf_free(&b);
    sl_nginx_format_free(f);
}
