/*
 * fuzz_nginx_line.c - libFuzzer target for the NGINX access-log parser.
 *
 * Input layout: the first byte picks the format, the rest is the line.
 *
 *   byte 0 % 4 == 0   combined
 *              == 1   main
 *              == 2   a custom format with ${braces}, a leading literal,
 *                     typed variables and a variable at the end of the line
 *              == 3   the bytes up to the first '\n' are a log_format to
 *                     compile (exercising the format compiler), the rest is
 *                     the line
 *
 * What must hold for every input:
 *
 *   - parsing returns 0 or SL_ERR_PARSE with a non-empty message whose
 *     offset lies within the line, and never reads outside it (the line is
 *     copied into a buffer of exactly its size, so ASan sees any overrun);
 *   - a scratch as long as the line is always enough (never SL_ERR_TOOBIG);
 *   - on success, the fields are in format order, in the line, disjoint and
 *     increasing; each value lies in the line or in the scratch; a field
 *     without a backslash has value == raw; an absent field was "-";
 *     $request's parts lie inside its value;
 *   - the JSON event is valid JSON (sl_json_validate), whatever the bytes;
 *   - parsing the same line again gives the same JSON (no hidden state).
 */
#include "core/json.h"
#include "input/tail/nginx_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, ...)                                                             \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "fuzz_nginx_line: check failed: %s: ", #cond);           \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
            abort();                                                                 \
        }                                                                            \
    } while (0)

static sl_nginx_format *formats[3];

static const char custom_spec[] =
    "<${time_iso8601}> $remote_addr:$remote_port \"$request\" $status $request_time "
    "$msec \"$http_user_agent\" $upstream_addr";

static void setup(void)
{
    sl_nginx_error err;
    if (formats[0])
        return;
    if (sl_nginx_format_new("combined", &formats[0], &err) != 0 ||
        sl_nginx_format_new("main", &formats[1], &err) != 0 ||
        sl_nginx_format_new(custom_spec, &formats[2], &err) != 0) {
        fprintf(stderr, "fuzz_nginx_line: a built-in format failed: %s\n", err.message);
        abort();
    }
}

static bool inside(sl_view v, const char *base, size_t n)
{
    return v.ptr >= base && v.ptr + v.len <= base + n;
}

static void check_line(const sl_nginx_format *f, const char *line, size_t len)
{
    static sl_nginx_line l;
    sl_nginx_error err;
    char *scratch = malloc(len ? len : 1);
    memset(&err, 0, sizeof err);
    int rc = sl_nginx_parse(f, line, len, &l, scratch, len, &err);
    CHECK(rc == 0 || rc == SL_ERR_PARSE, "rc %d (%s)", rc, err.message);
    if (rc != 0) {
        CHECK(err.message[0] != '\0', "empty message");
        CHECK(err.offset <= len, "offset %zu past the line (%zu)", err.offset, len);
        CHECK(strncmp(err.message, "at byte ", 8) == 0, "message: %s", err.message);
        free(scratch);
        return;
    }
    CHECK(l.nfields == sl_nginx_format_nfields(f), "%zu fields", l.nfields);
    const char *prev_end = line;
    for (size_t i = 0; i < l.nfields; i++) {
        const sl_nginx_field *fld = &l.fields[i];
        CHECK(inside(fld->raw, line, len), "field %zu raw outside the line", i);
        CHECK(fld->raw.ptr >= prev_end, "field %zu overlaps the previous one", i);
        prev_end = fld->raw.ptr + fld->raw.len;
        CHECK(inside(fld->value, line, len) || inside(fld->value, scratch, len),
              "field %zu value outside line and scratch", i);
        if (fld->absent) {
            CHECK(fld->raw.len == 1 && fld->raw.ptr[0] == '-', "absent but not '-'");
            CHECK(fld->value.len == 0, "absent with a value");
        } else if (!memchr(fld->raw.ptr, '\\', fld->raw.len)) {
            CHECK(sl_view_eq(fld->raw, fld->value), "field %zu: no escape but value != raw", i);
        } else {
            CHECK(fld->value.len < fld->raw.len, "field %zu: decoding did not shrink", i);
        }
    }
    CHECK(sl_nginx_line_get(&l, "") == NULL, "empty name found");
    const sl_nginx_field *req = sl_nginx_line_get(&l, "request");
    sl_view parts[3] = { l.method, l.path, l.protocol };
    for (int k = 0; k < 3; k++) {
        if (!parts[k].ptr)
            continue;
        CHECK(req && inside(parts[k], req->value.ptr, req->value.len), "request part %d", k);
    }
    CHECK(l.method.ptr || (!l.path.ptr && !l.protocol.ptr), "path or protocol without method");

    sl_buf json = SL_BUF_INIT, again = SL_BUF_INIT;
    sl_nginx_line_to_json(&l, &json);
    sl_json_error jerr;
    size_t end = 0;
    CHECK(sl_json_validate(json.data, json.len, 0, &end, &jerr) == 0 && end == json.len,
          "invalid JSON at %zu (%s): %s", jerr.offset, jerr.message, json.data);

    rc = sl_nginx_parse(f, line, len, &l, scratch, len, &err);
    CHECK(rc == 0, "second parse failed: %s", err.message);
    sl_nginx_line_to_json(&l, &again);
    CHECK(json.len == again.len && memcmp(json.data, again.data, json.len) == 0,
          "second parse gave other JSON");
    sl_buf_free(&json);
    sl_buf_free(&again);
    free(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size == 0)
        return 0;
    unsigned pick = data[0] % 4;
    const uint8_t *rest = data + 1;
    size_t n = size - 1;

    if (pick < 3) {
        char *line = malloc(n ? n : 1);
        memcpy(line, rest, n);
        check_line(formats[pick], line, n);
        free(line);
        return 0;
    }

    const uint8_t *nl = memchr(rest, '\n', n);
    size_t spec_len = nl ? (size_t)(nl - rest) : n;
    char *spec = malloc(spec_len ? spec_len : 1);
    memcpy(spec, rest, spec_len);
    sl_nginx_format *f = NULL;
    sl_nginx_error err;
    memset(&err, 0, sizeof err);
    int rc = sl_nginx_format_compile(spec, spec_len, &f, &err);
    CHECK(rc == 0 || rc == SL_ERR_PARSE, "compile rc %d", rc);
    if (rc != 0) {
        CHECK(f == NULL && err.message[0] != '\0' && err.offset <= spec_len, "compile error state");
    } else {
        CHECK(sl_nginx_format_nfields(f) >= 1 && sl_nginx_format_nfields(f) <= SL_NGINX_MAX_FIELDS,
              "nfields");
        CHECK(strlen(sl_nginx_format_spec(f)) <= spec_len, "spec");
        if (nl) {
            size_t line_len = n - spec_len - 1;
            char *line = malloc(line_len ? line_len : 1);
            memcpy(line, nl + 1, line_len);
            check_line(f, line, line_len);
            free(line);
        }
        sl_nginx_format_free(f);
    }
    free(spec);
    return 0;
}
