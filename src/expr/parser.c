/*
 * parser.c - expression text to the compiled node array (sl_expr_compile).
 *
 * A recursive-descent parser over the lexer's tokens, one function per
 * precedence level, lowest first:
 *
 *     or       := and   { ('||' | 'or')  and }
 *     and      := not   { ('&&' | 'and') not }
 *     not      := ('!' | 'not') not | cmp
 *     cmp      := add [ cmpop add ]            (no chains: a < b < c)
 *     cmpop    := == != < <= > >= in 'not in' contains startswith endswith
 *     add      := mul   { ('+' | '-') mul }
 *     mul      := unary { ('*' | '/' | '%') unary }
 *     unary    := '-' unary | primary
 *     primary  := number | string | true | false | null | list
 *               | path | 'has' '(' path ')' | '(' or ')'
 *     list     := '[' [ or { ',' or } ] ']'
 *     path     := key { '.' key }       key := name | `quoted key`
 *
 * `!` sits below the comparisons, as `not` does in Python and SQL, so
 * `!status == 200` means "status is not 200", never "(!status) == 200".
 *
 * Nodes are appended as they are finished, children first. Chains of &&
 * (and of ||) become one n-ary node, parenthesised or not, so that the
 * canonical text prints them flat and the evaluator loops instead of
 * recursing. A minus in front of a number literal is folded into it.
 *
 * Errors stop at the first one and name its byte offset; recursion is
 * bounded while parsing (SL_EXPR_MAX_NESTING) and in the finished tree
 * (SL_EXPR_MAX_DEPTH),
 * so neither "((((((..." nor "1+1+1+...+1" can exhaust the stack here or
 * in the evaluator.
 */
#include "expr/lexer.h"

#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>

#define BAD UINT32_MAX

typedef struct parser {
    const char *src;
    size_t len;
    expr_lexer lx;
    size_t tok;               /* index of the current token */
    sl_expr *e;
    uint32_t cap_nodes, cap_kids, cap_lits, cap_fields, cap_segs;
    uint16_t *depth;          /* tree depth of each node */
    uint32_t *lit_off;        /* pool offset of each string literal */
    uint32_t *seg_off;        /* pool offset of each segment */
    sl_buf pool;
    int nest;                 /* parser recursion */
    sl_buf *err;
    bool failed;
} parser;

/* A growable list of node indices on the C stack first, the heap after. */
typedef struct idx_list {
    uint32_t *v;
    uint32_t n, cap;
    uint32_t local[16];
} idx_list;

static void idx_init(idx_list *l)
{
    l->v = l->local;
    l->n = 0;
    l->cap = SL_ARRAY_LEN(l->local);
}

static void idx_push(idx_list *l, uint32_t x)
{
    if (l->n == l->cap) {
        uint32_t cap = l->cap * 2;
        uint32_t *v = sl_malloc(cap * sizeof *v);
        memcpy(v, l->v, l->n * sizeof *v);
        if (l->v != l->local)
            free(l->v);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
}

static void idx_free(idx_list *l)
{
    if (l->v != l->local)
        free(l->v);
}

/* ---- errors -------------------------------------------------------------- */

static const expr_token *peek(const parser *p)
{
    return &p->lx.toks[p->tok];
}

static const expr_token *peek2(const parser *p)
{
    return &p->lx.toks[p->tok + (p->tok + 1 < p->lx.n)];
}

static void advance(parser *p)
{
    if (p->tok + 1 < p->lx.n)
        p->tok++;
}

__attribute__((format(printf, 3, 4)))
static uint32_t fail(parser *p, size_t pos, const char *fmt, ...)
{
    if (p->failed)
        return BAD;
    p->failed = true;
    if (p->err) {
        va_list ap;
        va_start(ap, fmt);
        sl_buf_printf(p->err, "at %zu: ", pos);
        sl_buf_vprintf(p->err, fmt, ap);
        va_end(ap);
    }
    return BAD;
}

/* How a token reads in a message: 'foo', ')', or "the end". */
static void describe(const parser *p, const expr_token *t, char *out, size_t n)
{
    if (t->kind == TK_EOF) {
        snprintf(out, n, "the end of the expression");
        return;
    }
    size_t len = t->end - t->pos;
    if (len > 32)
        snprintf(out, n, "'%.29s...'", p->src + t->pos);
    else
        snprintf(out, n, "'%.*s'", (int)len, p->src + t->pos);
}

static uint32_t fail_expected(parser *p, const char *what)
{
    char found[48];
    describe(p, peek(p), found, sizeof found);
    return fail(p, peek(p)->pos, "expected %s, found %s", what, found);
}

static bool enter(parser *p, size_t pos)
{
    if (++p->nest > SL_EXPR_MAX_NESTING) {
        fail(p, pos, "more than %d nested parentheses, brackets and prefix operators",
             SL_EXPR_MAX_NESTING);
        return false;
    }
    return true;
}

/* ---- building ------------------------------------------------------------ */

#define GROW(p, arr, n, cap)                                              \
    do {                                                                  \
        if ((n) == (cap)) {                                               \
            (cap) = (cap) ? (cap) * 2 : 16;                               \
            (arr) = sl_realloc((arr), (size_t)(cap) * sizeof *(arr));     \
        }                                                                 \
    } while (0)

static uint32_t add_node(parser *p, uint8_t kind, uint8_t op, uint32_t a, uint32_t b,
                         unsigned child_depth, size_t pos)
{
    if (child_depth + 1 > SL_EXPR_MAX_DEPTH)
        return fail(p, pos, "expression nests deeper than %d levels", SL_EXPR_MAX_DEPTH);
    sl_expr *e = p->e;
    uint32_t cap = p->cap_nodes;
    GROW(p, e->nodes, e->nnodes, p->cap_nodes);
    if (cap != p->cap_nodes)
        p->depth = sl_realloc(p->depth, p->cap_nodes * sizeof *p->depth);
    expr_node *n = &e->nodes[e->nnodes];
    n->kind = kind;
    n->op = op;
    n->spare = 0;
    n->a = a;
    n->b = b;
    p->depth[e->nnodes] = (uint16_t)(child_depth + 1);
    return e->nnodes++;
}

static unsigned depth_of(const parser *p, uint32_t n)
{
    return p->depth[n];
}

static uint32_t add_binary(parser *p, uint8_t kind, uint8_t op, uint32_t a, uint32_t b, size_t pos)
{
    return add_node(p, kind, op, a, b, SL_MAX(depth_of(p, a), depth_of(p, b)), pos);
}

static uint32_t add_unary(parser *p, uint8_t kind, uint32_t a, size_t pos)
{
    return add_node(p, kind, 0, a, 0, depth_of(p, a), pos);
}

/* An n-ary node over the listed children (&&, ||, a list literal). */
static uint32_t add_nary(parser *p, uint8_t kind, const idx_list *l, size_t pos)
{
    sl_expr *e = p->e;
    unsigned d = 0;
    uint32_t first = e->nkids;
    for (uint32_t i = 0; i < l->n; i++) {
        GROW(p, e->kids, e->nkids, p->cap_kids);
        e->kids[e->nkids++] = l->v[i];
        d = SL_MAX(d, depth_of(p, l->v[i]));
    }
    return add_node(p, kind, 0, first, l->n, d, pos);
}

static uint32_t add_literal(parser *p, const sl_expr_value *v, uint32_t pool_off, size_t pos)
{
    sl_expr *e = p->e;
    uint32_t cap = p->cap_lits;
    GROW(p, e->lits, e->nlits, p->cap_lits);
    if (cap != p->cap_lits)
        p->lit_off = sl_realloc(p->lit_off, p->cap_lits * sizeof *p->lit_off);
    e->lits[e->nlits] = *v;
    p->lit_off[e->nlits] = pool_off;
    return add_node(p, EK_LITERAL, 0, e->nlits++, 0, 0, pos);
}

static uint32_t pool_add(parser *p, const char *s, size_t n)
{
    uint32_t off = (uint32_t)p->pool.len;
    sl_buf_append(&p->pool, s, n);
    sl_buf_append_char(&p->pool, '\0');
    return off;
}

/* ---- paths --------------------------------------------------------------- */

/* The text of a token that names a key, or false when it cannot. */
static bool key_text(const parser *p, const expr_token *t, bool after_dot, const char **s, size_t *n)
{
    if (t->kind == TK_QIDENT) {
        *s = p->lx.text.data + t->text;
        *n = t->tlen;
        return true;
    }
    /* After a '.', a keyword spelled as a word is just a key: a.in, b.null. */
    bool word = t->kind == TK_IDENT ||
                (after_dot && t->kind != TK_EOF && expr_name_start((uint8_t)p->src[t->pos]));
    if (!word)
        return false;
    *s = p->src + t->pos;
    *n = t->end - t->pos;
    return true;
}

/* A path from the current token (known to be a key); the index of its field. */
static uint32_t parse_path(parser *p)
{
    sl_expr *e = p->e;
    const char *s;
    size_t n;
    size_t pos = peek(p)->pos;
    key_text(p, peek(p), false, &s, &n);
    uint32_t key = sl_expr_keyset_add(&e->keys, s, n);
    if (e->keys.n > SL_EXPR_MAX_FIELDS)
        return fail(p, pos, "more than %d distinct fields in one expression", SL_EXPR_MAX_FIELDS);
    advance(p);

    GROW(p, e->fields, e->nfields, p->cap_fields);
    expr_field *f = &e->fields[e->nfields];
    f->key = key;
    f->seg = e->nsegs;
    f->nseg = 0;
    while (peek(p)->kind == TK_DOT) {
        advance(p);
        if (!key_text(p, peek(p), true, &s, &n))
            return fail_expected(p, "a key after '.'");
        uint32_t cap = p->cap_segs;
        GROW(p, e->segs, e->nsegs, p->cap_segs);
        if (cap != p->cap_segs)
            p->seg_off = sl_realloc(p->seg_off, p->cap_segs * sizeof *p->seg_off);
        p->seg_off[e->nsegs++] = pool_add(p, s, n);
        e->fields[e->nfields].nseg++;
        advance(p);
    }
    return e->nfields++;
}

/* ---- the grammar --------------------------------------------------------- */

static uint32_t parse_or(parser *p);

static uint32_t parse_call(parser *p)
{
    const expr_token *name = peek(p);
    size_t pos = name->pos, len = name->end - name->pos;
    if (len != 3 || memcmp(p->src + pos, "has", 3) != 0)
        return fail(p, pos, "unknown function '%.*s' (the one function is has)",
                    (int)SL_MIN(len, 32), p->src + pos);
    advance(p); /* has */
    advance(p); /* ( */
    const char *s;
    size_t n;
    if (!key_text(p, peek(p), false, &s, &n))
        return fail_expected(p, "a field path as the argument of has()");
    uint32_t f = parse_path(p);
    if (f == BAD)
        return BAD;
    if (peek(p)->kind != TK_RPAREN)
        return fail_expected(p, "')' after the argument of has()");
    advance(p);
    return add_node(p, EK_HAS, 0, f, 0, 0, pos);
}

static uint32_t parse_list(parser *p)
{
    size_t open = peek(p)->pos;
    if (!enter(p, open))
        return BAD;
    advance(p);
    idx_list l;
    idx_init(&l);
    uint32_t r = BAD;
    if (peek(p)->kind != TK_RBRACKET) {
        for (;;) {
            uint32_t x = parse_or(p);
            if (x == BAD)
                goto out;
            idx_push(&l, x);
            if (peek(p)->kind == TK_COMMA) {
                advance(p);
                continue;
            }
            if (peek(p)->kind == TK_RBRACKET)
                break;
            char want[64];
            snprintf(want, sizeof want, "',' or ']' in the list opened at %zu", open);
            fail_expected(p, want);
            goto out;
        }
    }
    advance(p); /* ] */
    r = add_nary(p, EK_LIST, &l, open);
out:
    idx_free(&l);
    p->nest--;
    return r;
}

static uint32_t parse_primary(parser *p)
{
    const expr_token *t = peek(p);
    sl_expr_value v;
    memset(&v, 0, sizeof v);
    switch (t->kind) {
    case TK_NUMBER:
        v = t->num;
        advance(p);
        return add_literal(p, &v, 0, t->pos);
    case TK_STRING: {
        v.type = SL_EXPR_STRING;
        v.s.len = t->tlen;
        uint32_t off = pool_add(p, p->lx.text.data + t->text, t->tlen);
        advance(p);
        return add_literal(p, &v, off, t->pos);
    }
    case TK_TRUE:
    case TK_FALSE:
        v.type = SL_EXPR_BOOL;
        v.b = t->kind == TK_TRUE;
        advance(p);
        return add_literal(p, &v, 0, t->pos);
    case TK_NULL:
        v.type = SL_EXPR_NULL;
        advance(p);
        return add_literal(p, &v, 0, t->pos);
    case TK_LPAREN: {
        size_t open = t->pos;
        if (!enter(p, open))
            return BAD;
        advance(p);
        uint32_t x = parse_or(p);
        p->nest--;
        if (x == BAD)
            return BAD;
        if (peek(p)->kind != TK_RPAREN) {
            char want[48];
            snprintf(want, sizeof want, "')' to close the '(' at %zu", open);
            return fail_expected(p, want);
        }
        advance(p);
        return x;
    }
    case TK_LBRACKET:
        return parse_list(p);
    case TK_IDENT:
        if (peek2(p)->kind == TK_LPAREN)
            return parse_call(p);
        /* fall through */
    case TK_QIDENT: {
        uint32_t f = parse_path(p);
        return f == BAD ? BAD : add_node(p, EK_FIELD, 0, f, 0, 0, t->pos);
    }
    case TK_EOF:
        return fail(p, t->pos, "unexpected end of the expression, expected a value");
    default:
        return fail_expected(p, "a value (a field, a literal or '(')");
    }
}

static uint32_t parse_unary(parser *p)
{
    if (peek(p)->kind != TK_MINUS)
        return parse_primary(p);
    size_t pos = peek(p)->pos;
    if (!enter(p, pos))
        return BAD;
    advance(p);
    uint32_t x = parse_unary(p);
    p->nest--;
    if (x == BAD)
        return BAD;
    expr_node *n = &p->e->nodes[x];
    if (n->kind == EK_LITERAL) {
        sl_expr_value *v = &p->e->lits[n->a];
        if (v->type == SL_EXPR_INT && v->i != INT64_MIN) {
            v->i = -v->i;
            return x;
        }
        if (v->type == SL_EXPR_FLOAT) {
            v->f = -v->f;
            return x;
        }
    }
    return add_unary(p, EK_NEG, x, pos);
}

static uint32_t parse_mul(parser *p)
{
    uint32_t l = parse_unary(p);
    while (l != BAD) {
        expr_tok_kind k = peek(p)->kind;
        uint8_t op = k == TK_STAR ? EO_MUL : k == TK_SLASH ? EO_DIV : k == TK_PERCENT ? EO_MOD : 0xff;
        if (op == 0xff)
            break;
        size_t pos = peek(p)->pos;
        advance(p);
        uint32_t r = parse_unary(p);
        if (r == BAD)
            return BAD;
        l = add_binary(p, EK_ARITH, op, l, r, pos);
    }
    return l;
}

static uint32_t parse_add(parser *p)
{
    uint32_t l = parse_mul(p);
    while (l != BAD) {
        expr_tok_kind k = peek(p)->kind;
        if (k != TK_PLUS && k != TK_MINUS)
            break;
        size_t pos = peek(p)->pos;
        advance(p);
        uint32_t r = parse_mul(p);
        if (r == BAD)
            return BAD;
        l = add_binary(p, EK_ARITH, k == TK_PLUS ? EO_ADD : EO_SUB, l, r, pos);
    }
    return l;
}

/* The comparison operator at the current token (and `not in`), or 0xff. */
static uint8_t cmp_op(const parser *p, bool *two_tokens)
{
    *two_tokens = false;
    switch (peek(p)->kind) {
    case TK_EQ:         return EO_EQ;
    case TK_NE:         return EO_NE;
    case TK_LT:         return EO_LT;
    case TK_LE:         return EO_LE;
    case TK_GT:         return EO_GT;
    case TK_GE:         return EO_GE;
    case TK_IN:         return EO_IN;
    case TK_CONTAINS:   return EO_CONTAINS;
    case TK_STARTSWITH: return EO_STARTSWITH;
    case TK_ENDSWITH:   return EO_ENDSWITH;
    case TK_NOT:
        if (peek2(p)->kind == TK_IN) {
            *two_tokens = true;
            return EO_NOT_IN;
        }
        return 0xff;
    default:
        return 0xff;
    }
}

static uint32_t parse_cmp(parser *p)
{
    uint32_t l = parse_add(p);
    if (l == BAD)
        return BAD;
    bool two_tokens;
    uint8_t op = cmp_op(p, &two_tokens);
    if (op == 0xff)
        return l;
    size_t pos = peek(p)->pos;
    advance(p);
    if (two_tokens)
        advance(p);
    uint32_t r = parse_add(p);
    if (r == BAD)
        return BAD;
    uint32_t n = add_binary(p, EK_CMP, op, l, r, pos);
    if (n != BAD && cmp_op(p, &two_tokens) != 0xff)
        return fail(p, peek(p)->pos,
                    "comparisons do not chain; join them with && (a < b && b < c)");
    return n;
}

static uint32_t parse_not(parser *p)
{
    if (peek(p)->kind != TK_NOT)
        return parse_cmp(p);
    size_t pos = peek(p)->pos;
    if (!enter(p, pos))
        return BAD;
    advance(p);
    uint32_t x = parse_not(p);
    p->nest--;
    return x == BAD ? BAD : add_unary(p, EK_NOT, x, pos);
}

/* A chain of one logical operator; nested chains of the same one merge. */
static uint32_t parse_chain(parser *p, expr_tok_kind tok, uint8_t kind,
                            uint32_t (*operand)(parser *))
{
    uint32_t first = operand(p);
    if (first == BAD || peek(p)->kind != tok)
        return first;
    size_t pos = peek(p)->pos;
    idx_list l;
    idx_init(&l);
    uint32_t x = first, r = BAD;
    for (;;) {
        const expr_node *n = &p->e->nodes[x];
        if (n->kind == kind) /* (a && b) && c: one node a && b && c */
            for (uint32_t i = 0; i < n->b; i++)
                idx_push(&l, p->e->kids[n->a + i]);
        else
            idx_push(&l, x);
        if (peek(p)->kind != tok)
            break;
        advance(p);
        x = operand(p);
        if (x == BAD)
            goto out;
    }
    r = add_nary(p, kind, &l, pos);
out:
    idx_free(&l);
    return r;
}

static uint32_t parse_and(parser *p)
{
    return parse_chain(p, TK_AND, EK_AND, parse_not);
}

static uint32_t parse_or(parser *p)
{
    return parse_chain(p, TK_OR, EK_OR, parse_and);
}

/* ---- compile and free ---------------------------------------------------- */

static void finish(parser *p, uint32_t root)
{
    sl_expr *e = p->e;
    e->root = root;
    e->pool_len = p->pool.len;
    e->pool = sl_buf_steal(&p->pool);
    for (uint32_t i = 0; i < e->nlits; i++) {
        sl_expr_value *v = &e->lits[i];
        if (v->type != SL_EXPR_STRING)
            continue;
        v->s.ptr = e->pool + p->lit_off[i];
        sl_expr_string_number(v); /* decided once, here */
    }
    for (uint32_t i = 0; i < e->nsegs; i++)
        e->segs[i] = e->pool + p->seg_off[i];
    sl_expr_keyset_finish(&e->keys);
}

int sl_expr_compile(const char *src, size_t len, sl_expr **out, sl_buf *err)
{
    *out = NULL;
    if (!src)
        len = 0;
    if (len > SL_EXPR_MAX_SOURCE) {
        if (err)
            sl_buf_printf(err, "at 0: expression longer than %u bytes", SL_EXPR_MAX_SOURCE);
        return SL_ERR_PARSE;
    }
    parser p = { .src = src ? src : "", .len = len, .err = err };
    p.e = sl_calloc(1, sizeof *p.e);
    sl_expr_keyset_init(&p.e->keys);
    sl_buf_reserve(&p.pool, 64); /* never NULL: literals point into it */

    int rc = SL_ERR_PARSE;
    uint32_t root = BAD;
    if (expr_lex(&p.lx, p.src, len, err) < 0)
        goto done;
    if (p.lx.toks[0].kind == TK_EOF) {
        fail(&p, p.lx.toks[0].pos, "empty expression");
        goto done;
    }
    root = parse_or(&p);
    if (root == BAD)
        goto done;
    if (peek(&p)->kind != TK_EOF) {
        if (peek(&p)->kind == TK_RPAREN)
            fail(&p, peek(&p)->pos, "')' without a matching '('");
        else
            fail_expected(&p, "an operator or the end of the expression");
        goto done;
    }
    finish(&p, root);
    *out = p.e;
    p.e = NULL;
    rc = 0;
done:
    expr_lexer_free(&p.lx);
    free(p.depth);
    free(p.lit_off);
    free(p.seg_off);
    sl_buf_free(&p.pool);
    sl_expr_free(p.e);
    return rc;
}

void sl_expr_free(sl_expr *e)
{
    if (!e)
        return;
    free(e->nodes);
    free(e->kids);
    free(e->lits);
    free(e->fields);
    free(e->segs);
    sl_expr_keyset_free(&e->keys);
    free(e->pool);
    free(e);
}

size_t sl_expr_field_count(const sl_expr *e)
{
    return e ? e->keys.n : 0;
}

const char *sl_expr_field_name(const sl_expr *e, size_t i, size_t *len)
{
    if (!e || i >= e->keys.n)
        return NULL;
    if (len)
        *len = e->keys.keys[i].len;
    return e->keys.keys[i].name;
}
