/*
 * scenario.h - seed-001 scenarios: their JSON, compiled to an expression
 * and a projection.
 *
 * A scenario is written by a user (POST /api/scenarios) in the seed's shape:
 *
 *   {
 *     "scenario_id": 5,
 *     "title": "...", "manager": "admin_user",
 *     "log_format": { "e_c": 0, "e_a": 0, "memberId": 1, "h": 1, "res": 0 },
 *     "filters": [
 *       { "left": "age",    "operator": ">",  "right": "20" },
 *       { "left": "gender", "operator": "==", "right": "MALE" },
 *       { "left": "h",      "operator": ">=", "right": "9" }
 *     ],
 *     "logical_operator": "AND"
 *   }
 *
 * and compiles to the expression `age > 20 && gender == 'MALE' && h >= 9`
 * (expr.h) plus a projection: the event keeps exactly the fields that
 * log_format marks 1, in log_format's order; fields marked 0 and fields
 * log_format does not list are dropped. docs/expressions.md describes the
 * format, every check and the mapping.
 *
 * A parsed sl_scenario is immutable: match and project from any number of
 * threads at once. Matching and projecting never allocate (projecting
 * grows the caller's buffer).
 */
#ifndef SL_EXPR_SCENARIO_H
#define SL_EXPR_SCENARIO_H

#include "core/buf.h"
#include "core/common.h"
#include "expr/expr.h"

#define SL_SCENARIO_MAX_KEPT 256  /* fields log_format may keep */
#define SL_SCENARIO_MAX_KEYS (SL_EXPR_MAX_FIELDS + SL_SCENARIO_MAX_KEPT)

typedef enum sl_scenario_logic {
    SL_SCENARIO_AND,
    SL_SCENARIO_OR,
} sl_scenario_logic;

/* One entry of log_format, as given. */
typedef struct sl_scenario_field {
    char *name;       /* decoded key, NUL-terminated */
    size_t len;       /* its length (a key may hold \u0000) */
    bool keep;        /* 1 (or true): kept; 0 (or false): dropped */
} sl_scenario_field;

/* One filter, as given. */
typedef struct sl_scenario_filter {
    char *left;       /* decoded field path, dots separating keys */
    char *op;         /* the operator as given: "==", "in", ... */
    char *right;      /* the right side's JSON text, verbatim */
} sl_scenario_filter;

/* Read-only after sl_scenario_parse; everything is owned by the scenario. */
typedef struct sl_scenario {
    int64_t id;                    /* scenario_id, > 0 */
    char *title;                   /* "" when absent */
    char *manager;                 /* "" when absent */
    sl_scenario_field *fields;     /* log_format in its order */
    size_t nfields;
    size_t nkept;                  /* how many of them are kept */
    sl_scenario_filter *filters;
    size_t nfilters;
    sl_scenario_logic logic;
    sl_expr *filter;               /* the compiled filters ("true" when none) */
    struct sl_scenario_lookup *lookup; /* private: one scan for both */
} sl_scenario;

/*
 * Parse and validate one scenario. json need not be validated yet. On
 * success returns 0 and sets *out (free it with sl_scenario_free). On
 * failure returns SL_ERR_PARSE, leaves *out NULL and appends to err (may
 * be NULL) every problem found, separated by "; ", each naming the bad
 * part: "filters[1].operator: unknown operator '=~' (one of == != > >= <
 * <= in not in contains startswith endswith)", "scenario_id: must be a
 * positive integer", "logical_operator: must be AND or OR".
 */
int sl_scenario_parse(sl_view json, sl_scenario **out, sl_buf *err);

/* NULL-safe. */
void sl_scenario_free(sl_scenario *s);

/*
 * Do the filters hold? objects are looked up in order (the event, then
 * its member record; see sl_expr_eval_bool_ctx).
 */
bool sl_scenario_match(const sl_scenario *s, const sl_view *objects, size_t nobjects);

/*
 * Append the projected event to out: a JSON object with the kept fields
 * in log_format's order, values copied byte for byte from the first object
 * that has them; a kept field no object has is left out. Returns the
 * number of fields written, so that a caller adding its own members
 * (success, scenario_id, date) knows whether a comma is needed after
 * dropping the closing '}'.
 */
int sl_scenario_project(const sl_scenario *s, sl_view event, sl_buf *out);
int sl_scenario_project_ctx(const sl_scenario *s, const sl_view *objects, size_t nobjects,
                            sl_buf *out);

/*
 * Both at once, the way the scenario processor wants them: one pass over
 * each object finds the filters' fields and the kept ones together. Sets
 * *matched and appends the projection; returns what sl_scenario_project
 * returns. Same results as calling the two, in about half the time.
 */
int sl_scenario_apply(const sl_scenario *s, const sl_view *objects, size_t nobjects,
                      sl_buf *out, bool *matched);

/* ---- many scenarios over one stream of events ------------------------------ */

/*
 * The keys of a set of scenarios, so that one pass over an event finds
 * every value any of them reads (scenario_keys.c). A processor that reads
 * an event's scenario id before it knows which scenario applies would
 * otherwise walk the event once to find the id and again for the
 * scenario's fields; with the union both come out of the same pass.
 *
 * The caller names extra keys first (the scenario processor's scenario_id
 * and member key): their first occurrence in an event is kept, while the
 * scenarios' fields take the last occurrence, as sl_scenario_apply does.
 * Then each scenario is added and numbered; sl_scenario_keys_apply
 * evaluates one of them over the scanned event.
 *
 * Built once, then read-only (scan and apply from any number of threads,
 * each with its own sl_scenario_event). The scenarios must outlive it.
 */
typedef struct sl_scenario_keys sl_scenario_keys;

/* A union of the nextra extra keys (raw names, as the scanner compares
   them: a key spelled with escapes in an event still matches). */
sl_scenario_keys *sl_scenario_keys_new(const sl_view *extra, size_t nextra);
/* Add a scenario's keys; returns its number for sl_scenario_keys_apply. */
size_t sl_scenario_keys_add(sl_scenario_keys *k, const sl_scenario *s);
/* Build the lookup structures; call once after the last add. */
void sl_scenario_keys_finish(sl_scenario_keys *k);
void sl_scenario_keys_free(sl_scenario_keys *k); /* NULL-safe */

/*
 * One scanned event: the caller's per-thread state, reused from event to
 * event without clearing (each scan stamps what it finds). Zero it (or
 * sl_scenario_event_init) before the first scan; free with
 * sl_scenario_event_free.
 */
typedef struct sl_scenario_event {
    sl_view object;              /* the event scanned last */
    int32_t stamp;
    struct sl_expr_slot *slots;  /* one per key of the union */
    struct sl_expr_slot *first;  /* one per extra key */
    size_t cap;
} sl_scenario_event;

void sl_scenario_event_init(sl_scenario_event *ev);
void sl_scenario_event_free(sl_scenario_event *ev);

/* One pass over the top-level members of event (a JSON object). */
void sl_scenario_keys_scan(const sl_scenario_keys *k, sl_view event, sl_scenario_event *ev);

/* The first value of extra key i in the scanned event (raw JSON), or an
   empty view when the event has none. */
sl_view sl_scenario_event_extra(const sl_scenario_event *ev, size_t i);

/*
 * sl_scenario_apply for scenario number `which` over the scanned event
 * and its member (may be empty): sets *matched and, when out is not NULL,
 * appends the projection and returns what sl_scenario_project returns (0
 * without out). Same results as sl_scenario_apply over { event, member }.
 */
int sl_scenario_keys_apply(const sl_scenario_keys *k, size_t which, const sl_scenario_event *ev,
                           sl_view member, sl_buf *out, bool *matched);

/*
 * Append the scenario as JSON in the input shape (scenario_id, title,
 * manager, log_format, filters, logical_operator) plus "expression", the
 * canonical text of the compiled filters. Parsing the result gives the
 * same scenario; "expression" is ignored on input.
 */
void sl_scenario_to_json(const sl_scenario *s, sl_buf *out);

#endif
