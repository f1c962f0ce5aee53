/*
 * lexer.h - the tokens of the expression language (private to src/expr).
 *
 * The whole source is cut into tokens before parsing, so the parser can
 * look two tokens ahead (`not in`) and every token keeps its byte range for
 * error messages. Words that are keywords (and, or, not, in, contains,
 * startswith, endswith, true, false, null) come out as their keyword
 * token; the parser takes them back as plain names after a '.'.
 */
#ifndef SL_EXPR_LEXER_H
#define SL_EXPR_LEXER_H

#include "expr/expr_int.h"

typedef enum expr_tok_kind {
    TK_EOF,
    TK_NUMBER,     /* value in num */
    TK_STRING,     /* decoded text in the lexer's text buffer */
    TK_IDENT,      /* the source bytes [pos, end) */
    TK_QIDENT,     /* `quoted key`, decoded text in the text buffer */
    TK_LPAREN, TK_RPAREN, TK_LBRACKET, TK_RBRACKET, TK_COMMA, TK_DOT,
    TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE,
    TK_AND, TK_OR, TK_NOT,
    TK_PLUS, TK_MINUS, TK_STAR, TK_SLASH, TK_PERCENT,
    TK_IN, TK_CONTAINS, TK_STARTSWITH, TK_ENDSWITH,
    TK_TRUE, TK_FALSE, TK_NULL,
} expr_tok_kind;

typedef struct expr_token {
    expr_tok_kind kind;
    uint32_t pos, end;    /* byte range in the source */
    uint32_t text, tlen;  /* TK_STRING, TK_QIDENT: range in the text buffer */
    sl_expr_value num;    /* TK_NUMBER */
} expr_token;

typedef struct expr_lexer {
    expr_token *toks;     /* owned; the last one is TK_EOF */
    size_t n, cap;
    sl_buf text;          /* decoded strings and quoted keys */
} expr_lexer;

/*
 * Cut src into tokens. Returns 0, or SL_ERR_PARSE with one message appended
 * to err ("at 7: unterminated string"). Free with expr_lexer_free either way.
 */
int expr_lex(expr_lexer *lx, const char *src, size_t len, sl_buf *err);
void expr_lexer_free(expr_lexer *lx);

/* Is this word a keyword (and therefore needs backticks as a key)? */
bool expr_is_keyword(const char *p, size_t n);
/* Can this byte start / continue an unquoted name? */
bool expr_name_start(uint8_t c);
bool expr_name_char(uint8_t c);

#endif
