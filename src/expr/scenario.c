/*
 * scenario.c - a seed-001 scenario's JSON to an expression and a
 * projection (see scenario.h).
 *
 * The filters are not evaluated by code of their own: they are written out
 * as text of the expression language and compiled by sl_expr_compile, so
 * a scenario means exactly what the same expression typed by hand means
 * (DESIGN.md, principle 6), and its canonical text can be shown back to the
 * user. Everything that could make that text fail to compile is checked
 * first, against the JSON, so that an error names the scenario's own
 * parts ("filters[1].operator: ...") rather than a position in text the
 * user never wrote.
 *
 * How a filter is written (docs/expressions.md has the table):
 *
 *   left        a field path; dots separate nested keys; every key is
 *               quoted as the language needs (`user-agent`)
 *   operator    == != > >= < <= in, not in, contains, startswith, endswith
 *   right       a JSON string becomes a string literal, except that with
 *               > >= < <= a string that reads as a number becomes that
 *               number ("20" -> 20), so `age > "20"` never compares
 *               "unknown" > "20" as text; numbers, true, false and null
 *               stay what they are; for in / not in, a JSON array becomes a
 *               list and a string is split at its commas ("MALE, FEMALE"
 *               -> ['MALE', 'FEMALE'], blanks around items trimmed).
 *
 * The projection finds every kept field in one pass over the event (the
 * same key set the evaluator uses) and copies the values byte for byte.
 */
#include "expr/scenario.h"
#include "expr/expr_int.h"

#include "core/alloc.h"
#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

typedef struct parse_ctx {
    sl_buf *err;
    int problems;
} parse_ctx;

__attribute__((format(printf, 2, 3)))
static void problem(parse_ctx *c, const char *fmt, ...)
{
    if (c->err) {
        va_list ap;
        va_start(ap, fmt);
        if (c->problems)
            sl_buf_append_str(c->err, "; ");
        sl_buf_vprintf(c->err, fmt, ap);
        va_end(ap);
    }
    c->problems++;
}

/* The decoded text of a JSON string value (quotes included in v). */
static char *decode(sl_view v, size_t *len)
{
    sl_buf b = SL_BUF_INIT;
    sl_buf_reserve(&b, v.len);
    if (sl_json_string_decode(v, &b) < 0)
        b.len = 0;
    if (len)
        *len = b.len;
    return sl_buf_steal(&b);
}

/* A raw object key (between its quotes) decoded. */
static char *decode_key(sl_view raw, size_t *len)
{
    return decode((sl_view){ raw.ptr - 1, raw.len + 2 }, len);
}

/* A name for messages: at most 64 bytes, NULs shown as \0 would be noise. */
static int shown(size_t len)
{
    return (int)SL_MIN(len, 64);
}

/* ---- operators ----------------------------------------------------------- */

enum filter_op { F_EQ, F_NE, F_GT, F_GE, F_LT, F_LE, F_IN, F_NOT_IN, F_CONTAINS, F_STARTS, F_ENDS };

static const struct {
    const char *name;
    const char *text;  /* in the expression */
} filter_ops[] = {
    [F_EQ] = { "==", " == " },          [F_NE] = { "!=", " != " },
    [F_GT] = { ">", " > " },            [F_GE] = { ">=", " >= " },
    [F_LT] = { "<", " < " },            [F_LE] = { "<=", " <= " },
    [F_IN] = { "in", " in " },          [F_NOT_IN] = { "not in", " not in " },
    [F_CONTAINS] = { "contains", " contains " },
    [F_STARTS] = { "startswith", " startswith " },
    [F_ENDS] = { "endswith", " endswith " },
};

#define OP_LIST "== != > >= < <= in, not in, contains, startswith, endswith"

static int find_op(const char *s)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(filter_ops); i++)
        if (strcasecmp(filter_ops[i].name, s) == 0)
            return (int)i;
    return -1;
}

static bool is_ordering(int op)
{
    return op == F_GT || op == F_GE || op == F_LT || op == F_LE;
}

/* ---- writing the expression ---------------------------------------------- */

static bool write_left(parse_ctx *c, size_t i, const char *left, size_t len, sl_buf *x)
{
    if (len == 0) {
        problem(c, "filters[%zu].left: must name a field", i);
        return false;
    }
    if (memchr(left, '\0', len)) {
        problem(c, "filters[%zu].left: field name contains a NUL character", i);
        return false;
    }
    const char *p = left, *end = left + len;
    for (;;) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        const char *seg_end = dot ? dot : end;
        if (seg_end == p) {
            problem(c, "filters[%zu].left: empty key in '%.*s' (dots separate nested keys)", i,
                    shown(len), left);
            return false;
        }
        sl_expr_quote_key(p, (size_t)(seg_end - p), x);
        if (!dot)
            return true;
        sl_buf_append_char(x, '.');
        p = dot + 1;
    }
}

/* A JSON number as a literal (range-checked: 1e400 is refused). */
static bool write_number(sl_view json, sl_buf *x)
{
    sl_expr_value v;
    if (sl_expr_parse_number(json.ptr, json.len, &v) < 0)
        return false;
    char num[40];
    if (v.type == SL_EXPR_INT)
        sl_buf_printf(x, "%lld", (long long)v.i);
    else
        sl_buf_append(x, num, sl_expr_format_double(v.f, num));
    return true;
}

/* A scalar JSON value as a literal; numeric strings as numbers if asked. */
static int write_scalar(sl_view v, bool numeric_strings, sl_buf *x)
{
    switch (sl_json_type_of(v)) {
    case SL_JSON_STRING: {
        size_t n;
        char *s = decode(v, &n);
        sl_expr_value num;
        if (numeric_strings && sl_expr_parse_number(s, n, &num) == 0)
            write_number((sl_view){ s, n }, x);
        else
            sl_expr_quote_string(s, n, x);
        free(s);
        return 0;
    }
    case SL_JSON_NUMBER:
        return write_number(v, x) ? 0 : SL_ERR_RANGE;
    case SL_JSON_TRUE:
    case SL_JSON_FALSE:
    case SL_JSON_NULL:
        sl_buf_append(x, v.ptr, v.len);
        return 0;
    default:
        return SL_ERR_PARSE;
    }
}

static bool write_right(parse_ctx *c, size_t i, int op, sl_view right, sl_buf *x)
{
    sl_json_type t = sl_json_type_of(right);
    if (op == F_IN || op == F_NOT_IN) {
        if (t == SL_JSON_ARRAY) {
            sl_json_iter it;
            sl_view elem;
            size_t j = 0;
            bool ok = true;
            sl_buf_append_char(x, '[');
            sl_json_iter_init(&it, right);
            for (; sl_json_array_next(&it, &elem); j++) {
                if (j)
                    sl_buf_append_str(x, ", ");
                int rc = write_scalar(elem, false, x);
                if (rc == SL_ERR_RANGE)
                    problem(c, "filters[%zu].right[%zu]: number out of range", i, j), ok = false;
                else if (rc < 0)
                    problem(c, "filters[%zu].right[%zu]: must be a string, number, boolean or null",
                            i, j), ok = false;
            }
            sl_buf_append_char(x, ']');
            return ok;
        }
        if (t == SL_JSON_STRING) {
            size_t n;
            char *s = decode(right, &n);
            const char *p = s, *end = s + n;
            size_t items = 0;
            sl_buf_append_char(x, '[');
            while (p <= end) {
                const char *comma = memchr(p, ',', (size_t)(end - p));
                const char *a = p, *b = comma ? comma : end;
                while (a < b && (*a == ' ' || *a == '\t'))
                    a++;
                while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
                    b--;
                if (b > a) {
                    if (items++)
                        sl_buf_append_str(x, ", ");
                    sl_expr_quote_string(a, (size_t)(b - a), x);
                }
                if (!comma)
                    break;
                p = comma + 1;
            }
            sl_buf_append_char(x, ']');
            free(s);
            if (items == 0) {
                problem(c, "filters[%zu].right: empty list", i);
                return false;
            }
            return true;
        }
        problem(c, "filters[%zu].right: '%s' takes a list or a comma-separated string", i,
                filter_ops[op].name);
        return false;
    }
    int rc = write_scalar(right, is_ordering(op), x);
    if (rc == SL_ERR_RANGE) {
        problem(c, "filters[%zu].right: number out of range", i);
        return false;
    }
    if (rc < 0) {
        problem(c, "filters[%zu].right: must be a string, number, boolean or null, not %s", i,
                t == SL_JSON_ARRAY ? "an array" : "an object");
        return false;
    }
    return true;
}

/* ---- the parts of a scenario --------------------------------------------- */

static void parse_filter(parse_ctx *c, size_t i, sl_view f, sl_scenario_filter *out, sl_buf *x)
{
    if (sl_json_type_of(f) != SL_JSON_OBJECT) {
        problem(c, "filters[%zu]: must be an object with left, operator and right", i);
        return;
    }
    sl_view left = SL_VIEW_NULL, op = SL_VIEW_NULL, right = SL_VIEW_NULL, key, value;
    sl_json_iter it;
    sl_json_iter_init(&it, f);
    while (sl_json_object_next(&it, &key, &value)) {
        size_t kn;
        char *k = decode_key(key, &kn);
        sl_view *slot = strcmp(k, "left") == 0 ? &left
                      : strcmp(k, "operator") == 0 ? &op
                      : strcmp(k, "right") == 0 ? &right : NULL;
        if (!slot)
            problem(c, "filters[%zu]: unknown key '%.*s' (expected left, operator, right)", i,
                    shown(kn), k);
        else if (slot->ptr)
            problem(c, "filters[%zu].%s: given twice", i, k);
        else
            *slot = value;
        free(k);
    }
    int before = c->problems;
    if (!left.ptr)
        problem(c, "filters[%zu].left: missing", i);
    else if (sl_json_type_of(left) != SL_JSON_STRING)
        problem(c, "filters[%zu].left: must be a field name (a string)", i);
    if (!op.ptr)
        problem(c, "filters[%zu].operator: missing", i);
    else if (sl_json_type_of(op) != SL_JSON_STRING)
        problem(c, "filters[%zu].operator: must be a string, one of " OP_LIST, i);
    if (!right.ptr)
        problem(c, "filters[%zu].right: missing", i);
    if (c->problems != before)
        return;

    size_t left_len;
    out->left = decode(left, &left_len);
    out->op = decode(op, NULL);
    out->right = sl_strndup(right.ptr, right.len);
    int o = find_op(out->op);
    if (o < 0) {
        if (strcmp(out->op, "=") == 0)
            problem(c, "filters[%zu].operator: unknown operator '='; did you mean '=='?", i);
        else
            problem(c, "filters[%zu].operator: unknown operator '%.*s' (one of " OP_LIST ")", i,
                    shown(strlen(out->op)), out->op);
        return;
    }
    /* Keep the operator in its canonical spelling (IN -> in). */
    free(out->op);
    out->op = sl_strdup(filter_ops[o].name);
    if (!write_left(c, i, out->left, left_len, x))
        return;
    sl_buf_append_str(x, filter_ops[o].text);
    write_right(c, i, o, right, x);
}

/* Write the filters as one expression, joined by logical_operator. */
static void parse_filters(parse_ctx *c, sl_view v, sl_scenario *s, sl_buf *x)
{
    if (sl_json_type_of(v) != SL_JSON_ARRAY) {
        problem(c, "filters: must be an array of {\"left\", \"operator\", \"right\"} objects");
        return;
    }
    sl_json_iter it;
    sl_view f;
    size_t n = 0;
    sl_json_iter_init(&it, v);
    while (sl_json_array_next(&it, &f))
        n++;
    s->filters = sl_calloc(n ? n : 1, sizeof *s->filters);
    s->nfilters = n;
    sl_json_iter_init(&it, v);
    for (size_t i = 0; sl_json_array_next(&it, &f); i++) {
        if (i)
            sl_buf_append_str(x, s->logic == SL_SCENARIO_AND ? " && " : " || ");
        parse_filter(c, i, f, &s->filters[i], x);
    }
    if (n == 0)
        sl_buf_append_str(x, "true");
}

static void parse_log_format(parse_ctx *c, sl_view v, sl_scenario *s)
{
    if (sl_json_type_of(v) != SL_JSON_OBJECT) {
        problem(c, "log_format: must be an object of field names to 0 or 1");
        return;
    }
    sl_json_iter it;
    sl_view key, value;
    size_t n = 0;
    sl_json_iter_init(&it, v);
    while (sl_json_object_next(&it, &key, &value))
        n++;
    s->fields = sl_calloc(n ? n : 1, sizeof *s->fields);
    sl_json_iter_init(&it, v);
    while (sl_json_object_next(&it, &key, &value)) {
        sl_scenario_field *f = &s->fields[s->nfields];
        f->name = decode_key(key, &f->len);
        bool dup = false;
        for (size_t j = 0; j < s->nfields && !dup; j++)
            dup = s->fields[j].len == f->len && memcmp(s->fields[j].name, f->name, f->len) == 0;
        sl_json_type t = sl_json_type_of(value);
        int64_t num = -1;
        if (dup) {
            problem(c, "log_format.%.*s: given twice", shown(f->len), f->name);
        } else if (t == SL_JSON_TRUE || t == SL_JSON_FALSE) {
            f->keep = t == SL_JSON_TRUE;
        } else if (t == SL_JSON_NUMBER && sl_json_int64(value, &num) == 0 && (num == 0 || num == 1)) {
            f->keep = num == 1;
        } else {
            problem(c, "log_format.%.*s: must be 0 or 1", shown(f->len), f->name);
        }
        s->nkept += f->keep;
        s->nfields++;
    }
    if (s->nkept > SL_SCENARIO_MAX_KEPT)
        problem(c, "log_format: keeps %zu fields, more than %d", s->nkept, SL_SCENARIO_MAX_KEPT);
}

static void parse_text(parse_ctx *c, const char *what, sl_view v, char **out)
{
    sl_json_type t = sl_json_type_of(v);
    if (t == SL_JSON_NULL)
        return;
    if (t != SL_JSON_STRING) {
        problem(c, "%s: must be a string", what);
        return;
    }
    free(*out);
    *out = decode(v, NULL);
}

/* ---- parse --------------------------------------------------------------- */

enum { K_ID, K_TITLE, K_MANAGER, K_LOG_FORMAT, K_FILTERS, K_LOGIC, K_COUNT };
static const char *const top_keys[K_COUNT] = {
    "scenario_id", "title", "manager", "log_format", "filters", "logical_operator",
};

static void build_lookup(sl_scenario *s)
{
    struct sl_scenario_lookup *l = sl_calloc(1, sizeof *l);
    sl_expr_keyset_init(&l->keys);
    for (size_t i = 0; i < sl_expr_field_count(s->filter); i++) {
        size_t n;
        const char *name = sl_expr_field_name(s->filter, i, &n);
        sl_expr_keyset_add(&l->keys, name, n);
    }
    l->slot = sl_calloc(s->nkept ? s->nkept : 1, sizeof *l->slot);
    l->field = sl_calloc(s->nkept ? s->nkept : 1, sizeof *l->field);
    l->prefix_at = sl_calloc(s->nkept + 1, sizeof *l->prefix_at);
    for (size_t i = 0, k = 0; i < s->nfields; i++) {
        if (!s->fields[i].keep)
            continue;
        l->slot[k] = sl_expr_keyset_add(&l->keys, s->fields[i].name, s->fields[i].len);
        l->field[k] = (uint32_t)i;
        l->prefix_at[k] = (uint32_t)l->prefix.len;
        sl_buf_append_char(&l->prefix, ',');
        sl_buf_append_json_string(&l->prefix, s->fields[i].name, s->fields[i].len);
        sl_buf_append_char(&l->prefix, ':');
        k++;
    }
    l->prefix_at[s->nkept] = (uint32_t)l->prefix.len;
    sl_expr_keyset_finish(&l->keys);
    s->lookup = l;
}

int sl_scenario_parse(sl_view json, sl_scenario **out, sl_buf *err)
{
    *out = NULL;
    parse_ctx c = { err, 0 };
    size_t end = 0;
    sl_json_error je = { 0 };
    if (!json.ptr)
        json = SL_VIEW_LIT("");
    if (sl_json_validate(json.ptr, json.len, 0, &end, &je) < 0) {
        problem(&c, "invalid JSON at offset %zu: %s", je.offset, je.message);
        return SL_ERR_PARSE;
    }
    if (sl_json_skip_ws(json.ptr, json.len, end) != json.len) {
        problem(&c, "invalid JSON at offset %zu: unexpected text after the scenario object",
                sl_json_skip_ws(json.ptr, json.len, end));
        return SL_ERR_PARSE;
    }
    size_t start = sl_json_skip_ws(json.ptr, json.len, 0);
    sl_view root = { json.ptr + start, end - start };
    if (sl_json_type_of(root) != SL_JSON_OBJECT) {
        problem(&c, "a scenario must be a JSON object, not %s",
                sl_json_type_name(sl_json_type_of(root)));
        return SL_ERR_PARSE;
    }

    sl_scenario *s = sl_calloc(1, sizeof *s);
    sl_view part[K_COUNT] = { 0 };
    sl_json_iter it;
    sl_view key, value;
    sl_json_iter_init(&it, root);
    while (sl_json_object_next(&it, &key, &value)) {
        size_t kn;
        char *k = decode_key(key, &kn);
        for (int i = 0; i < K_COUNT; i++) {
            if (strlen(top_keys[i]) != kn || memcmp(top_keys[i], k, kn) != 0)
                continue;
            if (part[i].ptr)
                problem(&c, "%s: given twice", top_keys[i]);
            part[i] = value;
        }
        free(k); /* other keys (created_at, expression, ...) are not ours */
    }

    if (!part[K_ID].ptr)
        problem(&c, "scenario_id: missing");
    else if (sl_json_type_of(part[K_ID]) != SL_JSON_NUMBER ||
             sl_json_int64(part[K_ID], &s->id) < 0 || s->id <= 0)
        problem(&c, "scenario_id: must be a positive integer");
    s->title = sl_strdup("");
    s->manager = sl_strdup("");
    if (part[K_TITLE].ptr)
        parse_text(&c, "title", part[K_TITLE], &s->title);
    if (part[K_MANAGER].ptr)
        parse_text(&c, "manager", part[K_MANAGER], &s->manager);
    if (!part[K_LOG_FORMAT].ptr)
        problem(&c, "log_format: missing (an object of field names to 0 or 1)");
    else
        parse_log_format(&c, part[K_LOG_FORMAT], s);
    s->logic = SL_SCENARIO_AND;
    if (part[K_LOGIC].ptr) {
        sl_view v = part[K_LOGIC];
        char *t = sl_json_type_of(v) == SL_JSON_STRING ? decode(v, NULL) : NULL;
        if (t && strcasecmp(t, "AND") == 0)
            s->logic = SL_SCENARIO_AND;
        else if (t && strcasecmp(t, "OR") == 0)
            s->logic = SL_SCENARIO_OR;
        else
            problem(&c, "logical_operator: must be AND or OR");
        free(t);
    }
    sl_buf text = SL_BUF_INIT;
    if (!part[K_FILTERS].ptr)
        problem(&c, "filters: missing (an array, [] for none)");
    else
        parse_filters(&c, part[K_FILTERS], s, &text);

    if (c.problems == 0) {
        sl_buf cerr = SL_BUF_INIT;
        if (sl_expr_compile(text.data, text.len, &s->filter, &cerr) < 0)
            problem(&c, "filters: %s", cerr.data ? cerr.data : "do not compile");
        sl_buf_free(&cerr);
    }
    sl_buf_free(&text);
    if (c.problems) {
        sl_scenario_free(s);
        return SL_ERR_PARSE;
    }
    build_lookup(s);
    *out = s;
    return 0;
}

void sl_scenario_free(sl_scenario *s)
{
    if (!s)
        return;
    free(s->title);
    free(s->manager);
    for (size_t i = 0; i < s->nfields; i++)
        free(s->fields[i].name);
    free(s->fields);
    for (size_t i = 0; i < s->nfilters; i++) {
        free(s->filters[i].left);
        free(s->filters[i].op);
        free(s->filters[i].right);
    }
    free(s->filters);
    sl_expr_free(s->filter);
    if (s->lookup) {
        sl_expr_keyset_free(&s->lookup->keys);
        free(s->lookup->slot);
        free(s->lookup->field);
        free(s->lookup->prefix_at);
        sl_buf_free(&s->lookup->prefix);
        free(s->lookup);
    }
    free(s);
}

/* ---- use ----------------------------------------------------------------- */

bool sl_scenario_match(const sl_scenario *s, const sl_view *objects, size_t nobjects)
{
    return s && sl_expr_eval_bool_ctx(s->filter, objects, nobjects);
}

/*
 * Write the kept fields, scanning further objects while some are missing.
 * Sized first and copied in one go: each field is its ready-made
 * ,"name": prefix (the first one without its comma) and its value bytes.
 */
int sl_scenario_project_scan(const sl_scenario *s, sl_expr_scan *scan, sl_buf *out)
{
    const struct sl_scenario_lookup *l = s->lookup;
    size_t need = 2;
    for (size_t i = 0; i < s->nkept; i++) {
        const sl_expr_slot *slot = &scan->slots[l->slot[i]];
        while (slot->object < 0 && sl_expr_scan_next(scan))
            ;
        if (slot->object >= 0)
            need += l->prefix_at[i + 1] - l->prefix_at[i] + slot->value.len;
    }
    sl_buf_reserve(out, need);
    char *w = out->data + out->len;
    *w++ = '{';
    int written = 0;
    for (size_t i = 0; i < s->nkept; i++) {
        const sl_expr_slot *slot = &scan->slots[l->slot[i]];
        if (slot->object < 0)
            continue;
        const char *pre = l->prefix.data + l->prefix_at[i] + (written == 0);
        size_t pre_len = l->prefix_at[i + 1] - l->prefix_at[i] - (written == 0);
        memcpy(w, pre, pre_len);
        w += pre_len;
        memcpy(w, slot->value.ptr, slot->value.len);
        w += slot->value.len;
        written++;
    }
    *w++ = '}';
    out->len = (size_t)(w - out->data);
    out->data[out->len] = '\0';
    return written;
}

#define SCAN_INIT(scan, s, objects, nobjects)                                   \
    sl_expr_slot slots_[SL_SCENARIO_MAX_KEYS];                                  \
    for (uint32_t k_ = 0; k_ < (s)->lookup->keys.n; k_++)                       \
        slots_[k_].object = -1;                                                 \
    sl_expr_scan scan = { &(s)->lookup->keys, (objects),                        \
                          (uint32_t)SL_MIN((objects) ? (nobjects) : 0, (size_t)UINT32_MAX), \
                          0, slots_ }

int sl_scenario_project_ctx(const sl_scenario *s, const sl_view *objects, size_t nobjects,
                            sl_buf *out)
{
    SCAN_INIT(scan, s, objects, nobjects);
    return sl_scenario_project_scan(s, &scan, out);
}

int sl_scenario_project(const sl_scenario *s, sl_view event, sl_buf *out)
{
    return sl_scenario_project_ctx(s, &event, 1, out);
}

int sl_scenario_apply(const sl_scenario *s, const sl_view *objects, size_t nobjects,
                      sl_buf *out, bool *matched)
{
    SCAN_INIT(scan, s, objects, nobjects);
    *matched = sl_expr_eval_bool_scan(s->filter, &scan);
    return sl_scenario_project_scan(s, &scan, out);
}

void sl_scenario_to_json(const sl_scenario *s, sl_buf *out)
{
    sl_buf_printf(out, "{\"scenario_id\":%lld,\"title\":", (long long)s->id);
    sl_buf_append_json_string(out, s->title, strlen(s->title));
    sl_buf_append_str(out, ",\"manager\":");
    sl_buf_append_json_string(out, s->manager, strlen(s->manager));
    sl_buf_append_str(out, ",\"log_format\":{");
    for (size_t i = 0; i < s->nfields; i++) {
        if (i)
            sl_buf_append_char(out, ',');
        sl_buf_append_json_string(out, s->fields[i].name, s->fields[i].len);
        sl_buf_append_str(out, s->fields[i].keep ? ":1" : ":0");
    }
    sl_buf_append_str(out, "},\"filters\":[");
    for (size_t i = 0; i < s->nfilters; i++) {
        const sl_scenario_filter *f = &s->filters[i];
        sl_buf_append_str(out, i ? ",{\"left\":" : "{\"left\":");
        sl_buf_append_json_string(out, f->left, strlen(f->left));
        sl_buf_append_str(out, ",\"operator\":");
        sl_buf_append_json_string(out, f->op, strlen(f->op));
        sl_buf_append_str(out, ",\"right\":");
        sl_buf_append_str(out, f->right);
        sl_buf_append_char(out, '}');
    }
    sl_buf_printf(out, "],\"logical_operator\":\"%s\",\"expression\":",
                  s->logic == SL_SCENARIO_AND ? "AND" : "OR");
    sl_buf expr = SL_BUF_INIT;
    sl_expr_to_string(s->filter, &expr);
    sl_buf_append_json_string(out, expr.data ? expr.data : "", expr.len);
    sl_buf_free(&expr);
    sl_buf_append_char(out, '}');
}
