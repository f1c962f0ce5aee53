/*
 * test_query.c - the pixel's query-string decoder and path helper: seed
 * 001's own example URL, '+' and %XX, multi-byte UTF-8, literal \uXXXX
 * escapes (plain and percent-encoded, surrogate pairs), empty values, keys
 * without '=', repeated keys (last one wins), the JSON members, and every
 * refusal with the message a sender gets back.
 */
#include "core/json.h"
#include "input/pixel/query.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

static sl_query q_;
static char scratch_[8192];

static const sl_query *parse(const char *query)
{
    sl_query_error err = { 0 };
    int rc = sl_query_parse(query, strlen(query), &q_, scratch_, sizeof scratch_, &err);
    cr_assert_eq(rc, 0, "query refused: %s\n  %s", err.message, query);
    return &q_;
}

static void refused(const char *query, size_t offset, const char *message)
{
    sl_query_error err = { 0 };
    int rc = sl_query_parse(query, strlen(query), &q_, scratch_, sizeof scratch_, &err);
    cr_assert_eq(rc, SL_ERR_PARSE, "query accepted (rc %d): %s", rc, query);
    cr_assert_str_eq(err.message, message, "for query: %s\n  got:    %s\n  wanted: %s", query,
                     err.message, message);
    cr_assert_eq(err.offset, offset, "for query %s: offset %zu, wanted %zu", query, err.offset,
                 offset);
}

/* The members as a JSON object, checked to be valid JSON. */
static char *json_of(const sl_query *q)
{
    sl_buf b = SL_BUF_INIT;
    bool comma = false;
    sl_buf_append_char(&b, '{');
    sl_query_append_json(q, &b, &comma);
    sl_buf_append_char(&b, '}');
    size_t end;
    sl_json_error jerr = { 0 };
    cr_assert_eq(sl_json_validate(b.data, b.len, 0, &end, &jerr), 0, "invalid JSON (%s): %s",
                 jerr.message, b.data);
    return sl_buf_steal(&b);
}

static void value_is(const sl_query *q, const char *key, const char *want)
{
    sl_view v;
    cr_assert(sl_query_get(q, key, &v), "no parameter %s", key);
    cr_assert(sl_view_eq_str(v, want), "%s = \"%.*s\", wanted \"%s\"", key, (int)v.len, v.ptr,
              want);
}

/* Seed 001's example, exactly as the README writes it (one line). */
#define SEED_TARGET                                                                         \
    "/{scenario_id}?e_c=buttonClick&e_a=Clicked"                                             \
    "&e_n=\\uace0\\uba74\\ud560\\ub2f9\\ud558\\uae30"                                        \
    "&url=http://[Tracked_Page]/product_detail/product_name&urlref=http://[Tracked_Page]/"   \
    "&_idn=0&cookie=1&res=1920x1080&memberId=123456"

Test(query, seed_001_example)
{
    sl_view path, query;
    sl_query_split_target(sl_view_of(SEED_TARGET), &path, &query);
    cr_assert(sl_view_eq_str(path, "/{scenario_id}"));

    /* The placeholder itself is not an id; the seed's scenario 5 is. */
    int64_t id = 0;
    sl_query_error err;
    cr_assert_eq(sl_query_scenario_id(path, &id, &err), SL_ERR_PARSE);
    cr_assert_str_eq(err.message, "path '/{scenario_id}': the scenario id must be decimal digits "
                                  "(byte 1 is not)");
    cr_assert_eq(sl_query_scenario_id(SL_VIEW_LIT("/5"), &id, &err), 0);
    cr_assert_eq(id, 5);

    cr_assert_eq(sl_query_parse(query.ptr, query.len, &q_, scratch_, sizeof scratch_, &err), 0, "%s",
                 err.message);
    const sl_query *q = &q_;
    cr_assert_eq(q->count, 9);
    value_is(q, "e_c", "buttonClick");
    value_is(q, "e_a", "Clicked");
    value_is(q, "e_n", "고면할당하기"); /* U+ACE0 U+BA74 U+D560 U+B2F9 U+D558 U+AE30 */
    value_is(q, "url", "http://[Tracked_Page]/product_detail/product_name");
    value_is(q, "urlref", "http://[Tracked_Page]/");
    value_is(q, "_idn", "0");
    value_is(q, "cookie", "1");
    value_is(q, "res", "1920x1080");
    value_is(q, "memberId", "123456");
    char *json = json_of(q);
    cr_assert_str_eq(json, "{\"e_c\":\"buttonClick\",\"e_a\":\"Clicked\",\"e_n\":\"고면할당하기\","
                           "\"url\":\"http://[Tracked_Page]/product_detail/product_name\","
                           "\"urlref\":\"http://[Tracked_Page]/\",\"_idn\":\"0\",\"cookie\":\"1\","
                           "\"res\":\"1920x1080\",\"memberId\":\"123456\"}");
    free(json);
}

Test(query, plus_and_percent)
{
    const sl_query *q = parse("e_c=button+Click&e_a=Clicked%21&url=http%3A%2F%2Fshop%2Fp%3Fa%3D1%26b%3D2"
                              "&e_n=%EC%83%81%ED%92%88&lit=a%2Bb&low=%e2%82%ac&e%5Fx=1&a+b=c");
    value_is(q, "e_c", "button Click");
    value_is(q, "e_a", "Clicked!");
    value_is(q, "url", "http://shop/p?a=1&b=2");
    value_is(q, "e_n", "상품");
    value_is(q, "lit", "a+b");
    value_is(q, "low", "€");
    value_is(q, "e_x", "1");
    value_is(q, "a b", "c");
}

Test(query, literal_unicode_escapes)
{
    const sl_query *q = parse("a=\\u0041\\u00e9\\u20AC&b=%5Cuace0%5Cu%42A74&c=%5C%75ace0"
                              "&smile=\\uD83D\\uDE00!&pct=%5CuD83D%5CuDE00&d=C:\\dir\\x&e=\\\\u0041"
                              "&nul=x\\u0000y&seed=\\ud560");
    value_is(q, "a", "Aé€");
    value_is(q, "b", "고면");
    value_is(q, "c", "고");
    value_is(q, "smile", "\xF0\x9F\x98\x80!");
    value_is(q, "pct", "\xF0\x9F\x98\x80");
    value_is(q, "d", "C:\\dir\\x");    /* a backslash without 'u' is a character */
    value_is(q, "e", "\\A");            /* "\\" is not an escape: '\' then \u0041 */
    value_is(q, "seed", "\xED\x95\xA0"); /* U+D560 is a Hangul syllable, not a surrogate */
    sl_view nul;
    cr_assert(sl_query_get(q, "nul", &nul));
    cr_assert_eq(nul.len, 3);
    cr_assert_eq(memcmp(nul.ptr, "x\0y", 3), 0);
    char *json = json_of(q);
    cr_assert(strstr(json, "\"nul\":\"x\\u0000y\"") != NULL, "%s", json);
    cr_assert(strstr(json, "\"e\":\"\\\\A\"") != NULL, "%s", json);
    free(json);
}

Test(query, empty_values_and_bare_keys)
{
    const sl_query *q = parse("?a=&b&&c=1&=orphan&&d=&");
    cr_assert_eq(q->count, 4);
    cr_assert(sl_view_eq_str(q->params[0].key, "a"));
    cr_assert_eq(q->params[0].value.len, 0);
    cr_assert(q->params[0].has_equals);
    cr_assert(sl_view_eq_str(q->params[1].key, "b"));
    cr_assert_eq(q->params[1].value.len, 0);
    cr_assert_not(q->params[1].has_equals);
    cr_assert_eq(q->params[2].offset, 7);
    char *json = json_of(q);
    cr_assert_str_eq(json, "{\"a\":\"\",\"b\":\"\",\"c\":\"1\",\"d\":\"\"}");
    free(json);
    sl_view v;
    cr_assert_not(sl_query_get(q, "orphan", &v));
    cr_assert_not(sl_query_get(q, "", &v));

    q = parse("");
    cr_assert_eq(q->count, 0);
    json = json_of(q);
    cr_assert_str_eq(json, "{}");
    free(json);
    /* A value may hold '=' after the first. */
    q = parse("eq=a=b");
    value_is(q, "eq", "a=b");
}

Test(query, repeated_keys_last_one_wins)
{
    const sl_query *q = parse("e_c=first&memberId=1&e_c=second&x=y&e_c=third");
    cr_assert_eq(q->count, 5);
    cr_assert(q->params[0].shadowed);
    cr_assert(q->params[2].shadowed);
    cr_assert_not(q->params[4].shadowed);
    value_is(q, "e_c", "third");
    char *json = json_of(q);
    cr_assert_str_eq(json, "{\"memberId\":\"1\",\"x\":\"y\",\"e_c\":\"third\"}");
    free(json);
    /* The same key spelled with an escape is the same key. */
    q = parse("e_c=a&e%5Fc=b");
    value_is(q, "e_c", "b");
    json = json_of(q);
    cr_assert_str_eq(json, "{\"e_c\":\"b\"}");
    free(json);
}

Test(query, numbers_stay_strings_and_json_escapes)
{
    const sl_query *q = parse("memberId=007&h=9&n=1e3&q=%22hi%22%5C%0A%09end");
    char *json = json_of(q);
    cr_assert_str_eq(json, "{\"memberId\":\"007\",\"h\":\"9\",\"n\":\"1e3\","
                           "\"q\":\"\\\"hi\\\"\\\\\\n\\tend\"}");
    free(json);

    sl_buf b = SL_BUF_INIT;
    sl_buf_append_str(&b, "{\"scenario_id\":5");
    bool comma = true;
    sl_query_append_json(parse("a=1"), &b, &comma);
    sl_buf_append_char(&b, '}');
    cr_assert_str_eq(b.data, "{\"scenario_id\":5,\"a\":\"1\"}");
    sl_buf_reset(&b);
    comma = false;
    sl_query_append_json(parse(""), &b, &comma);
    cr_assert_not(comma);
    cr_assert_eq(b.len, 0);
    sl_buf_free(&b);
}

Test(query, broken_percent_escapes)
{
    refused("e_c=ok&e_n=ab%G1cd", 13,
            "parameter 'e_n' at byte 13: broken %-escape '%G1' (expected two hex digits after '%')");
    refused("e_n=%4", 4,
            "parameter 'e_n' at byte 4: broken %-escape '%4' (expected two hex digits after '%')");
    refused("a=1&e_n=x%", 9,
            "parameter 'e_n' at byte 9: broken %-escape '%' (expected two hex digits after '%')");
    refused("e%G1=1", 1,
            "parameter name 'e%G1' at byte 1: broken %-escape '%G1' (expected two hex digits after '%')");
    refused("e_n=%%41", 4,
            "parameter 'e_n' at byte 4: broken %-escape '%%4' (expected two hex digits after '%')");
}

Test(query, invalid_utf8)
{
    refused("e_n=%FF", 4, "parameter 'e_n' at byte 4: not valid UTF-8 after %-decoding (bytes '\\xFF')");
    refused("e_n=ab%EC%83", 6,
            "parameter 'e_n' at byte 6: not valid UTF-8 after %-decoding (bytes '\\xEC\\x83')");
    refused("e_n=%C0%AF", 4,
            "parameter 'e_n' at byte 4: not valid UTF-8 after %-decoding (bytes '\\xC0\\xAF')");
    /* A surrogate encoded as UTF-8 (CESU-8) is not UTF-8. */
    refused("e_n=%ED%A0%BD%ED%B8%80", 4,
            "parameter 'e_n' at byte 4: not valid UTF-8 after %-decoding (bytes "
            "'\\xED\\xA0\\xBD\\xED')");
    refused("k%FF=1", 1, "parameter name 'k%FF' at byte 1: not valid UTF-8 after %-decoding (bytes '\\xFF')");
    /* Raw (unencoded) high bytes are read the same way. */
    refused("e_n=\xC3(", 4, "parameter 'e_n' at byte 4: not valid UTF-8 after %-decoding (bytes '\\xC3(')");
}

Test(query, invalid_unicode_escapes)
{
    refused("e_n=\\u12G4", 4,
            "parameter 'e_n' at byte 4: invalid \\u escape '\\u12G4' (expected four hex digits)");
    refused("e_n=ab\\u12", 6,
            "parameter 'e_n' at byte 6: invalid \\u escape '\\u12' (expected four hex digits)");
    refused("e_n=\\u", 4, "parameter 'e_n' at byte 4: invalid \\u escape '\\u' (expected four hex digits)");
    refused("e_n=\\uD83D", 4,
            "parameter 'e_n' at byte 4: lone high surrogate \\uD83D (it must be followed by a low "
            "surrogate \\uDC00-\\uDFFF)");
    refused("e_n=\\uD83Dx\\uDE00", 4,
            "parameter 'e_n' at byte 4: lone high surrogate \\uD83D (it must be followed by a low "
            "surrogate \\uDC00-\\uDFFF)");
    refused("e_n=\\uD83D\\u0041", 4,
            "parameter 'e_n' at byte 4: high surrogate \\uD83D followed by \\u0041, not by a low "
            "surrogate \\uDC00-\\uDFFF");
    refused("e_n=\\uD83D\\uD83D", 4,
            "parameter 'e_n' at byte 4: high surrogate \\uD83D followed by \\uD83D, not by a low "
            "surrogate \\uDC00-\\uDFFF");
    refused("e_n=x\\uDE00", 5,
            "parameter 'e_n' at byte 5: lone low surrogate \\uDE00 (it must follow a high surrogate "
            "\\uD800-\\uDBFF)");
    /* Offsets point into the raw query, past percent-encoded bytes. */
    refused("a=1&e_n=%41%42%5CuDE00", 14,
            "parameter 'e_n' at byte 14: lone low surrogate \\uDE00 (it must follow a high surrogate "
            "\\uD800-\\uDBFF)");
    refused("\\uZZZZ=1", 0,
            "parameter name '\\uZZZZ' at byte 0: invalid \\u escape '\\uZZZZ' (expected four hex digits)");
}

Test(query, limits)
{
    sl_buf b = SL_BUF_INIT;
    for (int i = 0; i <= SL_QUERY_MAX_PARAMS; i++)
        sl_buf_printf(&b, "%sk%d=%d", i ? "&" : "", i, i);
    sl_query_error err;
    cr_assert_eq(sl_query_parse(b.data, b.len, &q_, scratch_, sizeof scratch_, &err), SL_ERR_TOOBIG);
    cr_assert_str_eq(err.message, "more than 128 parameters (the next starts at byte 932)");
    /* Exactly the maximum is fine, and a scratch of the query's length suffices. */
    sl_buf_reset(&b);
    for (int i = 0; i < SL_QUERY_MAX_PARAMS; i++)
        sl_buf_printf(&b, "%sk%d=%%41%d", i ? "&" : "", i, i);
    char *exact = malloc(b.len);
    cr_assert_eq(sl_query_parse(b.data, b.len, &q_, exact, b.len, &err), 0, "%s", err.message);
    cr_assert_eq(q_.count, SL_QUERY_MAX_PARAMS);
    value_is(&q_, "k127", "A127");
    free(exact);
    /* Plain parts are views into the query and need no scratch at all. */
    cr_assert_eq(sl_query_parse("abcd=1&e=f", 10, &q_, NULL, 0, &err), 0);
    value_is(&q_, "e", "f");
    char small[3];
    cr_assert_eq(sl_query_parse("a=1&ab%41=1", 11, &q_, small, sizeof small, &err), SL_ERR_TOOBIG);
    cr_assert_str_eq(err.message,
                     "no room to decode the query: the scratch buffer has 3 of the 5 bytes needed");
    sl_buf_free(&b);
}

Test(query, split_target)
{
    sl_view path, query;
    sl_query_split_target(SL_VIEW_LIT("/5?a=b#frag"), &path, &query);
    cr_assert(sl_view_eq_str(path, "/5"));
    cr_assert(sl_view_eq_str(query, "a=b"));
    sl_query_split_target(SL_VIEW_LIT("/5"), &path, &query);
    cr_assert(sl_view_eq_str(path, "/5"));
    cr_assert_null(query.ptr);
    cr_assert_eq(query.len, 0);
    sl_query_split_target(SL_VIEW_LIT("/5?"), &path, &query);
    cr_assert(sl_view_eq_str(path, "/5"));
    cr_assert_not_null(query.ptr);
    cr_assert_eq(query.len, 0);
    sl_query_split_target(SL_VIEW_LIT("/5#x?y"), &path, &query);
    cr_assert(sl_view_eq_str(path, "/5"));
    cr_assert_null(query.ptr);
    sl_query_split_target(SL_VIEW_NULL, &path, &query);
    cr_assert_eq(path.len, 0);
    cr_assert_null(query.ptr);
}

static void id_refused(const char *path, const char *message)
{
    int64_t id = 77;
    sl_query_error err = { 0 };
    cr_assert_eq(sl_query_scenario_id(sl_view_of(path), &id, &err), SL_ERR_PARSE, "accepted %s", path);
    cr_assert_eq(id, 77);
    cr_assert_str_eq(err.message, message, "for %s: got %s", path, err.message);
}

Test(query, scenario_id)
{
    int64_t id = 0;
    sl_query_error err;
    cr_assert_eq(sl_query_scenario_id(SL_VIEW_LIT("/123"), &id, &err), 0);
    cr_assert_eq(id, 123);
    cr_assert_eq(sl_query_scenario_id(SL_VIEW_LIT("/05"), &id, &err), 0);
    cr_assert_eq(id, 5);
    cr_assert_eq(sl_query_scenario_id(SL_VIEW_LIT("/9223372036854775807"), &id, &err), 0);
    cr_assert_eq(id, INT64_MAX);
    id_refused("/9223372036854775808", "path '/9223372036854775808': the scenario id is larger "
                                       "than 9223372036854775807");
    id_refused("/99999999999999999999999", "path '/99999999999999999999999': the scenario id is "
                                           "larger than 9223372036854775807");
    id_refused("/0", "path '/0': the scenario id must be positive");
    id_refused("/", "path '/' has no scenario id (expected /{scenario_id})");
    id_refused("", "path '' does not start with '/'");
    id_refused("5", "path '5' does not start with '/'");
    id_refused("/abc", "path '/abc': the scenario id must be decimal digits (byte 1 is not)");
    id_refused("/5/x", "path '/5/x': the scenario id must be decimal digits (byte 2 is not)");
    id_refused("/-5", "path '/-5': the scenario id must be decimal digits (byte 1 is not)");
    id_refused("/5\xff", "path '/5\\xFF': the scenario id must be decimal digits (byte 2 is not)");
}
