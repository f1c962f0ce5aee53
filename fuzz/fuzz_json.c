/*
 * fuzz_json.c - libFuzzer target for the in-place JSON scanner.
 *
 * Every input is judged twice: by sl_json_validate and by jansson, through
 * json_oracle_compare (tests/unit/json_oracle.h), which also turns a valid
 * document into a jansson tree with the sl_json_* access functions and
 * compares values and lookups. Any disagreement that is not one of the
 * divergences documented there aborts, and so does a broken invariant of
 * the scanner itself:
 *
 *   - an error's offset lies within the input and its message is not empty;
 *   - a valid value ends within the input, and validating exactly the
 *     bytes of that value gives the same end (no reads past it matter);
 *   - every member of every object can be found again with sl_json_get
 *     and sl_json_get_path, and sl_json_key_eq matches its decoded key;
 *   - strings decode (and plain ones decode to their raw bytes), numbers
 *     convert, and timestamps parse without crashing.
 *
 * The input is copied into a buffer of exactly its size, so AddressSanitizer
 * catches a read of even one byte past the end.
 */
#include "core/buf.h"
#include "core/json.h"
#include "core/timestamp.h"
#include "json_oracle.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile uint64_t sink; /* keeps results alive for the optimiser */

#define CHECK(cond, ...)                                      \
    do {                                                      \
        if (!(cond)) {                                        \
            fprintf(stderr, "fuzz_json: check failed: %s: ", #cond); \
            fprintf(stderr, __VA_ARGS__);                     \
            fputc('\n', stderr);                              \
            abort();                                          \
        }                                                     \
    } while (0)

static void walk(sl_view v, sl_view root, sl_buf *path, int depth)
{
    sl_json_type t = sl_json_type_of(v);
    CHECK(t != SL_JSON_INVALID, "value <%.*s>", (int)SL_MIN(v.len, 40), v.ptr);
    sink += (uint64_t)strlen(sl_json_type_name(t));
    int64_t us;
    switch (t) {
    case SL_JSON_NUMBER: {
        double d;
        int64_t i;
        int rc = sl_json_double(v, &d);
        CHECK(rc == 0 || rc == SL_ERR_RANGE, "sl_json_double %d", rc);
        rc = sl_json_int64(v, &i);
        CHECK(rc == 0 || rc == SL_ERR_RANGE, "sl_json_int64 %d", rc);
        sink += (uint64_t)i + (uint64_t)(d != d);
        if (sl_timestamp_parse_json(v, &us) == 0)
            sink += (uint64_t)us;
        break;
    }
    case SL_JSON_STRING: {
        sl_buf b = SL_BUF_INIT;
        CHECK(sl_json_string_decode(v, &b) == 0, "decode <%.*s>", (int)SL_MIN(v.len, 40), v.ptr);
        sl_view plain;
        if (sl_json_string_plain(v, &plain))
            CHECK(plain.len == b.len && memcmp(plain.ptr, b.data, b.len) == 0, "plain differs");
        sink += b.len;
        sl_buf_free(&b);
        if (sl_timestamp_parse_json(v, &us) == 0)
            sink += (uint64_t)us;
        break;
    }
    case SL_JSON_ARRAY: {
        sl_json_iter it;
        sl_view e;
        sl_json_iter_init(&it, v);
        while (sl_json_array_next(&it, &e))
            walk(e, root, NULL, depth + 1);
        break;
    }
    case SL_JSON_OBJECT: {
        sl_json_iter it;
        sl_view k, e;
        sl_buf key = SL_BUF_INIT;
        sl_json_iter_init(&it, v);
        while (sl_json_object_next(&it, &k, &e)) {
            sl_buf_reset(&key);
            CHECK(sl_json_string_decode((sl_view){ k.ptr - 1, k.len + 2 }, &key) == 0, "key");
            CHECK(sl_json_key_eq(k, key.data, key.len), "key_eq <%.*s>", (int)k.len, k.ptr);
            bool simple = !memchr(key.data, '\0', key.len) && !memchr(key.data, '.', key.len);
            sl_view found = SL_VIEW_NULL;
            if (simple) {
                /* Found again by name (duplicates: some later member wins). */
                CHECK(sl_json_get(v, key.data, &found), "get \"%s\"", key.data);
                CHECK(found.ptr >= e.ptr, "get \"%s\" returned an earlier member", key.data);
            }
            /*
             * The dotted path from the root reaches this very member while
             * every name on the way is simple and names the winning member.
             */
            size_t mark = path ? path->len : 0;
            sl_buf *sub = NULL;
            if (path && simple && key.len > 0 && found.ptr == e.ptr) {
                if (path->len)
                    sl_buf_append_char(path, '.');
                sl_buf_append(path, key.data, key.len);
                sl_view at;
                CHECK(sl_json_get_path(root, path->data, &at) && at.ptr == e.ptr &&
                      at.len == e.len, "get_path \"%s\"", path->data);
                sub = path;
            }
            walk(e, root, sub, depth + 1);
            if (path) {
                path->len = mark;
                path->data[mark] = '\0';
            }
        }
        sl_buf_free(&key);
        break;
    }
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *doc = malloc(size ? size : 1);
    memcpy(doc, data, size);

    jo_result r;
    json_oracle_compare(doc, size, &r);
    if (!r.agree) {
        fprintf(stderr, "fuzz_json: sluice and jansson disagree: %s\n", r.why);
        abort();
    }

    size_t end = 0;
    sl_json_error err = { 0 };
    int rc = sl_json_validate(doc, size, 0, &end, &err);
    if (rc != 0) {
        CHECK(rc == SL_ERR_PARSE, "rc %d", rc);
        CHECK(err.offset <= size, "offset %zu > size %zu", err.offset, size);
        CHECK(err.message[0] != '\0', "empty message");
        sink += err.offset;
        free(doc);
        return 0;
    }
    CHECK(end <= size, "end %zu > size %zu", end, size);
    size_t start = sl_json_skip_ws(doc, size, 0);
    CHECK(start < end, "start %zu end %zu", start, end);

    /* The value alone, in a buffer of its own size, validates to the same end. */
    size_t n = end - start, end2 = 0;
    char *alone = malloc(n);
    memcpy(alone, doc + start, n);
    CHECK(sl_json_validate(alone, n, 0, &end2, NULL) == 0 && end2 == n, "value alone");

    sl_view value = { alone, n };
    sl_buf path = SL_BUF_INIT;
    sl_buf_reserve(&path, 64);
    path.data[0] = '\0';
    walk(value, value, sl_json_type_of(value) == SL_JSON_OBJECT ? &path : NULL, 0);
    sl_buf_free(&path);
    free(alone);
    free(doc);
    return 0;
}
