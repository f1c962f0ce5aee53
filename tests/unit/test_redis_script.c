/*
 * test_redis_script.c - the scenario_ratio mode and the connection against
 * a real redis-server, started per test on a unix socket in a temporary
 * directory (no TCP port to race for) and stopped after it.
 *
 * What is checked: the exact value strings (the ratio written as the
 * seed's Python writes round(x, 4), including exact binary ties and
 * doubles just above a tie, and counts up to 2^53); a re-emitted partial
 * replacing its earlier value; the newest-window rule; the capped history;
 * the window hash's expiry; AUTH and SELECT from the URL; and the error
 * classes (server gone -> REDIS_E_DOWN with the updates kept; a flushed
 * script cache -> an error reply, then success on the retry).
 */
#include "output/redis/redis_int.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct {
    pid_t pid;
    char dir[64];
    char sock[128];
    char url[160];
} srv;

static void server_start(const char *password)
{
    srv.pid = fork();
    cr_assert_neq(srv.pid, -1);
    if (srv.pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        if (password)
            execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", srv.sock,
                   "--daemonize", "no", "--save", "", "--appendonly", "no", "--dir", srv.dir,
                   "--requirepass", password, (char *)NULL);
        else
            execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", srv.sock,
                   "--daemonize", "no", "--save", "", "--appendonly", "no", "--dir", srv.dir,
                   (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) { /* up to 5 s */
        redisContext *c = redisConnectUnix(srv.sock);
        bool ok = c && !c->err;
        if (c)
            redisFree(c);
        if (ok)
            return;
        int status;
        cr_assert_eq(waitpid(srv.pid, &status, WNOHANG), 0, "redis-server exited at start");
        usleep(10000);
    }
    cr_assert_fail("redis-server did not start on %s", srv.sock);
}

static void server_stop(void)
{
    if (srv.pid > 0) {
        kill(srv.pid, SIGKILL);
        waitpid(srv.pid, NULL, 0);
        srv.pid = 0;
    }
    unlink(srv.sock);
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN); /* as `sluice run` does: a dead server is an EPIPE, not a death */
    strcpy(srv.dir, "/tmp/sluice-redis-XXXXXX");
    cr_assert_not_null(mkdtemp(srv.dir));
    snprintf(srv.sock, sizeof srv.sock, "%s/redis.sock", srv.dir);
    snprintf(srv.url, sizeof srv.url, "unix:%s", srv.sock);
    server_start(NULL);
}

static void teardown(void)
{
    server_stop();
    rmdir(srv.dir);
}

TestSuite(redis_script, .init = setup, .fini = teardown);

/* ---- helpers --------------------------------------------------------------------- */

typedef struct fixture {
    redis_url url;
    redis_conn conn;
    redis_mode_conf conf;
    void *mode;
} fixture;

static void fixture_open(fixture *f, const char *url, int64_t history)
{
    char why[200];
    cr_assert_eq(redis_url_parse(url, &f->url, why, sizeof why), 0, "%s", why);
    f->conn = (redis_conn){ .url = &f->url, .timeout_ms = 2000 };
    f->conf = (redis_mode_conf){ .key_prefix = "scenario:", .history = history,
                                 .max_buffer = 1000 };
    cr_assert_eq(redis_mode_scenario_ratio.create(&f->conf, &f->mode), 0);
}

static void fixture_close(fixture *f)
{
    redis_mode_scenario_ratio.destroy(f->mode);
    redis_conn_close(&f->conn);
    redis_url_free(&f->url);
}

/* Hold one partial: scenario sid, window [start, start+5), source partition p. */
static void add(fixture *f, const char *sid, int64_t start, int p, int64_t success, int64_t total)
{
    char json[400];
    snprintf(json, sizeof json,
             "{\"scenario_id\":%s,\"window_start\":%lld,\"window_end\":%lld,\"partition\":%d,"
             "\"source_topic\":\"web.raw\",\"success_count\":%lld,\"total_count\":%lld}",
             sid, (long long)start, (long long)start + 5, p, (long long)success,
             (long long)total);
    sl_message m = { .value = sl_view_of(json) };
    char why[160] = "";
    cr_assert_eq(redis_mode_scenario_ratio.add(f->mode, &m, why, sizeof why), 0, "%s", why);
}

static int write_all(fixture *f)
{
    int rc = redis_conn_ensure(&f->conn);
    if (rc < 0)
        return rc;
    uint64_t acked;
    return redis_mode_scenario_ratio.write(f->mode, &f->conn, &acked);
}

/* A command on a separate connection; the reply as text ("" for nil). */
static char *cmd(const char *fmt, ...)
{
    static char out[4096];
    redisContext *c = redisConnectUnix(srv.sock);
    cr_assert(c && !c->err);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    cr_assert_not_null(r);
    out[0] = '\0';
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
        r->type == REDIS_REPLY_ERROR)
        snprintf(out, sizeof out, "%s", r->str);
    else if (r->type == REDIS_REPLY_INTEGER)
        snprintf(out, sizeof out, "%lld", r->integer);
    else if (r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++) {
            size_t n = strlen(out);
            snprintf(out + n, sizeof out - n, "%s%s", i ? "|" : "",
                     r->element[i]->str ? r->element[i]->str : "");
        }
    freeReplyObject(r);
    redisFree(c);
    return out;
}

#define T0 1768123165 /* 2026-01-11 09:19:25 UTC */

/* ---- values ---------------------------------------------------------------------- */

Test(redis_script, values_are_the_seeds_json_exactly)
{
    static const struct {
        int64_t success, total;
        const char *ratio;
    } cases[] = {
        { 85, 100, "0.85" },           /* the seed's own example */
        { 1, 3, "0.3333" },
        { 2, 3, "0.6667" },
        { 1, 7, "0.1429" },
        { 7, 8, "0.875" },
        { 5, 5, "1.0" },
        { 0, 7, "0.0" },
        { 0, 0, "0" },                 /* the seed: `if total else 0` */
        { 1, 32, "0.0312" },           /* 0.03125 is exact in binary: half to even */
        { 3, 32, "0.0938" },           /* 0.09375: half to even, upwards */
        { 1, 160, "0.0063" },          /* 0.00625 is stored a hair above the tie */
        { 123456789, 987654321, "0.125" },
        { INT64_C(9007199254740991), INT64_C(9007199254740992), "1.0" },
    };
    fixture f;
    fixture_open(&f, srv.url, 720);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char sid[16];
        snprintf(sid, sizeof sid, "%zu", 100 + i);
        add(&f, sid, T0, 0, cases[i].success, cases[i].total);
    }
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    cr_assert_eq(redis_mode_scenario_ratio.pending(f.mode), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[300];
        snprintf(want, sizeof want,
                 "{\"success_ratio\":%s,\"total_count\":%lld,\"success_count\":%lld,"
                 "\"updated_at\":\"2026-01-11 09:19:30\"}",
                 cases[i].ratio, (long long)cases[i].total, (long long)cases[i].success);
        cr_assert_str_eq(cmd("GET scenario:%d:success_ratio", (int)(100 + i)), want);
        cr_assert_str_eq(cmd("ZRANGE scenario:%d:history 0 -1", (int)(100 + i)), want);
        snprintf(want, sizeof want, "%lld,%lld", (long long)cases[i].success,
                 (long long)cases[i].total);
        cr_assert_str_eq(cmd("HGET scenario:%d:window:%d web.raw:p0", (int)(100 + i), T0), want);
    }
    fixture_close(&f);
}

Test(redis_script, a_partial_emitted_again_replaces_never_adds)
{
    fixture f;
    fixture_open(&f, srv.url, 720);
    add(&f, "5", T0, 0, 40, 50);
    add(&f, "5", T0, 1, 30, 30);
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    cr_assert_str_eq(cmd("GET scenario:5:success_ratio"),
                     "{\"success_ratio\":0.875,\"total_count\":80,\"success_count\":70,"
                     "\"updated_at\":\"2026-01-11 09:19:30\"}");
    /* partition 0 recomputed after a crash, partition 2 arrives; twice in one flush for 1 */
    add(&f, "5", T0, 0, 41, 55);
    add(&f, "5", T0, 2, 4, 15);
    add(&f, "5", T0, 1, 1, 1);
    add(&f, "5", T0, 1, 30, 30);
    cr_assert_eq(redis_mode_scenario_ratio.pending(f.mode), 3);
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    cr_assert_str_eq(cmd("GET scenario:5:success_ratio"),
                     "{\"success_ratio\":0.75,\"total_count\":100,\"success_count\":75,"
                     "\"updated_at\":\"2026-01-11 09:19:30\"}");
    /* the same again, from a replay: nothing changes */
    add(&f, "5", T0, 0, 41, 55);
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    cr_assert_str_eq(cmd("HGETALL scenario:5:window:%d", T0), "web.raw:p0|41,55|web.raw:p1|30,30|web.raw:p2|4,15");
    cr_assert_str_eq(cmd("ZCARD scenario:5:history"), "1");
    fixture_close(&f);
}

/* A partial as sluice's scenario processor writes it, with its coverage. */
static void add_covering(fixture *f, int p, int64_t success, int64_t total, int64_t last_offset)
{
    char json[400];
    snprintf(json, sizeof json,
             "{\"scenario_id\":8,\"window_start\":\"2026-01-11T09:19:25Z\","
             "\"window_end\":\"2026-01-11T09:19:30Z\",\"partition\":%d,"
             "\"source_topic\":\"web.raw\",\"success_count\":%lld,\"total_count\":%lld,"
             "\"last_offset\":%lld,\"updated_at\":\"2026-11-21T10:00:00.000000Z\"}",
             p, (long long)success, (long long)total, (long long)last_offset);
    sl_message m = { .value = sl_view_of(json) };
    char why[160] = "";
    cr_assert_eq(redis_mode_scenario_ratio.add(f->mode, &m, why, sizeof why), 0, "%s", why);
}

Test(redis_script, an_older_version_of_a_partial_never_replaces_a_newer_one)
{
    fixture f;
    fixture_open(&f, srv.url, 720);
    add_covering(&f, 0, 3, 4, 100);
    add_covering(&f, 0, 5, 7, 180);   /* a late event reopened the window */
    add_covering(&f, 0, 3, 4, 100);   /* read again in the same flush: ignored */
    add_covering(&f, 1, 1, 1, 40);
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    cr_assert_str_eq(cmd("HGETALL scenario:8:window:%d", T0), "web.raw:p0|5,7,180|web.raw:p1|1,1,40");
    /* this output restarted and replays scenario.stats from an older commit */
    add_covering(&f, 0, 3, 4, 100);
    add_covering(&f, 1, 1, 1, 40);
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    cr_assert_str_eq(cmd("HGETALL scenario:8:window:%d", T0), "web.raw:p0|5,7,180|web.raw:p1|1,1,40");
    cr_assert_str_eq(cmd("GET scenario:8:success_ratio"),
                     "{\"success_ratio\":0.75,\"total_count\":8,\"success_count\":6,"
                     "\"updated_at\":\"2026-01-11 09:19:30\"}");
    /* a newer version, and one with no coverage at all, replace */
    add_covering(&f, 1, 2, 2, 41);
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    add(&f, "8", T0, 0, 0, 1);
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    cr_assert_str_eq(cmd("HGETALL scenario:8:window:%d", T0), "web.raw:p0|0,1|web.raw:p1|2,2,41");
    fixture_close(&f);
}

Test(redis_script, partials_are_named_by_source_topic_and_partition)
{
    fixture f;
    fixture_open(&f, srv.url, 720);
    static const char *const values[] = {
        "{\"scenario_id\":11,\"window_start\":1768123165,\"window_end\":1768123170,"
        "\"partition\":0,\"source_topic\":\"web.raw\",\"success_count\":1,\"total_count\":2}",
        "{\"scenario_id\":11,\"window_start\":1768123165,\"window_end\":1768123170,"
        "\"partition\":0,\"source_topic\":\"app.raw\",\"success_count\":3,\"total_count\":4}",
        "{\"scenario_id\":11,\"window_start\":1768123165,\"window_end\":1768123170,"
        "\"partition\":0,\"success_count\":0,\"total_count\":4}",
        "{\"scenario_id\":11,\"window_start\":1768123165,\"window_end\":1768123170,"
        "\"partition\":0,\"source_topic\":null,\"success_count\":2,\"total_count\":4}",
    };
    for (size_t i = 0; i < 4; i++) {
        sl_message m = { .value = sl_view_of(values[i]) };
        char why[160] = "";
        cr_assert_eq(redis_mode_scenario_ratio.add(f.mode, &m, why, sizeof why), 0, "%s", why);
    }
    cr_assert_eq(redis_mode_scenario_ratio.pending(f.mode), 3);
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    cr_assert_str_eq(cmd("HGETALL scenario:11:window:%d", T0),
                     "web.raw:p0|1,2|app.raw:p0|3,4|p0|2,4");
    cr_assert_str_eq(cmd("GET scenario:11:success_ratio"),
                     "{\"success_ratio\":0.6,\"total_count\":10,\"success_count\":6,"
                     "\"updated_at\":\"2026-01-11 09:19:30\"}");
    fixture_close(&f);
}

Test(redis_script, a_late_window_goes_to_history_not_to_the_latest_value)
{
    fixture f;
    fixture_open(&f, srv.url, 720);
    add(&f, "7", T0 + 10, 0, 1, 2);
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    const char *newest = "{\"success_ratio\":0.5,\"total_count\":2,\"success_count\":1,"
                         "\"updated_at\":\"2026-01-11 09:19:40\"}";
    cr_assert_str_eq(cmd("GET scenario:7:success_ratio"), newest);
    add(&f, "7", T0, 0, 3, 3);      /* late: an older window */
    add(&f, "7", T0 + 5, 1, 0, 4);  /* late too */
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    cr_assert_str_eq(cmd("GET scenario:7:success_ratio"), newest);
    cr_assert_str_eq(cmd("ZRANGE scenario:7:history 0 -1"),
                     "{\"success_ratio\":1.0,\"total_count\":3,\"success_count\":3,"
                     "\"updated_at\":\"2026-01-11 09:19:30\"}|"
                     "{\"success_ratio\":0.0,\"total_count\":4,\"success_count\":0,"
                     "\"updated_at\":\"2026-01-11 09:19:35\"}|"
                     "{\"success_ratio\":0.5,\"total_count\":2,\"success_count\":1,"
                     "\"updated_at\":\"2026-01-11 09:19:40\"}");
    cr_assert_str_eq(cmd("ZSCORE scenario:7:history %s", newest), "1768123175");
    /* a late partial of the newest window still moves the latest value */
    add(&f, "7", T0 + 10, 1, 1, 2);
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    cr_assert_str_eq(cmd("GET scenario:7:success_ratio"),
                     "{\"success_ratio\":0.5,\"total_count\":4,\"success_count\":2,"
                     "\"updated_at\":\"2026-01-11 09:19:40\"}");
    cr_assert_str_eq(cmd("ZCARD scenario:7:history"), "3", "one member per window");
    fixture_close(&f);
}

Test(redis_script, history_is_capped_and_window_hashes_expire)
{
    fixture f;
    fixture_open(&f, srv.url, 3);
    for (int w = 0; w < 6; w++)
        add(&f, "9", T0 + 5 * w, 0, w, 10);
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    cr_assert_str_eq(cmd("ZCARD scenario:9:history"), "3");
    cr_assert_str_eq(cmd("ZRANGE scenario:9:history 0 0 WITHSCORES"),
                     "{\"success_ratio\":0.3,\"total_count\":10,\"success_count\":3,"
                     "\"updated_at\":\"2026-01-11 09:19:45\"}|1768123180");
    cr_assert_str_eq(cmd("GET scenario:9:success_ratio"),
                     "{\"success_ratio\":0.5,\"total_count\":10,\"success_count\":5,"
                     "\"updated_at\":\"2026-01-11 09:19:55\"}");
    /* a window older than the whole history leaves history and latest alone */
    add(&f, "9", T0 - 5, 0, 10, 10);
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    cr_assert_str_eq(cmd("ZCARD scenario:9:history"), "3");
    cr_assert_str_eq(cmd("ZRANGE scenario:9:history 0 0 WITHSCORES"),
                     "{\"success_ratio\":0.3,\"total_count\":10,\"success_count\":3,"
                     "\"updated_at\":\"2026-01-11 09:19:45\"}|1768123180");
    /* 3 windows x 5 s x 2 is under the one-minute floor */
    long ttl = atol(cmd("TTL scenario:9:window:%d", T0));
    cr_assert(ttl > 50 && ttl <= 60, "ttl %ld", ttl);
    fixture_close(&f);

    fixture_open(&f, srv.url, 720);
    add(&f, "10", T0, 0, 1, 1);
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    ttl = atol(cmd("TTL scenario:10:window:%d", T0));
    cr_assert(ttl > 7190 && ttl <= 7200, "720 windows x 5 s x 2: ttl %ld", ttl);
    fixture_close(&f);
}

Test(redis_script, key_prefix_is_applied_to_every_key)
{
    fixture f;
    fixture_open(&f, srv.url, 720);
    f.conf.key_prefix = "app1:sc:";
    add(&f, "3", T0, 0, 1, 2);
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    cr_assert_str_eq(cmd("KEYS scenario:*"), "", "no key outside the prefix");
    cr_assert_str_eq(cmd("EXISTS app1:sc:3:success_ratio app1:sc:3:history "
                         "app1:sc:3:window:%d", T0), "3");
    fixture_close(&f);
}

/* ---- the connection ---------------------------------------------------------------- */

Test(redis_script, database_and_password_from_the_url)
{
    server_stop();
    server_start("pa:ss@word");
    fixture f;
    char url[300];
    snprintf(url, sizeof url, "unix:%s?db=3&password=wrong", srv.sock);
    fixture_open(&f, url, 720);
    cr_assert_eq(redis_conn_ensure(&f.conn), SL_ERR);
    cr_assert(strstr(f.conn.error, "AUTH refused"), "%s", f.conn.error);
    cr_assert_null(f.conn.ctx, "a refused AUTH leaves no half-open connection");
    fixture_close(&f);

    snprintf(url, sizeof url, "unix:%s?db=3&password=pa%%3Ass%%40word", srv.sock);
    fixture_open(&f, url, 720);
    add(&f, "1", T0, 0, 1, 4);
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    fixture_close(&f);
    redisContext *c = redisConnectUnix(srv.sock);
    cr_assert(c && !c->err);
    freeReplyObject(redisCommand(c, "AUTH pa:ss@word"));
    freeReplyObject(redisCommand(c, "SELECT 3"));
    redisReply *r = redisCommand(c, "GET scenario:1:success_ratio");
    cr_assert_eq(r->type, REDIS_REPLY_STRING, "written in database 3");
    cr_assert_str_eq(r->str, "{\"success_ratio\":0.25,\"total_count\":4,\"success_count\":1,"
                             "\"updated_at\":\"2026-01-11 09:19:30\"}");
    freeReplyObject(r);
    redisFree(c);
}

Test(redis_script, server_gone_keeps_updates_until_it_is_back)
{
    fixture f;
    fixture_open(&f, srv.url, 720);
    add(&f, "2", T0, 0, 1, 2);
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);

    server_stop();
    add(&f, "2", T0, 1, 2, 2);
    add(&f, "2", T0 + 5, 0, 5, 5);
    cr_assert_eq(write_all(&f), REDIS_E_DOWN, "the old connection breaks");
    cr_assert_null(f.conn.ctx);
    cr_assert_eq(write_all(&f), REDIS_E_DOWN, "and a new one is refused");
    cr_assert(strstr(f.conn.error, "connect"), "%s", f.conn.error);
    cr_assert_eq(redis_mode_scenario_ratio.pending(f.mode), 2, "nothing dropped");

    server_start(NULL); /* empty: --save '' */
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    cr_assert_eq(redis_mode_scenario_ratio.pending(f.mode), 0);
    cr_assert_str_eq(cmd("GET scenario:2:success_ratio"),
                     "{\"success_ratio\":1.0,\"total_count\":5,\"success_count\":5,"
                     "\"updated_at\":\"2026-01-11 09:19:35\"}");
    cr_assert_str_eq(cmd("HGETALL scenario:2:window:%d", T0), "web.raw:p1|2,2");
    fixture_close(&f);
}

Test(redis_script, a_flushed_script_cache_is_an_error_then_reloaded)
{
    fixture f;
    fixture_open(&f, srv.url, 720);
    add(&f, "4", T0, 0, 1, 2);
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    cmd("SCRIPT FLUSH");
    add(&f, "4", T0, 1, 1, 2);
    cr_assert_eq(write_all(&f), SL_ERR);
    cr_assert(strstr(f.conn.error, "NOSCRIPT"), "%s", f.conn.error);
    cr_assert_not_null(f.conn.ctx, "an error reply keeps the connection");
    cr_assert_eq(redis_mode_scenario_ratio.pending(f.mode), 1);
    cr_assert_eq(write_all(&f), 0, "%s", f.conn.error);
    cr_assert_str_eq(cmd("GET scenario:4:success_ratio"),
                     "{\"success_ratio\":0.5,\"total_count\":4,\"success_count\":2,"
                     "\"updated_at\":\"2026-01-11 09:19:30\"}");
    fixture_close(&f);
}

Test(redis_script, a_key_of_another_type_is_refused_not_clobbered)
{
    fixture f;
    fixture_open(&f, srv.url, 720);
    cmd("SET scenario:6:history not-a-zset");
    add(&f, "6", T0, 0, 1, 2);
    cr_assert_eq(write_all(&f), SL_ERR);
    cr_assert(strstr(f.conn.error, "WRONGTYPE"), "%s", f.conn.error);
    cr_assert_str_eq(cmd("GET scenario:6:history"), "not-a-zset");
    fixture_close(&f);
}
