/*
 * postgres.c - the catalogue on PostgreSQL through libpq (see
 * catalogue_int.h), for sluice processes that share one catalogue.
 *
 * Every statement goes through PQexecParams with its values as separate
 * text parameters: nothing a user sends is ever spliced into SQL text.
 *
 * A connection that breaks (server restart, network) is reset on the next
 * statement and that statement is tried once more, unless it was inside a
 * transaction: then the error goes back to the caller, whose transaction is
 * gone with the connection, and the retry is the caller's.
 */
#include "catalogue/catalogue_int.h"
#include "core/alloc.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct pg_backend {
    cat_backend base;
    PGconn *conn;
    bool in_tx;
} pg_backend;

/* libpq's notices (NOTICE: relation exists, skipping) are not ours to print. */
static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static bool starts_with(const char *sql, const char *word)
{
    return strncasecmp(sql, word, strlen(word)) == 0;
}

static PGresult *run(pg_backend *b, const char *sql, const cat_param *params, int nparams)
{
    /* Text parameters must be NUL-terminated for libpq: numbers are
       printed and text copied into one block. */
    size_t bytes = 0;
    for (int i = 0; i < nparams; i++)
        bytes += params[i].type == CAT_TEXT ? params[i].len + 1 : 24;
    const char **values = sl_calloc((size_t)nparams + 1, sizeof *values);
    char *block = sl_malloc(bytes + 1), *w = block;
    for (int i = 0; i < nparams; i++) {
        const cat_param *p = &params[i];
        if (p->type == CAT_NULL)
            continue;
        values[i] = w;
        if (p->type == CAT_INT)
            w += snprintf(w, 24, "%" PRId64, p->i) + 1;
        else {
            if (p->len)
                memcpy(w, p->s, p->len);
            w[p->len] = '\0';
            w += p->len + 1;
        }
    }
    PGresult *res = PQexecParams(b->conn, sql, nparams, NULL, values, NULL, NULL, 0);
    free(block);
    free(values);
    return res;
}

static int pg_exec(cat_backend *base, const char *sql, const cat_param *params, int nparams,
                   cat_row_fn fn, void *arg, int64_t *changes, sl_buf *err)
{
    pg_backend *b = (pg_backend *)base;
    if (PQstatus(b->conn) != CONNECTION_OK) {
        PQreset(b->conn);
        b->in_tx = false;
    }
    PGresult *res = run(b, sql, params, nparams);
    ExecStatusType st = PQresultStatus(res);
    if ((st == PGRES_FATAL_ERROR || !res) && PQstatus(b->conn) != CONNECTION_OK) {
        bool was_in_tx = b->in_tx;
        PQclear(res);
        res = NULL;
        PQreset(b->conn);
        b->in_tx = false;
        if (was_in_tx || PQstatus(b->conn) != CONNECTION_OK) {
            sl_buf_printf(err, "postgres: connection lost%s: %s",
                          was_in_tx ? " inside a transaction" : "", PQerrorMessage(b->conn));
            return SL_ERR;
        }
        res = run(b, sql, params, nparams);
        st = PQresultStatus(res);
    }
    int result = 0;
    if (st == PGRES_TUPLES_OK) {
        int rows = PQntuples(res), cols = PQnfields(res);
        if (cols > 64)
            cols = 64;
        for (int r = 0; fn && r < rows && !result; r++) {
            const char *vals[64];
            for (int c = 0; c < cols; c++)
                vals[c] = PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
            result = fn(arg, cols, vals);
        }
        if (changes)
            *changes = rows;
    } else if (st == PGRES_COMMAND_OK) {
        if (changes) {
            const char *t = PQcmdTuples(res);
            *changes = t && *t ? strtoll(t, NULL, 10) : 0;
        }
        if (starts_with(sql, "BEGIN"))
            b->in_tx = true;
        else if (starts_with(sql, "COMMIT") || starts_with(sql, "ROLLBACK"))
            b->in_tx = false;
    } else {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        if (state && strcmp(state, "23505") == 0) /* unique_violation */
            result = -EEXIST;
        else {
            const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(b->conn);
            size_t n = strlen(msg);
            while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
                n--;
            sl_buf_printf(err, "postgres: %.*s", (int)n, msg);
            result = SL_ERR;
        }
        if (starts_with(sql, "COMMIT") || starts_with(sql, "ROLLBACK"))
            b->in_tx = false;
    }
    PQclear(res);
    return result;
}

static void pg_close(cat_backend *base)
{
    pg_backend *b = (pg_backend *)base;
    PQfinish(b->conn);
    free(b);
}

static const cat_backend_ops pg_ops = {
    .name = "postgres",
    .exec = pg_exec,
    .close = pg_close,
};

int cat_postgres_open(const char *conninfo, cat_backend **out, sl_buf *err)
{
    pg_backend *b = sl_calloc(1, sizeof *b);
    b->base.ops = &pg_ops;
    b->conn = PQconnectdb(conninfo);
    if (!b->conn || PQstatus(b->conn) != CONNECTION_OK) {
        const char *msg = b->conn ? PQerrorMessage(b->conn) : "out of memory";
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            n--;
        sl_buf_printf(err, "postgres: cannot connect: %.*s", (int)n, msg);
        PQfinish(b->conn);
        free(b);
        return SL_ERR;
    }
    PQsetNoticeProcessor(b->conn, quiet_notices, NULL);
    *out = &b->base;
    return 0;
}
