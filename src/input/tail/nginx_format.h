/*
 * nginx_format.h - NGINX access-log lines, read with the log_format that
 * wrote them.
 *
 * A format is written in NGINX's own log_format syntax and compiled once
 * into a matcher: literal text between variables must match exactly, and a
 * variable's value ends where the following literal text begins (or at the
 * end of the line when it is the last item). `$name` and `${name}` are both
 * accepted; any variable name is allowed. Two formats are built in:
 *
 *   combined  $remote_addr - $remote_user [$time_local] "$request" $status
 *             $body_bytes_sent "$http_referer" "$http_user_agent"
 *   main      combined + ' "$http_x_forwarded_for"' (nginx.conf's default)
 *
 * A parsed line is an array of field views into the line: nothing is
 * allocated, values that carried escapes are decoded into a caller's scratch
 * buffer (a scratch of the line's length always suffices), and the fields
 * live as long as the line, the scratch and the format do.
 *
 *   127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /5?e_c=a HTTP/1.1" 200 2326 "-" "curl/8.0"
 *   |           |      |                            |   |        |         |   |     |   |
 *   |           |      |                            |   |        |         |   |     |   http_user_agent
 *   |           |      |                            |   |        |         |   |     http_referer: '-', absent
 *   |           |      |                            |   |        |         |   body_bytes_sent (number)
 *   |           |      |                            |   |        |         status (number)
 *   |           |      |                            |   |        protocol -.
 *   |           |      |                            |   path               +- split from $request
 *   |           |      |                            method                -'
 *   |           |      time_local (also the event time "ts")
 *   |           remote_user
 *   remote_addr
 *
 * The matcher for combined is the literal texts between the variables:
 *   (start) $ " - " $ " [" $ "] \"" $ "\" " $ " " $ " \"" $ "\" \"" $ "\"" (end)
 *
 * Values, as NGINX writes them:
 *
 *   - `\xHH` escapes. NGINX writes `"`, `\`, bytes below 0x20 and bytes from
 *     0x7F up as `\xHH` in variable values; they are decoded to the real
 *     bytes. A backslash not starting `\xHH` is an error.
 *   - `-` is NGINX's "no value": the field is marked absent and left out of
 *     the JSON event (so `$remote_user` `-` gives no remote_user at all, and
 *     a scenario filter on it is false rather than comparing with "-").
 *   - Typed variables are checked and converted: $time_local
 *     (10/Oct/2000:13:55:36 -0700), $time_iso8601 and $msec are times in
 *     microseconds since the epoch, and the first of them in the format is
 *     the event time `ts`; $status, $body_bytes_sent, $bytes_sent,
 *     $request_length, $connection, $connection_requests, $pid,
 *     $remote_port and $server_port are integers; $request_time and
 *     $connection_time are decimals (kept in millionths: microseconds);
 *     $request is split into method, path (with its query string) and
 *     protocol.
 *
 * Errors name the byte offset and what was expected there:
 * `at byte 23: expected ' [' after $remote_user`. A trailing "\n" or
 * "\r\n" is ignored; any other byte, NUL included, is data.
 */
#ifndef SL_NGINX_FORMAT_H
#define SL_NGINX_FORMAT_H

#include "core/buf.h"
#include "core/common.h"

/* Most variables one format may hold. */
#define SL_NGINX_MAX_FIELDS 48

typedef enum sl_nginx_type {
    SL_NGINX_STRING = 0,   /* text, \xHH decoded */
    SL_NGINX_INT,          /* non-negative integer: num */
    SL_NGINX_DECIMAL,      /* non-negative decimal: num = value * 1e6 (truncated) */
    SL_NGINX_TIME_LOCAL,   /* 10/Oct/2000:13:55:36 -0700: num = µs since epoch */
    SL_NGINX_TIME_ISO8601, /* 2000-10-10T13:55:36-07:00: num = µs since epoch */
    SL_NGINX_MSEC,         /* 971211336.123: num = µs since epoch */
    SL_NGINX_REQUEST,      /* "GET /path?q HTTP/1.1": see method/path/protocol */
} sl_nginx_type;

typedef struct sl_nginx_field {
    sl_view name;          /* the variable name without '$' (into the format) */
    sl_view raw;           /* the bytes in the line, escapes as written */
    sl_view value;         /* decoded: raw itself, or bytes in the scratch */
    sl_nginx_type type;
    bool absent;           /* the line had '-'; value is empty */
    int64_t num;           /* INT, DECIMAL and times; 0 when absent */
} sl_nginx_field;

typedef struct sl_nginx_line {
    size_t nfields;
    sl_nginx_field fields[SL_NGINX_MAX_FIELDS];
    /* Parts of $request (decoded); ptr is NULL when the part is absent. */
    sl_view method, path, protocol;
    /* The event time from the first time variable that had a value. */
    bool has_ts;
    int64_t ts_us;
} sl_nginx_line;

typedef struct sl_nginx_error {
    size_t offset;         /* byte offset in the line (or the format) */
    char message[160];     /* "at byte 23: expected ' [' after $remote_user" */
} sl_nginx_error;

typedef struct sl_nginx_format sl_nginx_format;

/*
 * Compile a format written in log_format syntax. On success *out is a new
 * format the caller frees with sl_nginx_format_free. Errors (SL_ERR_PARSE
 * with *err filled): an empty format, an invalid or empty variable name,
 * two variables with no literal text between them (where would the first
 * end?), the same variable twice, more than SL_NGINX_MAX_FIELDS variables.
 */
int sl_nginx_format_compile(const char *spec, size_t len, sl_nginx_format **out,
                            sl_nginx_error *err);

/*
 * A built-in format by name ("combined", "main"), or else spec compiled as
 * a log_format string: what a config's `format:` key holds. The caller
 * frees *out with sl_nginx_format_free.
 */
int sl_nginx_format_new(const char *name_or_spec, sl_nginx_format **out, sl_nginx_error *err);

void sl_nginx_format_free(sl_nginx_format *f); /* NULL-safe */

/* The format as written (log_format syntax) and its number of variables. */
const char *sl_nginx_format_spec(const sl_nginx_format *f);
size_t sl_nginx_format_nfields(const sl_nginx_format *f);
/* Index of a variable (name without '$') in parsed lines' fields, or -1. */
int sl_nginx_format_index(const sl_nginx_format *f, const char *name);

/*
 * Parse one line. Never allocates and never reads outside [line, line+len).
 * Decoded values are written to scratch (scratch_cap >= len always
 * suffices; a smaller one may fail with SL_ERR_TOOBIG when the line has
 * escapes). Returns 0 with *out filled, or SL_ERR_PARSE with *err filled
 * (err may be NULL). *out and scratch are reused by the next call.
 */
int sl_nginx_parse(const sl_nginx_format *f, const char *line, size_t len,
                   sl_nginx_line *out, char *scratch, size_t scratch_cap,
                   sl_nginx_error *err);

/* A field by variable name (without '$'), or NULL if the format has none. */
const sl_nginx_field *sl_nginx_line_get(const sl_nginx_line *l, const char *name);

/*
 * Append the line's fields as JSON object members ("name":value, ...) to
 * out, without braces, so a caller can add its own members (the tail input
 * adds the pixel's). When *comma is true a ',' precedes the first member;
 * after any member *comma is true. Member order is the format's:
 *
 *   strings    "remote_addr":"127.0.0.1"   (absent '-' fields are left out)
 *   numbers    "status":200, "request_time":0.005, "msec":971211336.123
 *   times      "time_local":"10/Oct/2000:13:55:36 -0700" and, once, for the
 *              first time with a value, "ts":"2000-10-10T20:55:36.000000Z"
 *   $request   "method", "path", "protocol" (each when present); the raw
 *              "request" only when it has no method (an empty or odd line)
 *
 * Decoded bytes that are not valid UTF-8 (NGINX escapes every byte >= 0x7F,
 * so a non-UTF-8 User-Agent comes back as raw bytes) are written as U+FFFD,
 * so the result is always valid JSON.
 */
void sl_nginx_line_append_json(const sl_nginx_line *l, sl_buf *out, bool *comma);

/* The whole event: '{' members '}'. */
void sl_nginx_line_to_json(const sl_nginx_line *l, sl_buf *out);

#endif
