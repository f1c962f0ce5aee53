/*
 * members.c - member records from CSV or JSON uploads (see members.h).
 */
#include "catalogue/members.h"
#include "core/alloc.h"
#include "core/json.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct member_vec {
    sl_catalogue_member *v;
    size_t n, cap;
} member_vec;

static sl_catalogue_member *vec_push(member_vec *mv)
{
    if (mv->n == mv->cap) {
        mv->cap = mv->cap ? mv->cap * 2 : 256;
        mv->v = sl_realloc(mv->v, mv->cap * sizeof *mv->v);
    }
    sl_catalogue_member *m = &mv->v[mv->n++];
    memset(m, 0, sizeof *m);
    return m;
}

/* An integer in text: optional sign, digits, surrounding blanks allowed. */
static bool parse_int(const char *s, size_t n, int64_t *out)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0 || n > 20)
        return false;
    char tmp[24];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno || *end || end == tmp)
        return false;
    *out = v;
    return true;
}

/* Does text read as a JSON number (so extra can keep it as one)? */
static bool json_number(const char *s, size_t n)
{
    size_t end = 0;
    return n > 0 && n < 64 && (s[0] == '-' || isdigit((unsigned char)s[0])) &&
           sl_json_validate(s, n, 1, &end, NULL) == 0 && end == n &&
           sl_json_type_of((sl_view){ s, n }) == SL_JSON_NUMBER;
}

static bool has_nul(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

/* ---- CSV ------------------------------------------------------------------ */

typedef struct csv_reader {
    const char *p, *end;
    long line;            /* of the record being read, from 1 */
    sl_buf field;         /* current field, decoded */
} csv_reader;

/*
 * Read one record into fields (views into *store, which is reset). Returns
 * 1 for a record, 0 at the end, SL_ERR_PARSE on an unterminated quote.
 */
static int csv_record(csv_reader *r, sl_buf *store, size_t **offsets, size_t *nfields,
                      size_t *cap)
{
    sl_buf_reset(store);
    *nfields = 0;
    if (r->p >= r->end)
        return 0;
    r->line++;
    for (;;) {
        /* One field. */
        size_t start = store->len;
        if (r->p < r->end && *r->p == '"') {
            long opened_at = r->line;
            r->p++;
            for (;;) {
                if (r->p >= r->end) {
                    r->line = opened_at;
                    return SL_ERR_PARSE;
                }
                if (*r->p == '"') {
                    if (r->p + 1 < r->end && r->p[1] == '"') {
                        sl_buf_append_char(store, '"');
                        r->p += 2;
                        continue;
                    }
                    r->p++;
                    break;
                }
                if (*r->p == '\n')
                    r->line++;
                sl_buf_append_char(store, *r->p++);
            }
            /* Text after the closing quote up to the separator is kept
               (lenient, as most spreadsheet exports need). */
            while (r->p < r->end && *r->p != ',' && *r->p != '\n' && *r->p != '\r')
                sl_buf_append_char(store, *r->p++);
        } else {
            const char *a = r->p;
            while (r->p < r->end && *r->p != ',' && *r->p != '\n' && *r->p != '\r')
                r->p++;
            sl_buf_append(store, a, (size_t)(r->p - a));
        }
        if (*nfields + 2 > *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *offsets = sl_realloc(*offsets, *cap * sizeof **offsets);
        }
        (*offsets)[(*nfields)++] = start;
        sl_buf_append_char(store, '\0'); /* fields are NUL-separated in store */
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == '\r')
            r->p++;
        if (r->p < r->end && *r->p == '\n')
            r->p++;
        return 1;
    }
}

static bool blank_record(const sl_buf *store, size_t nfields)
{
    return nfields == 1 && store->len == 1; /* one empty field */
}

static int parse_csv(sl_view body, member_vec *mv, sl_buf *err, long *line)
{
    csv_reader r = { body.ptr, body.ptr + body.len, 0, SL_BUF_INIT };
    if (body.len >= 3 && !memcmp(body.ptr, "\xEF\xBB\xBF", 3))
        r.p += 3;
    sl_buf store = SL_BUF_INIT;
    size_t *off = NULL, nf = 0, cap = 0;
    char **header = NULL;
    size_t ncols = 0;
    int id_col = -1, age_col = -1, gender_col = -1;
    int rc = 0;
    sl_buf extra = SL_BUF_INIT;

    /* The header: the first non-blank record. */
    for (;;) {
        int got = csv_record(&r, &store, &off, &nf, &cap);
        if (got < 0) {
            sl_buf_printf(err, "line %ld: unterminated quoted field", r.line);
            rc = SL_ERR_PARSE;
            goto out;
        }
        if (got == 0) {
            sl_buf_printf(err, "no header line (member_id,age,gender,...)");
            rc = SL_ERR_PARSE;
            goto out;
        }
        if (!blank_record(&store, nf))
            break;
    }
    header = sl_calloc(nf, sizeof *header);
    ncols = nf;
    for (size_t i = 0; i < nf; i++) {
        const char *h = store.data + off[i];
        size_t n = strlen(h);
        while (n && isspace((unsigned char)h[n - 1]))
            n--;
        while (n && isspace((unsigned char)*h))
            h++, n--;
        header[i] = sl_strndup(h, n);
        if (!strcasecmp(header[i], "member_id") || !strcmp(header[i], "memberId"))
            id_col = (int)i;
        else if (!strcasecmp(header[i], "age"))
            age_col = (int)i;
        else if (!strcasecmp(header[i], "gender"))
            gender_col = (int)i;
        else if (n == 0) {
            sl_buf_printf(err, "line %ld: column %zu of the header has no name", r.line, i + 1);
            rc = SL_ERR_PARSE;
            goto out;
        }
    }
    if (id_col < 0) {
        sl_buf_printf(err, "line %ld: the header needs a member_id column (member_id,age,gender,...)",
                      r.line);
        rc = SL_ERR_PARSE;
        goto out;
    }

    for (;;) {
        int got = csv_record(&r, &store, &off, &nf, &cap);
        if (got < 0) {
            sl_buf_printf(err, "line %ld: unterminated quoted field", r.line);
            rc = SL_ERR_PARSE;
            goto out;
        }
        if (got == 0)
            break;
        if (blank_record(&store, nf))
            continue;
        if (nf != ncols) {
            sl_buf_printf(err, "line %ld: %zu fields, but the header has %zu", r.line, nf, ncols);
            rc = SL_ERR_PARSE;
            goto out;
        }
        const char *id = store.data + off[id_col];
        size_t idn = strlen(id);
        while (idn && isspace((unsigned char)id[idn - 1]))
            idn--;
        while (idn && isspace((unsigned char)*id))
            id++, idn--;
        if (idn == 0) {
            sl_buf_printf(err, "line %ld: member_id is empty", r.line);
            rc = SL_ERR_PARSE;
            goto out;
        }
        sl_catalogue_member *m = vec_push(mv);
        m->member_id = sl_strndup(id, idn);
        if (age_col >= 0) {
            const char *a = store.data + off[age_col];
            size_t an = strlen(a);
            bool blank = true;
            for (size_t k = 0; k < an; k++)
                blank &= isspace((unsigned char)a[k]) != 0;
            if (!blank && !parse_int(a, an, &m->age)) {
                sl_buf_printf(err, "line %ld: age must be an integer, not '%.40s'", r.line, a);
                rc = SL_ERR_PARSE;
                goto out;
            }
            m->has_age = !blank;
        }
        if (gender_col >= 0) {
            const char *g = store.data + off[gender_col];
            if (*g)
                m->gender = sl_strdup(g);
        }
        sl_buf_reset(&extra);
        sl_buf_append_char(&extra, '{');
        for (size_t i = 0; i < ncols; i++) {
            if ((int)i == id_col || (int)i == age_col || (int)i == gender_col)
                continue;
            const char *v = store.data + off[i];
            size_t vn = strlen(v);
            if (vn == 0)
                continue;
            if (extra.len > 1)
                sl_buf_append_char(&extra, ',');
            sl_buf_append_json_string(&extra, header[i], strlen(header[i]));
            sl_buf_append_char(&extra, ':');
            if (json_number(v, vn))
                sl_buf_append(&extra, v, vn);
            else
                sl_buf_append_json_string(&extra, v, vn);
        }
        sl_buf_append_char(&extra, '}');
        m->extra = sl_strndup(extra.data, extra.len);
    }
out:
    if (rc < 0 && line)
        *line = r.line;
    for (size_t i = 0; header && i < ncols; i++)
        free(header[i]);
    free(header);
    free(off);
    sl_buf_free(&store);
    sl_buf_free(&extra);
    sl_buf_free(&r.field);
    return rc;
}

/* ---- JSON ----------------------------------------------------------------- */

/* A JSON string's text, or NULL when it holds a NUL (\u0000). */
static char *decoded(sl_view v)
{
    sl_buf b = SL_BUF_INIT;
    sl_buf_reserve(&b, v.len);
    sl_json_string_decode(v, &b);
    if (has_nul(b.data, b.len)) {
        sl_buf_free(&b);
        return NULL;
    }
    return sl_buf_steal(&b);
}

static int parse_member_object(sl_view obj, size_t idx, member_vec *mv, sl_buf *err)
{
    if (sl_json_type_of(obj) != SL_JSON_OBJECT) {
        sl_buf_printf(err, "members[%zu]: must be an object", idx);
        return SL_ERR_PARSE;
    }
    sl_catalogue_member *m = vec_push(mv);
    sl_buf extra = SL_BUF_INIT;
    sl_buf_append_char(&extra, '{');
    sl_json_iter it;
    sl_view k, v;
    sl_json_iter_init(&it, obj);
    int rc = 0;
    while (rc == 0 && sl_json_object_next(&it, &k, &v)) {
        sl_json_type t = sl_json_type_of(v);
        if (sl_json_key_eq(k, "member_id", 9) || sl_json_key_eq(k, "memberId", 8)) {
            free(m->member_id);
            m->member_id = NULL;
            int64_t i;
            if (t == SL_JSON_STRING) {
                m->member_id = decoded(v);
                if (m->member_id && !*m->member_id) {
                    free(m->member_id);
                    m->member_id = NULL;
                }
            } else if (t == SL_JSON_NUMBER && sl_json_int64(v, &i) == 0)
                m->member_id = sl_strndup(v.ptr, v.len);
            if (!m->member_id) {
                sl_buf_printf(err, "members[%zu].member_id: must be a non-empty string or an integer",
                              idx);
                rc = SL_ERR_PARSE;
            }
        } else if (sl_json_key_eq(k, "age", 3)) {
            m->has_age = false;
            if (t == SL_JSON_NULL)
                continue;
            if (t == SL_JSON_NUMBER && sl_json_int64(v, &m->age) == 0)
                m->has_age = true;
            else if (t == SL_JSON_STRING) {
                char *s = decoded(v);
                m->has_age = s && parse_int(s, strlen(s), &m->age);
                free(s);
            }
            if (!m->has_age) {
                sl_buf_printf(err, "members[%zu].age: must be an integer or null", idx);
                rc = SL_ERR_PARSE;
            }
        } else if (sl_json_key_eq(k, "gender", 6)) {
            free(m->gender);
            m->gender = NULL;
            if (t == SL_JSON_STRING && !(m->gender = decoded(v))) {
                sl_buf_printf(err, "members[%zu].gender: contains a NUL character", idx);
                rc = SL_ERR_PARSE;
            } else if (t != SL_JSON_STRING && t != SL_JSON_NULL) {
                sl_buf_printf(err, "members[%zu].gender: must be a string or null", idx);
                rc = SL_ERR_PARSE;
            }
        } else if (sl_json_key_eq(k, "updated_at", 10)) {
            continue; /* ours, from a GET being sent back */
        } else {
            if (extra.len > 1)
                sl_buf_append_char(&extra, ',');
            sl_buf_append(&extra, k.ptr - 1, k.len + 2);
            sl_buf_append_char(&extra, ':');
            sl_buf_append(&extra, v.ptr, v.len);
        }
    }
    if (rc == 0 && !m->member_id) {
        sl_buf_printf(err, "members[%zu].member_id: missing", idx);
        rc = SL_ERR_PARSE;
    }
    sl_buf_append_char(&extra, '}');
    m->extra = sl_buf_steal(&extra);
    return rc;
}

static int parse_json(sl_view body, member_vec *mv, sl_buf *err)
{
    size_t end = 0;
    sl_json_error je = { 0 };
    if (sl_json_validate(body.ptr, body.len, 0, &end, &je) < 0) {
        sl_buf_printf(err, "invalid JSON at offset %zu: %s", je.offset, je.message);
        return SL_ERR_PARSE;
    }
    if (sl_json_skip_ws(body.ptr, body.len, end) != body.len) {
        sl_buf_printf(err, "invalid JSON at offset %zu: text after the value",
                      sl_json_skip_ws(body.ptr, body.len, end));
        return SL_ERR_PARSE;
    }
    size_t s0 = sl_json_skip_ws(body.ptr, body.len, 0);
    sl_view root = { body.ptr + s0, end - s0 };
    if (sl_json_type_of(root) == SL_JSON_OBJECT)
        return parse_member_object(root, 0, mv, err);
    if (sl_json_type_of(root) != SL_JSON_ARRAY) {
        sl_buf_printf(err, "members must be a JSON array of objects (or CSV with a header)");
        return SL_ERR_PARSE;
    }
    sl_json_iter it;
    sl_view v;
    sl_json_iter_init(&it, root);
    for (size_t i = 0; sl_json_array_next(&it, &v); i++) {
        int rc = parse_member_object(v, i, mv, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int sl_members_parse(sl_view body, const char *content_type, sl_catalogue_member **out,
                     size_t *n, sl_buf *err, long *line)
{
    *out = NULL;
    *n = 0;
    if (line)
        *line = 0;
    member_vec mv = { 0 };
    size_t s0 = body.ptr ? sl_json_skip_ws(body.ptr, body.len, 0) : 0;
    bool json = (content_type && strstr(content_type, "json")) ||
                (s0 < body.len && (body.ptr[s0] == '[' || body.ptr[s0] == '{'));
    int rc;
    if (!body.ptr || s0 == body.len) {
        sl_buf_printf(err, "empty body: send CSV with a header line, or a JSON array of members");
        rc = SL_ERR_PARSE;
    } else if (has_nul(body.ptr, body.len)) {
        sl_buf_printf(err, "the body contains a NUL byte");
        rc = SL_ERR_PARSE;
    } else
        rc = json ? parse_json(body, &mv, err) : parse_csv(body, &mv, err, line);
    if (rc < 0) {
        sl_catalogue_members_free(mv.v, mv.n);
        return SL_ERR_PARSE;
    }
    *out = mv.v;
    *n = mv.n;
    return 0;
}
