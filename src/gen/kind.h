/*
 * kind.h - how to write a generator kind (`sluice gen logs`, `events`, ...).
 *
 * A kind is a static struct of callbacks, separate from its per-run state.
 * Adding one means one file (src/gen/kind_NAME.c defining
 * `const sl_gen_kind sl_gen_kind_NAME`) and one X(NAME) line in
 * src/gen/registry.c; nothing else changes.
 *
 * The driver calls emit once per event, in index order, from one thread,
 * with the state init made and a random generator already seeded from
 * (seed, index). A kind that draws everything from that generator makes
 * every event a pure function of (seed, index); a kind that needs memory
 * across events (players moving on a map) keeps it in its state, and the
 * single-threaded, in-order calls keep it deterministic too.
 *
 * emit appends exactly one JSON object, no separator, to out. It must not
 * allocate per event: reserve an upper bound once with sl_gen_begin, write
 * with the sl_gen_put_* helpers below, and close with sl_gen_end. Strings
 * from the kind's own tables are written without escaping, so they must be
 * plain printable ASCII without quotes or backslashes (test_gen.c checks
 * every event with jansson).
 */
#ifndef SL_GEN_KIND_H
#define SL_GEN_KIND_H

#include "core/buf.h"
#include "core/common.h"

#include <stdint.h>
#include <string.h>

/* How the timestamp field is written (--ts-format). */
typedef enum {
    SL_GEN_TS_ISO = 0,   /* "2024-01-15T10:30:00.123Z" */
    SL_GEN_TS_EPOCH,     /* 1705314600.123456 (seconds, 6 decimals) */
    SL_GEN_TS_EPOCH_MS,  /* 1705314600123 */
    SL_GEN_TS_MIXED,     /* cycles through the shapes below by index */
} sl_gen_ts_format;

/* The concrete shapes --ts-format mixed cycles through, in this order. */
typedef enum {
    SL_GEN_SHAPE_ISO_Z = 0,  /* "2024-01-15T10:30:00.123Z" */
    SL_GEN_SHAPE_ISO_P9,     /* "2024-01-15T19:30:00.123+09:00" */
    SL_GEN_SHAPE_EPOCH_S,    /* 1705314600.123456 */
    SL_GEN_SHAPE_EPOCH_MS,   /* 1705314600123 */
    SL_GEN_SHAPE_EPOCH_US,   /* 1705314600123456 */
    SL_GEN_SHAPE_EPOCH_NS,   /* 1705314600123456000 */
    SL_GEN_SHAPE_COUNT,
} sl_gen_ts_shape;

/* The shape event `index` gets under format f. */
sl_gen_ts_shape sl_gen_ts_shape_of(sl_gen_ts_format f, uint64_t index);

/*
 * The random generator handed to emit: a splitmix64 stream whose start is
 * a hash of (seed, index), so that event i never depends on how many draws
 * event i-1 made, and no two events share a stream in practice.
 */
typedef struct sl_gen_rng {
    uint64_t state;
} sl_gen_rng;

static inline uint64_t sl_gen_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline void sl_gen_rng_seed(sl_gen_rng *r, uint64_t seed, uint64_t index)
{
    r->state = sl_gen_mix64(sl_gen_mix64(seed ^ 0x5ca1ab1e0ddba11ULL) + index * 0x9e3779b97f4a7c15ULL);
}

static inline uint64_t sl_gen_rng_next(sl_gen_rng *r)
{
    r->state += 0x9e3779b97f4a7c15ULL;
    return sl_gen_mix64(r->state);
}

/* Uniform in [0, n) by multiply-shift: no division, no rejection loop; the
 * bias for n < 2^16 is below 2^-16, invisible in synthetic data. */
static inline uint32_t sl_gen_rng_below(sl_gen_rng *r, uint32_t n)
{
    return (uint32_t)(((sl_gen_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Index into a table of cumulative weights (cum[n-1] is the total). */
static inline unsigned sl_gen_rng_pick(sl_gen_rng *r, const uint16_t *cum, unsigned n)
{
    uint32_t x = sl_gen_rng_below(r, cum[n - 1]);
    unsigned i = 0;
    while (i < n - 1 && x >= cum[i])
        i++;
    return i;
}

/*
 * What emit writes (`--as`). Every kind writes JSON objects; a kind that
 * sets more bits in `wires` can also write the other shapes, each one line
 * without a newline:
 *
 *   PIXEL  a tracking-pixel hit: TARGET TAB REFERER TAB USER-AGENT, where
 *          TARGET is /{scenario_id}?params; the pixel target (sink_pixel.c)
 *          sends it as one GET with those two headers
 *   NGINX  the NGINX access-log line (combined format) of such a request
 */
typedef enum {
    SL_GEN_WIRE_JSON = 0,
    SL_GEN_WIRE_PIXEL,
    SL_GEN_WIRE_NGINX,
} sl_gen_wire;
#define SL_GEN_WIRE_BIT(w) (1u << (w))

/* One event being emitted. The driver fills the inputs; emit the outputs. */
typedef struct sl_gen_event {
    uint64_t seed;               /* the run's seed, for ids such as req-<seed>-<index> */
    uint64_t index;              /* 0-based position in the run */
    int64_t ts_us;               /* the event's instant, µs since the Unix epoch */
    sl_gen_ts_format ts_format;
    sl_gen_wire wire;            /* the shape to write (JSON unless the kind has others) */
    sl_buf *truth;               /* non-NULL with --truth: a kind may append one line of
                                    ground truth (no newline), written instead of the id */
    size_t id_off, id_len;       /* out: the id's bytes in out->data (for --truth) */
} sl_gen_event;

/* A flag only one kind takes (`sluice gen web --scenarios 5,6`); always with a value. */
typedef struct sl_gen_kind_flag {
    const char *name;            /* "--scenarios"; {0} ends a table */
    const char *arg;             /* metavariable for --help */
    const char *help;
} sl_gen_kind_flag;

typedef struct sl_gen_kind {
    const char *name;            /* the KIND argument */
    const char *description;     /* one line for `sluice gen --help` */
    const char *id_field;        /* the field emit reports in id_off/id_len, or NULL */
    /* Optional: allocate per-run state (NULL is fine). 0 or a negative code. */
    int (*init)(void **state, uint64_t seed);
    /* Optional, for kinds with flags: init with the flags given, as
       NULL-terminated name, value pairs (names without "--"); used instead
       of init. On failure a message in err. */
    int (*init_with)(void **state, uint64_t seed, const char *const *opts, char *err,
                     size_t errlen);
    const sl_gen_kind_flag *flags; /* the kind's own flags, or NULL */
    unsigned wires;              /* SL_GEN_WIRE_BIT()s besides JSON; 0 = JSON only */
    void (*emit)(void *state, sl_gen_rng *rng, sl_gen_event *ev, sl_buf *out);
    void (*destroy)(void *state); /* optional; frees what init made */
} sl_gen_kind;

/* ---- writing helpers: a raw cursor into out's reserved capacity ---- */

/* Reserve room for max bytes and return the write cursor. */
static inline char *sl_gen_begin(sl_buf *out, size_t max)
{
    sl_buf_reserve(out, max);
    return out->data + out->len;
}

/* Commit what was written up to p (which must be within the reservation). */
static inline void sl_gen_end(sl_buf *out, char *p)
{
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
}

static inline char *sl_gen_put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define SL_GEN_PUT_LIT(p, lit) ((p) = sl_gen_put((p), (lit), sizeof(lit) - 1))

static inline char *sl_gen_put_view(char *p, sl_view v)
{
    return sl_gen_put(p, v.ptr, v.len);
}

/* Decimal digits of v (at most 20 bytes). */
char *sl_gen_put_u64(char *p, uint64_t v);
/* Exactly `width` decimal digits of v, zero-padded (v < 10^width). */
char *sl_gen_put_fixed(char *p, uint64_t v, int width);

/* The most bytes sl_gen_put_ts writes. */
#define SL_GEN_TS_MAX 40
/* ev->ts_us as a JSON value (quoted string or bare number) in the shape
 * ev->ts_format and ev->index select. */
char *sl_gen_put_ts(char *p, const sl_gen_event *ev);

#endif
