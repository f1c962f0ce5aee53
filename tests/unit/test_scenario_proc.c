/*
 * test_scenario_proc.c - the scenario processor's parts, without a log:
 * window counting, closing and commit points; results ranges and their
 * idempotency keys; result records in the seed's shape; the member cache;
 * the compiled set; the per-event path.
 *
 * The exactness of partials is checked by simulation: a random stream of
 * events (several partitions, out-of-order event times, late events) is
 * fed to the windows the way the processor feeds them, with crashes at
 * random points that throw away everything in memory and start again
 * from the committed offset with the stored partials; the stored partials,
 * summed, must equal the counts computed directly from the stream.
 *
 * The engine figure (W4 of `make bench`) is printed by engine_figure:
 * events per CPU-second of the per-event path (3 AND filters, projection,
 * window counting) over events in memory. SL_W4_EVENTS sets how many
 * (default 200000); nothing is asserted about speed.
 *
 * The PRNG seed is fixed; SL_TEST_SEED=<n> mixes in another.
 */
#include "core/buf.h"
#include "core/json.h"
#include "expr/scenario.h"
#include "processor/scenario/scenario.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SEC INT64_C(1000000)
#define W5 (5 * SEC)

static uint64_t rng_state;

static void rng_seed(uint64_t extra)
{
    const char *env = getenv("SL_TEST_SEED");
    rng_state = 0x5eed001ull ^ extra ^ (env ? strtoull(env, NULL, 10) : 0);
}

static uint64_t rnd(void)
{
    rng_state += 0x9E3779B97F4A7C15ull;
    uint64_t z = rng_state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static const char *SEED_5 =
    "{\"scenario_id\":5,\"title\":\"t\",\"manager\":\"admin_user\","
    "\"log_format\":{\"e_c\":0,\"e_a\":0,\"memberId\":1,\"h\":1,\"res\":0},"
    "\"filters\":[{\"left\":\"age\",\"operator\":\">\",\"right\":\"20\"},"
    "{\"left\":\"gender\",\"operator\":\"==\",\"right\":\"MALE\"},"
    "{\"left\":\"h\",\"operator\":\">=\",\"right\":\"9\"}],\"logical_operator\":\"AND\"}";

/* ---- windows ----------------------------------------------------------------- */

Test(windows, start_is_a_floor)
{
    cr_assert_eq(scenario_window_start(0, W5), 0);
    cr_assert_eq(scenario_window_start(4999999, W5), 0);
    cr_assert_eq(scenario_window_start(5000000, W5), W5);
    cr_assert_eq(scenario_window_start(-1, W5), -W5);
    cr_assert_eq(scenario_window_start(-W5, W5), -W5);
    /* 2026-01-11T09:19:27Z is in the window starting 09:19:25 */
    int64_t t = INT64_C(1768123167) * SEC;
    cr_assert_eq(scenario_window_start(t, W5), INT64_C(1768123165) * SEC);
}

typedef struct closed_sum {
    int seen;
    int64_t total;
    int64_t start;
} closed_sum;

static void add_closed(void *arg, const scenario_window *win)
{
    closed_sum *c = arg;
    c->seen++;
    c->total += win->total;
    cr_assert_eq(win->start_us, c->start);
}

Test(windows, counts_close_and_commit_points)
{
    scenario_windows w;
    scenario_windows_init(&w);
    bool counted;
    int64_t t0 = 1000 * SEC;
    scenario_window *a = scenario_windows_count(&w, 5, t0 + 1, W5, 10, true, NULL, NULL, &counted);
    cr_assert(counted);
    cr_assert_eq(a->total, 1);
    cr_assert_eq(a->success, 1);
    scenario_windows_count(&w, 5, t0 + 2 * SEC, W5, 11, false, NULL, NULL, &counted);
    scenario_windows_count(&w, 6, t0 + 3 * SEC, W5, 12, true, NULL, NULL, &counted);
    cr_assert_eq(scenario_windows_pending_from(&w), 10);
    /* The watermark is t0+3s: nothing ends before it with lateness 1s. */
    cr_assert_eq(scenario_windows_close(&w, W5, SEC, false), 0);
    /* An event of the next window at t0+6s passes end(t0+5s) + 1s. */
    scenario_windows_count(&w, 5, t0 + 6 * SEC, W5, 13, true, NULL, NULL, &counted);
    cr_assert_eq(scenario_windows_close(&w, W5, SEC, false), 2);
    closed_sum sum = { 0, 0, t0 };
    scenario_windows_each_closed(&w, add_closed, &sum);
    cr_assert_eq(sum.seen, 2);
    cr_assert_eq(sum.total, 3);
    scenario_windows_emitted(&w);
    cr_assert_eq(w.n, 1);
    cr_assert_eq(scenario_windows_pending_from(&w), 13);
    scenario_windows_free(&w);
}

static int stored_success = 7, stored_total = 9, stored_last = 41, loads;

static int load_stored(void *arg, int64_t sid, int64_t start, int64_t *s, int64_t *t, int64_t *l)
{
    (void)arg, (void)sid, (void)start;
    loads++;
    *s = stored_success;
    *t = stored_total;
    *l = stored_last;
    return 1;
}

Test(windows, continues_a_stored_partial_without_counting_twice)
{
    scenario_windows w;
    scenario_windows_init(&w);
    bool counted;
    loads = 0;
    /* Offsets 40 and 41 were counted before the restart: skipped. */
    scenario_window *a = scenario_windows_count(&w, 5, 10, W5, 40, true, load_stored, NULL, &counted);
    cr_assert_not(counted);
    cr_assert_eq(a->total, 9);
    cr_assert_eq(a->first_pending, -1);
    scenario_windows_count(&w, 5, 10, W5, 41, true, load_stored, NULL, &counted);
    cr_assert_not(counted);
    a = scenario_windows_count(&w, 5, 10, W5, 42, false, load_stored, NULL, &counted);
    cr_assert(counted);
    cr_assert_eq(a->total, 10);
    cr_assert_eq(a->success, 7);
    cr_assert_eq(a->last_offset, 42);
    cr_assert_eq(a->first_pending, 42);
    cr_assert_eq(loads, 1, "loaded once, when the window appeared");
    scenario_windows_free(&w);
}

static int failing_load(void *arg, int64_t sid, int64_t start, int64_t *s, int64_t *t, int64_t *l)
{
    (void)arg, (void)sid, (void)start, (void)s, (void)t, (void)l;
    return -5;
}

Test(windows, a_failed_load_changes_nothing)
{
    scenario_windows w;
    scenario_windows_init(&w);
    bool counted;
    cr_assert_null(scenario_windows_count(&w, 5, 10, W5, 1, true, failing_load, NULL, &counted));
    cr_assert_eq(w.n, 0);
    cr_assert_eq(scenario_windows_pending_from(&w), INT64_MAX);
    scenario_windows_free(&w);
}

Test(windows, a_late_event_reopens_a_closed_window)
{
    scenario_windows w;
    scenario_windows_init(&w);
    bool counted;
    scenario_windows_count(&w, 1, 1 * SEC, W5, 0, true, NULL, NULL, &counted);
    scenario_windows_count(&w, 1, 7 * SEC, W5, 1, true, NULL, NULL, &counted);
    cr_assert_eq(scenario_windows_close(&w, W5, 0, false), 1);
    /* Before the flush emits it, a late event comes: still one window. */
    scenario_window *a = scenario_windows_count(&w, 1, 2 * SEC, W5, 2, false, NULL, NULL, &counted);
    cr_assert_eq(a->state, WINDOW_OPEN);
    cr_assert_eq(a->total, 2);
    cr_assert_eq(scenario_windows_close(&w, W5, 0, false), 1);
    cr_assert_eq(scenario_windows_close(&w, W5, 0, true), 1, "everything closes the rest");
    scenario_windows_free(&w);
}

Test(windows, many_windows_grow_the_table)
{
    scenario_windows w;
    scenario_windows_init(&w);
    bool counted;
    for (int64_t i = 0; i < 5000; i++)
        scenario_windows_count(&w, 1 + i % 50, (i / 50) * W5, W5, i, i % 3 == 0, NULL, NULL,
                               &counted);
    cr_assert_eq(w.n, 5000);
    for (int64_t i = 0; i < 5000; i++) {
        scenario_windows_count(&w, 1 + i % 50, (i / 50) * W5, W5, 5000 + i, false, NULL, NULL,
                               &counted);
    }
    cr_assert_eq(w.n, 5000);
    scenario_windows_close(&w, W5, 0, true);
    scenario_windows_emitted(&w);
    cr_assert_eq(w.n, 0);
    scenario_windows_free(&w);
}

/*
 * The exactness argument, simulated. Per partition the "processor" keeps
 * windows in memory; a flush emits closed windows into `store` (the
 * catalogue) and commits min(first pending); a crash drops memory and
 * resumes at the commit. At the end every window of the stream is in the
 * store with exactly its true counts.
 */
typedef struct sim_row {
    int64_t sid, start;
    int32_t part;
    int64_t success, total, last;
    bool used;
} sim_row;

#define SIM_ROWS 4096
static sim_row store[SIM_ROWS];

static sim_row *store_row(int64_t sid, int64_t start, int32_t part, bool create)
{
    uint64_t h = ((uint64_t)sid * 31 + (uint64_t)start / SEC * 7 + (uint64_t)part) % SIM_ROWS;
    for (;; h = (h + 1) % SIM_ROWS) {
        if (!store[h].used) {
            if (!create)
                return NULL;
            store[h] = (sim_row){ sid, start, part, 0, 0, -1, true };
            return &store[h];
        }
        if (store[h].sid == sid && store[h].start == start && store[h].part == part)
            return &store[h];
    }
}

typedef struct sim_load {
    int32_t part;
} sim_load;

static int sim_load_fn(void *arg, int64_t sid, int64_t start, int64_t *s, int64_t *t, int64_t *l)
{
    sim_row *r = store_row(sid, start, ((sim_load *)arg)->part, false);
    if (!r)
        return 0;
    *s = r->success;
    *t = r->total;
    *l = r->last;
    return 1;
}

static void sim_emit(void *arg, const scenario_window *w)
{
    int32_t part = *(int32_t *)arg;
    sim_row *r = store_row(w->scenario_id, w->start_us, part, true);
    cr_assert(w->last_offset >= r->last, "a partial never goes back");
    r->success = w->success;
    r->total = w->total;
    r->last = w->last_offset;
}

typedef struct sim_event {
    int64_t sid, ts;
    bool ok;
} sim_event;

Test(windows, partials_are_exact_through_crashes)
{
    enum { PARTS = 3, EVENTS = 6000 };
    rng_seed(1);
    memset(store, 0, sizeof store);
    static sim_event log[PARTS][EVENTS];
    /* Truth: per (sid, window) successes and totals. */
    int64_t truth_s[4][400] = { { 0 } }, truth_t[4][400] = { { 0 } };
    for (int p = 0; p < PARTS; p++) {
        int64_t t = 0;
        for (int i = 0; i < EVENTS; i++) {
            t += (int64_t)(rnd() % 20000); /* ~10 ms apart, ~1 min of traffic */
            int64_t ts = t;
            if (rnd() % 20 == 0) /* out of order, up to 12 s late */
                ts = t > 12 * SEC ? t - (int64_t)(rnd() % (12 * SEC)) : t;
            log[p][i] = (sim_event){ 1 + (int64_t)(rnd() % 3), ts, rnd() % 3 == 0 };
            truth_s[log[p][i].sid][ts / W5] += log[p][i].ok;
            truth_t[log[p][i].sid][ts / W5]++;
        }
    }
    for (int p = 0; p < PARTS; p++) {
        int64_t committed = 0, crashes = 0;
        while (committed < EVENTS) {
            scenario_windows w;
            scenario_windows_init(&w);
            sim_load ld = { p };
            /* Run from the commit until the end or a crash, flushing now and then. */
            int64_t crash_at = rnd() % 4 == 0 ? EVENTS : committed + (int64_t)(rnd() % 1500);
            for (int64_t o = committed; o < EVENTS; o++) {
                if (o == crash_at) {
                    crashes++;
                    break;
                }
                bool counted;
                cr_assert_not_null(scenario_windows_count(&w, log[p][o].sid, log[p][o].ts, W5, o,
                                                          log[p][o].ok, sim_load_fn, &ld,
                                                          &counted));
                scenario_windows_close(&w, W5, SEC, false);
                if (rnd() % 200 == 0 || o == EVENTS - 1) {
                    if (o == EVENTS - 1) /* idle at the end: everything closes */
                        scenario_windows_close(&w, W5, SEC, true);
                    scenario_windows_each_closed(&w, sim_emit, &p);
                    scenario_windows_emitted(&w);
                    if (rnd() % 10 == 0) { /* stored, but the commit never happened */
                        crashes++;
                        break;
                    }
                    committed = SL_MIN(scenario_windows_pending_from(&w), o + 1);
                }
            }
            scenario_windows_free(&w);
            cr_assert(crashes < 100000, "the simulation must end");
        }
    }
    for (int64_t sid = 1; sid <= 3; sid++)
        for (int64_t win = 0; win < 400; win++) {
            int64_t s = 0, t = 0;
            for (int32_t p = 0; p < PARTS; p++) {
                sim_row *r = store_row(sid, win * W5, p, false);
                if (r) {
                    s += r->success;
                    t += r->total;
                }
            }
            cr_assert_eq(t, truth_t[sid][win], "scenario %" PRId64 " window %" PRId64
                         ": total %" PRId64 ", truth %" PRId64 " (seed %s)", sid, win, t,
                         truth_t[sid][win], getenv("SL_TEST_SEED") ? getenv("SL_TEST_SEED") : "0");
            cr_assert_eq(s, truth_s[sid][win], "scenario %" PRId64 " window %" PRId64, sid, win);
        }
}

/* ---- results ranges ------------------------------------------------------------ */

Test(chunks, ranges_are_fixed_from_the_base_and_end_at_a_cut)
{
    int64_t s, e;
    scenario_chunk_range(100, -1, 4096, 100, &s, &e);
    cr_assert(s == 100 && e == 4196);
    scenario_chunk_range(100, -1, 4096, 4195, &s, &e);
    cr_assert(s == 100 && e == 4196);
    scenario_chunk_range(100, -1, 4096, 4196, &s, &e);
    cr_assert(s == 4196 && e == 8292);
    /* A cut at 5000: the range holding 4999 ends there. */
    scenario_chunk_range(100, 5000, 4096, 4999, &s, &e);
    cr_assert(s == 4196 && e == 5000);
    scenario_chunk_range(100, 5000, 4096, 300, &s, &e);
    cr_assert(s == 100 && e == 4196, "ranges before the cut are whole");
}

Test(chunks, keys_name_the_range_and_stay_short)
{
    sl_buf k = SL_BUF_INIT;
    scenario_chunk_key("sluice.scenario", "web.raw", 2, 4096, 8192, &k);
    cr_assert_str_eq(k.data, "sc|sluice.scenario|web.raw|2|4096-8192");
    char group[300];
    memset(group, 'g', sizeof group - 1);
    group[sizeof group - 1] = '\0';
    scenario_chunk_key(group, "web.raw", 2, 4096, 8192, &k);
    cr_assert_leq(k.len, 255);
    sl_buf k2 = SL_BUF_INIT;
    scenario_chunk_key(group, "web.raw", 2, 4096, 8192, &k2);
    cr_assert_str_eq(k.data, k2.data, "stable");
    scenario_chunk_key(group, "web.raw", 2, 4096, 8193, &k2);
    cr_assert_str_neq(k.data, k2.data);
    sl_buf_free(&k);
    sl_buf_free(&k2);
}

/* ---- ids, members, dates ---------------------------------------------------------- */

Test(ids, scenario_ids_are_positive_integers_or_digit_strings)
{
    int64_t id;
    cr_assert(scenario_parse_id(SL_VIEW_LIT("5"), &id) && id == 5);
    cr_assert(scenario_parse_id(SL_VIEW_LIT("\"12\""), &id) && id == 12);
    cr_assert_not(scenario_parse_id(SL_VIEW_LIT("0"), &id));
    cr_assert_not(scenario_parse_id(SL_VIEW_LIT("-5"), &id));
    cr_assert_not(scenario_parse_id(SL_VIEW_LIT("5.0"), &id));
    cr_assert_not(scenario_parse_id(SL_VIEW_LIT("\"\""), &id));
    cr_assert_not(scenario_parse_id(SL_VIEW_LIT("\"5a\""), &id));
    cr_assert_not(scenario_parse_id(SL_VIEW_LIT("true"), &id));
    cr_assert_not(scenario_parse_id(SL_VIEW_LIT("1234567890123456789"), &id));
}

Test(ids, member_ids_from_numbers_and_strings)
{
    sl_buf scratch = SL_BUF_INIT;
    sl_view id;
    cr_assert(scenario_member_id(SL_VIEW_LIT("123456"), &scratch, &id));
    cr_assert(sl_view_eq_str(id, "123456"));
    cr_assert(scenario_member_id(SL_VIEW_LIT("\"123456\""), &scratch, &id));
    cr_assert(sl_view_eq_str(id, "123456"));
    cr_assert(scenario_member_id(SL_VIEW_LIT("\"a\\u0062c\""), &scratch, &id));
    cr_assert(sl_view_eq_str(id, "abc"));
    cr_assert_not(scenario_member_id(SL_VIEW_LIT("null"), &scratch, &id));
    cr_assert_not(scenario_member_id(SL_VIEW_LIT("{}"), &scratch, &id));
    sl_buf_free(&scratch);
}

Test(members, put_find_replace_grow)
{
    scenario_members m;
    scenario_members_init(&m);
    cr_assert_null(scenario_members_find(&m, SL_VIEW_LIT("1")).ptr);
    char id[32], obj[64];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "%d", 100000 + i);
        snprintf(obj, sizeof obj, "{\"age\":%d}", i % 90);
        scenario_members_put(&m, sl_view_of(id), sl_view_of(obj));
    }
    cr_assert_eq(m.n, 20000);
    sl_view v = scenario_members_find(&m, SL_VIEW_LIT("100042"));
    cr_assert(sl_view_eq_str(v, "{\"age\":42}"));
    scenario_members_put(&m, SL_VIEW_LIT("100042"), SL_VIEW_LIT("{\"age\":43,\"gender\":\"MALE\"}"));
    cr_assert_eq(m.n, 20000);
    v = scenario_members_find(&m, SL_VIEW_LIT("100042"));
    cr_assert(sl_view_eq_str(v, "{\"age\":43,\"gender\":\"MALE\"}"));
    cr_assert_null(scenario_members_find(&m, SL_VIEW_LIT("99")).ptr);
    cr_assert_null(scenario_members_find(&m, SL_VIEW_LIT("10004")).ptr);
    scenario_members_free(&m);
}

Test(dates, milliseconds_in_utc_with_a_cache)
{
    scenario_date_cache d;
    scenario_date_init(&d);
    char out[25] = { 0 };
    scenario_date_format(&d, INT64_C(1768123166123456), out);
    cr_assert_str_eq(out, "2026-01-11T09:19:26.123Z");
    scenario_date_format(&d, INT64_C(1768123166999999), out);
    cr_assert_str_eq(out, "2026-01-11T09:19:26.999Z");
    scenario_date_format(&d, INT64_C(1768123167000000), out);
    cr_assert_str_eq(out, "2026-01-11T09:19:27.000Z");
    scenario_date_format(&d, -1, out);
    cr_assert_str_eq(out, "1969-12-31T23:59:59.999Z");
}

/* ---- the compiled set and the per-event path ------------------------------------ */

static scenario_set *seed_set(void)
{
    const char *defs[] = {
        SEED_5,
        "{\"scenario_id\":7,\"log_format\":{},\"filters\":[],\"logical_operator\":\"OR\"}",
        "{\"scenario_id\":9,\"log_format\":{\"x\":1},\"filters\":[{\"left\":\"x\",\"operator\":\"=~\",\"right\":1}]}",
    };
    size_t skipped = 0;
    scenario_set *s = scenario_set_build(defs, 3, "memberId", &skipped);
    cr_assert_eq(skipped, 1, "the scenario with an unknown operator is skipped");
    cr_assert_eq(s->n, 2);
    return s;
}

Test(set, finds_by_id_and_prepares_tails)
{
    scenario_set *s = seed_set();
    const scenario_entry *e = scenario_set_find(s, 5);
    cr_assert_not_null(e);
    cr_assert_str_eq(e->key, "5");
    cr_assert_str_eq(e->tail[1], "\"success\":1,\"scenario_id\":5,\"date\":\"");
    cr_assert_null(scenario_set_find(s, 9));
    cr_assert_null(scenario_set_find(s, 6));
    cr_assert_null(scenario_set_find(NULL, 5));
    scenario_set_free(s);
    /* Many ids, including colliding ones. */
    static char text[2000][200];
    const char *defs[2000];
    for (int i = 0; i < 2000; i++) {
        snprintf(text[i], sizeof text[i],
                 "{\"scenario_id\":%d,\"log_format\":{},\"filters\":[]}", 1 + i * 1024);
        defs[i] = text[i];
    }
    s = scenario_set_build(defs, 2000, "memberId", NULL);
    for (int i = 0; i < 2000; i++)
        cr_assert_not_null(scenario_set_find(s, 1 + i * 1024));
    cr_assert_null(scenario_set_find(s, 2));
    scenario_set_free(s);
}

/* The ids of an event as the set's one walk finds them. */
static void find_ids(const scenario_set *set, sl_scenario_event *ev, sl_view event, sl_view *sid,
                     sl_view *mid)
{
    sl_scenario_keys_scan(set->keys, event, ev);
    *sid = sl_scenario_event_extra(ev, SCENARIO_KEY_ID);
    *mid = sl_scenario_event_extra(ev, set->member_extra);
}

Test(find, ids_in_the_one_walk)
{
    scenario_set *set = seed_set();
    sl_scenario_event ev;
    sl_scenario_event_init(&ev);
    sl_view a, b;
    const char *text = " { \"x\" : {\"scenario_id\":1,\"memberId\":[2]}, \"s\":\"a\\\"scenario_id\\\":3\","
                       "\"scenario_id\" : \"5\" , \"memberId\":123456, \"memberId\":7 } ";
    find_ids(set, &ev, sl_view_of(text), &a, &b);
    cr_assert(sl_view_eq_str(a, "\"5\""), "nested and quoted keys are not top-level ones");
    cr_assert(sl_view_eq_str(b, "123456"), "the first occurrence counts");
    find_ids(set, &ev, SL_VIEW_LIT("{\"a\":1}"), &a, &b);
    cr_assert_null(a.ptr, "nothing is left over from the previous event");
    cr_assert_null(b.ptr);
    find_ids(set, &ev, SL_VIEW_LIT("[1,2]"), &a, &b);
    cr_assert_null(a.ptr);
    /* Long strings cross 64-byte windows; escaped backslashes before quotes. */
    sl_buf big = SL_BUF_INIT;
    sl_buf_append_str(&big, "{\"u\":\"");
    for (int i = 0; i < 300; i++)
        sl_buf_append_str(&big, i % 7 ? "ab" : "\\\\");
    sl_buf_append_str(&big, "\",\"memberId\":\"m\\\"1\",\"scenario_id\":42}");
    cr_assert_eq(sl_json_validate(big.data, big.len, 0, NULL, NULL), 0);
    find_ids(set, &ev, sl_buf_view(&big), &a, &b);
    cr_assert(sl_view_eq_str(a, "42"));
    cr_assert(sl_view_eq_str(b, "\"m\\\"1\""));
    sl_buf_free(&big);
    /* A member key that is also scenario_id, and one spelled with an escape. */
    scenario_set_free(set);
    set = scenario_set_build(&SEED_5, 1, "scenario_id", NULL);
    find_ids(set, &ev, SL_VIEW_LIT("{\"scenario_id\":9,\"scenario_id\":8}"), &a, &b);
    cr_assert(sl_view_eq_str(a, "9"));
    cr_assert(sl_view_eq_str(b, "9"));
    scenario_set_free(set);
    set = scenario_set_build(&SEED_5, 1, "memberId", NULL);
    find_ids(set, &ev, SL_VIEW_LIT("{\"member\\u0049d\":4,\"scenario_id\":5}"), &a, &b);
    cr_assert(sl_view_eq_str(b, "4"));
    sl_scenario_event_free(&ev);
    scenario_set_free(set);
}

/* A result must be valid JSON with exactly the kept fields, then success,
   scenario_id and date. */
static void check_result(const char *json, size_t len)
{
    cr_assert_eq(sl_json_validate(json, len, 0, NULL, NULL), 0, "not JSON: %.*s", (int)len, json);
}

Test(engine, seed_5_over_enriched_events)
{
    scenario_set *set = seed_set();
    scenario_members members;
    scenario_members_init(&members);
    scenario_members_put(&members, SL_VIEW_LIT("1"), SL_VIEW_LIT("{\"age\":30,\"gender\":\"MALE\"}"));
    scenario_members_put(&members, SL_VIEW_LIT("2"), SL_VIEW_LIT("{\"age\":19,\"gender\":\"MALE\"}"));
    scenario_members_put(&members, SL_VIEW_LIT("3"), SL_VIEW_LIT("{\"age\":40,\"gender\":\"FEMALE\"}"));
    scenario_eval_ctx c = { .set = set, .members = &members };
    scenario_date_init(&c.dates);
    static const struct {
        const char *event;
        scenario_outcome outcome;
        int success;
        const char *result;
    } cases[] = {
        { "{\"scenario_id\":5,\"e_c\":\"buttonClick\",\"memberId\":1,\"h\":10,\"res\":\"1920x1080\"}",
          SCENARIO_RESULT, 1,
          "{\"memberId\":1,\"h\":10,\"success\":1,\"scenario_id\":5,\"date\":\"2026-01-11T09:19:26.000Z\"}" },
        { "{\"scenario_id\":\"5\",\"memberId\":\"1\",\"h\":\"8\"}", SCENARIO_RESULT, 0,
          "{\"memberId\":\"1\",\"h\":\"8\",\"success\":0,\"scenario_id\":5,\"date\":\"2026-01-11T09:19:26.000Z\"}" },
        { "{\"scenario_id\":5,\"memberId\":2,\"h\":23}", SCENARIO_RESULT, 0, NULL },
        { "{\"scenario_id\":5,\"memberId\":3,\"h\":23}", SCENARIO_RESULT, 0, NULL },
        { "{\"scenario_id\":5,\"memberId\":4,\"h\":23}", SCENARIO_RESULT, 0, NULL },
        { "{\"scenario_id\":5,\"h\":23,\"age\":30,\"gender\":\"MALE\"}", SCENARIO_RESULT, 1,
          "{\"h\":23,\"success\":1,\"scenario_id\":5,\"date\":\"2026-01-11T09:19:26.000Z\"}" },
        { "{\"scenario_id\":7,\"memberId\":2}", SCENARIO_RESULT, 1,
          "{\"success\":1,\"scenario_id\":7,\"date\":\"2026-01-11T09:19:26.000Z\"}" },
        { "{\"scenario_id\":6,\"memberId\":2}", SCENARIO_UNKNOWN, 0, NULL },
        { "{\"memberId\":2}", SCENARIO_NO_ID, 0, NULL },
        { "{\"scenario_id\":-1}", SCENARIO_BAD_ID, 0, NULL },
        { "[1]", SCENARIO_NOT_OBJECT, 0, NULL },
        { "  \n", SCENARIO_NOT_OBJECT, 0, NULL },
    };
    sl_buf out = SL_BUF_INIT;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_buf_reset(&out);
        sl_view ev = sl_view_of(cases[i].event);
        int64_t sid = 0;
        const scenario_entry *e = NULL;
        bool ok = false;
        scenario_outcome o = scenario_eval(&c, &ev, INT64_C(1768123166000000), &out, &sid, &e, &ok);
        cr_assert_eq(o, cases[i].outcome, "case %zu: outcome %d", i, o);
        if (o != SCENARIO_RESULT) {
            cr_assert_eq(out.len, 0);
            continue;
        }
        cr_assert_eq(ok, cases[i].success, "case %zu", i);
        check_result(out.data, out.len);
        if (cases[i].result)
            cr_assert_str_eq(out.data, cases[i].result, "case %zu", i);
        /* Matching alone agrees with evaluating and projecting. */
        bool ok2 = !ok;
        ev = sl_view_of(cases[i].event);
        scenario_eval(&c, &ev, 0, NULL, &sid, &e, &ok2);
        cr_assert_eq(ok2, ok, "case %zu", i);
    }
    c.validate = true;
    sl_view broken = SL_VIEW_LIT("{\"scenario_id\":5,\"h\":}");
    int64_t sid;
    const scenario_entry *e;
    bool ok;
    cr_assert_eq(scenario_eval(&c, &broken, 0, &out, &sid, &e, &ok), SCENARIO_NOT_OBJECT);
    sl_buf_free(&out);
    scenario_eval_ctx_free(&c);
    scenario_members_free(&members);
    scenario_set_free(set);
}

/* ---- W4: the engine figure ------------------------------------------------------- */

static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

Test(engine, engine_figure, .timeout = 300)
{
    rng_seed(4);
    const char *env = getenv("SL_W4_EVENTS");
    long n = env ? atol(env) : 200000;
    if (n < 1000)
        n = 1000;
    /* 4,096 distinct pixel-like events (~370 bytes), cycled. */
    enum { DISTINCT = 4096 };
    sl_buf text = SL_BUF_INIT;
    size_t at[DISTINCT + 1];
    for (int i = 0; i < DISTINCT; i++) {
        at[i] = text.len;
        sl_buf_printf(&text,
                      "{\"scenario_id\":5,\"e_c\":\"buttonClick\",\"e_a\":\"Clicked\",\"e_n\":\"purchase\","
                      "\"url\":\"http://shop.example.com/product_detail/p%d\","
                      "\"urlref\":\"http://shop.example.com/\",\"_idn\":%d,\"cookie\":1,"
                      "\"res\":\"1920x1080\",\"memberId\":%d,\"h\":%d,\"ip\":\"10.0.%d.%d\","
                      "\"user_agent\":\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                      "(KHTML, like Gecko) Chrome/120.0 Safari/537.36\",\"ts\":%d}",
                      i % 500, i % 2, 100000 + (int)(rnd() % 1000), (int)(rnd() % 24), i % 256,
                      (i * 7) % 256, 1768123166 + i);
    }
    at[DISTINCT] = text.len;
    scenario_set *set = scenario_set_build(&SEED_5, 1, "memberId", NULL);
    scenario_members members;
    scenario_members_init(&members);
    for (int m = 0; m < 1000; m++) {
        char id[16], obj[64];
        snprintf(id, sizeof id, "%d", 100000 + m);
        snprintf(obj, sizeof obj, "{\"age\":%d,\"gender\":\"%s\"}", 15 + m % 50,
                 m % 2 ? "MALE" : "FEMALE");
        scenario_members_put(&members, sl_view_of(id), sl_view_of(obj));
    }
    scenario_eval_ctx c = { .set = set, .members = &members };
    scenario_date_init(&c.dates);
    scenario_windows w;
    scenario_windows_init(&w);
    sl_buf out = SL_BUF_INIT;
    sl_buf_reserve(&out, 1 << 22);
    long successes = 0;
    size_t bytes_out = 0;
    double t0 = cpu_seconds();
    for (long i = 0; i < n; i++) {
        int k = (int)(i % DISTINCT);
        sl_view ev = { text.data + at[k], at[k + 1] - at[k] };
        int64_t sid, ts = INT64_C(1768123166000000) + i * 1000;
        const scenario_entry *e;
        bool ok, counted;
        if (out.len > (1 << 22) - 4096) {
            bytes_out += out.len;
            sl_buf_reset(&out);
        }
        if (scenario_eval(&c, &ev, ts, &out, &sid, &e, &ok) != SCENARIO_RESULT)
            cr_assert_fail("event %ld not evaluated", i);
        successes += ok;
        scenario_windows_count(&w, sid, ts, W5, i, ok, NULL, NULL, &counted);
        if ((i & 4095) == 4095) {
            scenario_windows_close(&w, W5, SEC, false);
            scenario_windows_emitted(&w);
        }
    }
    double cpu = cpu_seconds() - t0;
    bytes_out += out.len;
    cr_assert_gt(successes, 0);
    printf("{\"workload\":\"W4-engine\",\"what\":\"scenario engine per event: find ids, member "
           "lookup, 3 AND filters, projection, window count (events in memory)\","
           "\"events\":%ld,\"cpu_s\":%.3f,\"events_per_s_per_core\":%.0f,\"ns_per_event\":%.0f,"
           "\"success_share\":%.3f,\"result_bytes_avg\":%.0f}\n",
           n, cpu, n / cpu, cpu / n * 1e9, (double)successes / n, (double)bytes_out / n);
    fflush(stdout);
    sl_buf_free(&out);
    sl_buf_free(&text);
    scenario_eval_ctx_free(&c);
    scenario_windows_free(&w);
    scenario_members_free(&members);
    scenario_set_free(set);
}

/* Ids that differ only in their last digits spread over the table: a
   lookup probes a slot or two, not a long run (a hash that ignored the
   high bytes of short ids once made every lookup walk a cluster). */
Test(members, ids_spread_over_the_table)
{
    scenario_members m;
    scenario_members_init(&m);
    char id[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "%d", 100000 + i);
        scenario_members_put(&m, sl_view_of(id), SL_VIEW_LIT("{}"));
    }
    size_t longest = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "%d", 100000 + i);
        cr_assert_not_null(scenario_members_find(&m, sl_view_of(id)).ptr);
    }
    for (size_t s = 0, run = 0; s < 2 * m.cap; s++) {
        run = m.slots[s % m.cap].key_len ? run + 1 : 0;
        longest = run > longest ? run : longest;
    }
    cr_assert_lt(longest, 40, "a run of %zu occupied slots", longest);
    scenario_members_free(&m);
}
