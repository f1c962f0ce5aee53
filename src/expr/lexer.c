/*
 * lexer.c - cuts expression text into tokens (see lexer.h).
 *
 * Strings come in either quote ('MALE' or "MALE") with the JSON escapes
 * plus \' ; they are decoded here, so the parser and the evaluator only
 * ever see the bytes meant. Quoted keys use backticks, a doubled backtick
 * standing for one: `user-agent`, `a.b`, `it``s`. Text in strings, keys
 * and names must be valid UTF-8, so that whatever compiles prints back as
 * valid JSON text in an API answer.
 *
 * The lexer also answers the slips people make, with the fix in the
 * message: a lone '=' ("did you mean '=='?"), '&' and '|'.
 */
#include "expr/lexer.h"

#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>

static const struct {
    const char *word;
    expr_tok_kind kind;
} keywords[] = {
    { "and", TK_AND }, { "or", TK_OR }, { "not", TK_NOT }, { "in", TK_IN },
    { "contains", TK_CONTAINS }, { "startswith", TK_STARTSWITH },
    { "endswith", TK_ENDSWITH }, { "true", TK_TRUE }, { "false", TK_FALSE },
    { "null", TK_NULL },
};

static expr_tok_kind keyword_kind(const char *p, size_t n)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(keywords); i++)
        if (strlen(keywords[i].word) == n && memcmp(keywords[i].word, p, n) == 0)
            return keywords[i].kind;
    return TK_IDENT;
}

bool expr_is_keyword(const char *p, size_t n)
{
    return keyword_kind(p, n) != TK_IDENT;
}

bool expr_name_start(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '@' ||
           c == '$' || c >= 0x80;
}

bool expr_name_char(uint8_t c)
{
    return expr_name_start(c) || (c >= '0' && c <= '9');
}

__attribute__((format(printf, 3, 4)))
static int lex_fail(sl_buf *err, size_t pos, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        sl_buf_printf(err, "at %zu: ", pos);
        sl_buf_vprintf(err, fmt, ap);
        va_end(ap);
    }
    return SL_ERR_PARSE;
}

static expr_token *push(expr_lexer *lx, expr_tok_kind kind, size_t pos, size_t end)
{
    if (lx->n == lx->cap) {
        lx->cap = lx->cap ? lx->cap * 2 : 32;
        lx->toks = sl_realloc(lx->toks, lx->cap * sizeof *lx->toks);
    }
    expr_token *t = &lx->toks[lx->n++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->pos = (uint32_t)pos;
    t->end = (uint32_t)end;
    return t;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

static void put_utf8(sl_buf *b, uint32_t cp)
{
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        o[0] = (char)(0xf0 | cp >> 18);
        o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    sl_buf_append(b, o, n);
}

/* A quoted string from its opening quote at *pos; decoded into lx->text. */
static int lex_string(expr_lexer *lx, const char *s, size_t len, size_t *pos, sl_buf *err)
{
    size_t start = *pos, i = start + 1;
    char quote = s[start];
    size_t text0 = lx->text.len;
    for (;;) {
        size_t run = i;
        while (i < len && s[i] != quote && s[i] != '\\' && (uint8_t)s[i] >= 0x20)
            i++;
        size_t bad = sl_expr_utf8_check(s + run, i - run);
        if (bad < i - run)
            return lex_fail(err, run + bad, "invalid UTF-8 in string");
        sl_buf_append(&lx->text, s + run, i - run);
        if (i == len)
            return lex_fail(err, start, "unterminated string");
        if (s[i] == quote)
            break;
        if (s[i] != '\\')
            return lex_fail(err, i, "control character 0x%02x in string (write it as \\u%04x)",
                            (uint8_t)s[i], (uint8_t)s[i]);
        if (i + 1 == len)
            return lex_fail(err, start, "unterminated string");
        char c = s[i + 1], out;
        switch (c) {
        case '\\': out = '\\'; break;
        case '\'': out = '\''; break;
        case '"':  out = '"'; break;
        case '/':  out = '/'; break;
        case 'b':  out = '\b'; break;
        case 'f':  out = '\f'; break;
        case 'n':  out = '\n'; break;
        case 'r':  out = '\r'; break;
        case 't':  out = '\t'; break;
        case 'u': {
            int cp = len - i >= 6 ? hex4(s + i + 2) : -1;
            if (cp < 0)
                return lex_fail(err, i, "invalid \\u escape: expected 4 hex digits");
            size_t used = 6;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return lex_fail(err, i, "unpaired low surrogate \\u%04X", (unsigned)cp);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                int low = len - i >= 12 && s[i + 6] == '\\' && s[i + 7] == 'u' ? hex4(s + i + 8) : -1;
                if (low < 0xdc00 || low > 0xdfff)
                    return lex_fail(err, i, "unpaired high surrogate \\u%04X", (unsigned)cp);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                used = 12;
            }
            put_utf8(&lx->text, (uint32_t)cp);
            i += used;
            continue;
        }
        default:
            if ((uint8_t)c > 0x20 && (uint8_t)c < 0x7f)
                return lex_fail(err, i, "unknown escape '\\%c' in string", c);
            return lex_fail(err, i, "unknown escape in string (byte 0x%02x after '\\')", (uint8_t)c);
        }
        sl_buf_append_char(&lx->text, out);
        i += 2;
    }
    expr_token *t = push(lx, TK_STRING, start, i + 1);
    t->text = (uint32_t)text0;
    t->tlen = (uint32_t)(lx->text.len - text0);
    *pos = i + 1;
    return 0;
}

/* A `quoted key` from its opening backtick at *pos. */
static int lex_qident(expr_lexer *lx, const char *s, size_t len, size_t *pos, sl_buf *err)
{
    size_t start = *pos, i = start + 1;
    size_t text0 = lx->text.len;
    for (;;) {
        size_t run = i;
        while (i < len && s[i] != '`' && s[i] != '\0')
            i++;
        size_t bad = sl_expr_utf8_check(s + run, i - run);
        if (bad < i - run)
            return lex_fail(err, run + bad, "invalid UTF-8 in quoted key");
        sl_buf_append(&lx->text, s + run, i - run);
        if (i == len)
            return lex_fail(err, start, "unterminated quoted key (a key quoted with ` ends with `)");
        if (s[i] == '\0')
            return lex_fail(err, i, "NUL byte in quoted key");
        if (i + 1 < len && s[i + 1] == '`') { /* `` stands for one backtick */
            sl_buf_append_char(&lx->text, '`');
            i += 2;
            continue;
        }
        break;
    }
    expr_token *t = push(lx, TK_QIDENT, start, i + 1);
    t->text = (uint32_t)text0;
    t->tlen = (uint32_t)(lx->text.len - text0);
    *pos = i + 1;
    return 0;
}

static int lex_number(expr_lexer *lx, const char *s, size_t len, size_t *pos, sl_buf *err)
{
    size_t start = *pos, i = start;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i + 1 < len && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < len && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j < len && s[j] >= '0' && s[j] <= '9') {
            while (j < len && s[j] >= '0' && s[j] <= '9')
                j++;
            i = j;
        }
    }
    if (i < len && (expr_name_char((uint8_t)s[i]) || s[i] == '.')) {
        size_t j = i;
        while (j < len && (expr_name_char((uint8_t)s[j]) || s[j] == '.'))
            j++;
        return lex_fail(err, start, "invalid number '%.*s'", (int)SL_MIN(j - start, 40), s + start);
    }
    expr_token *t = push(lx, TK_NUMBER, start, i);
    int rc = sl_expr_parse_number(s + start, i - start, &t->num);
    if (rc < 0)
        return lex_fail(err, start, "number '%.*s' is out of range", (int)SL_MIN(i - start, 40),
                        s + start);
    *pos = i;
    return 0;
}

int expr_lex(expr_lexer *lx, const char *s, size_t len, sl_buf *err)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = (uint8_t)s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            i++;
            continue;
        }
        expr_tok_kind k;
        size_t w = 1;
        switch (c) {
        case '(': k = TK_LPAREN; break;
        case ')': k = TK_RPAREN; break;
        case '[': k = TK_LBRACKET; break;
        case ']': k = TK_RBRACKET; break;
        case ',': k = TK_COMMA; break;
        case '.': k = TK_DOT; break;
        case '+': k = TK_PLUS; break;
        case '-': k = TK_MINUS; break;
        case '*': k = TK_STAR; break;
        case '/': k = TK_SLASH; break;
        case '%': k = TK_PERCENT; break;
        case '<':
            k = i + 1 < len && s[i + 1] == '=' ? (w = 2, TK_LE) : TK_LT;
            break;
        case '>':
            k = i + 1 < len && s[i + 1] == '=' ? (w = 2, TK_GE) : TK_GT;
            break;
        case '!':
            k = i + 1 < len && s[i + 1] == '=' ? (w = 2, TK_NE) : TK_NOT;
            break;
        case '=':
            if (i + 1 < len && s[i + 1] == '=') {
                k = TK_EQ;
                w = 2;
                break;
            }
            return lex_fail(err, i, "unexpected '='; did you mean '=='?");
        case '&':
            if (i + 1 < len && s[i + 1] == '&') {
                k = TK_AND;
                w = 2;
                break;
            }
            return lex_fail(err, i, "unexpected '&'; did you mean '&&'?");
        case '|':
            if (i + 1 < len && s[i + 1] == '|') {
                k = TK_OR;
                w = 2;
                break;
            }
            return lex_fail(err, i, "unexpected '|'; did you mean '||'?");
        case '\'':
        case '"':
            if (lex_string(lx, s, len, &i, err) < 0)
                return SL_ERR_PARSE;
            continue;
        case '`':
            if (lex_qident(lx, s, len, &i, err) < 0)
                return SL_ERR_PARSE;
            continue;
        default:
            if (c >= '0' && c <= '9') {
                if (lex_number(lx, s, len, &i, err) < 0)
                    return SL_ERR_PARSE;
                continue;
            }
            if (expr_name_start(c)) {
                size_t j = i;
                while (j < len && expr_name_char((uint8_t)s[j]))
                    j++;
                size_t bad = sl_expr_utf8_check(s + i, j - i);
                if (bad < j - i)
                    return lex_fail(err, i + bad, "invalid UTF-8 in name");
                push(lx, keyword_kind(s + i, j - i), i, j);
                i = j;
                continue;
            }
            if (c > 0x20 && c < 0x7f)
                return lex_fail(err, i, "unexpected character '%c'", c);
            return lex_fail(err, i, "unexpected byte 0x%02x", c);
        }
        push(lx, k, i, i + w);
        i += w;
    }
    push(lx, TK_EOF, len, len);
    return 0;
}

void expr_lexer_free(expr_lexer *lx)
{
    free(lx->toks);
    sl_buf_free(&lx->text);
    memset(lx, 0, sizeof *lx);
}
