/*
 * scenario.h - the scenario processor's parts (the plugin is processor.c).
 *
 * For each event of `from` (web.raw) the processor finds the scenario named
 * by its scenario_id, the member named by its memberId, evaluates the
 * scenario's filters against both, and produces to `to`
 * (scenario.results) the projected event plus success, scenario_id and
 * date. Per source partition it also counts each scenario's events and
 * successes per window of event time and emits those counts as partials
 * (to `stats_topic` and the catalogue's scenario_stats).
 *
 * The parts, each testable alone:
 *
 *   scenario_set      compiled scenarios by id, rebuilt from the catalogue
 *   scenario_members  the member cache: id -> enrichment object
 *   scenario_windows  per-partition window counts, closing, commit points
 *   scenario_chunk    where results appends start and end, and their
 *                     idempotency keys
 *   scenario_result   one result record
 *
 * Exactness, in one paragraph (docs/scenarios.md has the long form). A
 * partial covers every record of its source partition in its window up
 * to last_offset, so writing it again, or a later one covering more,
 * replaces it. Source offsets are committed only up to the first record
 * not yet covered by a durable partial and by durable results; after a
 * crash the records from there are read again: a record at or below its
 * window's stored last_offset is not counted twice, and results already
 * durable are not produced twice because results appends cover fixed
 * ranges of source offsets and carry an idempotency key naming the range.
 * The ranges are fixed relative to a base offset kept in the catalogue;
 * the one range that ends early (at a flush) has its end written to the
 * catalogue before it is appended.
 */
#ifndef SL_PROCESSOR_SCENARIO_H
#define SL_PROCESSOR_SCENARIO_H

#include "core/buf.h"
#include "core/common.h"
#include "expr/scenario.h"

/* ---- compiled scenarios ----------------------------------------------------- */

typedef struct scenario_entry {
    int64_t id;
    sl_scenario *compiled;
    size_t keys_index;     /* its number in the set's keys */
    char key[24];          /* the record key: the id in decimal */
    size_t key_len;
    /* `"success":1,"scenario_id":5,"date":"` and the same with 0 */
    char tail[2][64];
    size_t tail_len[2];
} scenario_entry;

typedef struct scenario_set {
    scenario_entry *entries; /* open addressing by id; id 0 = empty slot */
    size_t cap;              /* a power of two */
    size_t n;
    /* Every key any scenario reads, after the two extra keys scenario_id
       (SCENARIO_KEY_ID) and the member key (member_extra): one pass over
       an event finds them all (scenario_eval). */
    sl_scenario_keys *keys;
    size_t member_extra;
} scenario_set;

enum { SCENARIO_KEY_ID = 0 };

/* Build a set from catalogue definitions (the strings are parsed, not
   kept); member_key names the event field holding the member id. A
   definition that does not compile is skipped and counted in *skipped
   (may be NULL). Free with scenario_set_free. */
scenario_set *scenario_set_build(const char *const *definitions, size_t n, const char *member_key,
                                 size_t *skipped);
void scenario_set_free(scenario_set *s); /* NULL-safe */

static inline const scenario_entry *scenario_set_find(const scenario_set *s, int64_t id)
{
    if (!s || !s->n || id <= 0)
        return NULL;
    size_t mask = s->cap - 1;
    for (size_t i = (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 40) & mask;; i = (i + 1) & mask) {
        if (s->entries[i].id == id)
            return &s->entries[i];
        if (s->entries[i].id == 0)
            return NULL;
    }
}

/* ---- the member cache ---------------------------------------------------------- */

typedef struct scenario_member_slot {
    uint64_t hash;
    uint32_t key_at, key_len;    /* in the arena */
    uint32_t value_at, value_len;
} scenario_member_slot;

typedef struct scenario_members {
    scenario_member_slot *slots; /* open addressing; key_len 0 = empty */
    size_t cap, n;
    sl_buf arena;
} scenario_members;

void scenario_members_init(scenario_members *m);
void scenario_members_free(scenario_members *m);
/* Add (or replace) a member: id and its enrichment object (JSON). */
void scenario_members_put(scenario_members *m, sl_view id, sl_view object);
/* The enrichment object of id, or an empty view. */
sl_view scenario_members_find(const scenario_members *m, sl_view id);
/*
 * The same in two steps, for the per-event path: prefetch starts loading
 * id's slot (the table is usually out of cache by the next event) and
 * returns its hash; find_hashed, some work later, looks it up.
 */
uint64_t scenario_members_prefetch(const scenario_members *m, sl_view id);
sl_view scenario_members_find_hashed(const scenario_members *m, sl_view id, uint64_t hash);

/*
 * The member id of an event's memberId value (a raw JSON value): a
 * number's text, or a string's content (decoded into scratch when it has
 * escapes). False for other types.
 */
bool scenario_member_id(sl_view value, sl_buf *scratch, sl_view *id);

/* ---- scenario ids ------------------------------------------------------------- */

/* A scenario_id value: a JSON integer or a string of digits. */
bool scenario_parse_id(sl_view value, int64_t *id);

/* ---- windows --------------------------------------------------------------------- */

/* The start of the window holding ts (floor, also before 1970). */
static inline int64_t scenario_window_start(int64_t ts_us, int64_t window_us)
{
    int64_t q = ts_us / window_us;
    if (ts_us % window_us < 0)
        q--;
    return q * window_us;
}

enum { WINDOW_OPEN = 1, WINDOW_CLOSED = 2 };

/*
 * One scenario's counts for one window on one source partition.
 *
 *   success, total      every counted record, including those of a partial
 *                       already stored (the window continues it)
 *   last_offset         the highest source offset counted (-1: none)
 *   stored_offset       the stored partial's last_offset: records at or
 *                       below it are already in success/total (-1: none)
 *   first_pending       the first offset counted since the counts were
 *                       last made durable (-1: nothing pending); the
 *                       source commit point may not pass it
 */
typedef struct scenario_window {
    int64_t scenario_id;   /* 0 = empty slot */
    int64_t start_us;
    int64_t success, total;
    int64_t last_offset;
    int64_t stored_offset;
    int64_t first_pending;
    int state;
} scenario_window;

typedef struct scenario_windows {
    scenario_window *slots;  /* open addressing by (scenario, start) */
    size_t cap, n;
    size_t tombstones;
    int64_t watermark_us;    /* the highest event time seen */
    scenario_window *last;   /* the window the previous record went to */
} scenario_windows;

void scenario_windows_init(scenario_windows *w);
void scenario_windows_free(scenario_windows *w);

/*
 * Where a record's count goes. The window is created when absent: then
 * load (may be NULL) is asked for the stored partial of (scenario,
 * start); it fills *success, *total and *last_offset and returns 1 when
 * one exists, 0 when none does, <0 when it cannot tell (the database
 * failed: then NULL is returned and nothing changes). Returns the window,
 * already holding the record's count unless the record is at or below
 * the stored last_offset (then *counted is false: it was counted before a
 * restart).
 */
typedef int (*scenario_load_fn)(void *arg, int64_t scenario_id, int64_t start_us,
                                int64_t *success, int64_t *total, int64_t *last_offset);
scenario_window *scenario_windows_count(scenario_windows *w, int64_t scenario_id, int64_t ts_us,
                                        int64_t window_us, int64_t offset, bool success,
                                        scenario_load_fn load, void *load_arg, bool *counted);

/* Close every open window that ends at or before watermark - lateness
   (all of them when everything is true). Returns how many closed. */
size_t scenario_windows_close(scenario_windows *w, int64_t window_us, int64_t lateness_us,
                              bool everything);

/*
 * Windows ready to emit: closed, with counts not yet durable. Calls fn for
 * each (in no particular order); after the emission is durable,
 * scenario_windows_emitted forgets them (and keeps the open ones).
 */
void scenario_windows_each_closed(scenario_windows *w,
                                  void (*fn)(void *arg, const scenario_window *win), void *arg);
void scenario_windows_emitted(scenario_windows *w);

/* The lowest first_pending of any window, or INT64_MAX. */
int64_t scenario_windows_pending_from(const scenario_windows *w);

/* ---- results chunks ---------------------------------------------------------------- */

/*
 * Results are appended in ranges of source offsets [start, end): regular
 * ranges of `size` offsets from base, and, when cut > base, the range
 * holding cut - 1 ends at cut (a flush ended it there). The range of a
 * record at offset o >= base:
 */
static inline void scenario_chunk_range(int64_t base, int64_t cut, int64_t size, int64_t o,
                                        int64_t *start, int64_t *end)
{
    int64_t k = (o - base) / size;
    *start = base + k * size;
    *end = *start + size;
    if (cut > base && cut > *start && cut < *end)
        *end = cut;
}

/* The idempotency key of a range: "sc|<group>|<topic>|<partition>|<start>-<end>",
   with group and topic replaced by a hash when the key would pass 255 bytes. */
void scenario_chunk_key(const char *group, const char *topic, int32_t partition, int64_t start,
                        int64_t end, sl_buf *out);

/* ---- result records --------------------------------------------------------------- */

/* 2026-01-11T09:19:26.123Z, with the text of the last second cached. */
typedef struct scenario_date_cache {
    int64_t second;        /* INT64_MIN: empty */
    char prefix[24];       /* 2026-01-11T09:19:26. */
} scenario_date_cache;

void scenario_date_init(scenario_date_cache *d);
/* Writes 24 bytes (no NUL) to out. */
void scenario_date_format(scenario_date_cache *d, int64_t ts_us, char *out);

/*
 * Append one result to out: the projection of the scanned event (and
 * member, may be empty) by e's scenario of set, with success, scenario_id
 * and date. Sets *success. Returns the number of bytes appended.
 */
size_t scenario_result_append(const scenario_set *set, const scenario_entry *e,
                              const sl_scenario_event *event, sl_view member, int64_t ts_us,
                              scenario_date_cache *dates, sl_buf *out, bool *success);

/* ---- one event ------------------------------------------------------------------ */

typedef enum scenario_outcome {
    SCENARIO_RESULT,       /* evaluated (a result was appended when asked) */
    SCENARIO_NOT_OBJECT,   /* not a JSON object */
    SCENARIO_NO_ID,        /* no scenario_id */
    SCENARIO_BAD_ID,       /* scenario_id is not a positive integer */
    SCENARIO_UNKNOWN,      /* no scenario with that id */
} scenario_outcome;

/* What evaluating an event needs; the processor owns one (zeroed, then
   the fields below set; free with scenario_eval_ctx_free). */
typedef struct scenario_eval_ctx {
    const scenario_set *set;   /* not NULL */
    const scenario_members *members;
    bool validate;             /* check the event with sl_json_validate first */
    scenario_date_cache dates;
    sl_buf scratch;
    sl_scenario_event event;   /* the event being evaluated, scanned */
} scenario_eval_ctx;

void scenario_eval_ctx_free(scenario_eval_ctx *c);

/*
 * The per-event path: one walk of the event's top-level members finds
 * scenario_id, the member id (the first occurrence of each counts) and
 * every field any scenario of the set reads; then the scenario and the
 * member are looked up, the filters evaluated, and when out is non-NULL
 * the result appended to it (scenario_result_append). On SCENARIO_RESULT
 * *entry and *success are set; *sid is set from SCENARIO_UNKNOWN on.
 * *event is trimmed of surrounding blanks.
 */
scenario_outcome scenario_eval(scenario_eval_ctx *c, sl_view *event, int64_t ts_us, sl_buf *out,
                               int64_t *sid, const scenario_entry **entry, bool *success);

#endif
