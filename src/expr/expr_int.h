/*
 * expr_int.h - the compiled form of an expression, shared by the parser
 * (parser.c), the evaluator (eval.c, value.c), the printer (print.c) and
 * the scenario compiler (scenario.c, which reuses the key set).
 *
 * A compiled expression is a flat array of nodes; children always come
 * before their parent, and the root is the last node. Children are node
 * indices: a binary node keeps them in a and b, an n-ary one (&&, ||, a
 * list literal) keeps a range [a, a + b) of e->kids. Literal values sit in
 * their own array so that nodes stay 12 bytes and a condition's nodes share
 * a cache line or two.
 *
 *   nodes:  [0] FIELD age   [1] LIT 20   [2] CMP > (0, 1)   [3] FIELD gender
 *           [4] LIT 'MALE'  [5] CMP == (3, 4)  ...  [9] AND kids[0..3)
 *   kids:   2 5 8
 *
 * Fields are resolved in two steps. Every distinct first segment of a path
 * is one entry of the expression's key set; at evaluation one pass over
 * each object fills a slot per key (so three filters cost one scan of the
 * event, not three), and the rest of a path, if any, is walked from the
 * slot's value with sl_json_get.
 */
#ifndef SL_EXPR_INT_H
#define SL_EXPR_INT_H

#include "expr/expr.h"

/* ---- the key set --------------------------------------------------------- */

/*
 * A set of top-level key names and the one-pass scan that finds their
 * values in an object. Small sets are searched linearly; larger ones
 * through an open-addressing table. A 256-bit map of first bytes turns
 * most of an event's other keys away with one test.
 */
typedef struct sl_expr_keyset {
    uint32_t n, cap;
    struct sl_expr_key {
        char *name;       /* owned, NUL-terminated (may hold NULs itself) */
        uint32_t len;
        uint32_t hash;
    } *keys;
    uint64_t first[4];    /* bit c: some key starts with byte c */
    uint32_t *table;      /* index + 1, 0 = empty; NULL when linear */
    uint32_t mask;
    int32_t empty_key;    /* index of "", or -1 */
} sl_expr_keyset;

/* Where a key was found: its value and the object it came from (-1: none). */
typedef struct sl_expr_slot {
    sl_view value;
    int32_t object;
} sl_expr_slot;

void sl_expr_keyset_init(sl_expr_keyset *ks);
/* The index of name, added if new (the set copies it). */
uint32_t sl_expr_keyset_add(sl_expr_keyset *ks, const char *name, size_t len);
/* Build the lookup structures; call once after the last add. */
void sl_expr_keyset_finish(sl_expr_keyset *ks);
void sl_expr_keyset_free(sl_expr_keyset *ks);
/* The index of a raw key (escapes undecoded, as the scanner gives it), or -1. */
int32_t sl_expr_keyset_find_raw(const sl_expr_keyset *ks, sl_view raw);
/*
 * One pass over a validated object: for each member whose key is in the
 * set, store its value in slots[index] unless an earlier object already
 * filled that slot. Duplicate keys within the object: the last one wins.
 */
void sl_expr_keyset_scan(const sl_expr_keyset *ks, sl_view object, int32_t object_index,
                         sl_expr_slot *slots);
/*
 * The same pass for a caller that keeps its slots from event to event:
 * every key found gets its value tagged with stamp (the last one wins),
 * and keys [0, nfirst) also keep their first value in first[] (tagged the
 * same). A slot holds a value of this object exactly when its tag is
 * stamp, so nothing needs clearing before the scan.
 */
void sl_expr_keyset_scan_stamped(const sl_expr_keyset *ks, sl_view object, int32_t stamp,
                                 sl_expr_slot *slots, sl_expr_slot *first, uint32_t nfirst);

/*
 * The lookup state of one evaluation: which objects have been scanned into
 * the slots so far. keys is the expression's key set, or a larger set whose
 * first entries are the expression's keys in the same order (a scenario
 * scans once for its filters and its projection together).
 */
typedef struct sl_expr_scan {
    const sl_expr_keyset *keys;
    const sl_view *objects;
    uint32_t nobjects;
    uint32_t scanned;         /* objects [0, scanned) are in the slots */
    sl_expr_slot *slots;      /* keys->n of them, object = -1 to start */
} sl_expr_scan;

/* Scan the next object into the slots; false when none is left. */
static inline bool sl_expr_scan_next(sl_expr_scan *s)
{
    if (s->scanned >= s->nobjects)
        return false;
    sl_expr_keyset_scan(s->keys, s->objects[s->scanned], (int32_t)s->scanned, s->slots);
    s->scanned++;
    return true;
}

/* ---- nodes --------------------------------------------------------------- */

enum expr_kind {
    EK_LITERAL,   /* a = index into e->lits */
    EK_LIST,      /* kids [a, a + b) */
    EK_FIELD,     /* a = index into e->fields */
    EK_HAS,       /* a = index into e->fields */
    EK_NOT,       /* a */
    EK_NEG,       /* a */
    EK_AND,       /* kids [a, a + b) */
    EK_OR,        /* kids [a, a + b) */
    EK_CMP,       /* op, a, b */
    EK_ARITH,     /* op, a, b */
};

enum expr_op {
    EO_EQ, EO_NE, EO_LT, EO_LE, EO_GT, EO_GE,
    EO_IN, EO_NOT_IN, EO_CONTAINS, EO_STARTSWITH, EO_ENDSWITH,
    EO_ADD, EO_SUB, EO_MUL, EO_DIV, EO_MOD,
};

typedef struct expr_node {
    uint8_t kind;
    uint8_t op;
    uint16_t spare;
    uint32_t a, b;
} expr_node;

/* A field path: its first segment is a key of the set, the rest follow. */
typedef struct expr_field {
    uint32_t key;         /* index into e->keys */
    uint32_t seg;         /* first of the remaining segments in e->segs */
    uint32_t nseg;        /* how many remaining segments */
} expr_field;

/* Values of string numeric readings (sl_expr_value.numeric). */
enum { NUM_UNKNOWN = 0, NUM_INT, NUM_FLOAT, NUM_NONE };

struct sl_expr {
    expr_node *nodes;
    uint32_t nnodes, root;
    uint32_t *kids;
    uint32_t nkids;
    sl_expr_value *lits;  /* strings point into pool */
    uint32_t nlits;
    expr_field *fields;
    uint32_t nfields;
    char **segs;          /* NUL-terminated, point into pool */
    uint32_t nsegs;
    sl_expr_keyset keys;
    char *pool;           /* the bytes of string literals and segments */
    size_t pool_len;
};

/* ---- scenarios ------------------------------------------------------------ */

/*
 * A scenario's lookup (scenario.c builds it): one key set for the filters
 * and the projection, the filter expression's keys first, in their order,
 * so that its evaluator can use the same slots (sl_expr_scan), then every
 * kept name not among them.
 */
struct sl_scenario_lookup {
    sl_expr_keyset keys;
    uint32_t *slot;      /* kept field i (in log_format order) is in slot[i] */
    uint32_t *field;     /* ... and is fields[field[i]] */
    sl_buf prefix;       /* ,"name": of each kept field, back to back */
    uint32_t *prefix_at; /* kept field i's is [prefix_at[i], prefix_at[i + 1]) */
};

/* Append the projection from a scan over the scenario's lookup keys
   (sl_scenario_project's result), scanning further objects as needed. */
struct sl_scenario;
int sl_scenario_project_scan(const struct sl_scenario *s, sl_expr_scan *scan, sl_buf *out);

/* Evaluate with a scan the caller set up (eval.c). */
bool sl_expr_eval_bool_scan(const sl_expr *e, sl_expr_scan *scan);

/* ---- shared helpers (value.c) --------------------------------------------- */

/*
 * The value of a JSON text (a field or an array element): its type from
 * the first byte, a number parsed, a string's content and escape flag.
 */
void sl_expr_value_of_json(sl_view json, sl_expr_value *out);

/*
 * Read a string as a number: optional sign, digits with an optional
 * fraction, an optional exponent, nothing else (no blanks, no hex, no
 * inf). Caches the outcome in v->numeric, v->i and v->f; true when it is
 * a number.
 */
bool sl_expr_string_number(sl_expr_value *v);

/* Parse number text of the language (digits, '.', exponent; no sign). */
int sl_expr_parse_number(const char *p, size_t n, sl_expr_value *out);

/* Shortest text that reads back as the same double, with ".0" if integral. */
size_t sl_expr_format_double(double d, char out[40]);

/* Decode a JSON string body (escapes included) into out; false if malformed. */
bool sl_expr_unescape(sl_view body, sl_buf *out);
/* Decode the one escape at *pp (a backslash) into out: its length, or -1. */
int sl_expr_unescape_one(const char **pp, const char *end, char out[4]);

/* Append a string literal ('...' with escapes) or a key (plain, or in
   backticks when it needs them) as the language spells them (print.c). */
void sl_expr_quote_string(const char *s, size_t n, sl_buf *out);
void sl_expr_quote_key(const char *s, size_t n, sl_buf *out);

/* Is text valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF)? Returns the
   offset of the first bad byte, or n when it is all valid. */
size_t sl_expr_utf8_check(const char *p, size_t n);

#endif
