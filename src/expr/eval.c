/*
 * eval.c - evaluation of a compiled expression against one or more JSON
 * objects.
 *
 * The evaluator walks the node array recursively (the tree is at most
 * SL_EXPR_MAX_DEPTH deep, checked at compile time) with all its state on
 * the stack: one slot per key of the expression's key set. Objects are
 * scanned lazily and at most once each: the first field read scans
 * objects[0] and fills the slot of every key the expression uses; a key
 * still missing then makes the next object be scanned, and so on. A
 * condition over three fields of the event therefore costs one pass over
 * the event, and the member record is only read when a field is not in
 * the event.
 *
 * The rules the evaluator applies (docs/expressions.md has them for users):
 *
 *   - A comparison with a missing operand is false, whatever the operator,
 *     != included. `!` turns that false into true.
 *   - Two operands that both read as numbers (numbers, or strings that are
 *     nothing but a number) compare as numbers; two strings otherwise
 *     compare as strings, byte by byte (which is code point order).
 *   - Any other pair of present values is unequal and unordered: == is
 *     false, != is true, < <= > >= are false. Booleans equal booleans,
 *     null equals null, arrays and lists are equal when their elements
 *     are (arrays nested more than 64 deep never are), objects when their
 *     JSON text is identical.
 *   - Arithmetic reads its operands as numbers; anything else, a division
 *     by zero or an overflowing float gives no value (MISSING).
 */
#include "expr/expr_int.h"

#include "core/json.h"

#include <errno.h>
#include <math.h>

/* Arrays nested deeper than this compare unequal instead of recursing on. */
#define SEQ_DEPTH_MAX 64

typedef struct eval_ctx {
    const sl_expr *e;
    sl_expr_scan *scan;
    unsigned seq_depth;      /* arrays being compared inside each other */
} eval_ctx;

/* The relation of two values. */
enum {
    REL_LT = -1,
    REL_EQ = 0,
    REL_GT = 1,
    REL_NE,        /* different, and no order between them */
    REL_SAME,      /* equal, and no order between them (true == true) */
};

static void eval_value(eval_ctx *c, uint32_t n, sl_expr_value *out);
static bool eval_bool(eval_ctx *c, uint32_t n);
static int relate(eval_ctx *c, sl_expr_value *a, sl_expr_value *b);

/* ---- fields -------------------------------------------------------------- */

static bool walk_rest(const sl_expr *e, const expr_field *f, sl_view v, sl_view *out)
{
    for (uint32_t i = 0; i < f->nseg; i++)
        if (!sl_json_get(v, e->segs[f->seg + i], &v))
            return false;
    *out = v;
    return true;
}

static inline bool field_lookup(eval_ctx *c, uint32_t fi, sl_view *out)
{
    const sl_expr *e = c->e;
    const expr_field *f = &e->fields[fi];
    sl_expr_scan *scan = c->scan;
    sl_expr_slot *s = &scan->slots[f->key];
    while (s->object < 0 && sl_expr_scan_next(scan))
        ;
    if (s->object < 0)
        return false;
    if (f->nseg == 0) {
        *out = s->value;
        return true;
    }
    /* A nested path: the first object holding all of it wins. */
    if (walk_rest(e, f, s->value, out))
        return true;
    const char *key = e->keys.keys[f->key].name;
    for (uint32_t j = (uint32_t)s->object + 1; j < scan->nobjects; j++) {
        sl_view top;
        if (sl_json_get(scan->objects[j], key, &top) && walk_rest(e, f, top, out))
            return true;
    }
    return false;
}

/* ---- strings ------------------------------------------------------------- */

/* The bytes of a string value, decoding JSON escapes as it goes. */
typedef struct str_iter {
    const char *p, *end;
    bool escaped;
    uint8_t i, n;
    char pending[4];
} str_iter;

static inline void str_iter_init(str_iter *it, const sl_expr_value *v)
{
    it->p = v->s.ptr;
    it->end = v->s.ptr + v->s.len;
    it->escaped = v->escaped;
    it->i = it->n = 0;
}

/* The next byte (0-255), or -1 at the end. */
static inline int str_next(str_iter *it)
{
    if (it->i < it->n)
        return (uint8_t)it->pending[it->i++];
    if (it->p >= it->end)
        return -1;
    char ch = *it->p;
    if (!it->escaped || ch != '\\') {
        it->p++;
        return (uint8_t)ch;
    }
    int k = sl_expr_unescape_one(&it->p, it->end, it->pending);
    if (k < 0) { /* not from validated JSON: take the backslash as it is */
        it->p++;
        return '\\';
    }
    it->n = (uint8_t)k;
    it->i = 1;
    return (uint8_t)it->pending[0];
}

static int str_compare(const sl_expr_value *a, const sl_expr_value *b)
{
    if (!a->escaped && !b->escaped) {
        size_t n = SL_MIN(a->s.len, b->s.len);
        int r = n ? memcmp(a->s.ptr, b->s.ptr, n) : 0;
        if (r == 0)
            r = a->s.len < b->s.len ? -1 : a->s.len > b->s.len;
        return r < 0 ? -1 : r > 0;
    }
    str_iter x, y;
    str_iter_init(&x, a);
    str_iter_init(&y, b);
    for (;;) {
        int p = str_next(&x), q = str_next(&y);
        if (p != q)
            return p < q ? -1 : 1;
        if (p < 0)
            return 0;
    }
}

/* Does the rest of x start with all of y? (x and y are consumed.) */
static bool iter_prefix(str_iter *x, str_iter *y)
{
    for (;;) {
        int q = str_next(y);
        if (q < 0)
            return true;
        if (str_next(x) != q)
            return false;
    }
}

static size_t str_decoded_len(const sl_expr_value *v)
{
    if (!v->escaped)
        return v->s.len;
    str_iter it;
    str_iter_init(&it, v);
    size_t n = 0;
    while (str_next(&it) >= 0)
        n++;
    return n;
}

static bool str_startswith(const sl_expr_value *s, const sl_expr_value *prefix)
{
    if (!s->escaped && !prefix->escaped)
        return s->s.len >= prefix->s.len &&
               (prefix->s.len == 0 || memcmp(s->s.ptr, prefix->s.ptr, prefix->s.len) == 0);
    str_iter x, y;
    str_iter_init(&x, s);
    str_iter_init(&y, prefix);
    return iter_prefix(&x, &y);
}

static bool str_endswith(const sl_expr_value *s, const sl_expr_value *suffix)
{
    if (!s->escaped && !suffix->escaped)
        return s->s.len >= suffix->s.len &&
               (suffix->s.len == 0 ||
                memcmp(s->s.ptr + s->s.len - suffix->s.len, suffix->s.ptr, suffix->s.len) == 0);
    size_t n = str_decoded_len(s), k = str_decoded_len(suffix);
    if (k > n)
        return false;
    str_iter x, y;
    str_iter_init(&x, s);
    str_iter_init(&y, suffix);
    for (size_t i = 0; i < n - k; i++)
        str_next(&x);
    return iter_prefix(&x, &y) && str_next(&x) < 0;
}

static bool str_contains(const sl_expr_value *hay, const sl_expr_value *needle)
{
    if (!hay->escaped && !needle->escaped)
        return needle->s.len == 0 ||
               memmem(hay->s.ptr, hay->s.len, needle->s.ptr, needle->s.len) != NULL;
    str_iter start;
    str_iter_init(&start, hay);
    for (;;) {
        str_iter x = start, y;
        str_iter_init(&y, needle);
        if (iter_prefix(&x, &y))
            return true;
        if (str_next(&start) < 0)
            return false;
    }
}

/* ---- numbers ------------------------------------------------------------- */

typedef struct num {
    bool is_int;
    int64_t i;
    double f;
} num;

/* Read a value as a number: INT, FLOAT, or a string that reads as one. */
static bool to_num(sl_expr_value *v, num *out)
{
    switch (v->type) {
    case SL_EXPR_INT:
        out->is_int = true;
        out->i = v->i;
        return true;
    case SL_EXPR_FLOAT:
        out->is_int = false;
        out->f = v->f;
        return true;
    case SL_EXPR_STRING:
        if (!sl_expr_string_number(v))
            return false;
        out->is_int = v->numeric == NUM_INT;
        out->i = v->i;
        out->f = v->f;
        return true;
    default:
        return false;
    }
}

/* An integer against a double, exactly (no rounding of the integer). */
static int rel_int_double(int64_t i, double d)
{
    if (isnan(d))
        return REL_NE;
    if (d >= 9223372036854775808.0)
        return REL_LT;
    if (d < -9223372036854775808.0)
        return REL_GT;
    double t = trunc(d);
    int64_t ti = (int64_t)t;
    if (i != ti)
        return i < ti ? REL_LT : REL_GT;
    return d > t ? REL_LT : d < t ? REL_GT : REL_EQ;
}

static int rel_num(const num *a, const num *b)
{
    if (a->is_int && b->is_int)
        return a->i < b->i ? REL_LT : a->i > b->i ? REL_GT : REL_EQ;
    if (a->is_int)
        return rel_int_double(a->i, b->f);
    if (b->is_int) {
        int r = rel_int_double(b->i, a->f);
        return r == REL_NE ? REL_NE : -r;
    }
    if (isnan(a->f) || isnan(b->f))
        return REL_NE;
    return a->f < b->f ? REL_LT : a->f > b->f ? REL_GT : REL_EQ;
}

/* ---- sequences: JSON arrays and list literals ---------------------------- */

typedef struct seq_iter {
    eval_ctx *c;
    bool is_list;
    uint32_t kid, kid_end;   /* range of e->kids (indices: kids may be NULL) */
    sl_json_iter json;
} seq_iter;

static void seq_init(seq_iter *it, eval_ctx *c, const sl_expr_value *v)
{
    it->c = c;
    it->is_list = v->type == SL_EXPR_LIST;
    if (it->is_list) {
        const expr_node *n = &c->e->nodes[v->node];
        it->kid = n->a;
        it->kid_end = n->a + n->b;
    } else {
        sl_json_iter_init(&it->json, v->s);
    }
}

static bool seq_next(seq_iter *it, sl_expr_value *out)
{
    if (it->is_list) {
        if (it->kid == it->kid_end)
            return false;
        eval_value(it->c, it->c->e->kids[it->kid++], out);
        return true;
    }
    sl_view elem;
    if (!sl_json_array_next(&it->json, &elem))
        return false;
    sl_expr_value_of_json(elem, out);
    return true;
}

static bool is_seq(const sl_expr_value *v)
{
    return v->type == SL_EXPR_LIST || v->type == SL_EXPR_ARRAY;
}

static bool equal(eval_ctx *c, sl_expr_value *a, sl_expr_value *b)
{
    int r = relate(c, a, b);
    return r == REL_EQ || r == REL_SAME;
}

static int rel_seq(eval_ctx *c, const sl_expr_value *a, const sl_expr_value *b)
{
    if (c->seq_depth >= SEQ_DEPTH_MAX) /* an event may nest 4096 deep */
        return REL_NE;
    c->seq_depth++;
    seq_iter x, y;
    seq_init(&x, c, a);
    seq_init(&y, c, b);
    int r;
    for (;;) {
        sl_expr_value p, q;
        bool hp = seq_next(&x, &p), hq = seq_next(&y, &q);
        if (hp != hq) {
            r = REL_NE;
            break;
        }
        if (!hp) {
            r = REL_SAME;
            break;
        }
        if (p.type == SL_EXPR_MISSING || q.type == SL_EXPR_MISSING || !equal(c, &p, &q)) {
            r = REL_NE;
            break;
        }
    }
    c->seq_depth--;
    return r;
}

/* Is needle an element of hay (a list or an array), or a substring of it? */
static bool member(eval_ctx *c, sl_expr_value *needle, sl_expr_value *hay)
{
    if (is_seq(hay)) {
        seq_iter it;
        seq_init(&it, c, hay);
        sl_expr_value v;
        while (seq_next(&it, &v))
            if (v.type != SL_EXPR_MISSING && equal(c, needle, &v))
                return true;
        return false;
    }
    if (hay->type == SL_EXPR_STRING && needle->type == SL_EXPR_STRING)
        return str_contains(hay, needle);
    return false;
}

/* ---- the comparison rule ------------------------------------------------- */

static bool is_scalar(sl_expr_type t)
{
    return t == SL_EXPR_INT || t == SL_EXPR_FLOAT || t == SL_EXPR_STRING;
}

/* Both a and b are present (not MISSING). */
static int relate(eval_ctx *c, sl_expr_value *a, sl_expr_value *b)
{
    if (is_scalar(a->type) && is_scalar(b->type)) {
        bool sa = a->type == SL_EXPR_STRING, sb = b->type == SL_EXPR_STRING;
        /* A string already known not to be a number: no need to read the
           other side (the literal 'MALE' against the event's gender). */
        bool none = (sa && a->numeric == NUM_NONE) || (sb && b->numeric == NUM_NONE);
        num x, y;
        if (!none && to_num(a, &x) && to_num(b, &y))
            return rel_num(&x, &y);
        if (sa && sb)
            return str_compare(a, b);
        return REL_NE;
    }
    if (is_seq(a) && is_seq(b))
        return rel_seq(c, a, b);
    if (a->type != b->type)
        return REL_NE;
    switch (a->type) {
    case SL_EXPR_NULL:
        return REL_SAME;
    case SL_EXPR_BOOL:
        return a->b == b->b ? REL_SAME : REL_NE;
    case SL_EXPR_OBJECT:
        return sl_view_eq(a->s, b->s) ? REL_SAME : REL_NE;
    default:
        return REL_NE;
    }
}

static bool eval_cmp(eval_ctx *c, const expr_node *n)
{
    sl_expr_value a, b;
    eval_value(c, n->a, &a);
    if (a.type == SL_EXPR_MISSING)
        return false;
    /* A filter compares a field with a literal: take it without the walk. */
    const expr_node *nb = &c->e->nodes[n->b];
    if (nb->kind == EK_LITERAL)
        b = c->e->lits[nb->a];
    else
        eval_value(c, n->b, &b);
    if (b.type == SL_EXPR_MISSING)
        return false;
    int r;
    switch (n->op) {
    case EO_EQ:
        r = relate(c, &a, &b);
        return r == REL_EQ || r == REL_SAME;
    case EO_NE:
        r = relate(c, &a, &b);
        return r != REL_EQ && r != REL_SAME;
    case EO_LT:
        return relate(c, &a, &b) == REL_LT;
    case EO_LE:
        r = relate(c, &a, &b);
        return r == REL_LT || r == REL_EQ;
    case EO_GT:
        return relate(c, &a, &b) == REL_GT;
    case EO_GE:
        r = relate(c, &a, &b);
        return r == REL_GT || r == REL_EQ;
    case EO_IN:
        return member(c, &a, &b);
    case EO_NOT_IN:
        return !member(c, &a, &b);
    case EO_CONTAINS:
        return member(c, &b, &a);
    case EO_STARTSWITH:
        return a.type == SL_EXPR_STRING && b.type == SL_EXPR_STRING && str_startswith(&a, &b);
    case EO_ENDSWITH:
        return a.type == SL_EXPR_STRING && b.type == SL_EXPR_STRING && str_endswith(&a, &b);
    default:
        return false;
    }
}

/* ---- arithmetic ---------------------------------------------------------- */

static void set_float(sl_expr_value *out, double d)
{
    if (!isfinite(d)) {
        out->type = SL_EXPR_MISSING;
        return;
    }
    out->type = SL_EXPR_FLOAT;
    out->f = d;
}

static void set_int(sl_expr_value *out, int64_t i)
{
    out->type = SL_EXPR_INT;
    out->i = i;
}

static void eval_arith(eval_ctx *c, const expr_node *n, sl_expr_value *out)
{
    sl_expr_value a, b;
    num x, y;
    out->type = SL_EXPR_MISSING;
    eval_value(c, n->a, &a);
    if (!to_num(&a, &x))
        return;
    eval_value(c, n->b, &b);
    if (!to_num(&b, &y))
        return;
    double fx = x.is_int ? (double)x.i : x.f, fy = y.is_int ? (double)y.i : y.f;
    bool ints = x.is_int && y.is_int;
    int64_t r;
    switch (n->op) {
    case EO_ADD:
        if (ints && !__builtin_add_overflow(x.i, y.i, &r))
            set_int(out, r);
        else
            set_float(out, fx + fy);
        return;
    case EO_SUB:
        if (ints && !__builtin_sub_overflow(x.i, y.i, &r))
            set_int(out, r);
        else
            set_float(out, fx - fy);
        return;
    case EO_MUL:
        if (ints && !__builtin_mul_overflow(x.i, y.i, &r))
            set_int(out, r);
        else
            set_float(out, fx * fy);
        return;
    case EO_DIV:
        if (fy != 0)
            set_float(out, fx / fy);
        return;
    case EO_MOD:
        if (ints) {
            if (y.i == -1)
                set_int(out, 0); /* INT64_MIN % -1 would trap */
            else if (y.i != 0)
                set_int(out, x.i % y.i);
        } else if (fy != 0) {
            set_float(out, fmod(fx, fy));
        }
        return;
    default:
        return;
    }
}

/* ---- the walk ------------------------------------------------------------ */

static void eval_value(eval_ctx *c, uint32_t idx, sl_expr_value *out)
{
    const expr_node *n = &c->e->nodes[idx];
    switch (n->kind) {
    case EK_LITERAL:
        *out = c->e->lits[n->a];
        return;
    case EK_FIELD: {
        sl_view v;
        if (field_lookup(c, n->a, &v))
            sl_expr_value_of_json(v, out);
        else
            out->type = SL_EXPR_MISSING;
        return;
    }
    case EK_LIST:
        out->type = SL_EXPR_LIST;
        out->node = idx;
        return;
    case EK_NEG: {
        sl_expr_value a;
        num x;
        eval_value(c, n->a, &a);
        if (!to_num(&a, &x))
            out->type = SL_EXPR_MISSING;
        else if (x.is_int && x.i != INT64_MIN)
            set_int(out, -x.i);
        else
            set_float(out, x.is_int ? -(double)x.i : -x.f);
        return;
    }
    case EK_ARITH:
        eval_arith(c, n, out);
        return;
    default:
        out->type = SL_EXPR_BOOL;
        out->b = eval_bool(c, idx);
        return;
    }
}

/*
 * Would evaluating node idx read an object not scanned yet? Only a field
 * operand of a comparison or has() is looked at; anything else counts as
 * ready.
 */
static bool needs_scan(const eval_ctx *c, uint32_t idx)
{
    const expr_node *n = &c->e->nodes[idx];
    const expr_node *nodes = c->e->nodes;
    const sl_expr_slot *slots = c->scan->slots;
    if (n->kind == EK_HAS)
        return slots[c->e->fields[n->a].key].object < 0;
    if (n->kind != EK_CMP)
        return false;
    return (nodes[n->a].kind == EK_FIELD && slots[c->e->fields[nodes[n->a].a].key].object < 0) ||
           (nodes[n->b].kind == EK_FIELD && slots[c->e->fields[nodes[n->b].a].key].object < 0);
}

/*
 * && and || over their operands. Evaluation has no effects, so the order
 * is free: while objects remain unscanned (the member record), operands
 * whose fields are already found go first, and when one of them decides
 * the result the record is never read. `stop` is the value that decides
 * (false for &&, true for ||).
 */
static bool eval_logic(eval_ctx *c, const expr_node *n, bool stop)
{
    const uint32_t *kids = c->e->kids + n->a;
    if (c->scan->scanned >= c->scan->nobjects) {
        for (uint32_t i = 0; i < n->b; i++)
            if (eval_bool(c, kids[i]) == stop)
                return stop;
        return !stop;
    }
    uint64_t later = 0; /* operands (of the first 64) put off */
    for (uint32_t i = 0; i < n->b; i++) {
        if (i < 64 && needs_scan(c, kids[i])) {
            later |= UINT64_C(1) << i;
            continue;
        }
        if (eval_bool(c, kids[i]) == stop)
            return stop;
    }
    for (; later; later &= later - 1)
        if (eval_bool(c, kids[__builtin_ctzll(later)]) == stop)
            return stop;
    return !stop;
}

static bool eval_bool(eval_ctx *c, uint32_t idx)
{
    const expr_node *n = &c->e->nodes[idx];
    switch (n->kind) {
    case EK_AND:
        return eval_logic(c, n, false);
    case EK_OR:
        return eval_logic(c, n, true);
    case EK_NOT:
        return !eval_bool(c, n->a);
    case EK_CMP:
        return eval_cmp(c, n);
    case EK_HAS: {
        sl_view v;
        return field_lookup(c, n->a, &v);
    }
    default: {
        sl_expr_value v;
        eval_value(c, idx, &v);
        return sl_expr_value_truthy(&v);
    }
    }
}

/* ---- entry points -------------------------------------------------------- */

#define CTX_INIT(c, e_, objects_, nobjects_)                              \
    sl_expr_slot slots_[SL_EXPR_MAX_FIELDS];                              \
    for (uint32_t k_ = 0; k_ < (e_)->keys.n; k_++)                        \
        slots_[k_].object = -1;                                           \
    sl_expr_scan scan_ = { &(e_)->keys, (objects_),                       \
                           (uint32_t)SL_MIN((nobjects_), (size_t)UINT32_MAX), 0, slots_ }; \
    eval_ctx c = { (e_), &scan_, 0 }

bool sl_expr_eval_bool_scan(const sl_expr *e, sl_expr_scan *scan)
{
    eval_ctx c = { e, scan, 0 };
    return eval_bool(&c, e->root);
}

bool sl_expr_eval_bool_ctx(const sl_expr *e, const sl_view *objects, size_t nobjects)
{
    if (!e)
        return false;
    if (!objects)
        nobjects = 0;
    CTX_INIT(c, e, objects, nobjects);
    return eval_bool(&c, e->root);
}

bool sl_expr_eval_bool(const sl_expr *e, sl_view event)
{
    return sl_expr_eval_bool_ctx(e, &event, 1);
}

int sl_expr_eval_ctx(const sl_expr *e, const sl_view *objects, size_t nobjects,
                     sl_expr_value *out)
{
    if (!e || !out)
        return -EINVAL;
    if (!objects)
        nobjects = 0;
    CTX_INIT(c, e, objects, nobjects);
    memset(out, 0, sizeof *out);
    eval_value(&c, e->root, out);
    return 0;
}

int sl_expr_eval(const sl_expr *e, sl_view event, sl_expr_value *out)
{
    return sl_expr_eval_ctx(e, &event, 1, out);
}
