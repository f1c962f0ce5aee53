/*
 * expr.h - the one expression language of sluice (DESIGN.md, principle 6).
 *
 * Scenario filters, window metrics, alert conditions and routing rules are
 * all written in this small language and evaluated against one JSON event
 * (a validated object, seen in place through core/json.h):
 *
 *     age > 20 && gender == 'MALE' && h >= 9
 *     status >= 500 || metadata.`retry.count` > 3
 *     e_c in ['buttonClick', 'scroll'] && !has(bot)
 *     latency_ms / 1000 >= 2.5
 *
 * docs/expressions.md is the reference: grammar, operators, the comparison
 * rule (both sides readable as numbers compare as numbers, two strings
 * compare as strings, anything else is unequal and unordered) and the
 * missing-field rule (any comparison with a missing field is false, so
 * `!(x == 1)` is true when x is missing; test presence with has(x)).
 *
 * A compiled sl_expr is immutable: evaluate it from any number of threads
 * at once. Evaluation never allocates and never fails: a type error or a
 * missing field yields false (or SL_EXPR_MISSING from sl_expr_eval).
 *
 * Fields may be looked up in more than one object: the scenario processor
 * passes the event and then the member record found by its memberId, and a
 * path is taken from the first object that holds it, without rewriting the
 * event.
 */
#ifndef SL_EXPR_H
#define SL_EXPR_H

#include "core/buf.h"
#include "core/common.h"

typedef struct sl_expr sl_expr;

/* Limits, checked at compile time with a message naming the position. */
#define SL_EXPR_MAX_SOURCE  (1u << 20) /* bytes of expression text */
#define SL_EXPR_MAX_DEPTH   100        /* depth of the expression tree */
/* Parentheses and prefix operators open while parsing: twice the depth,
   because the canonical text of a tree of depth d never needs more. */
#define SL_EXPR_MAX_NESTING (2 * SL_EXPR_MAX_DEPTH)
#define SL_EXPR_MAX_FIELDS  128        /* distinct top-level keys referenced */

/* The type of a value produced by evaluation. */
typedef enum sl_expr_type {
    SL_EXPR_MISSING = 0, /* no value: a missing field or a type error */
    SL_EXPR_NULL,
    SL_EXPR_BOOL,
    SL_EXPR_INT,         /* 64-bit integer */
    SL_EXPR_FLOAT,       /* double */
    SL_EXPR_STRING,
    SL_EXPR_ARRAY,       /* a JSON array of the event */
    SL_EXPR_OBJECT,      /* a JSON object of the event */
    SL_EXPR_LIST,        /* a list literal of the expression, [1, 2] */
} sl_expr_type;

/*
 * A value. Strings, arrays and objects are views into the event or into
 * the compiled expression: the value is valid while both live.
 *
 * A string from the event is the raw text between its quotes; when it has
 * backslash escapes, `escaped` is set and sl_expr_value_text decodes it.
 * The remaining members are the evaluator's own (a cached numeric reading
 * of a string, the node of a list literal).
 */
typedef struct sl_expr_value {
    sl_expr_type type;
    bool b;             /* BOOL */
    bool escaped;       /* STRING: s still holds JSON escapes */
    uint8_t numeric;    /* internal: what reading a string as a number gave */
    uint32_t node;      /* internal: LIST node */
    int64_t i;          /* INT */
    double f;           /* FLOAT */
    sl_view s;          /* STRING (content), ARRAY and OBJECT (JSON text) */
} sl_expr_value;

/*
 * Compile len bytes of expression text. On success returns 0 and sets *out
 * (the caller frees it with sl_expr_free). On failure returns SL_ERR_PARSE,
 * leaves *out NULL and appends one line to err (may be NULL) naming the
 * byte offset from 0 and what was wrong: "at 5: expected ')' after the
 * argument of has(), found the end of the expression".
 */
int sl_expr_compile(const char *src, size_t len, sl_expr **out, sl_buf *err);

/* Free a compiled expression; NULL-safe. */
void sl_expr_free(sl_expr *e);

/* Evaluate as a condition against one validated JSON object. */
bool sl_expr_eval_bool(const sl_expr *e, sl_view event);

/*
 * The same against several objects: a field path is looked up in
 * objects[0], then objects[1], ..., and the first object that holds the
 * whole path gives its value. An object view may be empty (ptr NULL), as
 * for an event whose member is unknown.
 */
bool sl_expr_eval_bool_ctx(const sl_expr *e, const sl_view *objects, size_t nobjects);

/*
 * Evaluate to a value (window metrics, group keys). Returns 0 and fills
 * *out; out->type is SL_EXPR_MISSING when the expression has no value for
 * this event (a missing field, a type error, a division by zero). Returns
 * -EINVAL only for NULL arguments.
 */
int sl_expr_eval(const sl_expr *e, sl_view event, sl_expr_value *out);
int sl_expr_eval_ctx(const sl_expr *e, const sl_view *objects, size_t nobjects,
                     sl_expr_value *out);

/* A value as a condition: true, or a number other than 0. */
bool sl_expr_value_truthy(const sl_expr_value *v);

/* A value as a number: INT, FLOAT or a string that reads as one. */
bool sl_expr_value_number(const sl_expr_value *v, double *out);

/*
 * Append a value as plain text (strings decoded, numbers in their shortest
 * exact form, true/false/null, arrays and objects as their JSON text) or
 * as JSON. Both return 0, or SL_ERR_PARSE for MISSING and LIST values,
 * which have no text (nothing is appended then).
 */
int sl_expr_value_text(const sl_expr_value *v, sl_buf *out);
int sl_expr_value_json(const sl_expr_value *v, sl_buf *out);

/*
 * Append the canonical text of e: single-quoted strings, minimal
 * parentheses, the symbolic operators (&&, ||, !), backticks only where a
 * key needs them. Compiling it gives an expression that behaves the same
 * and prints the same.
 */
void sl_expr_to_string(const sl_expr *e, sl_buf *out);

/*
 * The distinct top-level keys e reads (the first segment of each path),
 * in order of first use: a processor can skip an enrichment lookup when
 * none of the enriched keys is used. The name is owned by e.
 */
size_t sl_expr_field_count(const sl_expr *e);
const char *sl_expr_field_name(const sl_expr *e, size_t i, size_t *len);

#endif
