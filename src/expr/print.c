/*
 * print.c - the canonical text of a compiled expression (sl_expr_to_string).
 *
 * The canonical form is what tests compare and what /api/scenarios echoes:
 * one spelling per construct (&&, ||, !, single-quoted strings, the
 * shortest exact number), one space around binary operators, and
 * parentheses only where precedence needs them. A `!` is followed by a
 * plain operand (!has(x), !flag) or by parentheses (!(age > 20)), because
 * `!` binds looser than a comparison and `!age > 20` would read wrongly to
 * a C programmer even though it means the same.
 *
 * Printing then compiling gives the same tree, so the text is a fixed
 * point: to_string(compile(to_string(e))) == to_string(e). The fuzz target
 * checks that on everything that compiles.
 */
#include "expr/lexer.h"

#include <stdio.h>

/* Binding strength, loosest first. */
enum {
    P_OR = 1,
    P_AND,
    P_NOT,
    P_CMP,
    P_ADD,
    P_MUL,
    P_NEG,
    P_PRIMARY,
};

static int precedence(const sl_expr *e, uint32_t idx)
{
    const expr_node *n = &e->nodes[idx];
    switch (n->kind) {
    case EK_OR:  return P_OR;
    case EK_AND: return P_AND;
    case EK_NOT: return P_NOT;
    case EK_CMP: return P_CMP;
    case EK_NEG: return P_NEG;
    case EK_ARITH:
        return n->op == EO_ADD || n->op == EO_SUB ? P_ADD : P_MUL;
    default:
        return P_PRIMARY;
    }
}

static void print_node(const sl_expr *e, uint32_t idx, sl_buf *out);

/* Print a child, in parentheses when it binds looser than min. */
static void print_child(const sl_expr *e, uint32_t idx, int min, sl_buf *out)
{
    bool parens = precedence(e, idx) < min;
    if (parens)
        sl_buf_append_char(out, '(');
    print_node(e, idx, out);
    if (parens)
        sl_buf_append_char(out, ')');
}

void sl_expr_quote_string(const char *s, size_t n, sl_buf *out)
{
    sl_buf_append_char(out, '\'');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        const char *esc = NULL;
        char u[8];
        switch (c) {
        case '\\': esc = "\\\\"; break;
        case '\'': esc = "\\'"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(u, sizeof u, "\\u%04x", c);
                esc = u;
            }
        }
        if (!esc)
            continue;
        sl_buf_append(out, s + run, i - run);
        sl_buf_append_str(out, esc);
        run = i + 1;
    }
    sl_buf_append(out, s + run, n - run);
    sl_buf_append_char(out, '\'');
}

void sl_expr_quote_key(const char *s, size_t n, sl_buf *out)
{
    bool plain = n > 0 && expr_name_start((uint8_t)s[0]) && !expr_is_keyword(s, n);
    for (size_t i = 1; plain && i < n; i++)
        plain = expr_name_char((uint8_t)s[i]);
    if (plain) {
        sl_buf_append(out, s, n);
        return;
    }
    sl_buf_append_char(out, '`');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '`')
            continue;
        sl_buf_append(out, s + run, i + 1 - run);
        sl_buf_append_char(out, '`'); /* a backtick is written twice */
        run = i + 1;
    }
    sl_buf_append(out, s + run, n - run);
    sl_buf_append_char(out, '`');
}

static void print_path(const sl_expr *e, uint32_t fi, sl_buf *out)
{
    const expr_field *f = &e->fields[fi];
    const struct sl_expr_key *k = &e->keys.keys[f->key];
    sl_expr_quote_key(k->name, k->len, out);
    for (uint32_t i = 0; i < f->nseg; i++) {
        const char *seg = e->segs[f->seg + i];
        sl_buf_append_char(out, '.');
        sl_expr_quote_key(seg, strlen(seg), out);
    }
}

static void print_literal(const sl_expr_value *v, sl_buf *out)
{
    char num[40];
    switch (v->type) {
    case SL_EXPR_INT:
        sl_buf_printf(out, "%lld", (long long)v->i);
        return;
    case SL_EXPR_FLOAT:
        sl_buf_append(out, num, sl_expr_format_double(v->f, num));
        return;
    case SL_EXPR_STRING:
        sl_expr_quote_string(v->s.ptr, v->s.len, out);
        return;
    case SL_EXPR_BOOL:
        sl_buf_append_str(out, v->b ? "true" : "false");
        return;
    default:
        sl_buf_append_str(out, "null");
        return;
    }
}

static const char *op_text(uint8_t op)
{
    static const char *const text[] = {
        [EO_EQ] = " == ", [EO_NE] = " != ", [EO_LT] = " < ", [EO_LE] = " <= ",
        [EO_GT] = " > ", [EO_GE] = " >= ", [EO_IN] = " in ", [EO_NOT_IN] = " not in ",
        [EO_CONTAINS] = " contains ",
        [EO_STARTSWITH] = " startswith ", [EO_ENDSWITH] = " endswith ",
        [EO_ADD] = " + ", [EO_SUB] = " - ", [EO_MUL] = " * ", [EO_DIV] = " / ",
        [EO_MOD] = " % ",
    };
    return op < SL_ARRAY_LEN(text) && text[op] ? text[op] : " ? ";
}

static void print_node(const sl_expr *e, uint32_t idx, sl_buf *out)
{
    const expr_node *n = &e->nodes[idx];
    switch (n->kind) {
    case EK_LITERAL:
        print_literal(&e->lits[n->a], out);
        return;
    case EK_FIELD:
        print_path(e, n->a, out);
        return;
    case EK_HAS:
        sl_buf_append_str(out, "has(");
        print_path(e, n->a, out);
        sl_buf_append_char(out, ')');
        return;
    case EK_LIST:
        sl_buf_append_char(out, '[');
        for (uint32_t i = 0; i < n->b; i++) {
            if (i)
                sl_buf_append_str(out, ", ");
            print_node(e, e->kids[n->a + i], out);
        }
        sl_buf_append_char(out, ']');
        return;
    case EK_AND:
    case EK_OR:
        for (uint32_t i = 0; i < n->b; i++) {
            if (i)
                sl_buf_append_str(out, n->kind == EK_AND ? " && " : " || ");
            print_child(e, e->kids[n->a + i], n->kind == EK_AND ? P_NOT : P_AND, out);
        }
        return;
    case EK_NOT:
        sl_buf_append_char(out, '!');
        print_child(e, n->a, P_PRIMARY, out);
        return;
    case EK_NEG:
        sl_buf_append_char(out, '-');
        print_child(e, n->a, P_PRIMARY, out);
        return;
    case EK_CMP:
        print_child(e, n->a, P_ADD, out);
        sl_buf_append_str(out, op_text(n->op));
        print_child(e, n->b, P_ADD, out);
        return;
    case EK_ARITH: {
        int p = precedence(e, idx);
        print_child(e, n->a, p, out);
        sl_buf_append_str(out, op_text(n->op));
        print_child(e, n->b, p + 1, out); /* a - (b - c) keeps its parentheses */
        return;
    }
    default:
        sl_buf_append_str(out, "?");
        return;
    }
}

void sl_expr_to_string(const sl_expr *e, sl_buf *out)
{
    if (!e)
        return;
    print_node(e, e->root, out);
}
