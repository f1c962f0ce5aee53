/*
 * test_gen.c - the generators (`sluice gen`): seeded determinism, the
 * seed-004 shapes checked with jansson, unique ids, every timestamp shape
 * parsed back to its instant, pacing arithmetic, command-line errors, and
 * delivery: retries against a tiny HTTP server on an ephemeral loopback
 * port (503, 503, then 200: the batch is sent three times, with the same
 * Idempotency-Key, and counted once), a 4xx that is not retried, partial rejection, giving up, stop.
 */
#include "cli/cli.h"
#include "core/alloc.h"
#include "gen/gen.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define START_US INT64_C(1705314600123456) /* 2024-01-15T10:30:00.123456Z */

/* ---------------------------------------------------------------- helpers */

/* n events of a kind, NDJSON, timestamps START_US + i ms. */
static void emit_many(const char *kind, uint64_t seed, sl_gen_ts_format f, int n, sl_buf *out)
{
    sl_gen_source s;
    cr_assert_eq(sl_gen_source_init(&s, sl_gen_kind_find(kind), seed, f), 0);
    for (int i = 0; i < n; i++) {
        sl_gen_event ev;
        sl_gen_source_emit(&s, START_US + (int64_t)i * 1000, out, &ev);
        sl_buf_append_char(out, '\n');
    }
    sl_gen_source_free(&s);
}

static json_t *parse_strict(const char *text, size_t n)
{
    json_error_t err;
    json_t *v = json_loadb(text, n, JSON_REJECT_DUPLICATES, &err);
    cr_assert_not_null(v, "invalid JSON (%s at %d): %.*s", err.text, err.position, (int)n, text);
    return v;
}

static const char *str_field(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    cr_assert(json_is_string(v), "field %s is not a string", key);
    return json_string_value(v);
}

static json_int_t int_field(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    cr_assert(json_is_integer(v), "field %s is not an integer", key);
    return json_integer_value(v);
}

static bool in_set(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

static char *make_tmpdir(void)
{
    char *d = strdup("/tmp/sluice-test-gen-XXXXXX");
    cr_assert_not_null(mkdtemp(d));
    return d;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *len = 0;
        return strdup("");
    }
    sl_buf b = SL_BUF_INIT;
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
        sl_buf_append(&b, chunk, k);
    fclose(f);
    *len = b.len;
    return sl_buf_steal(&b);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/*
 * A hard bound on a test that waits on the network or the clock: the
 * default action of SIGALRM kills the test's process (Criterion runs each
 * test in its own) and reports it as crashed. Criterion's own .timeout is
 * not used because its runner leaks under ASan when several such tests
 * run in parallel, which fails the sanitizer build.
 */
static void bound_time(unsigned seconds)
{
    alarm(seconds);
}

/* ------------------------------------------------------------ determinism */

Test(gen, same_seed_same_bytes_other_seed_differs)
{
    for (const sl_gen_kind *const *k = sl_gen_kind_list(); *k; k++) {
        sl_buf a = SL_BUF_INIT, b = SL_BUF_INIT, c = SL_BUF_INIT;
        emit_many((*k)->name, 7, SL_GEN_TS_MIXED, 2000, &a);
        emit_many((*k)->name, 7, SL_GEN_TS_MIXED, 2000, &b);
        emit_many((*k)->name, 8, SL_GEN_TS_MIXED, 2000, &c);
        cr_assert_eq(a.len, b.len, "%s", (*k)->name);
        cr_assert(memcmp(a.data, b.data, a.len) == 0, "%s: same seed, different bytes", (*k)->name);
        cr_assert(a.len != c.len || memcmp(a.data, c.data, a.len) != 0, "%s", (*k)->name);
        sl_buf_free(&a);
        sl_buf_free(&b);
        sl_buf_free(&c);
    }
}

/* The whole pipeline (batching, framing, --start timestamps) reproduces. */
Test(gen, seeded_run_with_start_is_reproducible_through_a_file)
{
    char *dir = make_tmpdir();
    char *paths[2] = { sl_asprintf("%s/a.ndjson", dir), sl_asprintf("%s/b.ndjson", dir) };
    for (int i = 0; i < 2; i++) {
        sl_gen_options o;
        sl_gen_options_init(&o);
        o.kind = sl_gen_kind_find("logs");
        o.target = SL_GEN_TO_FILE;
        o.path = paths[i];
        o.count = 1234;
        o.batch = 100;
        o.seed = 99;
        o.have_start = true;
        o.start_us = START_US;
        o.rate = 0;
        sl_gen_stats st;
        cr_assert_eq(sl_gen_run(&o, &st), 0);
        cr_assert_eq(st.acked, 1234);
        cr_assert_eq(st.generated, 1234);
    }
    size_t la, lb;
    char *a = read_file(paths[0], &la), *b = read_file(paths[1], &lb);
    cr_assert_eq(la, lb);
    cr_assert(memcmp(a, b, la) == 0);
    cr_assert_eq(count_lines(a), 1234);
    /* rate 0 with --start: 1 ms apart */
    cr_assert(strstr(a, "\"timestamp\":\"2024-01-15T10:30:00.123Z\""));
    cr_assert(strstr(a, "\"timestamp\":\"2024-01-15T10:30:01.356Z\"")); /* index 1233 */
    free(a);
    free(b);
    for (int i = 0; i < 2; i++) {
        unlink(paths[i]);
        free(paths[i]);
    }
    rmdir(dir);
    free(dir);
}

/* ------------------------------------------------------------ shapes */

Test(gen, logs_are_seed_004_system_logs)
{
    static const char *const levels[] = { "INFO", "WARN", "ERROR", "DEBUG", NULL };
    static const char *const services[] = { "api-gateway", "user-service", "order-service",
                                            "payment-service", "inventory-service",
                                            "notification-service", NULL };
    static const char *const hosts[] = { "worker-1", "worker-2", "worker-3", NULL };
    static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", NULL };
    const int n = 20000;
    int level_count[4] = { 0 };
    size_t bytes = 0;
    sl_gen_source s;
    cr_assert_eq(sl_gen_source_init(&s, sl_gen_kind_find("logs"), 42, SL_GEN_TS_ISO), 0);
    sl_buf out = SL_BUF_INIT;
    for (int i = 0; i < n; i++) {
        sl_gen_event ev;
        sl_buf_reset(&out);
        sl_gen_source_emit(&s, START_US, &out, &ev);
        bytes += out.len;
        json_t *o = parse_strict(out.data, out.len);
        cr_assert_eq(json_object_size(o), 6, "%s", out.data);
        cr_assert_str_eq(str_field(o, "timestamp"), "2024-01-15T10:30:00.123Z");
        const char *level = str_field(o, "level");
        cr_assert(in_set(level, levels), "%s", level);
        cr_assert(in_set(str_field(o, "service"), services));
        cr_assert(in_set(str_field(o, "host"), hosts));
        cr_assert(strlen(str_field(o, "message")) > 5);
        json_t *m = json_object_get(o, "metadata");
        cr_assert(json_is_object(m));
        cr_assert_eq(json_object_size(m), 5);
        char want_id[64];
        snprintf(want_id, sizeof want_id, "req-42-%d", i);
        cr_assert_str_eq(str_field(m, "request_id"), want_id);
        cr_assert_eq(ev.id_len, strlen(want_id));
        cr_assert(memcmp(out.data + ev.id_off, want_id, ev.id_len) == 0);
        json_int_t ms = int_field(m, "response_time_ms");
        cr_assert(ms >= 1 && ms <= 31000);
        json_int_t status = int_field(m, "status_code");
        cr_assert(str_field(m, "endpoint")[0] == '/');
        cr_assert(in_set(str_field(m, "method"), methods));
        /* the status agrees with the level */
        int li = 0;
        while (strcmp(levels[li], level) != 0)
            li++;
        level_count[li]++;
        if (li == 0 || li == 3)
            cr_assert(status >= 200 && status < 400, "%s %d", level, (int)status);
        else if (li == 1)
            cr_assert(status >= 400 && status < 500, "%s %d", level, (int)status);
        else
            cr_assert(status >= 500 && status < 600, "%s %d", level, (int)status);
        json_decref(o);
    }
    sl_buf_free(&out);
    sl_gen_source_free(&s);
    /* INFO 70 / WARN 15 / ERROR 10 / DEBUG 5, within 1.5 points */
    const double want[4] = { 0.70, 0.15, 0.10, 0.05 };
    for (int i = 0; i < 4; i++) {
        double got = (double)level_count[i] / n;
        cr_assert(got > want[i] - 0.015 && got < want[i] + 0.015, "%s: %.3f", levels[i], got);
    }
    double avg = (double)bytes / n;
    cr_assert(avg > 200 && avg < 300, "average size %.0f", avg);
}

Test(gen, events_are_seed_004_activity_events)
{
    static const char *const types[] = { "CLICK", "VIEW", "PURCHASE", "ADD_TO_CART", "SEARCH",
                                         "LOGIN", "LOGOUT", NULL };
    static const char *const device_types[] = { "mobile", "desktop", "tablet", NULL };
    const int n = 20000;
    int seen_types = 0;
    sl_gen_source s;
    cr_assert_eq(sl_gen_source_init(&s, sl_gen_kind_find("events"), 42, SL_GEN_TS_ISO), 0);
    sl_buf out = SL_BUF_INIT;
    for (int i = 0; i < n; i++) {
        sl_gen_event ev;
        sl_buf_reset(&out);
        sl_gen_source_emit(&s, START_US, &out, &ev);
        json_t *o = parse_strict(out.data, out.len);
        cr_assert_eq(json_object_size(o), 7, "%s", out.data);
        char want_id[64];
        snprintf(want_id, sizeof want_id, "evt-42-%d", i);
        cr_assert_str_eq(str_field(o, "event_id"), want_id);
        cr_assert(memcmp(out.data + ev.id_off, want_id, ev.id_len) == 0);
        cr_assert_eq(ev.id_len, strlen(want_id));
        str_field(o, "timestamp");
        const char *user = str_field(o, "user_id");
        cr_assert(strlen(user) == 10 && strncmp(user, "user_", 5) == 0, "%s", user);
        int u = atoi(user + 5);
        cr_assert(u >= 10000 && u <= 19999);
        cr_assert(strncmp(str_field(o, "session_id"), "sess_", 5) == 0);
        const char *type = str_field(o, "event_type");
        cr_assert(in_set(type, types), "%s", type);
        for (int t = 0; types[t]; t++)
            if (strcmp(type, types[t]) == 0)
                seen_types |= 1 << t;
        json_t *d = json_object_get(o, "event_data");
        cr_assert(json_is_object(d));
        cr_assert(str_field(d, "page")[0] == '/');
        cr_assert(strlen(str_field(d, "element")) > 0);
        json_t *pos = json_object_get(d, "position");
        cr_assert(json_is_object(pos));
        json_int_t x = int_field(pos, "x"), y = int_field(pos, "y");
        cr_assert(x >= 0 && x < 1920 && y >= 0 && y < 1280);
        json_t *dev = json_object_get(o, "device");
        cr_assert(json_is_object(dev));
        cr_assert(in_set(str_field(dev, "type"), device_types));
        str_field(dev, "os");
        str_field(dev, "browser");
        if (strcmp(type, "ADD_TO_CART") == 0)
            cr_assert_str_eq(str_field(d, "element"), "add_to_cart_button");
        if (strcmp(type, "PURCHASE") == 0)
            cr_assert_str_eq(str_field(d, "page"), "/checkout");
        json_decref(o);
    }
    cr_assert_eq(seen_types, 0x7f);
    sl_buf_free(&out);
    sl_gen_source_free(&s);
}

/* A user keeps one device throughout a run. */
Test(gen, events_device_is_stable_per_user)
{
    sl_buf all = SL_BUF_INIT;
    emit_many("events", 3, SL_GEN_TS_ISO, 20000, &all);
    json_t *device_of = json_object();
    char *line = all.data;
    for (char *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        json_t *o = parse_strict(line, (size_t)(nl - line));
        const char *user = str_field(o, "user_id");
        json_t *dev = json_object_get(o, "device");
        json_t *prev = json_object_get(device_of, user);
        if (prev)
            cr_assert(json_equal(prev, dev), "%s changed device", user);
        else
            json_object_set(device_of, user, dev);
        json_decref(o);
    }
    cr_assert(json_object_size(device_of) > 1000);
    json_decref(device_of);
    sl_buf_free(&all);
}

Test(gen, ids_are_unique_within_a_run)
{
    for (const sl_gen_kind *const *k = sl_gen_kind_list(); *k; k++) {
        const int n = 50000;
        json_t *seen = json_object();
        sl_gen_source s;
        cr_assert_eq(sl_gen_source_init(&s, *k, 1234567, SL_GEN_TS_ISO), 0);
        sl_buf out = SL_BUF_INIT;
        for (int i = 0; i < n; i++) {
            sl_gen_event ev;
            sl_buf_reset(&out);
            sl_gen_source_emit(&s, START_US, &out, &ev);
            cr_assert(ev.id_len > 0 && ev.id_len < 64);
            char id[64];
            memcpy(id, out.data + ev.id_off, ev.id_len);
            id[ev.id_len] = '\0';
            cr_assert_null(json_object_get(seen, id), "%s: duplicate id %s", (*k)->name, id);
            json_object_set_new(seen, id, json_true());
        }
        cr_assert_eq(json_object_size(seen), (size_t)n);
        json_decref(seen);
        sl_buf_free(&out);
        sl_gen_source_free(&s);
    }
}

/* ------------------------------------------------------------ timestamps */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    /* Independent of the generator's arithmetic: count through timegm. */
    struct tm tm = { .tm_year = (int)y - 1900, .tm_mon = m - 1, .tm_mday = d };
    return (int64_t)timegm(&tm) / 86400;
}

/* Parse the generator's ISO shapes back: YYYY-MM-DDTHH:MM:SS.mmm(Z|+09:00). */
static int64_t iso_to_us(const char *s)
{
    int y, mo, d, h, mi, se, ms, zh = 0, zm = 0;
    char zone[8] = "";
    int n = sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%7s", &y, &mo, &d, &h, &mi, &se, &ms, zone);
    cr_assert_eq(n, 8, "%s", s);
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    if (strcmp(zone, "Z") != 0) {
        cr_assert_eq(sscanf(zone, "+%2d:%2d", &zh, &zm), 2, "%s", zone);
        secs -= zh * 3600 + zm * 60;
    }
    return secs * 1000000 + ms * 1000;
}

/* The raw text of the "timestamp" value inside a generated event. */
static void raw_timestamp(const char *event, char *out, size_t n)
{
    const char *p = strstr(event, "\"timestamp\":");
    cr_assert_not_null(p);
    p += strlen("\"timestamp\":");
    size_t k = strcspn(p, ",}");
    cr_assert(k < n);
    memcpy(out, p, k);
    out[k] = '\0';
}

Test(gen, timestamp_formats_give_back_the_instant)
{
    /* Instants with sub-millisecond parts, across a leap day and a year end. */
    const int64_t instants[] = {
        START_US,
        INT64_C(1709164799999999),   /* 2024-02-28T23:59:59.999999Z */
        INT64_C(1709251199500001),   /* 2024-02-29T23:59:59.500001Z */
        INT64_C(1767225599123456),   /* 2025-12-31T23:59:59.123456Z */
        INT64_C(1768123166291045),   /* seed 004's 1768123166.291045 */
        INT64_C(0),
    };
    static const struct { sl_gen_ts_format f; const char *name; } formats[] = {
        { SL_GEN_TS_ISO, "iso" }, { SL_GEN_TS_EPOCH, "epoch" },
        { SL_GEN_TS_EPOCH_MS, "epoch-ms" }, { SL_GEN_TS_MIXED, "mixed" },
    };
    for (size_t fi = 0; fi < SL_ARRAY_LEN(formats); fi++) {
        for (uint64_t index = 0; index < 12; index++) {
            for (size_t ii = 0; ii < SL_ARRAY_LEN(instants); ii++) {
                int64_t us = instants[ii];
                sl_gen_event ev = { .seed = 1, .index = index, .ts_us = us,
                                    .ts_format = formats[fi].f };
                char text[SL_GEN_TS_MAX + 1];
                char *end = sl_gen_put_ts(text, &ev);
                cr_assert(end - text <= SL_GEN_TS_MAX);
                *end = '\0';
                /* it is a JSON value of the right type */
                json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
                cr_assert_not_null(v, "%s", text);
                sl_gen_ts_shape shape = sl_gen_ts_shape_of(formats[fi].f, index);
                if (formats[fi].f == SL_GEN_TS_MIXED)
                    cr_assert_eq(shape, (sl_gen_ts_shape)(index % 6));
                int64_t got;
                switch (shape) {
                case SL_GEN_SHAPE_ISO_Z:
                    cr_assert(json_is_string(v));
                    cr_assert(text[strlen(text) - 2] == 'Z', "%s", text);
                    got = iso_to_us(json_string_value(v));
                    cr_assert_eq(got, us / 1000 * 1000, "%s", text);
                    break;
                case SL_GEN_SHAPE_ISO_P9:
                    cr_assert(json_is_string(v));
                    cr_assert(strstr(text, "+09:00\""), "%s", text);
                    got = iso_to_us(json_string_value(v));
                    cr_assert_eq(got, us / 1000 * 1000, "%s", text);
                    break;
                case SL_GEN_SHAPE_EPOCH_S: {
                    cr_assert(json_is_real(v), "%s", text);
                    long long secs;
                    char frac[16];
                    cr_assert_eq(sscanf(text, "%lld.%15s", &secs, frac), 2);
                    cr_assert_eq(strlen(frac), 6, "%s", text);
                    got = secs * 1000000 + atoll(frac);
                    cr_assert_eq(got, us, "%s", text);
                    break;
                }
                case SL_GEN_SHAPE_EPOCH_MS:
                    cr_assert(json_is_integer(v));
                    cr_assert_eq(json_integer_value(v), us / 1000, "%s", text);
                    break;
                case SL_GEN_SHAPE_EPOCH_US:
                    cr_assert(json_is_integer(v));
                    cr_assert_eq(json_integer_value(v), us, "%s", text);
                    break;
                default:
                    cr_assert(json_is_integer(v));
                    cr_assert_eq(json_integer_value(v), us * 1000, "%s", text);
                    break;
                }
                json_decref(v);
            }
        }
    }
}

/* Both kinds write the timestamp field in the shape the index selects. */
Test(gen, kinds_write_the_selected_timestamp_shape)
{
    for (const sl_gen_kind *const *k = sl_gen_kind_list(); *k; k++) {
        sl_gen_source s;
        cr_assert_eq(sl_gen_source_init(&s, *k, 9, SL_GEN_TS_MIXED), 0);
        sl_buf out = SL_BUF_INIT;
        for (int i = 0; i < 12; i++) {
            sl_gen_event ev;
            sl_buf_reset(&out);
            sl_gen_source_emit(&s, START_US + i, &out, &ev);
            char raw[64], want[SL_GEN_TS_MAX + 1];
            raw_timestamp(out.data, raw, sizeof raw);
            *sl_gen_put_ts(want, &ev) = '\0';
            cr_assert_str_eq(raw, want, "%s #%d", (*k)->name, i);
        }
        sl_buf_free(&out);
        sl_gen_source_free(&s);
    }
}

Test(gen, fixed_instants_render_exactly)
{
    char text[SL_GEN_TS_MAX + 1];
    sl_gen_event ev = { .ts_us = INT64_C(1768123166291045), .ts_format = SL_GEN_TS_EPOCH };
    *sl_gen_put_ts(text, &ev) = '\0';
    cr_assert_str_eq(text, "1768123166.291045");
    ev.ts_format = SL_GEN_TS_ISO;
    ev.ts_us = START_US;
    *sl_gen_put_ts(text, &ev) = '\0';
    cr_assert_str_eq(text, "\"2024-01-15T10:30:00.123Z\"");
    ev.ts_format = SL_GEN_TS_MIXED;
    ev.index = 1;
    *sl_gen_put_ts(text, &ev) = '\0';
    cr_assert_str_eq(text, "\"2024-01-15T19:30:00.123+09:00\"");
    ev.index = 5;
    *sl_gen_put_ts(text, &ev) = '\0';
    cr_assert_str_eq(text, "1705314600123456000");
    ev.ts_format = SL_GEN_TS_EPOCH_MS;
    *sl_gen_put_ts(text, &ev) = '\0';
    cr_assert_str_eq(text, "1705314600123");
}

/* ------------------------------------------------------------ pacing */

Test(gen, pacing_arithmetic)
{
    cr_assert_eq(sl_gen_pace_offset_us(0, 100), 0);
    cr_assert_eq(sl_gen_pace_offset_us(99, 100), 990000);
    cr_assert_eq(sl_gen_pace_offset_us(100, 100), 1000000);
    cr_assert_eq(sl_gen_pace_offset_us(1, 3), 333333);
    cr_assert_eq(sl_gen_pace_offset_us(3, 3), 1000000);
    cr_assert_eq(sl_gen_pace_offset_us(5, 2.5), 2000000);
    cr_assert_eq(sl_gen_pace_offset_us(1, 0.5), 2000000);
    cr_assert_eq(sl_gen_pace_offset_us(123456789, 0), 0);  /* as fast as possible */
    cr_assert_eq(sl_gen_nominal_us(7, 0), 7000);           /* --start at rate 0: 1 ms apart */
    cr_assert_eq(sl_gen_pace_offset_us(UINT64_C(1000000000000), 1e6), INT64_C(1000000000000));
    cr_assert_eq(sl_gen_pace_offset_us(UINT64_C(500000000000), 500000), INT64_C(1000000000000));
    /* monotonic and smooth: consecutive gaps differ by at most 1 µs */
    int64_t prev = 0, gap0 = sl_gen_pace_offset_us(1, 7);
    for (uint64_t i = 1; i < 1000; i++) {
        int64_t t = sl_gen_pace_offset_us(i, 7);
        cr_assert(t > prev);
        cr_assert(llabs((t - prev) - gap0) <= 1);
        prev = t;
    }
}

Test(gen, rate_and_duration_bound_the_events)
{
    bound_time(10);
    char *dir = make_tmpdir();
    char *path = sl_asprintf("%s/d.ndjson", dir);
    sl_gen_options o;
    sl_gen_options_init(&o);
    o.kind = sl_gen_kind_find("events");
    o.target = SL_GEN_TO_FILE;
    o.path = path;
    o.rate = 1000;
    o.duration_us = 300000;
    o.seed = 5;
    sl_gen_stats st;
    cr_assert_eq(sl_gen_run(&o, &st), 0);
    cr_assert_eq(st.acked, 300); /* events whose nominal time is inside 300 ms */
    cr_assert(st.elapsed_s >= 0.29, "%.3f s", st.elapsed_s);
    cr_assert(st.elapsed_s < 2.0, "%.3f s", st.elapsed_s);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

static void *stop_later(void *arg)
{
    SL_UNUSED(arg);
    usleep(200000);
    sl_gen_request_stop();
    return NULL;
}

Test(gen, stop_request_ends_an_open_ended_run_cleanly)
{
    bound_time(10);
    char *dir = make_tmpdir();
    char *path = sl_asprintf("%s/s.ndjson", dir), *truth = sl_asprintf("%s/t.txt", dir);
    sl_gen_options o;
    sl_gen_options_init(&o);
    o.kind = sl_gen_kind_find("logs");
    o.target = SL_GEN_TO_FILE;
    o.path = path;
    o.truth_path = truth;
    o.rate = 5000;
    o.seed = 6;
    pthread_t t;
    pthread_create(&t, NULL, stop_later, NULL);
    sl_gen_stats st;
    cr_assert_eq(sl_gen_run(&o, &st), 0);
    pthread_join(t, NULL);
    cr_assert(st.acked > 100 && st.acked == st.generated, "%llu", (unsigned long long)st.acked);
    size_t n;
    char *data = read_file(path, &n), *ids = read_file(truth, &n);
    cr_assert_eq(count_lines(data), st.acked);
    cr_assert_eq(count_lines(ids), st.acked);
    cr_assert(strncmp(ids, "req-6-0\nreq-6-1\n", 16) == 0);
    free(data);
    free(ids);
    unlink(path);
    unlink(truth);
    rmdir(dir);
    free(path);
    free(truth);
    free(dir);
}

/* ------------------------------------------------------------ command line */

static char *redirected(FILE *f)
{
    sl_buf b = SL_BUF_INIT;
    char chunk[4096];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
        sl_buf_append(&b, chunk, k);
    if (!b.data)
        sl_buf_append_str(&b, "");
    return sl_buf_steal(&b);
}

static int run_cli(int argc, const char *const *argv)
{
    return sl_cmd_gen(argc, (char **)argv);
}

Test(gen_cli, usage_errors_exit_2_with_a_message, .init = cr_redirect_stderr)
{
    static const struct { const char *argv[6]; const char *message; } cases[] = {
        { { "gen", "nosuchkind" }, "unknown kind 'nosuchkind' (kinds: logs, events" },
        { { "gen", "logs", "--rate", "fast" }, "--rate: 'fast'" },
        { { "gen", "logs", "--rate", "-5" }, "--rate: '-5'" },
        { { "gen", "logs", "--count", "0" }, "--count: '0'" },
        { { "gen", "logs", "--count", "12x" }, "--count: '12x'" },
        { { "gen", "logs", "--duration", "5x" }, "--duration: '5x'" },
        { { "gen", "logs", "--batch", "0" }, "--batch: '0'" },
        { { "gen", "logs", "--to", "ftp://host/x" }, "--to: 'ftp://host/x'" },
        { { "gen", "logs", "--to", "file:" }, "--to: 'file:'" },
        { { "gen", "logs", "--ts-format", "rfc" }, "--ts-format: 'rfc'" },
        { { "gen", "logs", "--start", "yesterday" }, "--start: 'yesterday'" },
        { { "gen", "logs", "--start", "1960-01-01T00:00:00Z" }, "--start: '1960" },
        { { "gen", "logs", "--seed", "-1" }, "--seed: '-1'" },
        { { "gen", "logs", "--concurrency", "1000" }, "--concurrency: '1000'" },
        { { "gen", "logs", "--frobnicate" }, "unknown option '--frobnicate'" },
        { { "gen", "logs", "--count" }, "--count needs a value" },
        { { "gen", "logs", "events" }, "unexpected argument 'events'" },
        { { "gen", "logs", "--no-progress=1" }, "--no-progress takes no value" },
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        int argc = 0;
        while (argc < 6 && cases[i].argv[argc])
            argc++;
        cr_assert_eq(run_cli(argc, cases[i].argv), 2, "case %zu", i);
    }
    fflush(stderr);
    char *err = redirected(cr_get_redirected_stderr());
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++)
        cr_assert(strstr(err, cases[i].message), "missing message: %s", cases[i].message);
    free(err);
}

Test(gen_cli, no_kind_prints_usage_and_exits_2, .init = cr_redirect_stderr)
{
    const char *argv[] = { "gen" };
    cr_assert_eq(run_cli(1, argv), 2);
    fflush(stderr);
    char *err = redirected(cr_get_redirected_stderr());
    cr_assert(strstr(err, "usage: sluice gen KIND"));
    free(err);
}

Test(gen_cli, help_lists_the_kinds, .init = cr_redirect_stdout)
{
    const char *argv[] = { "gen", "--help" };
    cr_assert_eq(run_cli(2, argv), 0);
    const char *argv2[] = { "gen", "logs", "-h" };
    cr_assert_eq(run_cli(3, argv2), 0);
    fflush(stdout);
    char *out = redirected(cr_get_redirected_stdout());
    cr_assert(strstr(out, "usage: sluice gen KIND"));
    cr_assert(strstr(out, "\n  logs "));
    cr_assert(strstr(out, "\n  events "));
    cr_assert(strstr(out, "--ts-format"));
    free(out);
}

Test(gen_cli, a_run_to_a_file_prints_the_summary, .init = cr_redirect_stderr)
{
    char *dir = make_tmpdir();
    char *to = sl_asprintf("file:%s/c.ndjson", dir), *truth = sl_asprintf("%s/t", dir);
    const char *argv[] = { "gen", "events", "--to", to, "--count=250", "--batch", "100",
                           "--seed", "11", "--start", "2024-01-15T19:30:00+09:00",
                           "--ts-format", "epoch-ms", "--truth", truth, "--no-progress" };
    cr_assert_eq(run_cli(SL_ARRAY_LEN(argv), argv), 0);
    fflush(stderr);
    char *err = redirected(cr_get_redirected_stderr());
    cr_assert(strstr(err, "gen events: 250 events acknowledged (0 rejected, 0 retried batches) in "),
              "%s", err);
    size_t n;
    char *data = read_file(to + 5, &n);
    cr_assert_eq(count_lines(data), 250);
    cr_assert(strncmp(data, "{\"event_id\":\"evt-11-0\",\"timestamp\":1705314600000,", 49) == 0,
              "%.80s", data);
    char *ids = read_file(truth, &n);
    cr_assert_eq(count_lines(ids), 250);
    free(ids);
    free(data);
    free(err);
    unlink(to + 5);
    unlink(truth);
    rmdir(dir);
    free(to);
    free(truth);
    free(dir);
}

/* ------------------------------------------------------------ HTTP delivery */

/*
 * A tiny HTTP/1.1 server on 127.0.0.1 (ephemeral port) for the retry
 * tests: it answers request k with script[k] (the last entry repeats),
 * keeps connections alive (a thread each), and records the first 16
 * request bodies.
 */
typedef struct reply {
    int status;
    const char *headers;   /* extra header lines, each ending in \r\n */
    const char *body;
} reply;

typedef struct test_server {
    int listen_fd;
    int port;
    pthread_t thread;
    atomic_bool stop;
    const reply *script;
    int script_len;
    atomic_int requests;
    sl_buf bodies[16];
    char keys[16][96];     /* Idempotency-Key of the first 16 requests */
    char auth[128];
    pthread_t conns[16];
    int n_conns;
} test_server;

/* Read one request from fd; returns its number (0, 1, ...) or -1 at EOF/stop. */
static int read_request(int fd, test_server *srv, sl_buf *in)
{
    for (;;) {
        char *hdr_end = in->data ? strstr(in->data, "\r\n\r\n") : NULL;
        if (hdr_end) {
            size_t hdr_len = (size_t)(hdr_end - in->data) + 4;
            const char *cl = strcasestr(in->data, "\r\nContent-Length:");
            size_t body_len = cl && cl < hdr_end ? strtoul(cl + 17, NULL, 10) : 0;
            if (in->len >= hdr_len + body_len) {
                int k = atomic_fetch_add(&srv->requests, 1);
                const char *auth = strcasestr(in->data, "\r\nAuthorization: ");
                if (auth && auth < hdr_end)
                    snprintf(srv->auth, sizeof srv->auth, "%.*s",
                             (int)strcspn(auth + 17, "\r"), auth + 17);
                const char *key = strcasestr(in->data, "\r\nIdempotency-Key: ");
                if (k < 16 && key && key < hdr_end)
                    snprintf(srv->keys[k], sizeof srv->keys[k], "%.*s",
                             (int)strcspn(key + 19, "\r"), key + 19);
                if (k < 16)
                    sl_buf_append(&srv->bodies[k], in->data + hdr_len, body_len);
                size_t used = hdr_len + body_len;
                memmove(in->data, in->data + used, in->len - used);
                in->len -= used;
                in->data[in->len] = '\0';
                return k;
            }
        }
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 50) == 0) {
            if (atomic_load(&srv->stop))
                return -1;
            continue;
        }
        char chunk[65536];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n <= 0)
            return -1;
        sl_buf_append(in, chunk, (size_t)n);
    }
}

typedef struct conn_arg {
    test_server *srv;
    int fd;
} conn_arg;

/* One keep-alive connection: answer each request from the script. */
static void *conn_main(void *arg)
{
    conn_arg *c = arg;
    test_server *srv = c->srv;
    sl_buf in = SL_BUF_INIT;
    for (int k; (k = read_request(c->fd, srv, &in)) >= 0;) {
        const reply *r = &srv->script[SL_MIN(k, srv->script_len - 1)];
        char *resp = sl_asprintf("HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                                 "Content-Length: %zu\r\n%s\r\n%s",
                                 r->status, strlen(r->body), r->headers ? r->headers : "",
                                 r->body);
        ssize_t w = write(c->fd, resp, strlen(resp));
        SL_UNUSED(w);
        free(resp);
    }
    close(c->fd);
    sl_buf_free(&in);
    free(c);
    return NULL;
}

static void *server_main(void *arg)
{
    test_server *srv = arg;
    while (!atomic_load(&srv->stop)) {
        struct pollfd p = { srv->listen_fd, POLLIN, 0 };
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(srv->listen_fd, NULL, NULL);
        if (fd < 0 || srv->n_conns == 16) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        conn_arg *c = malloc(sizeof *c);
        c->srv = srv;
        c->fd = fd;
        pthread_create(&srv->conns[srv->n_conns++], NULL, conn_main, c);
    }
    for (int i = 0; i < srv->n_conns; i++)
        pthread_join(srv->conns[i], NULL);
    return NULL;
}

static void server_start(test_server *srv, const reply *script, int n)
{
    memset(srv, 0, sizeof *srv);
    srv->script = script;
    srv->script_len = n;
    srv->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(srv->listen_fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    cr_assert_eq(bind(srv->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(srv->listen_fd, 16), 0);
    socklen_t len = sizeof a;
    getsockname(srv->listen_fd, (struct sockaddr *)&a, &len);
    srv->port = ntohs(a.sin_port);
    pthread_create(&srv->thread, NULL, server_main, srv);
}

static void server_stop(test_server *srv)
{
    atomic_store(&srv->stop, true);
    pthread_join(srv->thread, NULL);
    close(srv->listen_fd);
}

static void server_free(test_server *srv)
{
    for (int i = 0; i < 16; i++)
        sl_buf_free(&srv->bodies[i]);
}

static void http_options(sl_gen_options *o, const test_server *srv, char **url)
{
    sl_gen_options_init(o);
    *url = sl_asprintf("http://127.0.0.1:%d/api/collect", srv->port);
    o->kind = sl_gen_kind_find("logs");
    o->url = *url;
    o->count = 50;
    o->batch = 50;
    o->seed = 77;
    o->retry_base_ms = 10;
    o->retry_cap_ms = 50;
    o->timeout_ms = 5000;
}

Test(gen_http, batch_retried_after_503s_is_counted_once)
{
    bound_time(20);
    static const reply script[] = {
        { 503, "Retry-After: 1\r\n", "{\"error\":\"log full\"}" },
        { 503, NULL, "{\"error\":\"log full\"}" },
        { 200, NULL, "{\"accepted\":50,\"rejected\":0,\"errors\":[]}" },
    };
    test_server srv;
    server_start(&srv, script, 3);
    char *dir = make_tmpdir();
    char *truth = sl_asprintf("%s/truth", dir);
    sl_gen_options o;
    char *url;
    http_options(&o, &srv, &url);
    o.truth_path = truth;
    o.token = "s3cret";
    sl_gen_stats st;
    int64_t t0 = sl_mono_us();
    int rc = sl_gen_run(&o, &st);
    double secs = (double)(sl_mono_us() - t0) / 1e6;
    server_stop(&srv);

    cr_assert_eq(rc, 0);
    cr_assert_eq(atomic_load(&srv.requests), 3);
    cr_assert_eq(st.generated, 50);
    cr_assert_eq(st.sent, 50);
    cr_assert_eq(st.acked, 50);
    cr_assert_eq(st.rejected, 0);
    cr_assert_eq(st.retries, 2);
    cr_assert_eq(st.retried_batches, 1);
    cr_assert(secs >= 0.95, "Retry-After: 1 not honoured (%.3f s)", secs);
    cr_assert_str_eq(srv.auth, "Bearer s3cret");
    /* the same batch, byte for byte, each time; a JSON array of 50 */
    cr_assert(srv.bodies[0].len > 0);
    cr_assert_str_eq(srv.keys[0], "gen-77-0-50");
    for (int i = 1; i < 3; i++) {
        cr_assert_str_eq(srv.keys[i], srv.keys[0]);
        cr_assert_eq(srv.bodies[i].len, srv.bodies[0].len);
        cr_assert(memcmp(srv.bodies[i].data, srv.bodies[0].data, srv.bodies[0].len) == 0);
    }
    json_t *arr = parse_strict(srv.bodies[0].data, srv.bodies[0].len);
    cr_assert(json_is_array(arr));
    cr_assert_eq(json_array_size(arr), 50);
    json_decref(arr);
    server_free(&srv);
    /* the truth file lists each acknowledged id once */
    size_t n;
    char *ids = read_file(truth, &n);
    cr_assert_eq(count_lines(ids), 50);
    cr_assert(strncmp(ids, "req-77-0\nreq-77-1\n", 18) == 0);
    cr_assert(strstr(ids, "\nreq-77-49\n"));
    free(ids);
    unlink(truth);
    rmdir(dir);
    free(truth);
    free(dir);
    free(url);
}

Test(gen_http, client_error_is_not_retried)
{
    bound_time(10);
    static const reply script[] = { { 400, NULL, "{\"error\":\"malformed JSON at byte 3\"}" } };
    test_server srv;
    server_start(&srv, script, 1);
    sl_gen_options o;
    char *url;
    http_options(&o, &srv, &url);
    sl_gen_stats st;
    cr_redirect_stderr();
    int rc = sl_gen_run(&o, &st);
    server_stop(&srv);
    server_free(&srv);
    cr_assert_eq(rc, 1);
    cr_assert_eq(atomic_load(&srv.requests), 1);
    cr_assert_eq(st.acked, 0);
    cr_assert_eq(st.rejected, 50);
    cr_assert_eq(st.retries, 0);
    free(url);
}

Test(gen_http, partially_rejected_events_stay_out_of_the_truth)
{
    bound_time(10);
    static const reply script[] = {
        { 200, NULL,
          "{\"accepted\":48,\"rejected\":2,\"errors\":[{\"index\":3,\"error\":\"bad\"},"
          "{\"index\":7,\"error\":\"bad\"}]}" },
    };
    test_server srv;
    server_start(&srv, script, 1);
    char *dir = make_tmpdir();
    char *truth = sl_asprintf("%s/truth", dir);
    sl_gen_options o;
    char *url;
    http_options(&o, &srv, &url);
    o.truth_path = truth;
    sl_gen_stats st;
    int rc = sl_gen_run(&o, &st);
    server_stop(&srv);
    server_free(&srv);
    cr_assert_eq(rc, 1); /* not everything was kept */
    cr_assert_eq(st.acked, 48);
    cr_assert_eq(st.rejected, 2);
    size_t n;
    char *ids = read_file(truth, &n);
    cr_assert_eq(count_lines(ids), 48);
    cr_assert_null(strstr(ids, "req-77-3\n"));
    cr_assert_null(strstr(ids, "req-77-7\n"));
    cr_assert_not_null(strstr(ids, "req-77-4\n"));
    free(ids);
    unlink(truth);
    rmdir(dir);
    free(truth);
    free(dir);
    free(url);
}

Test(gen_http, unreachable_collector_is_given_up_after_max_retries)
{
    bound_time(10);
    /* A port nobody listens on: bind one, read its number, close it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    sl_gen_options o;
    sl_gen_options_init(&o);
    char *url = sl_asprintf("http://127.0.0.1:%d/api/collect", ntohs(a.sin_port));
    o.kind = sl_gen_kind_find("events");
    o.url = url;
    o.count = 30;
    o.batch = 10;
    o.max_retries = 2;
    o.retry_base_ms = 5;
    o.retry_cap_ms = 20;
    sl_gen_stats st;
    cr_redirect_stderr();
    int rc = sl_gen_run(&o, &st);
    cr_assert_eq(rc, 1);
    cr_assert_eq(st.acked, 0);
    cr_assert_eq(st.failed, 30);
    cr_assert_eq(st.retries, 6);
    cr_assert_eq(st.retried_batches, 3);
    free(url);
}

Test(gen_http, concurrent_senders_deliver_every_batch_once)
{
    bound_time(20);
    static const reply script[] = { { 200, NULL, "{\"accepted\":10,\"rejected\":0,\"errors\":[]}" } };
    test_server srv;
    server_start(&srv, script, 1);
    char *dir = make_tmpdir();
    char *truth = sl_asprintf("%s/truth", dir);
    sl_gen_options o;
    char *url;
    http_options(&o, &srv, &url);
    o.count = 1000;
    o.batch = 10;
    o.concurrency = 3;
    o.truth_path = truth;
    sl_gen_stats st;
    int rc = sl_gen_run(&o, &st);
    server_stop(&srv);
    server_free(&srv);
    cr_assert_eq(rc, 0);
    cr_assert_eq(st.acked, 1000);
    cr_assert_eq(atomic_load(&srv.requests), 100);
    size_t n;
    char *ids = read_file(truth, &n);
    cr_assert_eq(count_lines(ids), 1000);
    json_t *seen = json_object();
    for (char *line = ids, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        cr_assert_null(json_object_get(seen, line), "duplicate %s", line);
        json_object_set_new(seen, line, json_true());
    }
    json_decref(seen);
    free(ids);
    unlink(truth);
    rmdir(dir);
    free(truth);
    free(dir);
    free(url);
}
