/*
 * json_oracle.h - jansson as the independent judge of the JSON scanner.
 *
 * Shared by tests/unit/test_json.c and fuzz/fuzz_json.c (header-only, all
 * static). json_oracle_compare() runs one document through both parsers and
 * says whether they agree: the same verdict on validity and, for valid
 * documents, the same value. sluice's side is turned into a jansson tree by
 * a walker that uses only the sl_json_* access functions, and compared with
 * json_equal against what jansson parsed on its own.
 *
 * Both sides judge a whole document: one value with optional whitespace
 * around it (sl_json_validate, then sl_json_skip_ws to the end; jansson
 * without JSON_DISABLE_EOF_CHECK). Comparing "first value only" would be
 * meaningless, because jansson's lexer swallows a whole run of letters or
 * digits as one token ("truex", "01" are single bad tokens to it, while
 * sluice stops after "true" or "0" and reports where the value ended).
 *
 * Known divergences, each recognised by what caused it and checked, never
 * by loosening the comparison:
 *
 *   JO_DIV_BIG_INTEGER   an integer beyond int64 is a valid JSON number;
 *                        jansson fails with "too big integer".
 *   JO_DIV_REAL_OVERFLOW a number beyond DBL_MAX (1e400) is a valid JSON
 *                        number; jansson fails with "real number overflow".
 *                        sl_json_double reports it as SL_ERR_RANGE.
 *   JO_DIV_NUL_KEY       "\u0000" inside an object key is valid JSON;
 *                        jansson refuses it even with JSON_ALLOW_NUL.
 *                        (NUL in string values is compared: JSON_ALLOW_NUL.)
 *   JO_DIV_DEPTH         jansson stops at JSON_PARSER_MAX_DEPTH (2048) and
 *                        counts the innermost scalar as a level; sluice
 *                        counts containers and is given 4096 here.
 *   JO_DIV_NUL_AFTER_TOKEN  a bug in jansson 2.14's lexer: a NUL byte right
 *                        after a number or a literal is pushed back into a
 *                        buffer that reads NUL as "empty", so it vanishes
 *                        and "[1\0]" parses as [1]. sluice rejects the NUL;
 *                        the check removes that one byte and requires full
 *                        agreement on the rest.
 */
#ifndef SL_JSON_ORACLE_H
#define SL_JSON_ORACLE_H

#include "core/buf.h"
#include "core/json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JO_MAX_DEPTH 4096 /* sluice's limit in the comparison (its maximum) */
#define JO_JANSSON_FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL)

enum {
    JO_DIV_BIG_INTEGER     = 1 << 0,
    JO_DIV_REAL_OVERFLOW   = 1 << 1,
    JO_DIV_NUL_KEY         = 1 << 2,
    JO_DIV_DEPTH           = 1 << 3,
    JO_DIV_NUL_AFTER_TOKEN = 1 << 4,
    JO_DIV_COUNT           = 5,
};

static const char *const jo_div_names[JO_DIV_COUNT] = {
    "big integer", "real overflow", "NUL in key", "depth", "NUL after token",
};

typedef struct jo_result {
    bool agree;          /* same verdict and value, or a checked divergence */
    bool sluice_valid;
    bool jansson_valid;
    unsigned divergence; /* JO_DIV_* taken */
    char why[512];       /* on disagreement: what differed */
} jo_result;

/* What the walker met on the way: the features behind the divergences. */
typedef struct jo_walk {
    unsigned found;   /* JO_DIV_BIG_INTEGER | JO_DIV_REAL_OVERFLOW | JO_DIV_NUL_KEY */
    int max_level;    /* jansson's depth: containers around a value + 1 */
    char why[256];    /* an access function misbehaved */
} jo_walk;

static bool jo_has_fraction_or_exponent(sl_view v)
{
    for (size_t i = 0; i < v.len; i++)
        if (v.ptr[i] == '.' || v.ptr[i] == 'e' || v.ptr[i] == 'E')
            return true;
    return false;
}

/*
 * sluice's view of a validated value as a jansson tree; NULL when a
 * divergence feature makes that impossible (w->found says which) or when
 * an access function misbehaved (w->why says how).
 */
static json_t *jo_to_jansson(sl_view v, int level, jo_walk *w)
{
    if (level > w->max_level)
        w->max_level = level;
    switch (sl_json_type_of(v)) {
    case SL_JSON_NULL:
        return json_null();
    case SL_JSON_TRUE:
        return json_true();
    case SL_JSON_FALSE:
        return json_false();
    case SL_JSON_NUMBER:
        if (jo_has_fraction_or_exponent(v)) {
            double d = 0;
            int rc = sl_json_double(v, &d);
            if (rc == SL_ERR_RANGE) {
                w->found |= JO_DIV_REAL_OVERFLOW;
                return NULL;
            }
            if (rc != 0) {
                snprintf(w->why, sizeof w->why, "sl_json_double failed (%d) on %.*s", rc,
                         (int)SL_MIN(v.len, 60), v.ptr);
                return NULL;
            }
            return json_real(d);
        } else {
            int64_t i = 0;
            int rc = sl_json_int64(v, &i);
            if (rc == SL_ERR_RANGE) {
                w->found |= JO_DIV_BIG_INTEGER;
                return NULL;
            }
            if (rc != 0) {
                snprintf(w->why, sizeof w->why, "sl_json_int64 failed (%d) on %.*s", rc,
                         (int)SL_MIN(v.len, 60), v.ptr);
                return NULL;
            }
            return json_integer(i);
        }
    case SL_JSON_STRING: {
        sl_buf b = SL_BUF_INIT;
        json_t *s = NULL;
        if (sl_json_string_decode(v, &b) != 0)
            snprintf(w->why, sizeof w->why, "sl_json_string_decode failed on %.*s",
                     (int)SL_MIN(v.len, 60), v.ptr);
        else if (!(s = json_stringn(b.data ? b.data : "", b.len)))
            snprintf(w->why, sizeof w->why, "decoded string is not valid UTF-8: %.*s",
                     (int)SL_MIN(v.len, 60), v.ptr);
        sl_view plain;
        if (s && sl_json_string_plain(v, &plain) &&
            (plain.len != b.len || memcmp(plain.ptr, b.data, b.len) != 0)) {
            snprintf(w->why, sizeof w->why, "sl_json_string_plain differs from decode");
            json_decref(s);
            s = NULL;
        }
        sl_buf_free(&b);
        return s;
    }
    case SL_JSON_ARRAY: {
        json_t *a = json_array();
        sl_json_iter it;
        sl_view e;
        sl_json_iter_init(&it, v);
        while (sl_json_array_next(&it, &e)) {
            json_t *x = jo_to_jansson(e, level + 1, w);
            if (!x) {
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, x);
        }
        return a;
    }
    case SL_JSON_OBJECT: {
        json_t *o = json_object();
        sl_json_iter it;
        sl_view k, e;
        sl_buf key = SL_BUF_INIT;
        sl_json_iter_init(&it, v);
        while (sl_json_object_next(&it, &k, &e)) {
            /* The raw key sits between its quotes in the validated text. */
            sl_buf_reset(&key);
            if (sl_json_string_decode((sl_view){ k.ptr - 1, k.len + 2 }, &key) != 0) {
                snprintf(w->why, sizeof w->why, "key does not decode: %.*s",
                         (int)SL_MIN(k.len, 60), k.ptr);
                goto fail;
            }
            if (!sl_json_key_eq(k, key.data, key.len)) {
                snprintf(w->why, sizeof w->why, "sl_json_key_eq(raw, decoded) is false: %.*s",
                         (int)SL_MIN(k.len, 60), k.ptr);
                goto fail;
            }
            if (memchr(key.data, '\0', key.len)) {
                w->found |= JO_DIV_NUL_KEY;
                goto fail;
            }
            json_t *x = jo_to_jansson(e, level + 1, w);
            if (!x)
                goto fail;
            json_object_setn_new(o, key.data, key.len, x);
        }
        sl_buf_free(&key);
        return o;
    fail:
        sl_buf_free(&key);
        json_decref(o);
        return NULL;
    }
    default:
        snprintf(w->why, sizeof w->why, "sl_json_type_of is INVALID on %.*s",
                 (int)SL_MIN(v.len, 60), v.ptr);
        return NULL;
    }
}

/*
 * Lookups against jansson's object: sl_json_get on every top-level key
 * (the last duplicate must win, as in jansson) and sl_json_get_path on
 * every "outer.inner" pair whose names contain no dot.
 */
static bool jo_check_lookups(sl_view doc, const json_t *j, char *why, size_t whylen)
{
    if (!json_is_object(j))
        return true;
    const char *k1;
    size_t k1len;
    json_t *v1;
    void *tmp;
    json_object_keylen_foreach_safe((json_t *)j, tmp, k1, k1len, v1) {
        sl_view got;
        jo_walk w = { 0 };
        if (strlen(k1) != k1len)
            continue;
        if (!sl_json_get(doc, k1, &got)) {
            snprintf(why, whylen, "sl_json_get(\"%.40s\") found nothing", k1);
            return false;
        }
        json_t *mine = jo_to_jansson(got, 1, &w);
        bool same = mine && json_equal(mine, v1);
        json_decref(mine);
        if (!same) {
            snprintf(why, whylen, "sl_json_get(\"%.40s\") gave another value", k1);
            return false;
        }
        if (!json_is_object(v1) || strchr(k1, '.'))
            continue;
        const char *k2;
        size_t k2len;
        json_t *v2;
        void *tmp2;
        json_object_keylen_foreach_safe(v1, tmp2, k2, k2len, v2) {
            if (strlen(k2) != k2len || strchr(k2, '.') || !*k1 || !*k2)
                continue;
            char path[512];
            if ((size_t)snprintf(path, sizeof path, "%s.%s", k1, k2) >= sizeof path)
                continue;
            jo_walk w2 = { 0 };
            if (!sl_json_get_path(doc, path, &got)) {
                snprintf(why, whylen, "sl_json_get_path(\"%.80s\") found nothing", path);
                return false;
            }
            mine = jo_to_jansson(got, 1, &w2);
            same = mine && json_equal(mine, v2);
            json_decref(mine);
            if (!same) {
                snprintf(why, whylen, "sl_json_get_path(\"%.80s\") gave another value", path);
                return false;
            }
        }
    }
    return true;
}

/* sluice's verdict on a whole document; *start and *err describe it. */
static bool jo_sluice_valid(const char *doc, size_t len, size_t *start, size_t *stop,
                            sl_json_error *err)
{
    size_t end = 0;
    *start = sl_json_skip_ws(doc, len, 0);
    if (sl_json_validate(doc, len, JO_MAX_DEPTH, &end, err) != 0)
        return false;
    *stop = end;
    if (sl_json_skip_ws(doc, len, end) != len) {
        err->offset = sl_json_skip_ws(doc, len, end);
        snprintf(err->message, sizeof err->message, "trailing bytes after the value");
        return false;
    }
    return true;
}

static void jo_compare_once(const char *doc, size_t len, jo_result *r);

static bool jo_ends_token(char c)
{
    /* The last byte of a number, or of true, false or null. */
    return (c >= '0' && c <= '9') || c == 'e' || c == 'l';
}

/*
 * jansson accepted, sluice did not: the only known cause is the NUL that
 * jansson's lexer loses after a number or literal. Remove such NULs, one
 * at a time and only where sluice stops at them, until sluice accepts;
 * then both parsers must agree on what remains, and jansson must give the
 * same value for it as for the original.
 */
static bool jo_explain_nul_after_token(const char *doc, size_t len, size_t off,
                                       const json_t *j, jo_result *r)
{
    char *copy = malloc(len ? len : 1);
    size_t n = len;
    bool ok = false;
    memcpy(copy, doc, len);
    for (;;) {
        if (off == 0 || off >= n || copy[off] != '\0' || !jo_ends_token(copy[off - 1]))
            goto out;
        memmove(copy + off, copy + off + 1, n - off - 1);
        n--;
        sl_json_error err = { 0 };
        size_t start, stop;
        if (jo_sluice_valid(copy, n, &start, &stop, &err))
            break;
        off = err.offset;
    }
    jo_result inner;
    jo_compare_once(copy, n, &inner);
    if (inner.agree && inner.sluice_valid && inner.jansson_valid) {
        json_t *j2 = json_loadb(copy, n, JO_JANSSON_FLAGS, NULL);
        ok = j2 && json_equal((json_t *)j, j2);
        json_decref(j2);
    }
    if (ok)
        r->divergence |= inner.divergence | JO_DIV_NUL_AFTER_TOKEN;
out:
    free(copy);
    return ok;
}

static void jo_compare_once(const char *doc, size_t len, jo_result *r)
{
    memset(r, 0, sizeof *r);
    sl_json_error err = { 0 };
    size_t start = 0, stop = 0;
    r->sluice_valid = jo_sluice_valid(doc, len, &start, &stop, &err);

    json_error_t jerr;
    json_t *j = json_loadb(doc, len, JO_JANSSON_FLAGS, &jerr);
    r->jansson_valid = j != NULL;

    if (!r->sluice_valid && !j) {
        r->agree = true;
        return;
    }
    if (!r->sluice_valid) {
        if (jo_explain_nul_after_token(doc, len, err.offset, j, r))
            r->agree = true;
        else
            snprintf(r->why, sizeof r->why,
                     "sluice rejects (\"%s\" at %zu), jansson accepts", err.message, err.offset);
        json_decref(j);
        return;
    }

    sl_view value = { doc + start, stop - start };
    jo_walk w = { 0 };
    json_t *mine = jo_to_jansson(value, 1, &w);
    if (w.why[0]) {
        snprintf(r->why, sizeof r->why, "walker: %s", w.why);
        json_decref(mine);
        json_decref(j);
        return;
    }
    if (!j) {
        /* Only a documented cause may make jansson refuse what sluice accepts. */
        enum json_error_code code = json_error_code(&jerr);
        unsigned div = 0;
        if (code == json_error_numeric_overflow && strstr(jerr.text, "integer"))
            div = JO_DIV_BIG_INTEGER;
        else if (code == json_error_numeric_overflow && strstr(jerr.text, "real"))
            div = JO_DIV_REAL_OVERFLOW;
        else if (code == json_error_null_byte_in_key)
            div = JO_DIV_NUL_KEY;
        else if (code == json_error_stack_overflow)
            div = JO_DIV_DEPTH;
        bool explained = div == JO_DIV_DEPTH ? w.max_level > JSON_PARSER_MAX_DEPTH
                                             : (w.found & div) != 0;
        if (explained) {
            r->agree = true;
            r->divergence = div;
        } else {
            snprintf(r->why, sizeof r->why, "jansson rejects (\"%s\" at %d), sluice accepts",
                     jerr.text, jerr.position);
        }
        json_decref(mine);
        return;
    }
    if (!mine) {
        /* jansson parsed it, so none of the divergence features can be there. */
        snprintf(r->why, sizeof r->why, "walker could not convert (features 0x%x)", w.found);
        json_decref(j);
        return;
    }
    if (!json_equal(mine, j)) {
        char *a = json_dumps(mine, JSON_ENCODE_ANY | JSON_COMPACT);
        char *b = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(r->why, sizeof r->why, "values differ: sluice %.200s, jansson %.200s",
                 a ? a : "?", b ? b : "?");
        free(a);
        free(b);
    } else if (jo_check_lookups(value, j, r->why, sizeof r->why)) {
        r->agree = true;
    }
    json_decref(mine);
    json_decref(j);
}

/* Compare sluice and jansson on one document (see the top of this file). */
static inline void json_oracle_compare(const char *doc, size_t len, jo_result *r)
{
    jo_compare_once(doc, len, r);
}

#endif
