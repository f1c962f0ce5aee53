/*
 * scenario_ratio.c - the `scenario_ratio` mode of the `redis` output: seed
 * 001's 5-second success ratio per scenario, exact through crashes,
 * rebalances and any number of workers.
 *
 * The scenario processor does not emit totals. It emits a *partial* per
 * (scenario, event-time window, source topic and partition) on
 * scenario.stats (docs/scenarios.md states the contract), and
 * may emit the same partial again after a crash or a rebalance with the
 * recomputed value, which replaces the earlier one. So the partials are
 * kept in Redis, where every writer sees them, and every total is summed
 * from them there:
 *
 *   <prefix><sid>:window:<start>   hash, one field per source partition:
 *        web.raw:p0 -> "17,20,4411"  <source_topic>:p<partition> (p<partition>
 *        web.raw:p1 -> "3,9,1020"    when the partial names no topic) ->
 *        web.raw:p2 -> "65,71"       "<success>,<total>[,<last_offset>]",
 *                                    replaced, never added; expires after
 *                                    history x window x 2
 *                 |  HVALS, summed
 *                 v
 *   <prefix><sid>:history          sorted set, score = window start (epoch s),
 *        1768123165 -> {json}      member = the window's JSON; one member per
 *        1768123170 -> {json}      window, capped at `history` (oldest go)
 *                 |  only when this window is the newest in the history
 *                 v
 *   <prefix><sid>:success_ratio    string, the seed's value:
 *        {"success_ratio":0.85,"total_count":100,"success_count":85,
 *         "updated_at":"2026-01-11 09:19:30"}
 *
 * success_ratio is success/total rounded to 4 decimals and written the way
 * the seed's Python (json.dumps(round(x, 4))) writes it: 0.85, 0.3333, 1.0,
 * 0.0, and 0 when total is 0. updated_at is the window's end in UTC, so a
 * replay writes byte-identical values.
 *
 * One Lua script applies the partials of one (scenario, window) and
 * rewrites the three keys, so each update is atomic: two workers writing
 * partials of the same window can never leave a sum that misses one of
 * them. (Redis does not roll back a script that fails half-way, say on a
 * key of the wrong type that another program owns; the retry runs it again
 * whole, and every step in it is idempotent.) A flush pipelines one
 * EVALSHA per window touched.
 *
 * A partial replaces the one stored for its partition unless both carry a
 * last_offset (how far into the source partition they counted) and the
 * stored one counted further: then the incoming one is an older version,
 * read again after a restart of this output, and is ignored, so values
 * never step back while a replay passes.
 *
 * Between flushes the partials wait in a table keyed by (scenario, window);
 * a partial read twice before a flush keeps only its newest version, which
 * is what Redis would keep anyway.
 */
#include "output/redis/redis_int.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/timestamp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char redis_scenario_ratio_script[] =
    "-- sluice scenario_ratio: apply the partials of one (scenario, window)\n"
    "-- KEYS[1] window hash  KEYS[2] success_ratio  KEYS[3] history\n"
    "-- ARGV[1] window start  ARGV[2] updated_at  ARGV[3] history cap\n"
    "-- ARGV[4] window TTL (s)  ARGV[5..] field, \"success,total[,last_offset]\", ...\n"
    "for i = 5, #ARGV, 2 do\n"
    "  local older = false\n"
    "  local offset = string.match(ARGV[i + 1], '^%d+,%d+,(%d+)$')\n"
    "  if offset then\n"
    "    local stored = redis.call('HGET', KEYS[1], ARGV[i])\n"
    "    if stored then\n"
    "      local stored_offset = string.match(stored, '^%d+,%d+,(%d+)$')\n"
    "      older = stored_offset ~= nil and tonumber(stored_offset) > tonumber(offset)\n"
    "    end\n"
    "  end\n"
    "  if not older then\n"
    "    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])\n"
    "  end\n"
    "end\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[4])\n"
    "local success, total = 0, 0\n"
    "for _, v in ipairs(redis.call('HVALS', KEYS[1])) do\n"
    "  local s, t = string.match(v, '^(%d+),(%d+)')\n"
    "  if s then\n"
    "    success = success + tonumber(s)\n"
    "    total = total + tonumber(t)\n"
    "  end\n"
    "end\n"
    "local ratio = '0'\n"
    "if total > 0 then\n"
    "  ratio = string.format('%.4f', success / total)\n"
    "  ratio = string.gsub(ratio, '0+$', '')\n"
    "  ratio = string.gsub(ratio, '%.$', '.0')\n"
    "end\n"
    "local value = string.format('{\"success_ratio\":%s,\"total_count\":%d,'\n"
    "  .. '\"success_count\":%d,\"updated_at\":\"%s\"}', ratio, total, success, ARGV[2])\n"
    "local start = tonumber(ARGV[1])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[3], start, start)\n"
    "redis.call('ZADD', KEYS[3], start, value)\n"
    "redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -tonumber(ARGV[3]) - 1)\n"
    "local newest = redis.call('ZREVRANGE', KEYS[3], 0, 0, 'WITHSCORES')\n"
    "if newest[2] ~= nil and tonumber(newest[2]) == start then\n"
    "  redis.call('SET', KEYS[2], value)\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

/* Counts above 2^53 would lose precision in the script's Lua numbers. */
#define COUNT_MAX (INT64_C(1) << 53)
/* Windows per pipelined round trip. */
#define PIPELINE_WINDOWS 256

/* ---- reading a partial ------------------------------------------------------ */

static int bad(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(char *why, size_t n, const char *fmt, ...)
{
    if (why && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
    }
    return SL_ERR_PARSE;
}

static bool sid_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '_' || c == '-' || c == '.';
}

static int read_count(sl_view obj, const char *name, int64_t max, int64_t *out, char *why,
                      size_t n)
{
    sl_view v;
    if (!sl_json_get(obj, name, &v))
        return bad(why, n, "no %s", name);
    if (sl_json_type_of(v) != SL_JSON_NUMBER || sl_json_int64(v, out) < 0 || *out < 0 ||
        *out > max)
        return bad(why, n, "%s must be an integer from 0 to %lld", name, (long long)max);
    return 0;
}

static int read_time(sl_view obj, const char *name, int64_t *epoch_s, char *why, size_t n)
{
    sl_view v;
    int64_t us;
    if (!sl_json_get(obj, name, &v))
        return bad(why, n, "no %s", name);
    if (sl_timestamp_parse_json(v, &us) < 0 || us < 0)
        return bad(why, n, "%s is not a timestamp (ISO-8601 or epoch) after 1970", name);
    *epoch_s = us / 1000000;
    return 0;
}

int redis_partial_parse(sl_view value, redis_partial *out, char *why, size_t why_len)
{
    size_t end;
    sl_json_error jerr;
    if (sl_json_validate(value.ptr, value.len, 0, &end, &jerr) < 0)
        return bad(why, why_len, "malformed JSON at byte %zu: %s", jerr.offset, jerr.message);
    if (sl_json_skip_ws(value.ptr, value.len, end) != value.len)
        return bad(why, why_len, "text after the JSON value");
    sl_view obj = { value.ptr + sl_json_skip_ws(value.ptr, value.len, 0), 0 };
    obj.len = value.ptr + end - obj.ptr;
    if (sl_json_type_of(obj) != SL_JSON_OBJECT)
        return bad(why, why_len, "not a JSON object");

    redis_partial p = { 0 };
    sl_view v;
    if (!sl_json_get(obj, "scenario_id", &v))
        return bad(why, why_len, "no scenario_id");
    int64_t id;
    sl_view s;
    if (sl_json_type_of(v) == SL_JSON_NUMBER) {
        if (sl_json_int64(v, &id) < 0 || id < 0)
            return bad(why, why_len, "scenario_id must be a non-negative integer");
        snprintf(p.sid, sizeof p.sid, "%lld", (long long)id);
    } else if (sl_json_type_of(v) == SL_JSON_STRING && sl_json_string_plain(v, &s) && s.len &&
               s.len <= REDIS_SID_MAX) {
        for (size_t i = 0; i < s.len; i++)
            if (!sid_char(s.ptr[i]))
                return bad(why, why_len, "scenario_id may hold only A-Z a-z 0-9 _ - .");
        memcpy(p.sid, s.ptr, s.len);
        p.sid[s.len] = '\0';
    } else {
        return bad(why, why_len, "scenario_id must be an integer or a short name");
    }
    int rc;
    if ((rc = read_time(obj, "window_start", &p.window_start, why, why_len)) < 0 ||
        (rc = read_time(obj, "window_end", &p.window_end, why, why_len)) < 0)
        return rc;
    if (p.window_end <= p.window_start)
        return bad(why, why_len, "window_end must be at least a second after window_start");
    int64_t part;
    if ((rc = read_count(obj, "partition", INT32_MAX, &part, why, why_len)) < 0 ||
        (rc = read_count(obj, "total_count", COUNT_MAX, &p.total, why, why_len)) < 0 ||
        (rc = read_count(obj, "success_count", COUNT_MAX, &p.success, why, why_len)) < 0)
        return rc;
    p.partition = (int32_t)part;
    if (sl_json_get(obj, "source_topic", &v) && sl_json_type_of(v) != SL_JSON_NULL) {
        if (sl_json_type_of(v) != SL_JSON_STRING || !sl_json_string_plain(v, &s) || !s.len ||
            s.len > REDIS_TOPIC_MAX)
            return bad(why, why_len, "source_topic must be a topic name");
        for (size_t i = 0; i < s.len; i++)
            if (!sid_char(s.ptr[i]))
                return bad(why, why_len, "source_topic may hold only A-Z a-z 0-9 _ - .");
        p.source_topic = s;
    }
    p.last_offset = -1;
    if (sl_json_get(obj, "last_offset", &v) && sl_json_type_of(v) != SL_JSON_NULL &&
        (rc = read_count(obj, "last_offset", INT64_MAX, &p.last_offset, why, why_len)) < 0)
        return rc;
    if (p.success > p.total)
        return bad(why, why_len, "success_count %lld exceeds total_count %lld",
                   (long long)p.success, (long long)p.total);
    *out = p;
    return 0;
}

void redis_format_updated_at(int64_t epoch_s, char *out, size_t n)
{
    struct tm tm;
    time_t t = (time_t)epoch_s;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

/* ---- the table of pending windows ------------------------------------------ */

typedef struct part_count {
    uint32_t topic;              /* index into ratio_state.topics + 1; 0 = none given */
    int32_t partition;
    int64_t success, total;
    int64_t last_offset;         /* -1 = unknown */
} part_count;

typedef struct window_entry {
    char sid[REDIS_SID_MAX + 1];
    int64_t start, end;
    part_count *parts;
    size_t nparts, cap;
    bool written;                /* acknowledged by Redis in a flush that failed later */
} window_entry;

typedef struct ratio_state {
    const redis_mode_conf *conf;
    window_entry *windows;       /* in arrival order */
    size_t nwindows, cap;
    uint32_t *slots;             /* open addressing: window index + 1, 0 = empty */
    size_t nslots;
    size_t entries;              /* distinct (scenario, window, topic, partition) held */
    char **topics;               /* source topic names seen (few): interned */
    size_t ntopics;
    char sha[41];
    uint64_t sha_generation;     /* the connection generation the script was loaded on */
    sl_buf args;                 /* scratch for one command's arguments */
} ratio_state;

static uint64_t window_hash(const char *sid, int64_t start)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = sid; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    for (int i = 0; i < 8; i++)
        h = (h ^ (uint8_t)((uint64_t)start >> (8 * i))) * 1099511628211ULL;
    return h;
}

static void slots_rebuild(ratio_state *s, size_t nslots)
{
    free(s->slots);
    s->nslots = nslots;
    s->slots = sl_calloc(nslots, sizeof *s->slots);
    for (size_t i = 0; i < s->nwindows; i++) {
        size_t j = window_hash(s->windows[i].sid, s->windows[i].start) & (nslots - 1);
        while (s->slots[j])
            j = (j + 1) & (nslots - 1);
        s->slots[j] = (uint32_t)(i + 1);
    }
}

static window_entry *window_find_or_add(ratio_state *s, const redis_partial *p)
{
    if ((s->nwindows + 1) * 2 > s->nslots)
        slots_rebuild(s, s->nslots ? s->nslots * 2 : 64);
    size_t j = window_hash(p->sid, p->window_start) & (s->nslots - 1);
    while (s->slots[j]) {
        window_entry *w = &s->windows[s->slots[j] - 1];
        if (w->start == p->window_start && !strcmp(w->sid, p->sid))
            return w;
        j = (j + 1) & (s->nslots - 1);
    }
    if (s->nwindows == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->windows = sl_realloc(s->windows, s->cap * sizeof *s->windows);
    }
    window_entry *w = &s->windows[s->nwindows];
    memset(w, 0, sizeof *w);
    memcpy(w->sid, p->sid, sizeof w->sid);
    w->start = p->window_start;
    s->slots[j] = (uint32_t)(++s->nwindows);
    return w;
}

static void windows_clear(ratio_state *s)
{
    for (size_t i = 0; i < s->nwindows; i++)
        free(s->windows[i].parts);
    s->nwindows = 0;
    s->entries = 0;
    if (s->slots)
        memset(s->slots, 0, s->nslots * sizeof *s->slots);
}

/* ---- the mode -------------------------------------------------------------------- */

static int ratio_create(const redis_mode_conf *conf, void **state)
{
    ratio_state *s = sl_calloc(1, sizeof *s);
    s->conf = conf;
    *state = s;
    return 0;
}

/* The source topic's number in s->topics, + 1 (0 for none). */
static uint32_t topic_intern(ratio_state *s, sl_view name)
{
    if (!name.len)
        return 0;
    for (size_t i = 0; i < s->ntopics; i++)
        if (sl_view_eq_str(name, s->topics[i]))
            return (uint32_t)(i + 1);
    s->topics = sl_realloc(s->topics, (s->ntopics + 1) * sizeof *s->topics);
    s->topics[s->ntopics++] = sl_strndup(name.ptr, name.len);
    return (uint32_t)s->ntopics;
}

static int ratio_add(void *state, const sl_message *m, char *why, size_t why_len)
{
    ratio_state *s = state;
    redis_partial p;
    int rc = redis_partial_parse(m->value, &p, why, why_len);
    if (rc < 0)
        return rc;
    uint32_t topic = topic_intern(s, p.source_topic);
    window_entry *w = window_find_or_add(s, &p);
    w->end = p.window_end;
    w->written = false;
    for (size_t i = 0; i < w->nparts; i++)
        if (w->parts[i].partition == p.partition && w->parts[i].topic == topic) {
            /* a re-emitted partial replaces the one before it, unless it is an older version */
            part_count *c = &w->parts[i];
            if (p.last_offset >= 0 && c->last_offset > p.last_offset)
                return 0;
            *c = (part_count){ topic, p.partition, p.success, p.total, p.last_offset };
            return 0;
        }
    if (w->nparts == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 4;
        w->parts = sl_realloc(w->parts, w->cap * sizeof *w->parts);
    }
    w->parts[w->nparts++] =
        (part_count){ topic, p.partition, p.success, p.total, p.last_offset };
    s->entries++;
    return 0;
}

static size_t ratio_pending(const void *state)
{
    return ((const ratio_state *)state)->entries;
}

/*
 * EVALSHA <sha> 3 <window key> <ratio key> <history key> <start> <updated_at>
 *         <history> <ttl> p<partition> <success>,<total> ...
 * The strings are built in s->args first (it may move while growing), then
 * pointed at.
 */
static int queue_window(ratio_state *s, redis_conn *c, const window_entry *w)
{
    enum { FIXED = 10 };
    size_t argc = FIXED + 2 * w->nparts;
    size_t *off = sl_malloc(argc * sizeof *off);
    size_t *len = sl_malloc(argc * sizeof *len);
    const char **argv = sl_malloc(argc * sizeof *argv);
    const char *prefix = s->conf->key_prefix;
    char updated[24];
    redis_format_updated_at(w->end, updated, sizeof updated);
    int64_t ttl = s->conf->history * (w->end - w->start) * 2;
    if (ttl < 60)
        ttl = 60;
    sl_buf_reset(&s->args);
    size_t k = 0;
#define ARG(...)                                   \
    do {                                           \
        off[k] = s->args.len;                      \
        sl_buf_printf(&s->args, __VA_ARGS__);      \
        len[k] = s->args.len - off[k];             \
        k++;                                       \
    } while (0)
    ARG("EVALSHA");
    ARG("%s", s->sha);
    ARG("3");
    ARG("%s%s:window:%lld", prefix, w->sid, (long long)w->start);
    ARG("%s%s:success_ratio", prefix, w->sid);
    ARG("%s%s:history", prefix, w->sid);
    ARG("%lld", (long long)w->start);
    ARG("%s", updated);
    ARG("%lld", (long long)s->conf->history);
    ARG("%lld", (long long)ttl);
    for (size_t i = 0; i < w->nparts; i++) {
        const part_count *c = &w->parts[i];
        if (c->topic)
            ARG("%s:p%d", s->topics[c->topic - 1], c->partition);
        else
            ARG("p%d", c->partition);
        if (c->last_offset >= 0)
            ARG("%lld,%lld,%lld", (long long)c->success, (long long)c->total,
                (long long)c->last_offset);
        else
            ARG("%lld,%lld", (long long)c->success, (long long)c->total);
    }
#undef ARG
    for (size_t i = 0; i < argc; i++)
        argv[i] = s->args.data + off[i];
    int rc = redis_conn_append(c, (int)argc, argv, len);
    free(off);
    free(len);
    free(argv);
    return rc;
}

static int ratio_write(void *state, redis_conn *c, uint64_t *acked)
{
    ratio_state *s = state;
    *acked = 0;
    if (s->sha_generation != c->generation || !s->sha[0]) {
        int rc = redis_conn_script_load(c, redis_scenario_ratio_script, s->sha);
        if (rc < 0)
            return rc;
        s->sha_generation = c->generation;
    }
    int failed = 0;
    size_t i = 0;
    while (i < s->nwindows) {
        size_t batch[PIPELINE_WINDOWS], nb = 0;
        for (; i < s->nwindows && nb < PIPELINE_WINDOWS; i++) {
            if (s->windows[i].written)
                continue;
            int rc = queue_window(s, c, &s->windows[i]);
            if (rc < 0)
                return rc;
            batch[nb++] = i;
        }
        for (size_t b = 0; b < nb; b++) {
            redis_reply_info info;
            int rc = redis_conn_reply(c, &info);
            if (rc == REDIS_E_DOWN)
                return rc;
            if (rc < 0) {
                /* someone ran SCRIPT FLUSH: load it again on the next attempt */
                if (!strncmp(info.text, "NOSCRIPT", 8))
                    s->sha_generation = 0;
                failed = rc;
                continue;
            }
            s->windows[batch[b]].written = true;
            (*acked)++;
        }
    }
    if (failed)
        return failed;
    windows_clear(s);
    return 0;
}

static void ratio_destroy(void *state)
{
    ratio_state *s = state;
    if (!s)
        return;
    windows_clear(s);
    for (size_t i = 0; i < s->ntopics; i++)
        free(s->topics[i]);
    free(s->topics);
    free(s->windows);
    free(s->slots);
    sl_buf_free(&s->args);
    free(s);
}

const redis_mode redis_mode_scenario_ratio = {
    .name = "scenario_ratio",
    .create = ratio_create,
    .add = ratio_add,
    .pending = ratio_pending,
    .write = ratio_write,
    .destroy = ratio_destroy,
};
