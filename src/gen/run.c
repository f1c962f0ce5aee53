/*
 * run.c - a generator run: pacing, batching, delivery, retries, --truth.
 *
 * One producer thread emits events in index order into batch slots and
 * hands them to the sender threads (one per --concurrency, each with its
 * own target handle); the calling thread only watches: it refreshes the
 * progress line and waits for the senders. The slot pool bounds memory
 * and is the backpressure: when the target is slow, the producer waits for
 * a slot instead of piling batches up. It holds four slots per sender and
 * at least eight; with two, producer and sender woke each other for every
 * batch and the rate to /dev/null halved.
 *
 * Pacing is an open schedule: event i is due at start + i / rate, and a
 * batch leaves when its last event is due, as a shipper that collects
 * events and sends them in groups would. A sender that falls behind
 * (a slow or restarting collector) is not penalised later: the schedule
 * lets the run catch up, so the rate holds on average over the run.
 *
 * Delivery is at-least-once toward the target and exactly-once in the
 * truth file: a batch is retried with capped exponential backoff (or the
 * target's Retry-After) until acknowledged, and only then are its ids
 * written to --truth. A batch that was sent but whose answer was lost
 * (the collector was killed after appending) may be kept twice by the
 * collector; that is the collector's idempotence to handle, the truth file
 * still lists it once.
 */
#include "gen/gen_int.h"

#include "core/alloc.h"
#include "core/logging.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define TAG "gen"

/* ---- stop requests (signal handlers call sl_gen_request_stop) ---- */

static atomic_int stop_requests;

void sl_gen_request_stop(void)
{
    atomic_fetch_add(&stop_requests, 1);
}

int gen_stop_level(void)
{
    return atomic_load(&stop_requests);
}

/* ---- pacing (pure) ---- */

int64_t sl_gen_nominal_us(uint64_t index, double rate)
{
    if (!(rate > 0))
        return (int64_t)index * 1000;
    /* Integral rates take exact integer arithmetic so that --start
     * timestamps are the same on every machine. */
    if (rate == floor(rate) && rate <= 1e15)
        return (int64_t)((unsigned __int128)index * 1000000u / (uint64_t)rate);
    return (int64_t)((long double)index * 1e6L / (long double)rate);
}

int64_t sl_gen_pace_offset_us(uint64_t index, double rate)
{
    return rate > 0 ? sl_gen_nominal_us(index, rate) : 0;
}

/* ---- options and summary ---- */

void sl_gen_options_init(sl_gen_options *o)
{
    memset(o, 0, sizeof *o);
    o->batch = 100;
    o->target = SL_GEN_TO_HTTP;
    o->url = SL_GEN_DEFAULT_URL;
    o->concurrency = 1;
    o->ts_format = SL_GEN_TS_ISO;
    o->max_retries = -1;
    o->timeout_ms = 30000;
    o->retry_base_ms = 100;
    o->retry_cap_ms = 5000;
    o->retry_after_cap_ms = 60000;
}

sl_gen_wire sl_gen_wire_for(const sl_gen_options *o)
{
    if (o->wire_set)
        return o->wire;
    unsigned w = o->kind ? o->kind->wires : 0;
    if (o->target == SL_GEN_TO_HTTP && (w & SL_GEN_WIRE_BIT(SL_GEN_WIRE_PIXEL)))
        return SL_GEN_WIRE_PIXEL;
    if (o->target != SL_GEN_TO_HTTP && (w & SL_GEN_WIRE_BIT(SL_GEN_WIRE_NGINX)))
        return SL_GEN_WIRE_NGINX;
    return SL_GEN_WIRE_JSON;
}

void sl_gen_format_summary(const sl_gen_options *o, const sl_gen_stats *s, sl_buf *out)
{
    double secs = s->elapsed_s > 0 ? s->elapsed_s : 1e-9;
    sl_buf_printf(out, "gen %s: %llu events acknowledged (%llu rejected, %llu retried batch%s) in %.1f s, %.0f events/s",
                  o->kind->name, (unsigned long long)s->acked, (unsigned long long)s->rejected,
                  (unsigned long long)s->retried_batches, s->retried_batches == 1 ? "" : "es",
                  s->elapsed_s, (double)s->acked / secs);
    if (s->failed)
        sl_buf_printf(out, "; %llu events NOT acknowledged (given up)", (unsigned long long)s->failed);
}

/* ---- the run ---- */

typedef struct gen_run gen_run;

typedef struct gen_sender {
    gen_run *run;
    gen_sink *sink;
    pthread_t thread;
    uint64_t jitter;     /* backoff jitter state; not part of the seeded output */
    sl_buf truth;
} gen_sender;

struct gen_run {
    const sl_gen_options *o;
    const gen_sink_ops *ops;
    sl_gen_source source;
    uint64_t limit;              /* events to produce; 0 = unbounded */

    gen_batch *slots;
    int n_slots;
    gen_sender *senders;
    int n_senders;
    pthread_t producer;

    pthread_mutex_t lock;        /* guards the lists and counters below */
    pthread_cond_t slot_freed;
    pthread_cond_t batch_ready;
    pthread_cond_t sender_done;
    gen_batch *free_list;
    gen_batch *ready_head, *ready_tail;
    bool producing_done;
    int senders_running;

    int truth_fd;
    pthread_mutex_t truth_lock;

    atomic_bool fatal;           /* the target is gone: stop producing */
    _Atomic uint64_t generated, sent, acked, rejected, failed, retries, retried_batches,
        http_errors;
    int64_t t0_mono;
};

static bool stopping(gen_run *r)
{
    return gen_stop_level() > 0 || atomic_load(&r->fatal);
}

static void sleep_us(int64_t us)
{
    if (us <= 0)
        return;
    struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
    nanosleep(&ts, NULL);
}

/* Sleep until the monotonic instant `until`, in slices, so that a stop
 * request at `level` or above cuts it short. false if it did. */
static bool sleep_until(int64_t until, int level, gen_run *r)
{
    for (;;) {
        if (gen_stop_level() >= level || (level == 1 && atomic_load(&r->fatal)))
            return false;
        int64_t left = until - sl_mono_us();
        if (left <= 0)
            return true;
        sleep_us(SL_MIN(left, 50000));
    }
}

static void timed_wait(pthread_cond_t *c, pthread_mutex_t *m, int64_t us)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (us % 1000000) * 1000;
    ts.tv_sec += (time_t)(us / 1000000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_cond_timedwait(c, m, &ts);
}

/* A free slot, or NULL when the run is stopping. The wait polls because a
 * signal handler cannot wake a condition variable. */
static gen_batch *slot_take(gen_run *r)
{
    pthread_mutex_lock(&r->lock);
    while (!r->free_list && !stopping(r))
        timed_wait(&r->slot_freed, &r->lock, 100000);
    gen_batch *b = stopping(r) ? NULL : r->free_list;
    if (b)
        r->free_list = b->next;
    pthread_mutex_unlock(&r->lock);
    return b;
}

static void slot_give_back(gen_run *r, gen_batch *b)
{
    pthread_mutex_lock(&r->lock);
    b->next = r->free_list;
    r->free_list = b;
    pthread_cond_signal(&r->slot_freed);
    pthread_mutex_unlock(&r->lock);
}

static void ready_push(gen_run *r, gen_batch *b)
{
    pthread_mutex_lock(&r->lock);
    b->next = NULL;
    if (r->ready_tail)
        r->ready_tail->next = b;
    else
        r->ready_head = b;
    r->ready_tail = b;
    pthread_cond_signal(&r->batch_ready);
    pthread_mutex_unlock(&r->lock);
}

/* The next ready batch, or NULL once production is over and none is left. */
static gen_batch *ready_pop(gen_run *r)
{
    pthread_mutex_lock(&r->lock);
    while (!r->ready_head && !r->producing_done)
        pthread_cond_wait(&r->batch_ready, &r->lock);
    gen_batch *b = r->ready_head;
    if (b) {
        r->ready_head = b->next;
        if (!r->ready_head)
            r->ready_tail = NULL;
    }
    pthread_mutex_unlock(&r->lock);
    return b;
}

/*
 * Emit events [first, first + n) into b, framed for the target.
 * Timestamps: with --start, start + nominal(index) (reproducible); else
 * the wall clock now, spread backwards over the batch at the paced rate
 * so the instants are as smooth as the schedule.
 */
static void batch_fill(gen_run *r, gen_batch *b, uint64_t first, uint32_t n)
{
    const sl_gen_options *o = r->o;
    sl_buf *out = &b->body;
    sl_buf_reset(out);
    sl_buf_append_str(out, r->ops->open_text);
    size_t sep_len = strlen(r->ops->separator);
    int64_t now = sl_now_us();
    int64_t last_nominal = sl_gen_pace_offset_us(first + n - 1, o->rate);
    b->first = first;
    b->n = n;
    b->delivered = 0;
    sl_buf_reset(&b->truth);
    r->source.truth = r->truth_fd >= 0 ? &b->truth : NULL;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t index = first + i;
        int64_t ts;
        if (o->have_start)
            ts = o->start_us + sl_gen_nominal_us(index, o->rate);
        else
            ts = now - (last_nominal - sl_gen_pace_offset_us(index, o->rate));
        if (i > 0)
            sl_buf_append(out, r->ops->separator, sep_len);
        sl_gen_event ev;
        size_t truth_at = b->truth.len;
        sl_gen_source_emit(&r->source, ts, out, &ev);
        b->id_off[i] = (uint32_t)ev.id_off;
        b->id_len[i] = (uint32_t)ev.id_len;
        b->truth_off[i] = (uint32_t)truth_at;
        b->truth_len[i] = (uint32_t)(b->truth.len - truth_at);
    }
    sl_buf_append_str(out, r->ops->close_text);
    memset(b->rejected, 0, n);
    atomic_fetch_add(&r->generated, n);
}

/*
 * Whether --duration is over. At a rate, event_limit already stops the
 * schedule at the duration, so the clock only cuts a run that fell more
 * than a second (or 10%) behind it; sleeping a millisecond past the last
 * due time must not drop the last batch.
 */
static bool past_duration(gen_run *r)
{
    const sl_gen_options *o = r->o;
    if (!o->duration_us)
        return false;
    int64_t limit = o->duration_us;
    if (o->rate > 0)
        limit += SL_MAX(1000000, o->duration_us / 10);
    return sl_mono_us() - r->t0_mono >= limit;
}

static void *producer_main(void *arg)
{
    gen_run *r = arg;
    const sl_gen_options *o = r->o;
    uint64_t next = 0;
    while (!stopping(r)) {
        uint32_t n = o->batch;
        if (r->limit) {
            if (next >= r->limit)
                break;
            n = (uint32_t)SL_MIN((uint64_t)n, r->limit - next);
        }
        int64_t due = r->t0_mono + sl_gen_pace_offset_us(next + n - 1, o->rate);
        gen_batch *b = slot_take(r);
        if (!b)
            break;
        if (!sleep_until(due, 1, r) || past_duration(r)) {
            slot_give_back(r, b);
            break;
        }
        batch_fill(r, b, next, n);
        next += n;
        ready_push(r, b);
    }
    pthread_mutex_lock(&r->lock);
    r->producing_done = true;
    pthread_cond_broadcast(&r->batch_ready);
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Append the ids of b's kept events to the truth file, one write. */
static void truth_record(gen_run *r, gen_sender *s, gen_batch *b)
{
    if (r->truth_fd < 0)
        return;
    sl_buf_reset(&s->truth);
    for (uint32_t i = 0; i < b->n; i++) {
        if (b->rejected[i])
            continue;
        if (b->truth_len[i]) /* the kind's own line */
            sl_buf_append(&s->truth, b->truth.data + b->truth_off[i], b->truth_len[i]);
        else if (b->id_len[i])
            sl_buf_append(&s->truth, b->body.data + b->id_off[i], b->id_len[i]);
        else
            continue;
        sl_buf_append_char(&s->truth, '\n');
    }
    pthread_mutex_lock(&r->truth_lock);
    int rc = write_all(r->truth_fd, s->truth.data, s->truth.len);
    pthread_mutex_unlock(&r->truth_lock);
    if (rc < 0) {
        /* A truth file that misses acknowledged ids would fail the tests
         * for the wrong reason: stop rather than go on silently. */
        SL_LOG_ERRNO(SL_LOG_ERROR, TAG, rc, "cannot write the truth file");
        atomic_store(&r->fatal, true);
    }
}

/* Capped exponential backoff with jitter in [d/2, d), so that many
 * senders released by one recovering collector do not return in step. */
static int64_t backoff_ms(const sl_gen_options *o, gen_sender *s, uint64_t attempt)
{
    int64_t d = o->retry_base_ms;
    for (uint64_t i = 1; i < attempt && d < o->retry_cap_ms; i++)
        d *= 2;
    d = SL_MIN(d, o->retry_cap_ms);
    if (d < 2)
        return d;
    s->jitter += 0x9e3779b97f4a7c15ULL;
    return d / 2 + (int64_t)(sl_gen_mix64(s->jitter) % (uint64_t)(d / 2));
}

/* Send one batch until it is acknowledged, refused or given up. */
static void deliver(gen_run *r, gen_sender *s, gen_batch *b)
{
    const sl_gen_options *o = r->o;
    atomic_fetch_add(&r->sent, b->n);
    for (uint64_t attempt = 0;; ) {
        gen_send_result res = { .retry_after_ms = -1 };
        r->ops->send(s->sink, b, &res);
        switch (res.outcome) {
        case GEN_SEND_ACKED:
            if (res.detail[0])
                SL_WARN(TAG, "%s", res.detail);
            atomic_fetch_add(&r->acked, res.accepted);
            atomic_fetch_add(&r->rejected, res.rejected);
            truth_record(r, s, b);
            return;
        case GEN_SEND_REJECTED:
            SL_ERROR(TAG, "batch of %u events refused, not retried: %s", b->n, res.detail);
            atomic_fetch_add(&r->rejected, b->n);
            atomic_fetch_add(&r->http_errors, 1);
            return;
        case GEN_SEND_FATAL:
            SL_ERROR(TAG, "%s; stopping", res.detail);
            atomic_fetch_add(&r->failed, b->n);
            atomic_store(&r->fatal, true);
            return;
        case GEN_SEND_RETRY:
            break;
        }
        if (gen_stop_level() >= 2 ||
            (o->max_retries >= 0 && attempt >= (uint64_t)o->max_retries)) {
            SL_ERROR(TAG, "batch of %u events given up after %llu retries: %s", b->n,
                     (unsigned long long)attempt, res.detail);
            atomic_fetch_add(&r->failed, b->n);
            return;
        }
        attempt++;
        atomic_fetch_add(&r->retries, 1);
        if (attempt == 1)
            atomic_fetch_add(&r->retried_batches, 1);
        int64_t delay = res.retry_after_ms >= 0 ? SL_MIN(res.retry_after_ms, o->retry_after_cap_ms)
                                                : backoff_ms(o, s, attempt);
        SL_WARN(TAG, "batch not acknowledged (%s); retrying", res.detail);
        sleep_until(sl_mono_us() + delay * 1000, 2, r);
    }
}

static void *sender_main(void *arg)
{
    gen_sender *s = arg;
    gen_run *r = s->run;
    for (gen_batch *b; (b = ready_pop(r)) != NULL;) {
        if (atomic_load(&r->fatal) || gen_stop_level() >= 2)
            atomic_fetch_add(&r->failed, b->n); /* never sent */
        else
            deliver(r, s, b);
        slot_give_back(r, b);
    }
    pthread_mutex_lock(&r->lock);
    r->senders_running--;
    pthread_cond_signal(&r->sender_done);
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

static void stats_snapshot(gen_run *r, sl_gen_stats *st)
{
    st->generated = atomic_load(&r->generated);
    st->sent = atomic_load(&r->sent);
    st->acked = atomic_load(&r->acked);
    st->rejected = atomic_load(&r->rejected);
    st->failed = atomic_load(&r->failed);
    st->retries = atomic_load(&r->retries);
    st->retried_batches = atomic_load(&r->retried_batches);
    st->http_errors = atomic_load(&r->http_errors);
    st->elapsed_s = (double)(sl_mono_us() - r->t0_mono) / 1e6;
}

static void progress_print(gen_run *r, uint64_t *last_acked, int64_t *last_us)
{
    sl_gen_stats st;
    stats_snapshot(r, &st);
    int64_t now = sl_mono_us();
    double dt = (double)(now - *last_us) / 1e6;
    double rate = dt > 0 ? (double)(st.acked - *last_acked) / dt : 0;
    *last_acked = st.acked;
    *last_us = now;
    fprintf(stderr, "\r\033[Kgen %s: %llu sent, %llu acked, %llu rejected, %llu retries, %.0f events/s",
            r->o->kind->name, (unsigned long long)st.sent, (unsigned long long)st.acked,
            (unsigned long long)st.rejected, (unsigned long long)st.retries, rate);
    fflush(stderr);
}

/* The number of events the options ask for (0 = unbounded): --count, and
 * with a rate, the events whose nominal time falls inside --duration. */
static uint64_t event_limit(const sl_gen_options *o)
{
    uint64_t limit = o->count;
    if (o->duration_us && o->rate > 0) {
        double d = ceil((double)o->duration_us * o->rate / 1e6);
        uint64_t by_time = d >= 1.8e19 ? UINT64_MAX : (uint64_t)d;
        if (by_time == 0)
            by_time = 1;
        limit = limit ? SL_MIN(limit, by_time) : by_time;
    }
    return limit;
}

static void run_free(gen_run *r)
{
    for (int i = 0; i < r->n_senders; i++) {
        r->ops->close(r->senders[i].sink);
        sl_buf_free(&r->senders[i].truth);
    }
    free(r->senders);
    for (int i = 0; i < r->n_slots; i++) {
        sl_buf_free(&r->slots[i].body);
        free(r->slots[i].id_off);
        free(r->slots[i].id_len);
        free(r->slots[i].rejected);
        free(r->slots[i].truth_off);
        free(r->slots[i].truth_len);
        sl_buf_free(&r->slots[i].truth);
    }
    free(r->slots);
    if (r->truth_fd >= 0)
        close(r->truth_fd);
    sl_gen_source_free(&r->source);
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->truth_lock);
    pthread_cond_destroy(&r->slot_freed);
    pthread_cond_destroy(&r->batch_ready);
    pthread_cond_destroy(&r->sender_done);
}

int sl_gen_run(const sl_gen_options *o, sl_gen_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    atomic_store(&stop_requests, 0);

    gen_run run = { .o = o, .truth_fd = -1 };
    gen_run *r = &run;
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->truth_lock, NULL);
    pthread_cond_init(&r->slot_freed, NULL);
    pthread_cond_init(&r->batch_ready, NULL);
    pthread_cond_init(&r->sender_done, NULL);
    sl_gen_wire wire = sl_gen_wire_for(o);
    r->ops = o->target != SL_GEN_TO_HTTP ? &gen_sink_fd
             : wire == SL_GEN_WIRE_PIXEL ? &gen_sink_pixel
                                         : &gen_sink_http;
    r->limit = event_limit(o);
    int rc = 0;
    char err[256] = "";

    rc = sl_gen_source_init_with(&r->source, o->kind, o->seed, o->ts_format, o->kind_opts, err,
                                 sizeof err);
    if (rc < 0) {
        if (!err[0])
            snprintf(err, sizeof err, "kind %s: %s", o->kind->name, sl_strerror(rc));
        goto fail;
    }
    if (wire != SL_GEN_WIRE_JSON && !(o->kind->wires & SL_GEN_WIRE_BIT(wire))) {
        snprintf(err, sizeof err, "kind %s writes only %s", o->kind->name,
                 o->kind->wires ? "some shapes (see --help)" : "JSON");
        rc = -EINVAL;
        goto fail;
    }
    if (wire == SL_GEN_WIRE_NGINX && o->target == SL_GEN_TO_HTTP) {
        snprintf(err, sizeof err, "NGINX lines go to a file or stdout, not to %s", o->url);
        rc = -EINVAL;
        goto fail;
    }
    r->source.wire = wire;
    if (o->truth_path) {
        if (!o->kind->id_field) {
            snprintf(err, sizeof err, "kind %s has no event id to write to --truth", o->kind->name);
            rc = -EINVAL;
            goto fail;
        }
        r->truth_fd = open(o->truth_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (r->truth_fd < 0) {
            rc = -errno;
            snprintf(err, sizeof err, "cannot open %s: %s", o->truth_path, strerror(errno));
            goto fail;
        }
    }

    /* Files and stdout keep lines in order: one sender. */
    r->n_senders = o->target == SL_GEN_TO_HTTP ? SL_MAX(o->concurrency, 1) : 1;
    r->senders = sl_calloc((size_t)r->n_senders, sizeof *r->senders);
    for (int i = 0; i < r->n_senders; i++) {
        gen_sender *s = &r->senders[i];
        s->run = r;
        s->jitter = (uint64_t)sl_now_us() ^ ((uint64_t)(i + 1) << 48);
        rc = r->ops->open(&s->sink, o, err, sizeof err);
        if (rc < 0)
            goto fail;
    }
    r->n_slots = SL_MAX(8, 4 * r->n_senders);
    r->slots = sl_calloc((size_t)r->n_slots, sizeof *r->slots);
    for (int i = 0; i < r->n_slots; i++) {
        gen_batch *b = &r->slots[i];
        b->id_off = sl_calloc(o->batch, sizeof *b->id_off);
        b->id_len = sl_calloc(o->batch, sizeof *b->id_len);
        b->rejected = sl_calloc(o->batch, 1);
        b->truth_off = sl_calloc(o->batch, sizeof *b->truth_off);
        b->truth_len = sl_calloc(o->batch, sizeof *b->truth_len);
        sl_buf_reserve(&b->body, (size_t)o->batch * 300 + 16);
        b->next = r->free_list;
        r->free_list = b;
    }

    r->t0_mono = sl_mono_us();
    r->senders_running = r->n_senders;
    for (int i = 0; i < r->n_senders; i++)
        pthread_create(&r->senders[i].thread, NULL, sender_main, &r->senders[i]);
    pthread_create(&r->producer, NULL, producer_main, r);

    uint64_t last_acked = 0;
    int64_t last_us = r->t0_mono;
    pthread_mutex_lock(&r->lock);
    while (r->senders_running > 0) {
        timed_wait(&r->sender_done, &r->lock, 250000);
        if (o->progress && r->senders_running > 0) {
            pthread_mutex_unlock(&r->lock);
            progress_print(r, &last_acked, &last_us);
            pthread_mutex_lock(&r->lock);
        }
    }
    pthread_mutex_unlock(&r->lock);
    stats_snapshot(r, stats);
    pthread_join(r->producer, NULL);
    for (int i = 0; i < r->n_senders; i++)
        pthread_join(r->senders[i].thread, NULL);
    if (o->progress)
        fprintf(stderr, "\r\033[K");

    rc = (stats->failed == 0 && stats->rejected == 0 && !atomic_load(&r->fatal) &&
          stats->acked == stats->generated) ? 0 : 1;
    run_free(r);
    return rc;

fail:
    fprintf(stderr, "sluice gen: %s\n", err);
    run_free(r);
    return rc < 0 ? rc : SL_ERR;
}
