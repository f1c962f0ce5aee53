/*
 * test_redis.c - the `redis` output's parsing, without a server: the URLs
 * the `url` key takes (and the ones it refuses, with a reason), the
 * scenario.stats partials the scenario_ratio mode reads, and the seed's
 * updated_at format. test_redis_script.c runs the writes against a real
 * redis-server.
 */
#include "output/redis/redis_int.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static redis_url parse_ok(const char *text)
{
    redis_url u;
    char why[200] = "";
    int rc = redis_url_parse(text, &u, why, sizeof why);
    cr_assert_eq(rc, 0, "\"%s\" refused: %s", text, why);
    return u;
}

static void parse_bad(const char *text, const char *reason_part)
{
    redis_url u = { 0 };
    char why[200] = "";
    int rc = redis_url_parse(text, &u, why, sizeof why);
    cr_assert_eq(rc, SL_ERR_PARSE, "\"%s\" accepted", text);
    cr_assert(strstr(why, reason_part), "\"%s\": reason \"%s\" lacks \"%s\"", text, why,
              reason_part);
    cr_assert_null(u.host);
}

Test(redis_url, defaults_and_parts)
{
    redis_url u = parse_ok("redis://127.0.0.1:6379/0");
    cr_assert_str_eq(u.host, "127.0.0.1");
    cr_assert_eq(u.port, 6379);
    cr_assert_eq(u.db, 0);
    cr_assert_null(u.password);
    cr_assert_null(u.username);
    cr_assert_null(u.socket_path);
    redis_url_free(&u);

    u = parse_ok("redis://");
    cr_assert_str_eq(u.host, "127.0.0.1");
    cr_assert_eq(u.port, 6379);
    cr_assert_eq(u.db, 0);
    redis_url_free(&u);

    u = parse_ok("redis://cache.internal");
    cr_assert_str_eq(u.host, "cache.internal");
    cr_assert_eq(u.port, 6379);
    redis_url_free(&u);

    u = parse_ok("redis://cache.internal:7000/15");
    cr_assert_str_eq(u.host, "cache.internal");
    cr_assert_eq(u.port, 7000);
    cr_assert_eq(u.db, 15);
    redis_url_free(&u);

    u = parse_ok("redis://10.0.0.5:6380/");
    cr_assert_eq(u.port, 6380);
    cr_assert_eq(u.db, 0);
    redis_url_free(&u);
}

Test(redis_url, passwords_users_and_escapes)
{
    redis_url u = parse_ok("redis://:s3cret@127.0.0.1:6379/2");
    cr_assert_null(u.username);
    cr_assert_str_eq(u.password, "s3cret");
    cr_assert_eq(u.db, 2);
    redis_url_free(&u);

    u = parse_ok("redis://sluice:pa%3Ass%40word@redis:6379/1");
    cr_assert_str_eq(u.username, "sluice");
    cr_assert_str_eq(u.password, "pa:ss@word");
    cr_assert_str_eq(u.host, "redis");
    redis_url_free(&u);

    /* an unescaped '@' in the password: the last '@' ends the userinfo */
    u = parse_ok("redis://:a@b@host");
    cr_assert_str_eq(u.password, "a@b");
    cr_assert_str_eq(u.host, "host");
    redis_url_free(&u);
}

Test(redis_url, ipv6_and_unix_sockets)
{
    redis_url u = parse_ok("redis://[::1]:6390/3");
    cr_assert_str_eq(u.host, "::1");
    cr_assert_eq(u.port, 6390);
    cr_assert_eq(u.db, 3);
    char where[100];
    redis_url_describe(&u, where, sizeof where);
    cr_assert_str_eq(where, "[::1]:6390/3");
    redis_url_free(&u);

    u = parse_ok("unix:/run/redis/redis.sock");
    cr_assert_null(u.host);
    cr_assert_str_eq(u.socket_path, "/run/redis/redis.sock");
    cr_assert_eq(u.db, 0);
    redis_url_free(&u);

    u = parse_ok("unix:///tmp/my%20redis.sock?db=4&password=p%26w");
    cr_assert_str_eq(u.socket_path, "/tmp/my redis.sock");
    cr_assert_eq(u.db, 4);
    cr_assert_str_eq(u.password, "p&w");
    redis_url_describe(&u, where, sizeof where);
    cr_assert_str_eq(where, "unix:/tmp/my redis.sock/4");
    redis_url_free(&u);

    u = parse_ok("redis://:hidden@example.org:6379/9");
    redis_url_describe(&u, where, sizeof where);
    cr_assert_str_eq(where, "example.org:6379/9", "the password never reaches a log line");
    redis_url_free(&u);
}

Test(redis_url, refused_with_a_reason)
{
    parse_bad("", "empty");
    parse_bad("http://127.0.0.1:6379", "expected redis://");
    parse_bad("127.0.0.1:6379", "expected redis://");
    parse_bad("rediss://127.0.0.1:6379", "TLS");
    parse_bad("redis://127.0.0.1:0", "port");
    parse_bad("redis://127.0.0.1:65536", "port");
    parse_bad("redis://127.0.0.1:63x9", "port");
    parse_bad("redis://127.0.0.1:", "port");
    parse_bad("redis://127.0.0.1:6379/one", "database");
    parse_bad("redis://127.0.0.1:6379/0?timeout=1", "unexpected");
    parse_bad("redis://user@127.0.0.1", "without a password");
    parse_bad("redis://:@127.0.0.1", "empty password");
    parse_bad("redis://:bad%zzescape@127.0.0.1", "escape");
    parse_bad("redis://:nul%00@127.0.0.1", "escape");
    parse_bad("redis://[::1:6379", "IPv6");
    parse_bad("redis://[::1]6379", "port");
    parse_bad("unix:relative.sock", "absolute path");
    parse_bad("unix:/tmp/r.sock?db=x", "database");
    parse_bad("unix:/tmp/r.sock?tls=1", "unknown parameter");
}

/* ---- partials ------------------------------------------------------------------ */

static redis_partial partial_ok(const char *json)
{
    redis_partial p;
    char why[160] = "";
    int rc = redis_partial_parse(sl_view_of(json), &p, why, sizeof why);
    cr_assert_eq(rc, 0, "%s refused: %s", json, why);
    return p;
}

static void partial_bad(const char *json, const char *reason_part)
{
    redis_partial p;
    char why[160] = "";
    int rc = redis_partial_parse(sl_view_of(json), &p, why, sizeof why);
    cr_assert_eq(rc, SL_ERR_PARSE, "%s accepted", json);
    cr_assert(strstr(why, reason_part), "%s: reason \"%s\" lacks \"%s\"", json, why, reason_part);
}

Test(redis_partial, the_contract_record)
{
    redis_partial p = partial_ok(
        "{\"scenario_id\":5,\"window_start\":\"2026-01-11T09:19:25Z\","
        "\"window_end\":\"2026-01-11T09:19:30Z\",\"partition\":2,\"source_topic\":\"web.raw\","
        "\"success_count\":85,\"total_count\":100}");
    cr_assert_str_eq(p.sid, "5");
    cr_assert_eq(p.window_start, 1768123165);
    cr_assert_eq(p.window_end, 1768123170);
    cr_assert_eq(p.partition, 2);
    cr_assert_eq(p.success, 85);
    cr_assert_eq(p.total, 100);
    cr_assert_eq(p.last_offset, -1, "no coverage given");
    cr_assert(sl_view_eq_str(p.source_topic, "web.raw"));

    /* as sluice's scenario processor writes it: with its coverage and write time */
    p = partial_ok("{\"scenario_id\":5,\"window_start\":\"2026-01-11T09:19:25Z\","
                   "\"window_end\":\"2026-01-11T09:19:30Z\",\"partition\":0,"
                   "\"source_topic\":\"web.raw\",\"success_count\":1,\"total_count\":2,"
                   "\"last_offset\":4411,\"updated_at\":\"2026-11-21T10:00:00.123456Z\"}");
    cr_assert_eq(p.last_offset, 4411);
    cr_assert_eq(p.window_end, 1768123170, "updated_at is the processor's, not the window's");
}

Test(redis_partial, other_shapes_of_the_same_fields)
{
    /* epoch seconds and milliseconds, a string id, key order, whitespace, extra fields */
    redis_partial p = partial_ok(
        "  {\"total_count\":4,\"success_count\":0,\"partition\":0,\"extra\":[1,{}],"
        "\"window_end\":1768123170000,\"window_start\":1768123165,\"scenario_id\":\"checkout-2.b\"} ");
    cr_assert_str_eq(p.sid, "checkout-2.b");
    cr_assert_eq(p.window_start, 1768123165);
    cr_assert_eq(p.window_end, 1768123170);
    cr_assert_eq(p.total, 4);
    cr_assert_eq(p.success, 0);
    cr_assert_eq(p.source_topic.len, 0, "no source_topic");

    p = partial_ok("{\"scenario_id\":0,\"window_start\":\"2026-01-11T18:19:25+09:00\","
                   "\"window_end\":\"2026-01-11T18:19:30+09:00\",\"partition\":2147483647,"
                   "\"success_count\":9007199254740992,\"total_count\":9007199254740992}");
    cr_assert_str_eq(p.sid, "0");
    cr_assert_eq(p.window_start, 1768123165, "offsets are normalised to UTC");
    cr_assert_eq(p.partition, 2147483647);
}

Test(redis_partial, unusable_records_say_why)
{
    const char *tail = ",\"window_start\":\"2026-01-11T09:19:25Z\",\"window_end\":"
                       "\"2026-01-11T09:19:30Z\",\"partition\":1,\"success_count\":1,"
                       "\"total_count\":2}";
    char buf[512];
    partial_bad("not json", "malformed JSON");
    partial_bad("[1,2]", "not a JSON object");
    partial_bad("{} {}", "text after");
    partial_bad("{\"window_start\":1}", "no scenario_id");
    snprintf(buf, sizeof buf, "{\"scenario_id\":-1%s", tail);
    partial_bad(buf, "non-negative");
    snprintf(buf, sizeof buf, "{\"scenario_id\":1.5%s", tail);
    partial_bad(buf, "non-negative integer");
    snprintf(buf, sizeof buf, "{\"scenario_id\":\"a b\"%s", tail);
    partial_bad(buf, "may hold only");
    snprintf(buf, sizeof buf, "{\"scenario_id\":\"x:y\"%s", tail);
    partial_bad(buf, "may hold only");
    snprintf(buf, sizeof buf, "{\"scenario_id\":\"\"%s", tail);
    partial_bad(buf, "integer or a short name");
    snprintf(buf, sizeof buf, "{\"scenario_id\":true%s", tail);
    partial_bad(buf, "integer or a short name");
    partial_bad("{\"scenario_id\":1,\"window_end\":5,\"partition\":0,\"success_count\":0,"
                "\"total_count\":0}", "no window_start");
    partial_bad("{\"scenario_id\":1,\"window_start\":\"soon\",\"window_end\":5,\"partition\":0,"
                "\"success_count\":0,\"total_count\":0}", "window_start is not a timestamp");
    partial_bad("{\"scenario_id\":1,\"window_start\":10,\"window_end\":10,\"partition\":0,"
                "\"success_count\":0,\"total_count\":0}", "window_end must be");
    partial_bad("{\"scenario_id\":1,\"window_start\":10,\"window_end\":15,"
                "\"success_count\":0,\"total_count\":0}", "no partition");
    partial_bad("{\"scenario_id\":1,\"window_start\":10,\"window_end\":15,\"partition\":-2,"
                "\"success_count\":0,\"total_count\":0}", "partition must be");
    partial_bad("{\"scenario_id\":1,\"window_start\":10,\"window_end\":15,\"partition\":0,"
                "\"success_count\":3,\"total_count\":2}", "exceeds total_count");
    partial_bad("{\"scenario_id\":1,\"window_start\":10,\"window_end\":15,\"partition\":0,"
                "\"success_count\":\"3\",\"total_count\":4}", "success_count must be");
    partial_bad("{\"scenario_id\":1,\"window_start\":10,\"window_end\":15,\"partition\":0,"
                "\"success_count\":0,\"total_count\":9007199254740993}", "total_count must be");
    partial_bad("{\"scenario_id\":1,\"window_start\":10,\"window_end\":15,\"partition\":0,"
                "\"success_count\":0,\"total_count\":1,\"last_offset\":-3}", "last_offset must be");
    partial_bad("{\"scenario_id\":1,\"window_start\":10,\"window_end\":15,\"partition\":0,"
                "\"source_topic\":\"a:b\",\"success_count\":0,\"total_count\":1}",
                "source_topic may hold only");
    partial_bad("{\"scenario_id\":1,\"window_start\":10,\"window_end\":15,\"partition\":0,"
                "\"source_topic\":7,\"success_count\":0,\"total_count\":1}",
                "source_topic must be");
}

Test(redis_format, updated_at_is_the_seeds_shape_in_utc)
{
    char out[24];
    redis_format_updated_at(1768123170, out, sizeof out);
    cr_assert_str_eq(out, "2026-01-11 09:19:30");
    redis_format_updated_at(1750251010, out, sizeof out); /* the seed's own example */
    cr_assert_str_eq(out, "2025-06-18 12:50:10");
    redis_format_updated_at(0, out, sizeof out);
    cr_assert_str_eq(out, "1970-01-01 00:00:00");
    redis_format_updated_at(951782400, out, sizeof out); /* a leap day */
    cr_assert_str_eq(out, "2000-02-29 00:00:00");
}
