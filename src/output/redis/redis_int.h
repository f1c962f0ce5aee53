/*
 * redis_int.h - the parts of the `redis` output, for its files and its tests.
 *
 * The output is split by concern:
 *
 *   redis.c           the plugin: key table, consumer loop callbacks, offsets,
 *                     the up/down bookkeeping, metrics and log lines
 *   redis_url.c       redis://[[user]:password@]host[:port][/db] and
 *                     unix:PATH[?db=N&password=P]
 *   redis_conn.c      one hiredis connection: connect with a timeout, AUTH,
 *                     SELECT, scripts, pipelined commands, error classes
 *   scenario_ratio.c  the `scenario_ratio` mode: partial window counts in,
 *                     the seed's success-ratio values and a history out
 *
 * A mode is a small vtable (redis_mode): it keeps records read from the log
 * until the next flush and then writes them through a connection. Adding a
 * mode (a `set` or `lpush` of records by a key template) means one file
 * with a redis_mode and one line in redis.c's mode table.
 *
 * Errors are negative returns: REDIS_E_DOWN when the server could not be
 * reached or the connection broke (close it, retry later), SL_ERR when the
 * server answered with an error (the connection is still usable),
 * SL_ERR_PARSE for a record the mode cannot use.
 */
#ifndef SL_OUTPUT_REDIS_INT_H
#define SL_OUTPUT_REDIS_INT_H

#include "core/buf.h"
#include "core/common.h"
#include "log/log.h"

#include <errno.h>
#include <stdint.h>

/* The server is unreachable or the connection broke mid-way. */
#define REDIS_E_DOWN (-ENOTCONN)

/* ---- redis_url.c --------------------------------------------------------- */

typedef struct redis_url {
    char *host;        /* NULL for a unix socket */
    int port;
    char *socket_path; /* unix: URLs */
    char *username;    /* ACL user (Redis 6+), or NULL */
    char *password;    /* NULL = no AUTH */
    int db;
} redis_url;

/*
 * Parse a Redis URL:
 *
 *   redis://[[username]:password@]host[:port][/db]     host may be [ipv6]
 *   unix:/path/to/redis.sock[?db=N&password=P]         also unix:///path
 *
 * Defaults: host 127.0.0.1, port 6379, db 0. The userinfo and the socket
 * path may be percent-encoded. On success returns 0 and fills *out (free
 * with redis_url_free); on failure returns SL_ERR_PARSE, writes a reason
 * into why (why_len bytes) and leaves nothing to free.
 */
int  redis_url_parse(const char *text, redis_url *out, char *why, size_t why_len);
void redis_url_free(redis_url *u); /* NULL-safe; zeroes *u */
/* "127.0.0.1:6379/0" or "unix:/run/redis.sock/0": for log lines (never the password). */
void redis_url_describe(const redis_url *u, char *out, size_t n);

/* ---- redis_conn.c -------------------------------------------------------- */

struct redisContext;

typedef struct redis_conn {
    const redis_url *url;       /* borrowed: outlives the connection */
    int timeout_ms;             /* connect and every command */
    struct redisContext *ctx;   /* NULL while disconnected */
    uint64_t generation;        /* +1 on every successful connect (scripts reload) */
    char error[256];            /* the last error, for log lines */
} redis_conn;

/* Connect (TCP or unix), AUTH and SELECT, unless connected already. */
int  redis_conn_ensure(redis_conn *c);
/* Drop the connection (the next ensure reconnects). NULL-safe. */
void redis_conn_close(redis_conn *c);
/* A round trip (PING) on a connected connection: 0 or REDIS_E_DOWN. */
int  redis_conn_ping(redis_conn *c);
/* SCRIPT LOAD: the script's SHA-1 (40 hex digits) into sha[41]. */
int  redis_conn_script_load(redis_conn *c, const char *script, char sha[41]);

/*
 * Pipelining: queue commands with redis_conn_append (argv copied into the
 * connection's output buffer), then take their replies in order with
 * redis_conn_reply. A reply is an integer, a status/bulk string or an
 * error; redis_conn_reply returns 0 for an ordinary reply, SL_ERR for an
 * error reply (its text in c->error and *text) and REDIS_E_DOWN when the
 * connection broke (then the connection is closed and the rest of the
 * queued replies are lost).
 */
int redis_conn_append(redis_conn *c, int argc, const char **argv, const size_t *argvlen);

typedef struct redis_reply_info {
    bool is_int;
    long long integer;
    char text[128];             /* a status, bulk or error text (truncated) */
} redis_reply_info;

int redis_conn_reply(redis_conn *c, redis_reply_info *info);

/* ---- modes ----------------------------------------------------------------- */

/* What a mode is configured with (from the output's keys). */
typedef struct redis_mode_conf {
    const char *key_prefix;     /* "scenario:" */
    int64_t history;            /* entries kept in the history */
    size_t max_buffer;          /* pending entries before the output asks for a flush */
} redis_mode_conf;

typedef struct redis_mode {
    const char *name;
    /* Create the mode's state; conf must outlive it. */
    int (*create)(const redis_mode_conf *conf, void **state);
    /*
     * Keep one record until the next write. 0 when kept, SL_ERR_PARSE when
     * the record is unusable (why says why: the output dead-letters it).
     */
    int (*add)(void *state, const sl_message *m, char *why, size_t why_len);
    /* Entries held (the unit max_buffer counts). */
    size_t (*pending)(const void *state);
    /*
     * Write everything held. 0 when Redis acknowledged all of it (the held
     * entries are then dropped); REDIS_E_DOWN or SL_ERR otherwise, and the
     * entries not acknowledged are kept for the next call (writes are
     * idempotent, so repeating an acknowledged one is harmless).
     * *acked counts the updates Redis acknowledged during the call.
     */
    int (*write)(void *state, redis_conn *c, uint64_t *acked);
    void (*destroy)(void *state);
} redis_mode;

extern const redis_mode redis_mode_scenario_ratio;

/* ---- scenario_ratio.c: the pieces its tests look at -------------------------- */

#define REDIS_SID_MAX 64
#define REDIS_TOPIC_MAX 249   /* Kafka's limit on topic names */

/* One partial window count, as the scenario processor emits it on scenario.stats. */
typedef struct redis_partial {
    char sid[REDIS_SID_MAX + 1];   /* scenario id, as it appears in keys */
    int64_t window_start;          /* epoch seconds */
    int64_t window_end;            /* epoch seconds, > window_start */
    sl_view source_topic;          /* the source topic; empty when not given (a view
                                      into the parsed value) */
    int32_t partition;             /* the source partition the partial covers */
    int64_t success;
    int64_t total;
    int64_t last_offset;           /* coverage: the last source offset counted; -1 = unknown */
} redis_partial;

/*
 * Read a scenario.stats value:
 *   {"scenario_id":5,"window_start":"2026-01-11T09:19:25Z",
 *    "window_end":"2026-01-11T09:19:30Z","partition":1,
 *    "source_topic":"web.raw","success_count":3,"total_count":4}
 * (scenario_id, window_start, source_topic, partition) names a partial;
 * source_topic is optional. scenario_id is an integer or a string of
 * [A-Za-z0-9_.-], source_topic a topic name (the same characters); times are
 * ISO-8601 or epoch numbers; counts are integers, 0 <= success <= total.
 * An optional "last_offset" (the last source offset the partial counts,
 * as sluice's scenario processor writes it) orders versions of one
 * partial: an older version never replaces a newer one.
 * Returns 0 or SL_ERR_PARSE with a reason in why.
 */
int redis_partial_parse(sl_view value, redis_partial *out, char *why, size_t why_len);

/* "2026-01-11 09:19:30": the seed's updated_at format, UTC. out >= 20 bytes. */
void redis_format_updated_at(int64_t epoch_s, char *out, size_t n);

/* The Lua script that applies the partials of one (scenario, window). */
extern const char redis_scenario_ratio_script[];

#endif
