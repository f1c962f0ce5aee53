/*
 * redis_conn.c - one blocking hiredis connection for the `redis` output.
 *
 * The output's thread is the only user, so the connection is synchronous:
 * commands are queued in hiredis' output buffer (redis_conn_append) and
 * their replies read back in order (redis_conn_reply), which pipelines a
 * whole flush into a few round trips. Every connect, read and write is
 * bounded by the configured timeout.
 *
 * Errors come in two classes the caller treats differently: the server is
 * unreachable or the connection broke (REDIS_E_DOWN: the context is freed
 * here, and the next redis_conn_ensure reconnects), or the server answered
 * with an error reply (SL_ERR: the connection is fine, the command was
 * refused). hiredis' context is unusable after an I/O error, which is why a
 * broken connection is always dropped, never reused.
 *
 * hiredis writes with write(2): the process must ignore SIGPIPE (`sluice
 * run` does), so a server that vanished is an EPIPE here, not a death.
 */
#include "output/redis/redis_int.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

static struct timeval conn_timeval(const redis_conn *c)
{
    int ms = c->timeout_ms > 0 ? c->timeout_ms : 2000;
    return (struct timeval){ .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
}

/* Record why the connection failed and drop it. */
static int conn_down(redis_conn *c, const char *what)
{
    if (c->ctx && c->ctx->err)
        snprintf(c->error, sizeof c->error, "%s: %s", what, c->ctx->errstr);
    else
        snprintf(c->error, sizeof c->error, "%s", what);
    redis_conn_close(c);
    return REDIS_E_DOWN;
}

void redis_conn_close(redis_conn *c)
{
    if (c && c->ctx) {
        redisFree(c->ctx);
        c->ctx = NULL;
    }
}

/* One command on a fresh connection during the handshake (AUTH, SELECT). */
static int handshake_command(redis_conn *c, int argc, const char **argv, const char *what)
{
    redisReply *r = redisCommandArgv(c->ctx, argc, argv, NULL);
    if (!r)
        return conn_down(c, what);
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(c->error, sizeof c->error, "%s refused: %.*s", what, (int)SL_MIN(r->len, 160),
                 r->str);
        rc = SL_ERR;
    }
    freeReplyObject(r);
    if (rc < 0)
        redis_conn_close(c); /* a wrong password or db is not a half-usable connection */
    return rc;
}

int redis_conn_ensure(redis_conn *c)
{
    if (c->ctx)
        return 0;
    struct timeval tv = conn_timeval(c);
    c->ctx = c->url->socket_path ? redisConnectUnixWithTimeout(c->url->socket_path, tv)
                                 : redisConnectWithTimeout(c->url->host, c->url->port, tv);
    if (!c->ctx) {
        snprintf(c->error, sizeof c->error, "connect: out of memory");
        return REDIS_E_DOWN;
    }
    if (c->ctx->err)
        return conn_down(c, "connect");
    if (redisSetTimeout(c->ctx, tv) != REDIS_OK)
        return conn_down(c, "set timeout");
    /* TCP keepalive notices a peer that vanished without a FIN; unix sockets
       refuse the option, and hiredis would keep the refusal as the context's error */
    if (!c->url->socket_path && redisEnableKeepAlive(c->ctx) != REDIS_OK)
        return conn_down(c, "keepalive");
    int rc;
    if (c->url->password) {
        const char *argv[3] = { "AUTH", c->url->username ? c->url->username : c->url->password,
                                c->url->password };
        rc = handshake_command(c, c->url->username ? 3 : 2, argv, "AUTH");
        if (rc < 0)
            return rc;
    }
    if (c->url->db != 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", c->url->db);
        const char *argv[2] = { "SELECT", db };
        rc = handshake_command(c, 2, argv, "SELECT");
        if (rc < 0)
            return rc;
    }
    c->generation++;
    return 0;
}

int redis_conn_ping(redis_conn *c)
{
    if (!c->ctx)
        return REDIS_E_DOWN;
    redisReply *r = redisCommand(c->ctx, "PING");
    if (!r)
        return conn_down(c, "PING");
    freeReplyObject(r);
    return 0;
}

int redis_conn_script_load(redis_conn *c, const char *script, char sha[41])
{
    if (!c->ctx)
        return REDIS_E_DOWN;
    const char *argv[3] = { "SCRIPT", "LOAD", script };
    redisReply *r = redisCommandArgv(c->ctx, 3, argv, NULL);
    if (!r)
        return conn_down(c, "SCRIPT LOAD");
    int rc = 0;
    if (r->type == REDIS_REPLY_STRING && r->len == 40) {
        memcpy(sha, r->str, 40);
        sha[40] = '\0';
    } else {
        snprintf(c->error, sizeof c->error, "SCRIPT LOAD refused: %.*s",
                 (int)SL_MIN(r->len, 160), r->str ? r->str : "(unexpected reply)");
        rc = SL_ERR;
    }
    freeReplyObject(r);
    return rc;
}

int redis_conn_append(redis_conn *c, int argc, const char **argv, const size_t *argvlen)
{
    if (!c->ctx)
        return REDIS_E_DOWN;
    if (redisAppendCommandArgv(c->ctx, argc, argv, argvlen) != REDIS_OK)
        return conn_down(c, "queue command");
    return 0;
}

int redis_conn_reply(redis_conn *c, redis_reply_info *info)
{
    if (!c->ctx)
        return REDIS_E_DOWN;
    void *v = NULL;
    if (redisGetReply(c->ctx, &v) != REDIS_OK || !v)
        return conn_down(c, "reply");
    redisReply *r = v;
    int rc = 0;
    memset(info, 0, sizeof *info);
    switch (r->type) {
    case REDIS_REPLY_INTEGER:
        info->is_int = true;
        info->integer = r->integer;
        break;
    case REDIS_REPLY_ERROR:
        snprintf(c->error, sizeof c->error, "%.*s", (int)SL_MIN(r->len, 200), r->str);
        rc = SL_ERR;
        /* fall through - the caller wants the text too */
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_STRING:
        snprintf(info->text, sizeof info->text, "%.*s", (int)SL_MIN(r->len, 127), r->str);
        break;
    default:
        break;
    }
    freeReplyObject(r);
    return rc;
}
