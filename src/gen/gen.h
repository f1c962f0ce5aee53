/*
 * gen.h - the built-in event generators behind `sluice gen KIND`.
 *
 * A generator run produces events of one kind (src/gen/kind_*.c), groups
 * them into batches, and delivers each batch to a target: the HTTP
 * collector (a JSON array per POST, retried until acknowledged), a file or
 * stdout (NDJSON). It is the load generator of the benchmarks and the
 * source of truth of the end-to-end tests: with --truth it records the id
 * of every event the target acknowledged, and nothing else.
 *
 *     producer thread                 sender threads (--concurrency)
 *     ───────────────                 ──────────────────────────────
 *     wait for a free batch slot      take a ready batch
 *     sleep until its due time  ───▶  POST / write it, retry until acked
 *     emit its events in order        record ids in --truth, count
 *                                     give the slot back
 *
 * Events are produced by one thread in index order, so a kind may keep
 * state and a seeded run is byte-for-byte reproducible; a bounded pool of
 * batch slots (four per sender, at least eight) is all the memory a run holds.
 */
#ifndef SL_GEN_H
#define SL_GEN_H

#include "gen/kind.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- the kinds ---- */

/* The kind called name, or NULL. */
const sl_gen_kind *sl_gen_kind_find(const char *name);
/* Every kind, NULL-terminated, in registry order. */
const sl_gen_kind *const *sl_gen_kind_list(void);

/* ---- a stream of events of one kind, outside any run (tests, tools) ---- */

typedef struct sl_gen_source {
    const sl_gen_kind *kind;
    void *state;
    uint64_t seed;
    uint64_t next_index;
    sl_gen_ts_format ts_format;
    sl_gen_wire wire;            /* JSON unless set after init (the kind must have it) */
    sl_buf *truth;               /* handed to emit as ev->truth; NULL = none */
} sl_gen_source;

/* Starts at index 0. 0 or the kind's init error; free with _free either way. */
int  sl_gen_source_init(sl_gen_source *s, const sl_gen_kind *kind, uint64_t seed,
                        sl_gen_ts_format ts_format);
/* The same with the kind's own flags (name, value, ..., NULL; see kind.h);
   a refusal is explained in err. */
int  sl_gen_source_init_with(sl_gen_source *s, const sl_gen_kind *kind, uint64_t seed,
                             sl_gen_ts_format ts_format, const char *const *opts, char *err,
                             size_t errlen);
/* Append event number s->next_index (then advance) with instant ts_us;
 * returns its index and fills *ev (id position relative to out->data). */
uint64_t sl_gen_source_emit(sl_gen_source *s, int64_t ts_us, sl_buf *out, sl_gen_event *ev);
void sl_gen_source_free(sl_gen_source *s);

/* ---- pacing and deterministic time (pure functions) ---- */

/*
 * Microseconds after the start of a run at which event `index` is
 * nominally produced at `rate` events/s. With rate 0 (as fast as
 * possible) it is 0; sl_gen_nominal_us gives 1 ms spacing instead, for
 * the timestamps of --start runs.
 */
int64_t sl_gen_pace_offset_us(uint64_t index, double rate);
int64_t sl_gen_nominal_us(uint64_t index, double rate);

/* ---- a run ---- */

typedef enum {
    SL_GEN_TO_HTTP = 0,
    SL_GEN_TO_FILE,
    SL_GEN_TO_STDOUT,
} sl_gen_target;

typedef struct sl_gen_options {
    const sl_gen_kind *kind;
    double rate;                 /* events/s overall; 0 = as fast as possible */
    uint64_t count;              /* stop after this many events; 0 = no limit */
    int64_t duration_us;         /* stop after this long; 0 = no limit */
    uint32_t batch;              /* events per POST or write */
    sl_gen_target target;
    const char *url;             /* SL_GEN_TO_HTTP */
    const char *path;            /* SL_GEN_TO_FILE */
    const char *token;           /* bearer token or NULL */
    int concurrency;             /* HTTP senders (connections) */
    uint64_t seed;
    bool have_start;             /* timestamps = start_us + nominal(index) */
    int64_t start_us;
    sl_gen_ts_format ts_format;
    const char *truth_path;      /* NULL = no truth file */
    int64_t max_retries;         /* per batch; -1 = unlimited */
    int64_t timeout_ms;          /* per HTTP request */
    int64_t retry_base_ms;       /* first backoff delay, doubled per retry */
    int64_t retry_cap_ms;        /* backoff ceiling */
    int64_t retry_after_cap_ms;  /* ceiling on an honoured Retry-After */
    bool progress;               /* refresh a progress line on stderr */
    const char *const *kind_opts; /* the kind's own flags: name, value, ..., NULL */
    bool wire_set;               /* --as given; else the target and kind choose */
    sl_gen_wire wire;
} sl_gen_options;

/* The defaults: batch 100, HTTP to 127.0.0.1:8081/api/collect, one sender,
 * unlimited retries with 100 ms..5 s backoff, 30 s timeout, ISO stamps. */
void sl_gen_options_init(sl_gen_options *o);

/* The wire a run writes: --as, else PIXEL for a kind that has it going to
   HTTP, NGINX for one that has it going to a file or stdout, else JSON. */
sl_gen_wire sl_gen_wire_for(const sl_gen_options *o);

#define SL_GEN_DEFAULT_URL "http://127.0.0.1:8081/api/collect"

typedef struct sl_gen_stats {
    uint64_t generated;          /* events produced into batches */
    uint64_t sent;               /* events transmitted at least once */
    uint64_t acked;              /* events the target acknowledged and kept */
    uint64_t rejected;           /* events the target refused (counts or 4xx) */
    uint64_t failed;             /* events of batches given up unacknowledged */
    uint64_t retries;            /* retry attempts, all batches */
    uint64_t retried_batches;    /* batches that needed at least one retry */
    uint64_t http_errors;        /* non-retryable HTTP answers (4xx) */
    double elapsed_s;
} sl_gen_stats;

/*
 * Run to completion: until count events, the duration, or a stop request,
 * then finish the batches in flight. Fills *stats (always). Returns 0 when
 * every generated event was acknowledged, 1 when some were rejected or
 * given up, or a negative code when the run could not start (unwritable
 * truth file or target, bad URL); the reason is on stderr.
 */
int sl_gen_run(const sl_gen_options *o, sl_gen_stats *stats);

/*
 * Ask the current run to stop; async-signal-safe. The first request stops
 * producing (batches in flight still retry until acknowledged); the second
 * abandons them. sl_gen_run clears the requests when it starts.
 */
void sl_gen_request_stop(void);

/* "gen logs: 100000 events acknowledged (0 rejected, 3 retried batches)
 * in 2.1 s, 47600 events/s" - the final line (no newline). */
void sl_gen_format_summary(const sl_gen_options *o, const sl_gen_stats *s, sl_buf *out);

#endif
