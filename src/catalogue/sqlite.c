/*
 * sqlite.c - the catalogue's embedded backend: one SQLite connection to
 * <data_dir>/catalogue.db (see catalogue_int.h).
 *
 * The file is in WAL mode, so readers (the admin API) never wait for the
 * scenario processor's writes and vice versa; synchronous=FULL makes a
 * committed transaction survive power loss, which the processor relies on
 * before it commits source offsets past what it stored. Other connections
 * to the same file (another handle, `sqlite3` in a shell) take turns
 * through a 10-second busy timeout.
 *
 * Statements are prepared once and kept: the catalogue's SQL is a small
 * fixed set of texts, plus multi-row INSERTs whose text depends only on
 * the row count.
 */
#include "catalogue/catalogue_int.h"
#include "core/alloc.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SIZE 48

typedef struct cached_stmt {
    char *sql;
    sqlite3_stmt *stmt;
    uint64_t used;     /* for eviction: the least recently used goes */
} cached_stmt;

typedef struct sqlite_backend {
    cat_backend base;
    sqlite3 *db;
    cached_stmt cache[CACHE_SIZE];
    uint64_t clock;
} sqlite_backend;

/* $N placeholders (both backends' spelling in catalogue.c) to SQLite's ?N. */
static char *rewrite_params(const char *sql)
{
    char *out = sl_strdup(sql);
    for (char *p = out; *p; p++)
        if (p[0] == '$' && p[1] >= '0' && p[1] <= '9')
            p[0] = '?';
    return out;
}

static sqlite3_stmt *statement(sqlite_backend *b, const char *sql, sl_buf *err)
{
    cached_stmt *slot = &b->cache[0];
    for (int i = 0; i < CACHE_SIZE; i++) {
        cached_stmt *c = &b->cache[i];
        if (c->sql && strcmp(c->sql, sql) == 0) {
            c->used = ++b->clock;
            return c->stmt;
        }
        if (!c->sql || c->used < slot->used)
            slot = c;
    }
    char *text = rewrite_params(sql);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(b->db, text, -1, &st, NULL);
    free(text);
    if (rc != SQLITE_OK) {
        sl_buf_printf(err, "sqlite: %s", sqlite3_errmsg(b->db));
        return NULL;
    }
    if (slot->sql) {
        sqlite3_finalize(slot->stmt);
        free(slot->sql);
    }
    slot->sql = sl_strdup(sql);
    slot->stmt = st;
    slot->used = ++b->clock;
    return st;
}

static int sqlite_exec(cat_backend *base, const char *sql, const cat_param *params, int nparams,
                       cat_row_fn fn, void *arg, int64_t *changes, sl_buf *err)
{
    sqlite_backend *b = (sqlite_backend *)base;
    sqlite3_stmt *st = statement(b, sql, err);
    if (!st)
        return SL_ERR;
    for (int i = 0; i < nparams; i++) {
        const cat_param *p = &params[i];
        int rc = p->type == CAT_INT    ? sqlite3_bind_int64(st, i + 1, p->i)
               : p->type == CAT_TEXT   ? sqlite3_bind_text(st, i + 1, p->s, (int)p->len, SQLITE_TRANSIENT)
                                       : sqlite3_bind_null(st, i + 1);
        if (rc != SQLITE_OK) {
            sl_buf_printf(err, "sqlite: binding parameter %d: %s", i + 1, sqlite3_errmsg(b->db));
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return SL_ERR;
        }
    }
    int result = 0;
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            break;
        if (rc == SQLITE_ROW) {
            if (!fn || result)
                continue;
            int n = sqlite3_column_count(st);
            const char *vals[64];
            if (n > 64)
                n = 64;
            for (int i = 0; i < n; i++)
                vals[i] = (const char *)sqlite3_column_text(st, i);
            result = fn(arg, n, vals);
            if (result)
                break;
            continue;
        }
        int ext = sqlite3_extended_errcode(b->db);
        if (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE)
            result = -EEXIST;
        else {
            sl_buf_printf(err, "sqlite: %s", sqlite3_errmsg(b->db));
            result = SL_ERR;
        }
        break;
    }
    if (changes)
        *changes = sqlite3_changes(b->db);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return result;
}

static void sqlite_close(cat_backend *base)
{
    sqlite_backend *b = (sqlite_backend *)base;
    for (int i = 0; i < CACHE_SIZE; i++)
        if (b->cache[i].sql) {
            sqlite3_finalize(b->cache[i].stmt);
            free(b->cache[i].sql);
        }
    sqlite3_close(b->db);
    free(b);
}

static const cat_backend_ops sqlite_ops = {
    .name = "sqlite",
    .exec = sqlite_exec,
    .close = sqlite_close,
};

int cat_sqlite_open(const char *path, cat_backend **out, sl_buf *err)
{
    sqlite_backend *b = sl_calloc(1, sizeof *b);
    b->base.ops = &sqlite_ops;
    int rc = sqlite3_open_v2(path, &b->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        sl_buf_printf(err, "sqlite: cannot open %s: %s", path,
                      b->db ? sqlite3_errmsg(b->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(b->db, 10000);
    static const char *const pragmas[] = {
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(pragmas); i++) {
        char *msg = NULL;
        if (sqlite3_exec(b->db, pragmas[i], NULL, NULL, &msg) != SQLITE_OK) {
            sl_buf_printf(err, "sqlite: %s: %s", pragmas[i], msg ? msg : "failed");
            sqlite3_free(msg);
            goto fail;
        }
    }
    *out = &b->base;
    return 0;
fail:
    sqlite3_close(b->db);
    free(b);
    return SL_ERR;
}
