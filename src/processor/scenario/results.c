/*
 * results.c - one result record of the scenario processor, and the names
 * of the source ranges its appends cover (see scenario.h).
 *
 * A result is the seed's shape: the projected event followed by success,
 * scenario_id and date,
 *
 *   {"memberId":123456,"h":10,"url":"...","success":1,"scenario_id":5,
 *    "date":"2026-01-11T09:19:26.123Z"}
 *
 * built in place: sl_scenario_keys_apply writes the projection straight
 * into the batch buffer, its closing brace is replaced by the scenario's
 * prepared tail, and the date comes from a per-second cache, so a result
 * costs a few copies beyond the one scan of the event (scenario_eval).
 */
#include "processor/scenario/scenario.h"
#include "core/timestamp.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void scenario_chunk_key(const char *group, const char *topic, int32_t partition, int64_t start,
                        int64_t end, sl_buf *out)
{
    sl_buf_reset(out);
    sl_buf_printf(out, "sc|%s|%s|%d|%" PRId64 "-%" PRId64, group, topic, partition, start, end);
    if (out->len <= 255)
        return;
    /* Long names: FNV-1a of group|topic keeps the key short and stable. */
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = group; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    h = (h ^ '|') * 0x100000001b3ull;
    for (const char *p = topic; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    sl_buf_reset(out);
    sl_buf_printf(out, "sc|#%016" PRIx64 "|%d|%" PRId64 "-%" PRId64, h, partition, start, end);
}

void scenario_date_init(scenario_date_cache *d)
{
    d->second = INT64_MIN;
    memset(d->prefix, 0, sizeof d->prefix);
}

void scenario_date_format(scenario_date_cache *d, int64_t ts_us, char *out)
{
    int64_t sec = ts_us / 1000000, frac = ts_us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        sec--;
    }
    if (sec != d->second) {
        char iso[40];
        /* 2026-01-11T09:19:26.000000Z: keep "2026-01-11T09:19:26." */
        sl_timestamp_format_iso(sec * 1000000, iso, sizeof iso);
        size_t n = strlen(iso);
        if (n != 27) { /* a year outside 0000-9999: clamp to the shape */
            memcpy(iso, n > 27 ? "9999-12-31T23:59:59." : "0000-01-01T00:00:00.", 20);
        }
        memcpy(d->prefix, iso, 20);
        d->second = sec;
    }
    memcpy(out, d->prefix, 20);
    unsigned ms = (unsigned)(frac / 1000);
    out[20] = (char)('0' + ms / 100);
    out[21] = (char)('0' + ms / 10 % 10);
    out[22] = (char)('0' + ms % 10);
    out[23] = 'Z';
}

size_t scenario_result_append(const scenario_set *set, const scenario_entry *e,
                              const sl_scenario_event *event, sl_view member, int64_t ts_us,
                              scenario_date_cache *dates, sl_buf *out, bool *success)
{
    size_t before = out->len;
    bool matched = false;
    int written = sl_scenario_keys_apply(set->keys, e->keys_index, event, member, out, &matched);
    out->len--; /* the projection's closing brace */
    int ok = matched ? 1 : 0;
    sl_buf_reserve(out, e->tail_len[ok] + 28);
    char *w = out->data + out->len;
    if (written > 0)
        *w++ = ',';
    memcpy(w, e->tail[ok], e->tail_len[ok]);
    w += e->tail_len[ok];
    scenario_date_format(dates, ts_us, w);
    w += 24;
    *w++ = '"';
    *w++ = '}';
    out->len = (size_t)(w - out->data);
    out->data[out->len] = '\0';
    *success = matched;
    return out->len - before;
}
