/*
 * json.h - the in-place JSON scanner of the hot path.
 *
 * sluice's events are JSON objects. Instead of building a tree, the scanner
 * validates a value once and then walks it in place: iterators hand out
 * views (sl_view) of keys and values inside the original bytes, and only a
 * caller that needs a decoded string or number pays for decoding it.
 * Nothing here allocates except sl_json_string_decode into a caller's buffer.
 *
 * Validity follows RFC 8259 exactly, checked against jansson by a
 * differential test and a fuzz target (tests/unit/test_json.c,
 * fuzz/fuzz_json.c): strings must be valid UTF-8 (no overlongs, no
 * surrogates encoded in UTF-8), escapes must be complete (a \u high
 * surrogate must be followed by a low one), numbers follow the grammar (no
 * leading zeros, no NaN/Infinity), and nesting deeper than max_depth is an
 * error rather than a stack overflow. Where jansson refuses valid JSON
 * (\u0000 in a string, integers beyond int64), sluice accepts it and the
 * difference is documented in the test.
 *
 * The access functions below assume their input was validated: they do
 * not re-check and never read past the view.
 */
#ifndef SL_JSON_H
#define SL_JSON_H

#include "core/buf.h"
#include "core/common.h"

typedef enum {
    SL_JSON_INVALID = 0,
    SL_JSON_NULL,
    SL_JSON_FALSE,
    SL_JSON_TRUE,
    SL_JSON_NUMBER,
    SL_JSON_STRING,
    SL_JSON_ARRAY,
    SL_JSON_OBJECT,
} sl_json_type;

typedef struct sl_json_error {
    size_t offset;      /* byte offset of the error in the scanned text */
    char message[96];   /* e.g. "expected ':' after object key" */
} sl_json_error;

#define SL_JSON_DEFAULT_MAX_DEPTH 64

/*
 * Validate one JSON value starting at text (leading whitespace skipped).
 * On success returns 0 and sets *end to the offset just past the value
 * (trailing whitespace not consumed). On failure returns SL_ERR_PARSE and
 * fills *err (may be NULL).
 * max_depth <= 0 means SL_JSON_DEFAULT_MAX_DEPTH; it is capped at 4096.
 */
int sl_json_validate(const char *text, size_t len, int max_depth, size_t *end,
                     sl_json_error *err);

/* Skip JSON whitespace from offset; returns the new offset. */
size_t sl_json_skip_ws(const char *text, size_t len, size_t offset);

/* The type of a validated value, from its first byte. */
sl_json_type sl_json_type_of(sl_view value);
const char *sl_json_type_name(sl_json_type t); /* "string", "number", ... */

/* Iteration over a validated object or array. */
typedef struct sl_json_iter {
    const char *p;
    const char *end;
} sl_json_iter;

void sl_json_iter_init(sl_json_iter *it, sl_view container); /* object or array */
/* Next member: key is the raw key between the quotes (escapes undecoded). */
bool sl_json_object_next(sl_json_iter *it, sl_view *key, sl_view *value);
bool sl_json_array_next(sl_json_iter *it, sl_view *value);

/* Compare a raw key (as sl_json_object_next gives it) with a plain name. */
bool sl_json_key_eq(sl_view raw_key, const char *name, size_t name_len);

/* Top-level member lookup; with duplicate keys the last one wins (as jansson). */
bool sl_json_get(sl_view object, const char *key, sl_view *value);
/* Dotted path lookup through nested objects: "metadata.status_code". */
bool sl_json_get_path(sl_view object, const char *path, sl_view *value);

/* Append the decoded UTF-8 of a string value (quotes included in value). */
int sl_json_string_decode(sl_view value, sl_buf *out);
/* The bytes between the quotes, when the string has no escapes. */
bool sl_json_string_plain(sl_view value, sl_view *out);

/* Numbers. sl_json_int64 fails (SL_ERR_RANGE) on fractions, exponents or overflow. */
int sl_json_double(sl_view value, double *out);
int sl_json_int64(sl_view value, int64_t *out);

#endif
