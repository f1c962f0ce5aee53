/*
 * catalogue_int.h - what catalogue.c needs from a database backend.
 *
 * The catalogue's queries are written once, in the SQL both SQLite and
 * PostgreSQL accept (INSERT ... ON CONFLICT ... DO UPDATE, $1-style
 * parameters, BIGINT/TEXT columns); a backend only runs a statement with
 * its parameters and hands back rows as text. SQLite's backend rewrites
 * $N to ?N and caches prepared statements; PostgreSQL's uses
 * PQexecParams and reconnects once when it finds the connection broken.
 *
 * Backends are not thread-safe: catalogue.c calls them under its mutex.
 */
#ifndef SL_CATALOGUE_INT_H
#define SL_CATALOGUE_INT_H

#include "catalogue/catalogue.h"

/* A statement parameter. */
typedef enum { CAT_NULL, CAT_INT, CAT_TEXT } cat_param_type;

typedef struct cat_param {
    cat_param_type type;
    int64_t i;
    const char *s;   /* CAT_TEXT: need not be NUL-terminated */
    size_t len;
} cat_param;

#define CAT_P_INT(v)   ((cat_param){ CAT_INT, (v), NULL, 0 })
#define CAT_P_STR(v)   ((cat_param){ CAT_TEXT, 0, (v), strlen(v) })
#define CAT_P_VIEW(v)  ((cat_param){ CAT_TEXT, 0, (v).ptr, (v).len })
#define CAT_P_NULL     ((cat_param){ CAT_NULL, 0, NULL, 0 })

/*
 * One result row: ncols values as NUL-terminated text, NULL for SQL NULL.
 * Valid during the call. Return 0 to go on, non-zero to stop (returned by
 * exec).
 */
typedef int (*cat_row_fn)(void *arg, int ncols, const char *const *vals);

typedef struct cat_backend cat_backend;

typedef struct cat_backend_ops {
    const char *name;
    /*
     * Run one statement. Rows go to fn (may be NULL); *changes (may be
     * NULL) gets the rows an INSERT/UPDATE/DELETE touched. Returns 0, the
     * non-zero value fn returned, -EEXIST for a unique violation, or
     * SL_ERR with the message appended to err.
     */
    int (*exec)(cat_backend *b, const char *sql, const cat_param *params, int nparams,
                cat_row_fn fn, void *arg, int64_t *changes, sl_buf *err);
    void (*close)(cat_backend *b);
} cat_backend_ops;

struct cat_backend {
    const cat_backend_ops *ops;
};

int cat_sqlite_open(const char *path, cat_backend **out, sl_buf *err);
int cat_postgres_open(const char *conninfo, cat_backend **out, sl_buf *err);

#endif
