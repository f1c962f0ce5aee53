/*
 * fuzz_timestamp.c - libFuzzer target for timestamp parsing and formatting.
 *
 * The same bytes are read as ISO-8601 text, as epoch number text and (when
 * they are a JSON value) through sl_timestamp_parse_json; the first eight
 * bytes are also formatted as a raw microsecond count. What must hold:
 *
 *   - whatever parses lies within years 0000-9999;
 *   - format(parse(x)) parses back to the same instant (ISO round trip);
 *   - a JSON string gives what its content gives to the text parsers;
 *   - formatting any int64 writes a terminated string within the buffer.
 *
 * Inputs are copied into buffers of exactly their size so that
 * AddressSanitizer sees any read past the end.
 */
#include "core/json.h"
#include "core/timestamp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_US INT64_C(-62167219200000000)
#define MAX_US INT64_C(253402300799999999)

static volatile uint64_t sink;

#define CHECK(cond, ...)                                           \
    do {                                                           \
        if (!(cond)) {                                             \
            fprintf(stderr, "fuzz_timestamp: check failed: %s: ", #cond); \
            fprintf(stderr, __VA_ARGS__);                          \
            fputc('\n', stderr);                                   \
            abort();                                               \
        }                                                          \
    } while (0)

static void round_trip(int64_t us, const char *how)
{
    CHECK(us >= MIN_US && us <= MAX_US, "%s gave %lld", how, (long long)us);
    char out[32];
    sl_timestamp_format_iso(us, out, sizeof out);
    CHECK(strlen(out) == 27, "%s: formatted \"%s\"", how, out);
    int64_t back = 0;
    CHECK(sl_timestamp_parse_iso(out, 27, &back) == 0 && back == us,
          "%s: %lld -> %s -> %lld", how, (long long)us, out, (long long)back);
    sink += (uint64_t)back;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);
    memcpy(s, data, size);
    int64_t iso = 0, ep = 0, js = 0;
    int rc_iso = sl_timestamp_parse_iso(s, size, &iso);
    int rc_ep = sl_timestamp_parse_epoch(s, size, &ep);
    CHECK(rc_iso == 0 || rc_iso == SL_ERR_PARSE, "iso rc %d", rc_iso);
    CHECK(rc_ep == 0 || rc_ep == SL_ERR_PARSE, "epoch rc %d", rc_ep);
    if (rc_iso == 0)
        round_trip(iso, "iso");
    if (rc_ep == 0)
        round_trip(ep, "epoch");

    /* As a JSON value: a string goes where its content goes. */
    size_t end;
    if (sl_json_validate(s, size, 0, &end, NULL) == 0) {
        size_t start = sl_json_skip_ws(s, size, 0);
        sl_view v = { s + start, end - start };
        int rc_js = sl_timestamp_parse_json(v, &js);
        if (rc_js == 0)
            round_trip(js, "json");
        sl_view inner;
        if (sl_json_type_of(v) == SL_JSON_STRING && sl_json_string_plain(v, &inner)) {
            int64_t a = 0, b = 0;
            int ra = sl_timestamp_parse_iso(inner.ptr, inner.len, &a);
            int rb = sl_timestamp_parse_epoch(inner.ptr, inner.len, &b);
            if (rc_js == 0)
                CHECK((ra == 0 && a == js) || (rb == 0 && b == js), "json string differs");
            else
                CHECK(ra != 0 || inner.len < 10 || inner.ptr[4] != '-', "json refused ISO");
        }
        if (sl_json_type_of(v) == SL_JSON_NUMBER) {
            int64_t b = 0;
            int rb = sl_timestamp_parse_epoch(v.ptr, v.len, &b);
            CHECK(rb == rc_js && (rb != 0 || b == js), "json number differs");
        }
    }

    /* The other way: any 64-bit count formats without overrunning. */
    if (size >= 8) {
        int64_t us;
        memcpy(&us, data, sizeof us);
        char out[40];
        memset(out, 'x', sizeof out);
        sl_timestamp_format_iso(us, out, 32);
        CHECK(memchr(out, '\0', 32) != NULL && out[32] == 'x', "format overran");
        if (us >= MIN_US && us <= MAX_US)
            round_trip(us, "raw");
        size_t small = data[0] % 32;
        memset(out, 'x', sizeof out);
        sl_timestamp_format_iso(us, out, small);
        CHECK(out[small] == 'x', "format wrote past n=%zu", small);
    }
    free(s);
    return 0;
}
