/*
 * query.h - the tracking pixel's query string, decoded into event fields.
 *
 * Seed 001's tracker sends Matomo-style parameters on the pixel's URL:
 *
 *   GET /5?e_c=buttonClick&e_a=Clicked&e_n=\uace0\uba74&url=http://shop/p&_idn=0&res=1920x1080&memberId=123456
 *       | \_/ \____________/ \________________________/
 *       |  key  value         value with literal \uXXXX escapes
 *       scenario id (sl_query_scenario_id)
 *
 * Decoding, per key and per value, in this order:
 *
 *   1. '+' is a space and %XX is the byte XX (form-urlencoding); a '%' not
 *      followed by two hex digits ("%G1", "%4") is an error.
 *   2. The bytes must be UTF-8 (no overlongs, no encoded surrogates).
 *   3. Literal \uXXXX escapes (JSON's, as in the seed's e_n example, and also
 *      when they arrive percent-encoded as %5CuXXXX) become the character;
 *      \uD83D\uDE00 surrogate pairs become one character (U+1F600). A \u
 *      without four hex digits, or a lone or mismatched surrogate, is an
 *      error. A backslash not followed by 'u' is an ordinary character.
 *
 * Every error names the parameter and the byte offset in the raw query:
 * "parameter 'e_n' at byte 23: broken %-escape '%G1' (...)".
 *
 * The rules the pixel answers to:
 *
 *   empty value   "a=" and a bare "a" both give a = "" (has_equals tells
 *                 them apart); empty segments ("a=1&&b=2", a trailing '&')
 *                 and parameters with an empty name ("=x") are skipped.
 *   repeated key  the last one wins: "e_c=a&e_c=b" is e_c = "b". That is
 *                 what Matomo itself does (PHP's $_GET keeps the last value
 *                 of a plain name; Ruby's Rack, under Fluentd's language,
 *                 does the same), so scenario filters see the value the
 *                 tracker's own server would have seen, and a field stays
 *                 a scalar whose type never depends on how often a client
 *                 repeated it (collecting into an array would turn
 *                 `memberId == "1"` into a type error for some events
 *                 only). Names with brackets ("a[]") are ordinary names.
 *   numbers       stay strings ("memberId":"123456", "_idn":"0"): the query
 *                 string has no types, a value such as "007" or "1e3" would
 *                 change if read as a number, and scenario filters compare
 *                 numerically when both sides read as numbers anyway.
 *
 * Nothing here allocates: a name or value with nothing to decode is a view
 * into the query, the others are decoded into a caller's scratch buffer
 * (one of the query's length always suffices).
 */
#ifndef SL_QUERY_H
#define SL_QUERY_H

#include "core/buf.h"
#include "core/common.h"

/* Most parameters in one query string; more is SL_ERR_TOOBIG. */
#define SL_QUERY_MAX_PARAMS 128

typedef struct sl_query_param {
    sl_view key;        /* decoded UTF-8, never empty */
    sl_view value;      /* decoded UTF-8; empty for "a=" and for a bare "a" */
    size_t offset;      /* where the parameter starts in the raw query */
    bool has_equals;    /* false for a bare "a" */
    bool shadowed;      /* a later parameter has the same key: this one loses */
    bool json_escape;   /* key or value has a byte JSON escapes ('"', '\\', < 0x20) */
} sl_query_param;

typedef struct sl_query {
    size_t count;
    sl_query_param params[SL_QUERY_MAX_PARAMS];
} sl_query;

typedef struct sl_query_error {
    size_t offset;      /* byte offset in the raw query (or path) */
    char message[192];
} sl_query_error;

/*
 * Decode a raw query string (without the '?'; a leading '?' is skipped).
 * Decoded bytes go to scratch (scratch_cap >= len always suffices). Returns
 * 0 with *out filled, SL_ERR_PARSE for an undecodable query or
 * SL_ERR_TOOBIG (more than SL_QUERY_MAX_PARAMS parameters, or a scratch
 * too small), with *err filled when err is not NULL. *out's views live as
 * long as query and scratch.
 */
int sl_query_parse(const char *query, size_t len, sl_query *out, char *scratch,
                   size_t scratch_cap, sl_query_error *err);

/* The value of key (last one wins); false when the key is not there. */
bool sl_query_get(const sl_query *q, const char *key, sl_view *value);

/*
 * Append the parameters as JSON object members, "key":"value", in the order
 * of their last occurrence, skipping shadowed ones. When *comma is true a
 * ',' precedes the first member; after any member *comma is true. Values
 * are strings, numbers included.
 */
void sl_query_append_json(const sl_query *q, sl_buf *out, bool *comma);

/*
 * Append text, which must be valid UTF-8 (what sl_query_parse gives), as a
 * JSON string with its quotes: the bytes sl_buf_append_json_string writes,
 * in one copy when nothing needs escaping.
 */
void sl_query_append_json_utf8(sl_buf *out, sl_view text);

/*
 * Split a request target "/5?a=b#frag" into path "/5" and query "a=b"
 * (views into target; query is empty, with a NULL ptr, when there is no '?';
 * a '#' fragment is dropped).
 */
void sl_query_split_target(sl_view target, sl_view *path, sl_view *query);

/*
 * The pixel's path "/{scenario_id}": '/' then decimal digits, a positive
 * integer up to INT64_MAX. Anything else ("/", "/abc", "/5/x", "/0",
 * "/99999999999999999999") is SL_ERR_PARSE with *err naming why.
 */
int sl_query_scenario_id(sl_view path, int64_t *id, sl_query_error *err);

#endif
