/*
 * fuzz_query.c - libFuzzer target for the pixel's query decoder and path
 * helpers.
 *
 * The input is read three ways: as a raw query string, as a request target
 * split into path and query (sl_query_split_target), and as the pixel's
 * path (sl_query_scenario_id). What must hold:
 *
 *   - parsing returns 0, SL_ERR_PARSE or (only for more than
 *     SL_QUERY_MAX_PARAMS parameters) SL_ERR_TOOBIG, never reads outside
 *     the input (copied into a buffer of exactly its size), and a scratch as
 *     long as the query is always enough;
 *   - errors carry a message, an offset within the query, and name the
 *     parameter ("parameter ...") unless it is the parameter limit;
 *   - on success every key is non-empty, keys and values are valid UTF-8
 *     and lie in the query or the scratch; a part with no '%', '+', '\' or
 *     byte >= 0x80 is the raw text itself;
 *   - last one wins: a shadowed parameter has a later twin, the others have
 *     none, and sl_query_get returns the last value;
 *   - the JSON members, wrapped in braces, are valid JSON with one member
 *     per distinct key;
 *   - split_target's views lie inside the target; scenario_id accepts
 *     exactly '/' + digits with a value in 1..INT64_MAX, and that value is
 *     what the digits say.
 */
#include "core/json.h"
#include "input/pixel/query.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, ...)                                                             \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "fuzz_query: check failed: %s: ", #cond);                \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
            abort();                                                                 \
        }                                                                            \
    } while (0)

static bool inside(sl_view v, const char *base, size_t n)
{
    return v.len == 0 || (v.ptr >= base && v.ptr + v.len <= base + n);
}

static bool plain(sl_view v)
{
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        if (c == '%' || c == '+' || c == '\\' || c >= 0x80)
            return false;
    }
    return true;
}

static void check_query(const char *q, size_t len)
{
    static sl_query out;
    sl_query_error err;
    memset(&err, 0, sizeof err);
    char *scratch = malloc(len ? len : 1);
    int rc = sl_query_parse(q, len, &out, scratch, len, &err);
    CHECK(rc == 0 || rc == SL_ERR_PARSE || rc == SL_ERR_TOOBIG, "rc %d", rc);
    if (rc != 0) {
        CHECK(err.message[0] != '\0' && err.offset <= len, "error state: %zu %s", err.offset,
              err.message);
        if (rc == SL_ERR_TOOBIG)
            CHECK(strncmp(err.message, "more than ", 10) == 0, "scratch of len too small: %s",
                  err.message);
        else
            CHECK(strncmp(err.message, "parameter ", 10) == 0, "message: %s", err.message);
        free(scratch);
        return;
    }
    CHECK(out.count <= SL_QUERY_MAX_PARAMS, "count %zu", out.count);
    size_t distinct = 0;
    for (size_t i = 0; i < out.count; i++) {
        const sl_query_param *p = &out.params[i];
        CHECK(p->key.len > 0, "empty key");
        CHECK(inside(p->key, q, len) || inside(p->key, scratch, len), "key outside");
        CHECK(inside(p->value, q, len) || inside(p->value, scratch, len), "value outside");
        CHECK(p->has_equals || p->value.len == 0, "bare key with a value");
        CHECK(p->offset < len, "offset");
        if (p->key.ptr >= q && p->key.ptr < q + len)
            CHECK(plain(p->key), "a key needing decoding was not decoded");
        bool later = false;
        for (size_t j = i + 1; j < out.count; j++)
            later |= sl_view_eq(p->key, out.params[j].key);
        CHECK(later == p->shadowed, "shadowed flag wrong at %zu", i);
        if (!p->shadowed) {
            distinct++;
            sl_view got;
            char *key = malloc(p->key.len + 1);
            memcpy(key, p->key.ptr, p->key.len);
            key[p->key.len] = '\0';
            /* A key with a NUL cannot be asked for by C string. */
            if (strlen(key) == p->key.len) {
                CHECK(sl_query_get(&out, key, &got), "get missed its key");
                CHECK(sl_view_eq(got, p->value), "get did not return the last value");
            }
            free(key);
        }
    }

    sl_buf json = SL_BUF_INIT;
    bool comma = false;
    sl_buf_append_char(&json, '{');
    sl_query_append_json(&out, &json, &comma);
    sl_buf_append_char(&json, '}');
    CHECK(comma == (distinct > 0), "comma flag");
    sl_json_error jerr;
    size_t end = 0;
    CHECK(sl_json_validate(json.data, json.len, 0, &end, &jerr) == 0 && end == json.len,
          "invalid JSON at %zu (%s): %s", jerr.offset, jerr.message, json.data);
    size_t members = 0;
    sl_json_iter it;
    sl_view k, v;
    sl_json_iter_init(&it, (sl_view){ json.data, json.len });
    while (sl_json_object_next(&it, &k, &v))
        members++;
    CHECK(members == distinct, "%zu members for %zu distinct keys", members, distinct);
    sl_buf_free(&json);
    free(scratch);
}

static void check_target(const char *t, size_t len)
{
    sl_view path, query;
    sl_query_split_target((sl_view){ t, len }, &path, &query);
    CHECK(inside(path, t, len) && path.ptr == t, "path view");
    CHECK(query.ptr == NULL || inside(query, t, len), "query view");
    CHECK(memchr(path.ptr ? path.ptr : "", '?', path.len) == NULL, "'?' in the path");
    if (query.ptr)
        check_query(query.ptr, query.len);

    int64_t id = -1;
    sl_query_error err;
    memset(&err, 0, sizeof err);
    int rc = sl_query_scenario_id(path, &id, &err);
    bool digits = path.len >= 2 && path.ptr[0] == '/';
    for (size_t i = 1; digits && i < path.len; i++)
        digits = path.ptr[i] >= '0' && path.ptr[i] <= '9';
    if (rc == 0) {
        CHECK(digits && id > 0, "accepted a non-numeric path or id %" PRId64, id);
        char shown[32];
        snprintf(shown, sizeof shown, "%" PRId64, id);
        size_t z = 1;
        while (z + 1 < path.len && path.ptr[z] == '0')
            z++;
        CHECK(strlen(shown) == path.len - z && memcmp(shown, path.ptr + z, path.len - z) == 0,
              "id %s from a different path", shown);
    } else {
        CHECK(rc == SL_ERR_PARSE && err.message[0] != '\0' && id == -1, "refusal state");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);
    memcpy(s, data, size);
    check_query(s, size);
    check_target(s, size);
    free(s);
    return 0;
}
