/*
 * test_json.c - the in-place JSON scanner: every error it names, the
 * access functions, and a differential test against jansson.
 *
 * The differential half generates thousands of documents (valid ones from
 * a random generator, invalid ones by mutating them) and asks
 * json_oracle_compare (json_oracle.h) whether sluice and jansson agree on
 * validity and, for valid documents, on the value. The divergences between
 * the two are documented in json_oracle.h and each has a test here that
 * shows it happening for the documented reason.
 *
 * The PRNG seed is fixed; SL_TEST_SEED=<n> in the environment mixes in
 * another, and every failure message prints the seed and the document.
 */
#include "core/buf.h"
#include "core/json.h"
#include "json_oracle.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

/* ---- helpers ------------------------------------------------------------- */

static sl_json_error expect_error(const char *text, size_t len, int max_depth)
{
    sl_json_error err = { 0 };
    size_t end = 0;
    int rc = sl_json_validate(text, len, max_depth, &end, &err);
    cr_assert_eq(rc, SL_ERR_PARSE, "expected an error for <%.*s>", (int)SL_MIN(len, 80), text);
    return err;
}

#define ERR(lit, msg, off)                                                          \
    do {                                                                            \
        sl_json_error e_ = expect_error(lit, sizeof(lit) - 1, 0);                   \
        cr_assert(strstr(e_.message, msg), "<%s>: message \"%s\", wanted \"%s\"",   \
                  lit, e_.message, msg);                                            \
        cr_assert_eq(e_.offset, (size_t)(off), "<%s>: offset %zu, wanted %zu (%s)", \
                     lit, e_.offset, (size_t)(off), e_.message);                    \
    } while (0)

static size_t expect_valid(const char *text, size_t len)
{
    sl_json_error err = { 0 };
    size_t end = 0;
    int rc = sl_json_validate(text, len, 0, &end, &err);
    cr_assert_eq(rc, 0, "<%.*s>: %s at %zu", (int)SL_MIN(len, 80), text, err.message, err.offset);
    return end;
}

#define VALID(lit) expect_valid(lit, sizeof(lit) - 1)

/* A literal and its length, embedded NULs included. */
#define LIT(s) (s), (sizeof(s) - 1)

static sl_view V(const char *s)
{
    return sl_view_of(s);
}

/* ---- validation: what is valid ------------------------------------------- */

Test(json, valid_values_and_end_offsets)
{
    cr_assert_eq(VALID("0"), 1);
    cr_assert_eq(VALID("-0"), 2);
    cr_assert_eq(VALID("-12.5e+3"), 8);
    cr_assert_eq(VALID("1E-7"), 4);
    cr_assert_eq(VALID("true"), 4);
    cr_assert_eq(VALID("false"), 5);
    cr_assert_eq(VALID("null"), 4);
    cr_assert_eq(VALID("\"\""), 2);
    cr_assert_eq(VALID("[]"), 2);
    cr_assert_eq(VALID("{}"), 2);
    cr_assert_eq(VALID(" \t\r\n{ \"a\" : [ 1 , { } , [ ] ] }  \n"), 31);
    /* One value is validated; what follows is the caller's business. */
    cr_assert_eq(VALID("1 2"), 1);
    cr_assert_eq(VALID("{}x"), 2);
    cr_assert_eq(VALID("truex"), 4);
    cr_assert_eq(VALID("\"a\"\"b\""), 3);
}

Test(json, valid_strings_escapes_and_unicode)
{
    VALID("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"");
    VALID("\"\\u0000 \\u001f \\u00e9 \\uFFFF \\uffff\"");
    VALID("\"\\uD83D\\uDE00\"");                 /* surrogate pair */
    VALID("\"\\udbff\\udfff\"");                 /* U+10FFFF */
    VALID("\"\xc2\x80 \xdf\xbf\"");              /* U+0080, U+07FF */
    VALID("\"\xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xef\xbf\xbf\""); /* U+0800 U+D7FF U+E000 U+FFFF */
    VALID("\"\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf\"");                 /* U+10000 U+10FFFF */
    VALID("\"\x7f\"");                           /* DEL is not a control character in JSON */
    /* Long strings cross the 16-byte blocks of the SSE2 path at every phase. */
    for (size_t n = 0; n < 70; n++) {
        char buf[128];
        buf[0] = '"';
        for (size_t i = 0; i < n; i++)
            buf[1 + i] = (char)('a' + i % 26);
        buf[1 + n] = '"';
        cr_assert_eq(expect_valid(buf, n + 2), n + 2);
        /* ...and the same without its closing quote is unterminated at the end. */
        sl_json_error e = expect_error(buf, n + 1, 0);
        cr_assert(strstr(e.message, "unterminated string"));
        cr_assert_eq(e.offset, n + 1);
    }
}

Test(json, text_is_not_nul_terminated)
{
    /* The validator reads exactly len bytes: "12" inside "123" is a number. */
    cr_assert_eq(expect_valid("123", 2), 2);
    cr_assert_eq(expect_valid("\"ab\"XYZ", 4), 4);
    sl_json_error e = expect_error("\"abc\"", 4, 0);
    cr_assert(strstr(e.message, "unterminated string"));
    e = expect_error("tru", 3, 0);
    cr_assert(strstr(e.message, "invalid literal"));
    e = expect_error(NULL, 0, 0);
    cr_assert(strstr(e.message, "unexpected end of input"));
}

/* ---- validation: every error, its message and its offset ------------------ */

Test(json, errors_structure)
{
    ERR("", "unexpected end of input, expected a value", 0);
    ERR("   ", "unexpected end of input, expected a value", 3);
    ERR("x", "unexpected character 'x'", 0);
    ERR("\x80", "unexpected byte 0x80", 0);
    ERR("[", "unexpected end of input, expected a value", 1);
    ERR("[1", "unexpected end of input, expected ',' or ']' in array", 2);
    ERR("[1 2]", "expected ',' or ']' in array", 3);
    ERR("[1,]", "unexpected character ']'", 3);
    ERR("[,1]", "unexpected character ','", 1);
    ERR("[1}", "expected ',' or ']' in array", 2);
    ERR("{", "unexpected end of input, expected a key in object", 1);
    ERR("{\"a\"", "expected ':' after object key", 4);
    ERR("{\"a\" 1}", "expected ':' after object key", 5);
    ERR("{\"a\":}", "unexpected character '}'", 5);
    ERR("{\"a\":1", "unexpected end of input, expected ',' or '}' in object", 6);
    ERR("{\"a\":1 \"b\":2}", "expected ',' or '}' in object", 7);
    ERR("{\"a\":1]", "expected ',' or '}' in object", 6);
    ERR("{1:2}", "expected a string key in object", 1);
    ERR("{\"a\":1,}", "expected a string key in object", 7);
    ERR("{\"a\":1, ", "unexpected end of input, expected a key in object", 8);
    ERR("tru", "invalid literal, expected 'true'", 0);
    ERR("[fals]", "invalid literal, expected 'false'", 1);
    ERR("nul", "invalid literal, expected 'null'", 0);
    ERR("True", "unexpected character 'T'", 0);
    ERR("'a'", "unexpected character '''", 0);
}

Test(json, errors_numbers)
{
    ERR("-", "invalid number: expected a digit", 1);
    ERR("-a", "invalid number: expected a digit", 1);
    ERR("01", "invalid number: leading zero", 1);
    ERR("-007", "invalid number: leading zero", 2);
    ERR("1.", "invalid number: expected a digit after '.'", 2);
    ERR("[1.e5]", "invalid number: expected a digit after '.'", 3);
    ERR("1e", "invalid number: expected a digit in the exponent", 2);
    ERR("1E+", "invalid number: expected a digit in the exponent", 3);
    ERR("1e-x", "invalid number: expected a digit in the exponent", 3);
    ERR(".5", "unexpected character '.'", 0);
    ERR("+1", "unexpected character '+'", 0);
    ERR("NaN", "unexpected character 'N'", 0);
    ERR("Infinity", "unexpected character 'I'", 0);
    ERR("-Infinity", "invalid number: expected a digit", 1);
    ERR("[0x10]", "expected ',' or ']' in array", 2);
}

Test(json, errors_strings_and_escapes)
{
    ERR("\"abc", "unterminated string starting at offset 0", 4);
    ERR("[\"a\\", "unterminated string starting at offset 1", 4);
    ERR("\"a\nb\"", "unescaped control character 0x0a in string", 2);
    ERR("\"\x01\"", "unescaped control character 0x01 in string", 1);
    ERR("\"\\x\"", "invalid escape '\\x' in string", 1);
    ERR("\"\\U0041\"", "invalid escape '\\U' in string", 1);
    ERR("\"\\u12G4\"", "invalid \\u escape in string: expected 4 hex digits", 1);
    ERR("\"\\u12\"", "invalid \\u escape in string: expected 4 hex digits", 1);
    ERR("\"ab\\uD800\"", "unpaired high surrogate \\uD800 in string", 3);
    ERR("\"\\uD800\\u0041\"", "unpaired high surrogate \\uD800 in string", 1);
    ERR("\"\\uD800\\uD800\"", "unpaired high surrogate \\uD800 in string", 1);
    ERR("\"\\uD800\\n\"", "unpaired high surrogate \\uD800 in string", 1);
    ERR("\"\\uD800\\uZZZZ\"", "invalid \\u escape in string: expected 4 hex digits", 7);
    ERR("\"\\uDC00\"", "unpaired low surrogate \\uDC00 in string", 1);
    ERR("\"\\uDE00\\uD83D\"", "unpaired low surrogate \\uDE00 in string", 1);
}

Test(json, errors_utf8)
{
    ERR("\"a\x80\"", "invalid UTF-8 in string: unexpected continuation byte", 2);
    ERR("\"\xbf\"", "invalid UTF-8 in string: unexpected continuation byte", 1);
    ERR("\"\xc0\x80\"", "invalid UTF-8 in string: overlong encoding", 1);
    ERR("\"\xc1\xbf\"", "invalid UTF-8 in string: overlong encoding", 1);
    ERR("\"\xe0\x80\x80\"", "invalid UTF-8 in string: overlong encoding", 1);
    ERR("\"\xe0\x9f\xbf\"", "invalid UTF-8 in string: overlong encoding", 1);
    ERR("\"\xf0\x80\x80\x80\"", "invalid UTF-8 in string: overlong encoding", 1);
    ERR("\"\xf0\x8f\xbf\xbf\"", "invalid UTF-8 in string: overlong encoding", 1);
    ERR("\"\xed\xa0\x80\"", "invalid UTF-8 in string: UTF-16 surrogate", 1);
    ERR("\"\xed\xbf\xbf\"", "invalid UTF-8 in string: UTF-16 surrogate", 1);
    ERR("\"\xf4\x90\x80\x80\"", "invalid UTF-8 in string: code point above U+10FFFF", 1);
    ERR("\"\xf5\x80\x80\x80\"", "invalid UTF-8 in string: code point above U+10FFFF", 1);
    ERR("\"\xf8\x88\x80\x80\x80\"", "invalid UTF-8 in string: invalid byte 0xf8", 1);
    ERR("\"\xff\"", "invalid UTF-8 in string: invalid byte 0xff", 1);
    ERR("\"\xe2\x82\"", "invalid UTF-8 in string: truncated sequence", 1);
    ERR("\"\xe2\x82", "invalid UTF-8 in string: truncated sequence", 1);
    ERR("\"\xf0\x9f\x98\"", "invalid UTF-8 in string: truncated sequence", 1);
    ERR("\"\xc3\"", "invalid UTF-8 in string: truncated sequence", 1);
    ERR("\"\xc3", "invalid UTF-8 in string: truncated sequence", 1);
    ERR("\"\xc3\xa9\xc3(\"", "invalid UTF-8 in string: truncated sequence", 3);
    /* The same bytes in a key are reported the same way. */
    ERR("{\"k\xc0\x80\":1}", "invalid UTF-8 in string: overlong encoding", 3);
    /* A long ASCII run before the bad byte takes the SSE2 path first. */
    ERR("\"0123456789abcdefghijklmnopqrstuvwxyz\xed\xa0\x80\"",
        "invalid UTF-8 in string: UTF-16 surrogate", 37);
}

static char *nested(size_t depth, const char *open, const char *inner, const char *close,
                    size_t *len)
{
    size_t lo = strlen(open), li = strlen(inner), lc = strlen(close);
    char *s = malloc(depth * (lo + lc) + li + 1);
    size_t n = 0;
    for (size_t i = 0; i < depth; i++, n += lo)
        memcpy(s + n, open, lo);
    memcpy(s + n, inner, li);
    n += li;
    for (size_t i = 0; i < depth; i++, n += lc)
        memcpy(s + n, close, lc);
    s[n] = '\0';
    *len = n;
    return s;
}

Test(json, nesting_limit_is_an_error_not_a_crash)
{
    size_t len;
    char *s = nested(10000, "[", "", "]", &len);
    sl_json_error e = expect_error(s, len, 0);
    cr_assert_str_eq(e.message, "nesting deeper than 64 levels");
    cr_assert_eq(e.offset, 64);
    /* A huge max_depth is clamped to what the bit stack holds. */
    e = expect_error(s, len, 1000000);
    cr_assert_str_eq(e.message, "nesting deeper than 4096 levels");
    cr_assert_eq(e.offset, 4096);
    free(s);

    s = nested(10000, "{\"a\":", "1", "}", &len);
    e = expect_error(s, len, 0);
    cr_assert_str_eq(e.message, "nesting deeper than 64 levels");
    cr_assert_eq(e.offset, 64 * 5);
    free(s);

    /* Unbalanced too: 10,000 opens and nothing else. */
    s = nested(10000, "[{\"k\":", "", "", &len);
    e = expect_error(s, len, 0);
    cr_assert(strstr(e.message, "nesting deeper than 64 levels"));
    free(s);

    s = nested(64, "[", "1", "]", &len);
    cr_assert_eq(expect_valid(s, len), len);
    free(s);
    s = nested(65, "[", "1", "]", &len);
    e = expect_error(s, len, 0);
    cr_assert_eq(e.offset, 64);
    free(s);
    s = nested(3, "{\"a\":[", "{}", "]}", &len);
    cr_assert_eq(sl_json_validate(s, len, 7, NULL, NULL), 0); /* 3 x 2 + 1 containers */
    cr_assert_eq(sl_json_validate(s, len, 6, NULL, NULL), SL_ERR_PARSE);
    free(s);
}

Test(json, object_and_array_kinds_are_tracked_across_64_levels)
{
    /* 130 levels alternate object/array across two words of the bit stack. */
    sl_buf b = SL_BUF_INIT;
    for (int i = 0; i < 130; i++)
        sl_buf_append_str(&b, i % 3 ? "[1," : "{\"k\":");
    sl_buf_append_str(&b, "null");
    for (int i = 129; i >= 0; i--)
        sl_buf_append_str(&b, i % 3 ? "]" : "}");
    cr_assert_eq(sl_json_validate(b.data, b.len, 200, NULL, NULL), 0);
    /* Swap one closer deep inside: the error names the right container. */
    char *p = strrchr(b.data, '}');
    *p = ']';
    sl_json_error e = { 0 };
    cr_assert_eq(sl_json_validate(b.data, b.len, 200, NULL, &e), SL_ERR_PARSE);
    cr_assert_str_eq(e.message, "expected ',' or '}' in object");
    cr_assert_eq(e.offset, (size_t)(p - b.data));
    sl_buf_free(&b);
}

/* ---- access functions ---------------------------------------------------- */

static const char EVENT[] =
    "{\"timestamp\":\"2024-01-15T10:30:00.123Z\",\"level\":\"INFO\","
    "\"service\":\"api-gateway\",\"host\":\"worker-1\","
    "\"message\":\"Request processed successfully\","
    "\"metadata\":{\"request_id\":\"uuid-1234\",\"response_time_ms\":45,"
    "\"status_code\":200,\"endpoint\":\"/api/users\",\"method\":\"GET\"}}";

Test(json, seed004_event_lookups)
{
    sl_view ev = { EVENT, sizeof EVENT - 1 };
    cr_assert_eq(expect_valid(ev.ptr, ev.len), ev.len);
    sl_view v, s;
    cr_assert(sl_json_get(ev, "level", &v));
    cr_assert(sl_view_eq_str(v, "\"INFO\""));
    cr_assert(sl_json_string_plain(v, &s));
    cr_assert(sl_view_eq_str(s, "INFO"));
    cr_assert(sl_json_get(ev, "metadata", &v));
    cr_assert_eq(sl_json_type_of(v), SL_JSON_OBJECT);
    cr_assert_eq(v.ptr[v.len - 1], '}');
    cr_assert(sl_json_get_path(ev, "metadata.status_code", &v));
    int64_t i;
    cr_assert_eq(sl_json_int64(v, &i), 0);
    cr_assert_eq(i, 200);
    cr_assert(sl_json_get_path(ev, "metadata.endpoint", &v));
    cr_assert(sl_view_eq_str(v, "\"/api/users\""));
    cr_assert(!sl_json_get(ev, "status_code", &v));        /* not top level */
    cr_assert(!sl_json_get_path(ev, "metadata.nope", &v));
    cr_assert(!sl_json_get_path(ev, "level.x", &v));       /* through a string */
    cr_assert(!sl_json_get_path(ev, "metadata.", &v));
    cr_assert(!sl_json_get_path(ev, "", &v));
    cr_assert(sl_json_get(ev, "timestamp", NULL));
}

Test(json, iteration_in_order_with_whitespace)
{
    const char *doc = " { \"a\" : [ 1 , \"x,]}\" , { \"b\" : null } , [ ] ] ,\n\t\"c\":true } ";
    size_t end = expect_valid(doc, strlen(doc));
    sl_view obj = { doc, strlen(doc) }; /* blanks around the value are fine */
    sl_json_iter it;
    sl_view k, v, e;
    sl_json_iter_init(&it, obj);
    cr_assert(sl_json_object_next(&it, &k, &v));
    cr_assert(sl_view_eq_str(k, "a"));
    cr_assert_eq(sl_json_type_of(v), SL_JSON_ARRAY);
    cr_assert(sl_view_eq_str(v, "[ 1 , \"x,]}\" , { \"b\" : null } , [ ] ]"));
    sl_json_iter ai;
    sl_json_iter_init(&ai, v);
    const char *want[] = { "1", "\"x,]}\"", "{ \"b\" : null }", "[ ]" };
    for (int n = 0; n < 4; n++) {
        cr_assert(sl_json_array_next(&ai, &e));
        cr_assert(sl_view_eq_str(e, want[n]), "element %d is <%.*s>", n, (int)e.len, e.ptr);
    }
    cr_assert(!sl_json_array_next(&ai, &e));
    cr_assert(!sl_json_array_next(&ai, &e)); /* stays exhausted */
    cr_assert(sl_json_object_next(&it, &k, &v));
    cr_assert(sl_view_eq_str(k, "c"));
    cr_assert(sl_view_eq_str(v, "true"));
    cr_assert(!sl_json_object_next(&it, &k, &v));
    cr_assert_eq(end, strlen(doc) - 1);

    /* Empty containers, and iterating something that is not a container. */
    sl_json_iter_init(&it, V("{}"));
    cr_assert(!sl_json_object_next(&it, &k, &v));
    sl_json_iter_init(&it, V("[ ]"));
    cr_assert(!sl_json_array_next(&it, &e));
    sl_json_iter_init(&it, V("\"str\""));
    cr_assert(!sl_json_array_next(&it, &e));
    sl_json_iter_init(&it, SL_VIEW_NULL);
    cr_assert(!sl_json_object_next(&it, &k, &v));
}

Test(json, iteration_over_nested_containers_with_escapes_and_brackets_in_strings)
{
    /* Enough bytes for the 16-byte path of the container skip, with quotes,
     * backslashes and brackets inside strings at different block phases. */
    const char *doc =
        "{\"skip\":{\"a\":\"]]]}}}\\\"[[[\",\"b\":[\"\\\\\",\"{\",\"}\\\\\\\"\"],"
        "\"c\":{\"d\":[[],[{}],\"\\u005d\"]},\"e\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx}\"},"
        "\"after\":[1,2,3],\"z\":\"end\"}";
    cr_assert_eq(expect_valid(doc, strlen(doc)), strlen(doc));
    sl_view v;
    cr_assert(sl_json_get(V(doc), "after", &v));
    cr_assert(sl_view_eq_str(v, "[1,2,3]"));
    cr_assert(sl_json_get(V(doc), "z", &v));
    cr_assert(sl_view_eq_str(v, "\"end\""));
    cr_assert(sl_json_get_path(V(doc), "skip.c", &v));
    cr_assert(sl_view_eq_str(v, "{\"d\":[[],[{}],\"\\u005d\"]}"));
    cr_assert(sl_json_get_path(V(doc), "skip.e", &v));
    cr_assert_eq(v.len, 35);
    /* Every prefix shift of the same document gives the same answers. */
    for (int pad = 0; pad < 20; pad++) {
        sl_buf b = SL_BUF_INIT;
        for (int i = 0; i < pad; i++)
            sl_buf_append_char(&b, ' ');
        sl_buf_append_str(&b, doc);
        cr_assert(sl_json_get(sl_buf_view(&b), "z", &v));
        cr_assert(sl_view_eq_str(v, "\"end\""));
        sl_buf_free(&b);
    }
}

Test(json, lookups_with_escapes_and_brackets_at_every_window_phase)
{
    /*
     * Lookups classify 64 bytes at a time. Sliding a nested value with
     * escaped quotes, runs of backslashes and brackets inside strings over
     * 150 offsets puts each of them on, before and after every window edge
     * (an escaping backslash as the last byte of a window included).
     */
    for (int pad = 0; pad < 150; pad++) {
        sl_buf b = SL_BUF_INIT, inner = SL_BUF_INIT;
        sl_buf_append_str(&inner, "{\"s\":\"");
        for (int i = 0; i < pad; i++)
            sl_buf_append_char(&inner, (char)('a' + i % 26));
        sl_buf_append_str(&inner, "\\\"]}\\\\\\\\\\\"{[\",\"t\":[1,{\"u\":\"\\\\\"},\"\\\"\"],"
                                  "\"v\":\"}}}\\\\\"}");
        sl_buf_printf(&b, "{\"a\":%s,\"k\\\"q\":{\"x\":[]},\"b\":2}", inner.data);
        cr_assert_eq(expect_valid(b.data, b.len), b.len, "pad %d", pad);
        sl_view v;
        cr_assert(sl_json_get(sl_buf_view(&b), "a", &v), "pad %d", pad);
        cr_assert(sl_view_eq(v, sl_buf_view(&inner)), "pad %d: <%.*s>", pad, (int)v.len, v.ptr);
        cr_assert(sl_json_get(sl_buf_view(&b), "b", &v), "pad %d", pad);
        cr_assert(sl_view_eq_str(v, "2"), "pad %d", pad);
        cr_assert(sl_json_get(sl_buf_view(&b), "k\"q", &v), "pad %d", pad);
        cr_assert(sl_view_eq_str(v, "{\"x\":[]}"), "pad %d", pad);
        cr_assert(sl_json_get_path(sl_buf_view(&b), "a.v", &v), "pad %d", pad);
        cr_assert(sl_view_eq_str(v, "\"}}}\\\\\""), "pad %d", pad);
        /* The iterator's walk over the same object sees the same members. */
        sl_json_iter it;
        sl_view k;
        int members = 0;
        sl_json_iter_init(&it, sl_buf_view(&b));
        while (sl_json_object_next(&it, &k, &v))
            members++;
        cr_assert_eq(members, 3, "pad %d", pad);
        sl_buf_free(&b);
        sl_buf_free(&inner);
    }
}

Test(json, duplicate_keys_last_one_wins)
{
    sl_view v;
    const char *doc = "{\"a\":1,\"b\":2,\"a\":3}";
    cr_assert(sl_json_get(V(doc), "a", &v));
    cr_assert(sl_view_eq_str(v, "3"));
    /* An escaped spelling of the same key is the same key. */
    doc = "{\"ab\":1,\"a\\u0062\":2}";
    cr_assert(sl_json_get(V(doc), "ab", &v));
    cr_assert(sl_view_eq_str(v, "2"));
}

Test(json, key_eq_decodes_escapes)
{
    cr_assert(sl_json_key_eq(V("level"), "level", 5));
    cr_assert(!sl_json_key_eq(V("level"), "leve", 4));
    cr_assert(!sl_json_key_eq(V("leve"), "level", 5));
    cr_assert(sl_json_key_eq(V("a\\u0062"), "ab", 2));
    cr_assert(sl_json_key_eq(V("\\\"q\\\""), "\"q\"", 3));
    cr_assert(sl_json_key_eq(V("tab\\t"), "tab\t", 4));
    cr_assert(sl_json_key_eq(V("\\u00e9t\\u00E9"), "\xc3\xa9t\xc3\xa9", 5));
    cr_assert(sl_json_key_eq(V("\\uD83D\\uDE00"), "\xf0\x9f\x98\x80", 4));
    cr_assert(sl_json_key_eq(V("nul\\u0000"), "nul\0", 4));
    /* A raw backslash sequence is not the name with a backslash in it. */
    cr_assert(!sl_json_key_eq(V("a\\nb"), "a\\nb", 4));
    cr_assert(sl_json_key_eq(V("a\\\\nb"), "a\\nb", 4));
    cr_assert(!sl_json_key_eq(V("a\\u0062c"), "ab", 2));
    cr_assert(!sl_json_key_eq(V("a\\u0062"), "abc", 3));
    cr_assert(sl_json_key_eq(V(""), "", 0));
}

Test(json, string_decode_and_plain)
{
    sl_buf b = SL_BUF_INIT;
    sl_buf_append_str(&b, ">");
    cr_assert_eq(sl_json_string_decode(V("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\""), &b), 0);
    cr_assert_str_eq(b.data, ">a\"b\\c/d\be\ff\ng\rh\ti");
    sl_buf_reset(&b);
    cr_assert_eq(sl_json_string_decode(V("\"\\u0041\\u00e9\\u20AC\\uD83D\\uDE00\""), &b), 0);
    cr_assert_str_eq(b.data, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    sl_buf_reset(&b);
    cr_assert_eq(sl_json_string_decode(V("\"x\\u0000y\""), &b), 0);
    cr_assert_eq(b.len, 3);
    cr_assert_eq(memcmp(b.data, "x\0y", 3), 0);
    sl_buf_reset(&b);
    cr_assert_eq(sl_json_string_decode(V("\"\""), &b), 0);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(sl_json_string_decode(V("12"), &b), SL_ERR_PARSE);
    cr_assert_eq(sl_json_string_decode(V("\"\\uD800\""), &b), SL_ERR_PARSE);
    cr_assert_eq(sl_json_string_decode(V("\"abc"), &b), SL_ERR_PARSE);
    cr_assert_eq(b.len, 0);
    sl_buf_free(&b);

    sl_view s;
    cr_assert(sl_json_string_plain(V("\"plain text\""), &s));
    cr_assert(sl_view_eq_str(s, "plain text"));
    cr_assert(sl_json_string_plain(V("\"\""), &s));
    cr_assert_eq(s.len, 0);
    cr_assert(!sl_json_string_plain(V("\"esc\\n\""), &s));
    cr_assert(!sl_json_string_plain(V("42"), &s));
}

Test(json, numbers_int64)
{
    int64_t i = 7;
    cr_assert_eq(sl_json_int64(V("0"), &i), 0);
    cr_assert_eq(i, 0);
    cr_assert_eq(sl_json_int64(V("-0"), &i), 0);
    cr_assert_eq(i, 0);
    cr_assert_eq(sl_json_int64(V("9223372036854775807"), &i), 0);
    cr_assert_eq(i, INT64_MAX);
    cr_assert_eq(sl_json_int64(V("-9223372036854775808"), &i), 0);
    cr_assert_eq(i, INT64_MIN);
    cr_assert_eq(sl_json_int64(V("9223372036854775808"), &i), SL_ERR_RANGE);
    cr_assert_eq(sl_json_int64(V("-9223372036854775809"), &i), SL_ERR_RANGE);
    cr_assert_eq(sl_json_int64(V("123456789012345678901234567890"), &i), SL_ERR_RANGE);
    cr_assert_eq(sl_json_int64(V("1.0"), &i), SL_ERR_RANGE);
    cr_assert_eq(sl_json_int64(V("1e2"), &i), SL_ERR_RANGE);
    cr_assert_eq(sl_json_int64(V("\"12\""), &i), SL_ERR_PARSE);
    cr_assert_eq(sl_json_int64(V("true"), &i), SL_ERR_PARSE);
    /* A view inside a larger text stops at the end of the number. */
    sl_view v;
    cr_assert(sl_json_get(V("{\"n\":-42,\"m\":1}"), "n", &v));
    cr_assert_eq(sl_json_int64(v, &i), 0);
    cr_assert_eq(i, -42);
    cr_assert_eq(sl_json_int64((sl_view){ "12345", 3 }, &i), 0);
    cr_assert_eq(i, 123);
}

Test(json, numbers_double)
{
    double d;
    const char *cases[] = {
        "0", "-0", "1.5", "-2.25e-3", "0.1", "1e22", "1e23", "123456789012345678",
        "9007199254740993", "2.2250738585072011e-308", "4.9e-324", "1.7976931348623157e308",
        "3.141592653589793238462643383279", "1E+2", "1e-400",
    };
    for (size_t n = 0; n < SL_ARRAY_LEN(cases); n++) {
        cr_assert_eq(sl_json_double(V(cases[n]), &d), 0, "%s", cases[n]);
        double want = strtod(cases[n], NULL);
        cr_assert(d == want && signbit(d) == signbit(want), "%s: %.17g, strtod %.17g",
                  cases[n], d, want);
    }
    cr_assert_eq(sl_json_double(V("1e400"), &d), SL_ERR_RANGE);
    cr_assert(isinf(d) && d > 0);
    cr_assert_eq(sl_json_double(V("-1e400"), &d), SL_ERR_RANGE);
    cr_assert(isinf(d) && d < 0);
    cr_assert_eq(sl_json_double(V("\"1\""), &d), SL_ERR_PARSE);
    cr_assert_eq(sl_json_double(V("null"), &d), SL_ERR_PARSE);
    /* Views are not NUL-terminated: the copy must stop at the view's end. */
    cr_assert_eq(sl_json_double((sl_view){ "2.5e3", 3 }, &d), 0);
    cr_assert(d == 2.5);
    /* Longer than the stack copy. */
    char big[400];
    memset(big, '1', sizeof big - 1);
    big[0] = '0';
    big[1] = '.';
    big[sizeof big - 1] = '\0';
    cr_assert_eq(sl_json_double(V(big), &d), 0);
    cr_assert(d == strtod(big, NULL));
}

Test(json, type_of_and_names)
{
    cr_assert_eq(sl_json_type_of(V("{}")), SL_JSON_OBJECT);
    cr_assert_eq(sl_json_type_of(V(" [1]")), SL_JSON_ARRAY);
    cr_assert_eq(sl_json_type_of(V("\"s\"")), SL_JSON_STRING);
    cr_assert_eq(sl_json_type_of(V("-1")), SL_JSON_NUMBER);
    cr_assert_eq(sl_json_type_of(V("true")), SL_JSON_TRUE);
    cr_assert_eq(sl_json_type_of(V("false")), SL_JSON_FALSE);
    cr_assert_eq(sl_json_type_of(V("null")), SL_JSON_NULL);
    cr_assert_eq(sl_json_type_of(V("")), SL_JSON_INVALID);
    cr_assert_eq(sl_json_type_of(SL_VIEW_NULL), SL_JSON_INVALID);
    cr_assert_str_eq(sl_json_type_name(SL_JSON_STRING), "string");
    cr_assert_str_eq(sl_json_type_name(SL_JSON_OBJECT), "object");
    cr_assert_str_eq(sl_json_type_name(SL_JSON_TRUE), "boolean");
    cr_assert_str_eq(sl_json_type_name(SL_JSON_INVALID), "invalid");
    cr_assert_eq(sl_json_skip_ws(" \t\n\rx ", 6, 0), 4);
    cr_assert_eq(sl_json_skip_ws("  ", 2, 0), 2);
    cr_assert_eq(sl_json_skip_ws("  ", 2, 5), 5);
}

/* ---- differential test against jansson ------------------------------------ */

static uint64_t test_seed(void)
{
    uint64_t seed = UINT64_C(0x5eed0f51ce0001);
    const char *env = getenv("SL_TEST_SEED");
    if (env && *env)
        seed ^= strtoull(env, NULL, 0) * UINT64_C(0x9e3779b97f4a7c15);
    return seed;
}

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r) /* splitmix64 */
{
    uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static unsigned rnd(rng *r, unsigned n)
{
    return (unsigned)(rng_next(r) % n);
}

static void gen_ws(rng *r, sl_buf *b)
{
    if (rnd(r, 4))
        return;
    static const char ws[] = " \t\n\r";
    for (unsigned n = 1 + rnd(r, 3); n; n--)
        sl_buf_append_char(b, ws[rnd(r, 4)]);
}

static void put_utf8(sl_buf *b, uint32_t cp)
{
    char u[4];
    int n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18);
        u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    sl_buf_append(b, u, (size_t)n);
}

/* A code point that is not a surrogate, biased to the edges of each length. */
static uint32_t gen_code_point(rng *r)
{
    static const uint32_t edges[] = { 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd,
                                      0xffff, 0x10000, 0x10ffff, 0x1f600, 0xac00 };
    uint32_t cp;
    switch (rnd(r, 5)) {
    case 0: return edges[rnd(r, SL_ARRAY_LEN(edges))];
    case 1: cp = 0x80 + rnd(r, 0x780); break;
    case 2: cp = 0x800 + rnd(r, 0xf800); break;
    case 3: cp = 0x10000 + rnd(r, 0x100000); break;
    default: cp = 0x20 + rnd(r, 0x60); break;
    }
    if (cp >= 0xd800 && cp <= 0xdfff)
        cp = 0xe000;
    return cp;
}

static void put_u_escape(rng *r, sl_buf *b, unsigned v)
{
    static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
    const char *hex = rnd(r, 2) ? lower : upper;
    char u[6] = { '\\', 'u', hex[v >> 12 & 15], hex[v >> 8 & 15], hex[v >> 4 & 15], hex[v & 15] };
    sl_buf_append(b, u, 6);
}

static void gen_string(rng *r, sl_buf *b, bool key)
{
    static const char *const esc[] = { "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t" };
    static const char *const keys[] = { "a", "b", "level", "id", "x.y", "" };
    sl_buf_append_char(b, '"');
    if (key && rnd(r, 2)) {
        sl_buf_append_str(b, keys[rnd(r, SL_ARRAY_LEN(keys))]);
        sl_buf_append_char(b, '"');
        return;
    }
    unsigned len = rnd(r, 8) == 0 ? 16 + rnd(r, 200) : rnd(r, 12);
    unsigned style = rnd(r, 4); /* 0: plain ASCII only; others mix */
    for (unsigned i = 0; i < len; i++) {
        unsigned k = style == 0 ? 0 : rnd(r, 10);
        if (k <= 4) {
            char c = (char)(0x20 + rnd(r, 0x5f));
            if (c == '"' || c == '\\')
                c = '_';
            sl_buf_append_char(b, c);
        } else if (k == 5) {
            sl_buf_append_str(b, esc[rnd(r, SL_ARRAY_LEN(esc))]);
        } else if (k == 6) {
            unsigned v = rnd(r, 3) == 0 ? rnd(r, 0x20) : (unsigned)gen_code_point(r);
            if (v > 0xffff) {
                v -= 0x10000;
                put_u_escape(r, b, 0xd800 + (v >> 10));
                put_u_escape(r, b, 0xdc00 + (v & 0x3ff));
            } else {
                /* \u0000 in keys is the NUL-key divergence: keep it rare there. */
                if (v == 0 && key && rnd(r, 20))
                    v = 1;
                put_u_escape(r, b, v);
            }
        } else {
            uint32_t cp = gen_code_point(r);
            put_utf8(b, cp == '"' || cp == '\\' ? '#' : cp);
        }
    }
    sl_buf_append_char(b, '"');
}

static void gen_digits(rng *r, sl_buf *b, unsigned n, bool nonzero_first)
{
    for (unsigned i = 0; i < n; i++)
        sl_buf_append_char(b, (char)('0' + (i == 0 && nonzero_first ? 1 + rnd(r, 9) : rnd(r, 10))));
}

static void gen_number(rng *r, sl_buf *b)
{
    static const char *const special[] = {
        "0", "-0", "9223372036854775807", "-9223372036854775808", "1e308", "-1.7976931348623157e308",
        "4.9e-324", "1e-400", "0.1", "1E+0", "-0.0e-0", "2.2250738585072014e-308",
    };
    static const char *const rare[] = { /* divergences: beyond int64 or DBL_MAX */
        "9223372036854775808", "-9223372036854775809", "1e400", "-2E+309",
    };
    unsigned k = rnd(r, 40);
    if (k == 0) {
        sl_buf_append_str(b, rare[rnd(r, SL_ARRAY_LEN(rare))]);
        return;
    }
    if (k < 5) {
        sl_buf_append_str(b, special[rnd(r, SL_ARRAY_LEN(special))]);
        return;
    }
    if (rnd(r, 3) == 0)
        sl_buf_append_char(b, '-');
    if (rnd(r, 5) == 0)
        sl_buf_append_char(b, '0');
    else
        gen_digits(r, b, 1 + rnd(r, rnd(r, 4) ? 6 : 18), true);
    if (rnd(r, 2)) {
        sl_buf_append_char(b, '.');
        gen_digits(r, b, 1 + rnd(r, rnd(r, 4) ? 4 : 25), false);
    }
    if (rnd(r, 4) == 0) {
        sl_buf_append_char(b, rnd(r, 2) ? 'e' : 'E');
        unsigned s = rnd(r, 3);
        if (s)
            sl_buf_append_char(b, s == 1 ? '+' : '-');
        gen_digits(r, b, 1 + rnd(r, 3), false);
    }
}

static void gen_value(rng *r, sl_buf *b, int depth)
{
    unsigned k = rnd(r, depth < 6 ? 10 : 7);
    switch (k) {
    case 0: sl_buf_append_str(b, "null"); break;
    case 1: sl_buf_append_str(b, rnd(r, 2) ? "true" : "false"); break;
    case 2: case 3: gen_number(r, b); break;
    case 4: case 5: case 6: gen_string(r, b, false); break;
    case 7: case 8: { /* object */
        unsigned n = rnd(r, 7);
        sl_buf_append_char(b, '{');
        for (unsigned i = 0; i < n; i++) {
            if (i)
                sl_buf_append_char(b, ',');
            gen_ws(r, b);
            gen_string(r, b, true);
            gen_ws(r, b);
            sl_buf_append_char(b, ':');
            gen_ws(r, b);
            gen_value(r, b, depth + 1);
            gen_ws(r, b);
        }
        gen_ws(r, b);
        sl_buf_append_char(b, '}');
        break;
    }
    default: { /* array */
        unsigned n = rnd(r, 6);
        sl_buf_append_char(b, '[');
        for (unsigned i = 0; i < n; i++) {
            if (i)
                sl_buf_append_char(b, ',');
            gen_ws(r, b);
            gen_value(r, b, depth + 1);
            gen_ws(r, b);
        }
        gen_ws(r, b);
        sl_buf_append_char(b, ']');
        break;
    }
    }
}

static void gen_document(rng *r, sl_buf *b)
{
    sl_buf_reset(b);
    gen_ws(r, b);
    if (rnd(r, 4))
        gen_value(r, b, rnd(r, 3) ? 5 : 0); /* mostly containers, some scalars */
    else
        gen_value(r, b, 0);
    gen_ws(r, b);
}

/* Print a document so that a failure can be replayed by hand. */
static const char *show(const char *doc, size_t len, char *out, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 8 < n; i++) {
        unsigned char c = (unsigned char)doc[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
    }
    out[o] = '\0';
    return out;
}

static unsigned run_oracle(const char *doc, size_t len, uint64_t seed, long round,
                           jo_result *res)
{
    json_oracle_compare(doc, len, res);
    if (!res->agree) {
        char text[1200];
        cr_assert_fail("seed %llu (SL_TEST_SEED=%s) round %ld: %s\n  document (%zu bytes): %s",
                       (unsigned long long)seed, getenv("SL_TEST_SEED") ? getenv("SL_TEST_SEED") : "",
                       round, res->why, len, show(doc, len, text, sizeof text));
    }
    return res->divergence;
}

Test(json_differential, generated_valid_documents_match_jansson, .timeout = 60)
{
    uint64_t seed = test_seed();
    rng r = { seed };
    sl_buf b = SL_BUF_INIT;
    unsigned valid = 0, div[JO_DIV_COUNT] = { 0 };
    const long rounds = 6000;
    for (long i = 0; i < rounds; i++) {
        gen_document(&r, &b);
        jo_result res;
        unsigned d = run_oracle(b.data, b.len, seed, i, &res);
        char text[1200];
        cr_assert(res.sluice_valid, "seed %llu round %ld: generator made an invalid document: %s",
                  (unsigned long long)seed, i, show(b.data, b.len, text, sizeof text));
        valid += res.jansson_valid;
        for (int k = 0; k < JO_DIV_COUNT; k++)
            div[k] += (d >> k) & 1;
    }
    /* The rare shapes are generated on purpose: they must have been met. */
    cr_assert_gt(div[0], 0, "no big integer was generated");
    cr_assert_gt(div[1], 0, "no real overflow was generated");
    cr_assert_gt(valid, rounds * 3 / 4, "too few documents compared by value (%u)", valid);
    sl_buf_free(&b);
}

static void mutate(rng *r, sl_buf *b)
{
    static const char *const bad_utf8[] = {
        "\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xed\xa0\x80", "\xed\xbf\xbf",
        "\xf0\x80\x80\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\xfe", "\xe2\x82",
        "\xf0\x9f\x98", "\xc3",
    };
    static const char *const tokens[] = {
        "\"", "\\", "{", "}", "[", "]", ",", ":", "\\u", "\\uD800", "\\uDC00", "\\u00",
        "-", "0", ".", "e", "+", "\x01", "\n", "\0", "t", "nul", "\\x",
    };
    unsigned n = 1 + rnd(r, 3);
    for (unsigned m = 0; m < n; m++) {
        size_t len = b->len, at = len ? rnd(r, (unsigned)len + 1) : 0;
        const char *ins = NULL;
        size_t inslen = 0;
        switch (rnd(r, 7)) {
        case 0: /* flip a bit */
            if (len) {
                size_t i = rnd(r, (unsigned)len);
                b->data[i] = (char)(b->data[i] ^ (1 << rnd(r, 8)));
            }
            continue;
        case 1: /* set a random byte */
            if (len)
                b->data[rnd(r, (unsigned)len)] = (char)rnd(r, 256);
            continue;
        case 2: /* truncate */
            b->len = at;
            b->data[b->len] = '\0';
            continue;
        case 3: /* delete a byte */
            if (at < len) {
                memmove(b->data + at, b->data + at + 1, len - at - 1);
                b->len--;
            }
            continue;
        case 4:
            ins = bad_utf8[rnd(r, SL_ARRAY_LEN(bad_utf8))];
            inslen = strlen(ins);
            break;
        default: {
            unsigned t = rnd(r, SL_ARRAY_LEN(tokens));
            ins = tokens[t];
            inslen = ins[0] ? strlen(ins) : 1; /* "\0" is one NUL byte */
            break;
        }
        }
        sl_buf_reserve(b, inslen);
        memmove(b->data + at + inslen, b->data + at, len - at);
        memcpy(b->data + at, ins, inslen);
        b->len += inslen;
        b->data[b->len] = '\0';
    }
}

Test(json_differential, mutated_documents_match_jansson, .timeout = 60)
{
    uint64_t seed = test_seed() ^ 0x6d75746174650000;
    rng r = { seed };
    sl_buf b = SL_BUF_INIT;
    unsigned counts[2][2] = { { 0 } }, div[JO_DIV_COUNT] = { 0 };
    const long rounds = 30000;
    for (long i = 0; i < rounds; i++) {
        gen_document(&r, &b);
        mutate(&r, &b);
        jo_result res;
        unsigned d = run_oracle(b.data, b.len, seed, i, &res);
        counts[res.sluice_valid][res.jansson_valid]++;
        for (int k = 0; k < JO_DIV_COUNT; k++)
            div[k] += (d >> k) & 1;
    }
    /* Most mutants break the document; some survive and are compared by value. */
    cr_assert_gt(counts[0][0], rounds / 2);
    cr_assert_gt(counts[1][1], rounds / 50);
    cr_log_info("mutants: %u both invalid, %u both valid, %u sluice-only, %u jansson-only;"
                " NUL-after-token seen %u times",
                counts[0][0], counts[1][1], counts[1][0], counts[0][1], div[4]);
    sl_buf_free(&b);
}

/* Each divergence happens, for the documented reason, and is recognised. */
static void expect_divergence(const char *doc, size_t len, unsigned which, bool sluice_valid)
{
    jo_result res;
    json_oracle_compare(doc, len, &res);
    cr_assert(res.agree, "%s", res.why);
    cr_assert_eq(res.sluice_valid, sluice_valid);
    cr_assert_neq(res.sluice_valid, res.jansson_valid);
    cr_assert_eq(res.divergence & which, which, "divergence 0x%x, wanted 0x%x",
                 res.divergence, which);
}

Test(json_differential, documented_divergences)
{
    /* Integers beyond int64 are valid JSON numbers. */
    expect_divergence(LIT("[9223372036854775808]"), JO_DIV_BIG_INTEGER, true);
    expect_divergence(LIT("{\"n\":-99999999999999999999}"), JO_DIV_BIG_INTEGER, true);
    /* Beyond DBL_MAX: valid JSON, SL_ERR_RANGE from sl_json_double. */
    expect_divergence(LIT("1e400"), JO_DIV_REAL_OVERFLOW, true);
    /* NUL in a key (NUL in a value is compared, thanks to JSON_ALLOW_NUL). */
    expect_divergence(LIT("{\"a\\u0000b\":1}"), JO_DIV_NUL_KEY, true);
    jo_result res;
    json_oracle_compare(LIT("[\"a\\u0000b\"]"), &res);
    cr_assert(res.agree && res.sluice_valid && res.jansson_valid && !res.divergence, "%s",
              res.why);
    /* jansson's NUL-after-token bug: "[1\0]" and "true\0" parse there. */
    expect_divergence(LIT("[1\0]"), JO_DIV_NUL_AFTER_TOKEN, false);
    expect_divergence(LIT("true\0"), JO_DIV_NUL_AFTER_TOKEN, false);
    expect_divergence(LIT("{\"a\":null\0,\"b\":2.5e1\0}"), JO_DIV_NUL_AFTER_TOKEN, false);
    /* ...but not after a string or a bracket, where both reject it. */
    json_oracle_compare(LIT("[\"s\"\0]"), &res);
    cr_assert(res.agree && !res.sluice_valid && !res.jansson_valid);
    json_oracle_compare(LIT("[[]\0]"), &res);
    cr_assert(res.agree && !res.sluice_valid && !res.jansson_valid);
}

Test(json_differential, deep_nesting_against_jansson_limit)
{
    /* jansson allows 2048 levels counting the innermost scalar; sluice counts
     * containers only (and is given 4096 by the oracle). */
    for (size_t depth = 2040; depth <= 2050; depth++) {
        size_t len;
        char *s = nested(depth, "[", "1", "]", &len);
        jo_result res;
        json_oracle_compare(s, len, &res);
        cr_assert(res.agree, "depth %zu: %s", depth, res.why);
        cr_assert(res.sluice_valid);
        cr_assert_eq(res.jansson_valid, depth + 1 <= JSON_PARSER_MAX_DEPTH, "depth %zu", depth);
        cr_assert_eq(res.divergence, depth + 1 <= JSON_PARSER_MAX_DEPTH ? 0u : (unsigned)JO_DIV_DEPTH);
        free(s);
    }
    /* Past sluice's own maximum both refuse. */
    size_t len;
    char *s = nested(5000, "[", "", "]", &len);
    jo_result res;
    json_oracle_compare(s, len, &res);
    cr_assert(res.agree && !res.sluice_valid && !res.jansson_valid);
    free(s);
}

Test(json_differential, hand_picked_documents)
{
    static const char *const docs[] = {
        EVENT,
        "{\"a\":1,\"a\":{\"b\":[1,2]},\"c\":{\"d\":{\"e\":\"\\u00e9\"}}}",
        "[\"\\uD83D\\uDE00\", \"\xf0\x9f\x98\x80\", \"\\u0000\", -0, -0.0, 1E+2, 0.5e-3]",
        "{\"x.y\":1,\"x\":{\"y\":2}}",
        "  \"\\/\\b\\f\\n\\r\\t\\\"\\\\\"  ",
        "{\"\":{\"\":[]}}",
        "[1e-400, 123456789012345678, 0.30000000000000004, 1.7976931348623157e308]",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(docs); i++) {
        jo_result res;
        json_oracle_compare(docs[i], strlen(docs[i]), &res);
        cr_assert(res.agree && res.sluice_valid && res.jansson_valid, "doc %zu: %s", i, res.why);
    }
}
