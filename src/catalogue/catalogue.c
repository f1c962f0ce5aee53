/*
 * catalogue.c - the catalogue's tables and queries, written once for both
 * backends (see catalogue.h for the schema, catalogue_int.h for the
 * backends).
 *
 * Every public call takes the handle's mutex for its whole length, so a
 * multi-statement write (a transaction) never interleaves with another
 * call on the same handle. Writes that readers must notice bump a counter
 * in catalogue_meta inside the same transaction: the scenario processor
 * polls those counters instead of re-reading the tables.
 */
#include "catalogue/catalogue_int.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/logging.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TAG "catalogue"

struct sl_catalogue {
    pthread_mutex_t lock;
    cat_backend *db;
    const char *begin_sql;   /* SQLite takes the write lock at BEGIN IMMEDIATE */
    sl_buf err;              /* the last error, under lock */
};

/* The schema: the same text on SQLite and PostgreSQL. */
static const char *const schema[] = {
    "CREATE TABLE IF NOT EXISTS catalogue_meta ("
    " name TEXT PRIMARY KEY,"
    " value BIGINT NOT NULL)",
    "INSERT INTO catalogue_meta (name, value) VALUES ('schema', 1), ('scenarios', 0), "
    "('members', 0) ON CONFLICT (name) DO NOTHING",
    "CREATE TABLE IF NOT EXISTS scenarios ("
    " scenario_id BIGINT PRIMARY KEY,"
    " definition TEXT NOT NULL,"
    " title TEXT NOT NULL,"
    " manager TEXT NOT NULL,"
    " version BIGINT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS members ("
    " member_id TEXT PRIMARY KEY,"
    " age BIGINT,"
    " gender TEXT,"
    " extra TEXT NOT NULL,"
    " updated_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS scenario_stats ("
    " scenario_id BIGINT NOT NULL,"
    " window_start BIGINT NOT NULL,"
    " window_end BIGINT NOT NULL,"
    " source_topic TEXT NOT NULL,"
    " \"partition\" INTEGER NOT NULL,"
    " success_count BIGINT NOT NULL,"
    " total_count BIGINT NOT NULL,"
    " last_offset BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " PRIMARY KEY (scenario_id, window_start, source_topic, \"partition\"))",
    "CREATE INDEX IF NOT EXISTS scenario_stats_window ON scenario_stats (window_start)",
    "CREATE TABLE IF NOT EXISTS scenario_progress ("
    " consumer_group TEXT NOT NULL,"
    " source_topic TEXT NOT NULL,"
    " \"partition\" INTEGER NOT NULL,"
    " results_base BIGINT NOT NULL,"
    " results_cut BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " PRIMARY KEY (consumer_group, source_topic, \"partition\"))",
};

static _Atomic uint64_t local_changes;

uint64_t sl_catalogue_local_changes(void)
{
    return atomic_load(&local_changes);
}

/* ---- plumbing ------------------------------------------------------------- */

static int exec(sl_catalogue *c, const char *sql, const cat_param *params, int nparams,
                cat_row_fn fn, void *arg, int64_t *changes)
{
    sl_buf_reset(&c->err);
    int rc = c->db->ops->exec(c->db, sql, params, nparams, fn, arg, changes, &c->err);
    if (rc == SL_ERR)
        SL_WARN(TAG, "%s", c->err.data ? c->err.data : "statement failed");
    return rc;
}

static int tx_begin(sl_catalogue *c)
{
    return exec(c, c->begin_sql, NULL, 0, NULL, NULL, NULL);
}

/* Commit when rc is 0, else roll back; returns rc or the commit's error. */
static int tx_end(sl_catalogue *c, int rc)
{
    if (rc == 0)
        return exec(c, "COMMIT", NULL, 0, NULL, NULL, NULL);
    exec(c, "ROLLBACK", NULL, 0, NULL, NULL, NULL);
    return rc;
}

static int bump(sl_catalogue *c, const char *counter)
{
    cat_param p = CAT_P_STR(counter);
    return exec(c, "UPDATE catalogue_meta SET value = value + 1 WHERE name = $1", &p, 1, NULL,
                NULL, NULL);
}

static int64_t num(const char *v)
{
    return v ? strtoll(v, NULL, 10) : 0;
}

static char *str(const char *v)
{
    return sl_strdup(v ? v : "");
}

static int mkdir_p(const char *dir)
{
    char *path = sl_strdup(dir);
    int rc = 0;
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST) {
                rc = -errno;
                break;
            }
            *p = c;
            if (!c)
                break;
        }
    }
    free(path);
    return rc;
}

static int count_row(void *arg, int n, const char *const *v)
{
    if (n >= 1)
        *(int64_t *)arg = num(v[0]);
    return 0;
}

/* ---- open / close --------------------------------------------------------- */

static int finish_open(cat_backend *db, sl_catalogue **out, sl_buf *err)
{
    sl_catalogue *c = sl_calloc(1, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    c->db = db;
    bool sqlite = strcmp(db->ops->name, "sqlite") == 0;
    c->begin_sql = sqlite ? "BEGIN IMMEDIATE" : "BEGIN";
    /* Workers sharing a PostgreSQL catalogue may start together: one of
       them creates the tables while the others wait on the lock. */
    int rc = tx_begin(c);
    if (rc == 0 && !sqlite)
        rc = exec(c, "SELECT pg_advisory_xact_lock(7345112451)", NULL, 0, NULL, NULL, NULL);
    for (size_t i = 0; rc == 0 && i < SL_ARRAY_LEN(schema); i++)
        rc = exec(c, schema[i], NULL, 0, NULL, NULL, NULL);
    rc = tx_end(c, rc);
    if (rc < 0) {
        sl_buf_printf(err, "cannot create the catalogue tables: %s",
                      c->err.data ? c->err.data : sl_strerror(rc));
        sl_catalogue_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int sl_catalogue_open_sqlite(const char *path, sl_catalogue **out, sl_buf *err)
{
    *out = NULL;
    cat_backend *db = NULL;
    int rc = cat_sqlite_open(path, &db, err);
    return rc < 0 ? rc : finish_open(db, out, err);
}

int sl_catalogue_open_postgres(const char *conninfo, sl_catalogue **out, sl_buf *err)
{
    *out = NULL;
    cat_backend *db = NULL;
    int rc = cat_postgres_open(conninfo, &db, err);
    return rc < 0 ? rc : finish_open(db, out, err);
}

int sl_catalogue_open(const sl_config *cfg, sl_catalogue **out, sl_buf *err)
{
    *out = NULL;
    if (cfg->catalogue_postgres && *cfg->catalogue_postgres)
        return sl_catalogue_open_postgres(cfg->catalogue_postgres, out, err);
    int rc = mkdir_p(cfg->data_dir);
    if (rc < 0) {
        sl_buf_printf(err, "cannot create %s: %s", cfg->data_dir, sl_strerror(rc));
        return rc;
    }
    char *path = sl_asprintf("%s/catalogue.db", cfg->data_dir);
    rc = sl_catalogue_open_sqlite(path, out, err);
    free(path);
    return rc;
}

void sl_catalogue_close(sl_catalogue *c)
{
    if (!c)
        return;
    c->db->ops->close(c->db);
    pthread_mutex_destroy(&c->lock);
    sl_buf_free(&c->err);
    free(c);
}

const char *sl_catalogue_backend(const sl_catalogue *c)
{
    return c->db->ops->name;
}

/* ---- versions ------------------------------------------------------------- */

typedef struct versions_arg {
    int64_t scenarios, members;
} versions_arg;

static int versions_row(void *arg, int n, const char *const *v)
{
    versions_arg *a = arg;
    if (n >= 2 && v[0] && !strcmp(v[0], "scenarios"))
        a->scenarios = num(v[1]);
    else if (n >= 2 && v[0] && !strcmp(v[0], "members"))
        a->members = num(v[1]);
    return 0;
}

int sl_catalogue_versions(sl_catalogue *c, int64_t *scenarios, int64_t *members)
{
    versions_arg a = { 0, 0 };
    pthread_mutex_lock(&c->lock);
    int rc = exec(c, "SELECT name, value FROM catalogue_meta", NULL, 0, versions_row, &a, NULL);
    pthread_mutex_unlock(&c->lock);
    if (scenarios)
        *scenarios = a.scenarios;
    if (members)
        *members = a.members;
    return rc;
}

/* ---- scenarios ------------------------------------------------------------ */

int sl_catalogue_scenario_put(sl_catalogue *c, int64_t id, sl_view definition, const char *title,
                              const char *manager, sl_catalogue_write_mode mode, int64_t *version)
{
    if (id <= 0 || !definition.ptr)
        return -EINVAL;
    int64_t now = sl_now_us(), changes = 0;
    cat_param p[] = { CAT_P_INT(id), CAT_P_VIEW(definition), CAT_P_STR(title ? title : ""),
                      CAT_P_STR(manager ? manager : ""), CAT_P_INT(now) };
    pthread_mutex_lock(&c->lock);
    int rc = tx_begin(c);
    if (rc == 0 && mode == SL_CATALOGUE_CREATE) {
        rc = exec(c,
                  "INSERT INTO scenarios (scenario_id, definition, title, manager, version, "
                  "created_at, updated_at) VALUES ($1, $2, $3, $4, 1, $5, $5) "
                  "ON CONFLICT (scenario_id) DO NOTHING",
                  p, 5, NULL, NULL, &changes);
        if (rc == 0 && changes == 0)
            rc = -EEXIST;
    } else if (rc == 0) {
        rc = exec(c,
                  "UPDATE scenarios SET definition = $2, title = $3, manager = $4, "
                  "version = version + 1, updated_at = $5 WHERE scenario_id = $1",
                  p, 5, NULL, NULL, &changes);
        if (rc == 0 && changes == 0)
            rc = -ENOENT;
    }
    if (rc == 0)
        rc = bump(c, "scenarios");
    int64_t v = 0;
    if (rc == 0)
        rc = exec(c, "SELECT version FROM scenarios WHERE scenario_id = $1", p, 1, count_row, &v,
                  NULL);
    rc = tx_end(c, rc);
    pthread_mutex_unlock(&c->lock);
    if (rc == 0)
        atomic_fetch_add(&local_changes, 1);
    if (rc == 0 && version)
        *version = v;
    return rc;
}

static int scenario_row(sl_catalogue_scenario *s, int n, const char *const *v)
{
    if (n < 7)
        return SL_ERR;
    s->id = num(v[0]);
    s->definition = str(v[1]);
    s->title = str(v[2]);
    s->manager = str(v[3]);
    s->version = num(v[4]);
    s->created_us = num(v[5]);
    s->updated_us = num(v[6]);
    return 0;
}

#define SCENARIO_COLUMNS "scenario_id, definition, title, manager, version, created_at, updated_at"

typedef struct scenario_one {
    sl_catalogue_scenario *out;
    bool found;
} scenario_one;

static int scenario_one_row(void *arg, int n, const char *const *v)
{
    scenario_one *a = arg;
    if (a->found)
        return 0;
    a->found = true;
    return scenario_row(a->out, n, v);
}

int sl_catalogue_scenario_get(sl_catalogue *c, int64_t id, sl_catalogue_scenario *out)
{
    memset(out, 0, sizeof *out);
    scenario_one a = { out, false };
    cat_param p = CAT_P_INT(id);
    pthread_mutex_lock(&c->lock);
    int rc = exec(c, "SELECT " SCENARIO_COLUMNS " FROM scenarios WHERE scenario_id = $1", &p, 1,
                  scenario_one_row, &a, NULL);
    pthread_mutex_unlock(&c->lock);
    if (rc < 0) {
        sl_catalogue_scenario_clear(out);
        return rc;
    }
    return a.found ? 0 : -ENOENT;
}

int sl_catalogue_scenario_delete(sl_catalogue *c, int64_t id)
{
    cat_param p = CAT_P_INT(id);
    int64_t changes = 0;
    pthread_mutex_lock(&c->lock);
    int rc = tx_begin(c);
    if (rc == 0)
        rc = exec(c, "DELETE FROM scenarios WHERE scenario_id = $1", &p, 1, NULL, NULL, &changes);
    if (rc == 0 && changes == 0)
        rc = -ENOENT;
    if (rc == 0)
        rc = bump(c, "scenarios");
    rc = tx_end(c, rc);
    pthread_mutex_unlock(&c->lock);
    if (rc == 0)
        atomic_fetch_add(&local_changes, 1);
    return rc;
}

typedef struct scenario_many {
    sl_catalogue_scenario *v;
    size_t n, cap;
} scenario_many;

static int scenario_many_row(void *arg, int n, const char *const *v)
{
    scenario_many *a = arg;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->v = sl_realloc(a->v, a->cap * sizeof *a->v);
    }
    memset(&a->v[a->n], 0, sizeof a->v[a->n]);
    int rc = scenario_row(&a->v[a->n], n, v);
    a->n++;
    return rc;
}

int sl_catalogue_scenario_list(sl_catalogue *c, sl_catalogue_scenario **out, size_t *n)
{
    scenario_many a = { NULL, 0, 0 };
    pthread_mutex_lock(&c->lock);
    int rc = exec(c, "SELECT " SCENARIO_COLUMNS " FROM scenarios ORDER BY scenario_id", NULL, 0,
                  scenario_many_row, &a, NULL);
    pthread_mutex_unlock(&c->lock);
    if (rc < 0) {
        sl_catalogue_scenarios_free(a.v, a.n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    *out = a.v;
    *n = a.n;
    return 0;
}

void sl_catalogue_scenario_clear(sl_catalogue_scenario *s)
{
    if (!s)
        return;
    free(s->definition);
    free(s->title);
    free(s->manager);
    memset(s, 0, sizeof *s);
}

void sl_catalogue_scenarios_free(sl_catalogue_scenario *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_catalogue_scenario_clear(&v[i]);
    free(v);
}

/* ---- members -------------------------------------------------------------- */

#define MEMBER_ROWS_PER_INSERT 50

static int by_id_then_position(const void *a, const void *b, void *arg)
{
    const sl_catalogue_member *m = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(m[x].member_id, m[y].member_id);
    return c ? c : (x < y ? -1 : x > y);
}

/*
 * The members to write, one per id, the last given winning: PostgreSQL
 * refuses an INSERT ... ON CONFLICT that touches one row twice.
 */
static size_t *unique_members(const sl_catalogue_member *m, size_t n, size_t *kept)
{
    size_t *idx = sl_calloc(n ? n : 1, sizeof *idx);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    qsort_r(idx, n, sizeof *idx, by_id_then_position, (void *)m);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (i + 1 == n || strcmp(m[idx[i]].member_id, m[idx[i + 1]].member_id) != 0)
            idx[k++] = idx[i];
    *kept = k;
    return idx;
}

int sl_catalogue_members_put(sl_catalogue *c, const sl_catalogue_member *all, size_t nall)
{
    for (size_t i = 0; i < nall; i++)
        if (!all[i].member_id || !*all[i].member_id)
            return -EINVAL;
    size_t n = 0;
    size_t *order = unique_members(all, nall, &n);
    int64_t now = sl_now_us();
    sl_buf sql = SL_BUF_INIT;
    cat_param *p = sl_calloc(MEMBER_ROWS_PER_INSERT * 5, sizeof *p);
    pthread_mutex_lock(&c->lock);
    int rc = tx_begin(c);
    for (size_t at = 0; rc == 0 && at < n; at += MEMBER_ROWS_PER_INSERT) {
        size_t rows = SL_MIN(n - at, (size_t)MEMBER_ROWS_PER_INSERT);
        sl_buf_reset(&sql);
        sl_buf_append_str(&sql, "INSERT INTO members (member_id, age, gender, extra, updated_at) VALUES ");
        for (size_t r = 0; r < rows; r++) {
            const sl_catalogue_member *x = &all[order[at + r]];
            size_t k = r * 5;
            sl_buf_printf(&sql, "%s($%zu, $%zu, $%zu, $%zu, $%zu)", r ? ", " : "", k + 1, k + 2,
                          k + 3, k + 4, k + 5);
            p[k] = CAT_P_STR(x->member_id);
            p[k + 1] = x->has_age ? CAT_P_INT(x->age) : CAT_P_NULL;
            p[k + 2] = x->gender ? CAT_P_STR(x->gender) : CAT_P_NULL;
            p[k + 3] = CAT_P_STR(x->extra && *x->extra ? x->extra : "{}");
            p[k + 4] = CAT_P_INT(now);
        }
        sl_buf_append_str(&sql, " ON CONFLICT (member_id) DO UPDATE SET age = excluded.age, "
                                "gender = excluded.gender, extra = excluded.extra, "
                                "updated_at = excluded.updated_at");
        rc = exec(c, sql.data, p, (int)(rows * 5), NULL, NULL, NULL);
    }
    if (rc == 0)
        rc = bump(c, "members");
    rc = tx_end(c, rc);
    pthread_mutex_unlock(&c->lock);
    if (rc == 0)
        atomic_fetch_add(&local_changes, 1);
    free(p);
    free(order);
    sl_buf_free(&sql);
    return rc;
}

static void member_fill(sl_catalogue_member *m, const char *const *v)
{
    m->member_id = (char *)v[0];
    m->has_age = v[1] != NULL;
    m->age = num(v[1]);
    m->gender = (char *)v[2];
    m->extra = (char *)(v[3] ? v[3] : "{}");
    m->updated_us = num(v[4]);
}

static void member_copy(sl_catalogue_member *dst, const sl_catalogue_member *src)
{
    *dst = *src;
    dst->member_id = sl_strdup(src->member_id ? src->member_id : "");
    dst->gender = src->gender ? sl_strdup(src->gender) : NULL;
    dst->extra = sl_strdup(src->extra ? src->extra : "{}");
}

#define MEMBER_COLUMNS "member_id, age, gender, extra, updated_at"

typedef struct member_many {
    sl_catalogue_member *v;
    size_t n, cap;
} member_many;

static int member_many_row(void *arg, int n, const char *const *v)
{
    member_many *a = arg;
    if (n < 5)
        return SL_ERR;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->v = sl_realloc(a->v, a->cap * sizeof *a->v);
    }
    sl_catalogue_member m;
    member_fill(&m, v);
    member_copy(&a->v[a->n++], &m);
    return 0;
}

int sl_catalogue_member_get(sl_catalogue *c, const char *member_id, sl_catalogue_member *out)
{
    memset(out, 0, sizeof *out);
    member_many a = { NULL, 0, 0 };
    cat_param p = CAT_P_STR(member_id);
    pthread_mutex_lock(&c->lock);
    int rc = exec(c, "SELECT " MEMBER_COLUMNS " FROM members WHERE member_id = $1", &p, 1,
                  member_many_row, &a, NULL);
    pthread_mutex_unlock(&c->lock);
    if (rc == 0 && a.n == 0)
        rc = -ENOENT;
    if (rc == 0) {
        *out = a.v[0];
        for (size_t i = 1; i < a.n; i++)
            sl_catalogue_member_clear(&a.v[i]);
        free(a.v);
        return 0;
    }
    sl_catalogue_members_free(a.v, a.n);
    return rc;
}

int sl_catalogue_member_delete(sl_catalogue *c, const char *member_id)
{
    cat_param p = CAT_P_STR(member_id);
    int64_t changes = 0;
    pthread_mutex_lock(&c->lock);
    int rc = tx_begin(c);
    if (rc == 0)
        rc = exec(c, "DELETE FROM members WHERE member_id = $1", &p, 1, NULL, NULL, &changes);
    if (rc == 0 && changes == 0)
        rc = -ENOENT;
    if (rc == 0)
        rc = bump(c, "members");
    rc = tx_end(c, rc);
    pthread_mutex_unlock(&c->lock);
    if (rc == 0)
        atomic_fetch_add(&local_changes, 1);
    return rc;
}

int sl_catalogue_member_list(sl_catalogue *c, const char *after, size_t limit,
                             sl_catalogue_member **out, size_t *n)
{
    member_many a = { NULL, 0, 0 };
    cat_param p[] = { CAT_P_STR(after ? after : ""), CAT_P_INT((int64_t)limit) };
    pthread_mutex_lock(&c->lock);
    int rc = exec(c,
                  "SELECT " MEMBER_COLUMNS " FROM members WHERE member_id > $1 "
                  "ORDER BY member_id LIMIT $2",
                  p, 2, member_many_row, &a, NULL);
    pthread_mutex_unlock(&c->lock);
    if (rc < 0) {
        sl_catalogue_members_free(a.v, a.n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    *out = a.v;
    *n = a.n;
    return 0;
}

int sl_catalogue_member_count(sl_catalogue *c, int64_t *n)
{
    *n = 0;
    pthread_mutex_lock(&c->lock);
    int rc = exec(c, "SELECT COUNT(*) FROM members", NULL, 0, count_row, n, NULL);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

typedef struct member_walk {
    int (*fn)(void *arg, const sl_catalogue_member *m);
    void *arg;
} member_walk;

static int member_walk_row(void *arg, int n, const char *const *v)
{
    member_walk *w = arg;
    if (n < 5)
        return SL_ERR;
    sl_catalogue_member m;
    member_fill(&m, v);
    return w->fn(w->arg, &m);
}

int sl_catalogue_member_each(sl_catalogue *c,
                             int (*fn)(void *arg, const sl_catalogue_member *m), void *arg)
{
    member_walk w = { fn, arg };
    pthread_mutex_lock(&c->lock);
    int rc = exec(c, "SELECT " MEMBER_COLUMNS " FROM members", NULL, 0, member_walk_row, &w, NULL);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void sl_catalogue_member_clear(sl_catalogue_member *m)
{
    if (!m)
        return;
    free(m->member_id);
    free(m->gender);
    free(m->extra);
    memset(m, 0, sizeof *m);
}

void sl_catalogue_members_free(sl_catalogue_member *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_catalogue_member_clear(&v[i]);
    free(v);
}

void sl_catalogue_member_json(const sl_catalogue_member *m, sl_buf *out)
{
    size_t start = out->len;
    sl_buf_append_char(out, '{');
    if (m->has_age)
        sl_buf_printf(out, "\"age\":%" PRId64, m->age);
    if (m->gender) {
        if (out->len > start + 1)
            sl_buf_append_char(out, ',');
        sl_buf_append_str(out, "\"gender\":");
        sl_buf_append_json_string(out, m->gender, strlen(m->gender));
    }
    /* extra is an object written by sluice; copy its members (not age or
       gender, which the columns hold). */
    sl_view extra = sl_view_of(m->extra);
    size_t end = 0;
    if (extra.len && sl_json_validate(extra.ptr, extra.len, 0, &end, NULL) == 0) {
        size_t s0 = sl_json_skip_ws(extra.ptr, extra.len, 0);
        sl_view obj = { extra.ptr + s0, end - s0 };
        if (sl_json_type_of(obj) == SL_JSON_OBJECT) {
            sl_json_iter it;
            sl_view k, v;
            sl_json_iter_init(&it, obj);
            while (sl_json_object_next(&it, &k, &v)) {
                if (sl_json_key_eq(k, "age", 3) || sl_json_key_eq(k, "gender", 6))
                    continue;
                if (out->len > start + 1)
                    sl_buf_append_char(out, ',');
                sl_buf_append_char(out, '"');
                sl_buf_append(out, k.ptr, k.len);
                sl_buf_append_str(out, "\":");
                sl_buf_append(out, v.ptr, v.len);
            }
        }
    }
    sl_buf_append_char(out, '}');
}

/* ---- statistics ----------------------------------------------------------- */

static int put_progress(sl_catalogue *c, const sl_catalogue_progress *g, int64_t now)
{
    cat_param p[] = { CAT_P_STR(g->group), CAT_P_STR(g->source_topic), CAT_P_INT(g->partition),
                      CAT_P_INT(g->results_base), CAT_P_INT(g->results_cut), CAT_P_INT(now) };
    return exec(c,
                "INSERT INTO scenario_progress (consumer_group, source_topic, \"partition\", "
                "results_base, results_cut, updated_at) VALUES ($1, $2, $3, $4, $5, $6) "
                "ON CONFLICT (consumer_group, source_topic, \"partition\") DO UPDATE SET "
                "results_base = excluded.results_base, results_cut = excluded.results_cut, "
                "updated_at = excluded.updated_at",
                p, 6, NULL, NULL, NULL);
}

int sl_catalogue_stats_put(sl_catalogue *c, const sl_catalogue_partial *ps, size_t np,
                           const sl_catalogue_progress *g, size_t ng)
{
    if (np == 0 && ng == 0)
        return 0;
    int64_t now = sl_now_us();
    pthread_mutex_lock(&c->lock);
    int rc = tx_begin(c);
    for (size_t i = 0; rc == 0 && i < np; i++) {
        const sl_catalogue_partial *x = &ps[i];
        cat_param p[] = { CAT_P_INT(x->scenario_id),  CAT_P_INT(x->window_start_us),
                          CAT_P_INT(x->window_end_us), CAT_P_STR(x->source_topic),
                          CAT_P_INT(x->partition),     CAT_P_INT(x->success_count),
                          CAT_P_INT(x->total_count),   CAT_P_INT(x->last_offset),
                          CAT_P_INT(x->updated_us ? x->updated_us : now) };
        rc = exec(c,
                  "INSERT INTO scenario_stats (scenario_id, window_start, window_end, "
                  "source_topic, \"partition\", success_count, total_count, last_offset, "
                  "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                  "ON CONFLICT (scenario_id, window_start, source_topic, \"partition\") DO UPDATE "
                  "SET window_end = excluded.window_end, success_count = excluded.success_count, "
                  "total_count = excluded.total_count, last_offset = excluded.last_offset, "
                  "updated_at = excluded.updated_at",
                  p, 9, NULL, NULL, NULL);
    }
    for (size_t i = 0; rc == 0 && i < ng; i++)
        rc = put_progress(c, &g[i], now);
    rc = tx_end(c, rc);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

typedef struct partial_one {
    sl_catalogue_partial *out;
    bool found;
} partial_one;

static int partial_row(void *arg, int n, const char *const *v)
{
    partial_one *a = arg;
    if (n < 6)
        return SL_ERR;
    a->found = true;
    a->out->window_end_us = num(v[0]);
    a->out->success_count = num(v[1]);
    a->out->total_count = num(v[2]);
    a->out->last_offset = num(v[3]);
    a->out->updated_us = num(v[4]);
    a->out->partition = (int32_t)num(v[5]);
    return 0;
}

int sl_catalogue_stats_find(sl_catalogue *c, int64_t scenario_id, int64_t window_start_us,
                            const char *source_topic, int32_t partition,
                            sl_catalogue_partial *out)
{
    out->scenario_id = scenario_id;
    out->window_start_us = window_start_us;
    out->source_topic = source_topic;
    out->partition = partition;
    partial_one a = { out, false };
    cat_param p[] = { CAT_P_INT(scenario_id), CAT_P_INT(window_start_us),
                      CAT_P_STR(source_topic), CAT_P_INT(partition) };
    pthread_mutex_lock(&c->lock);
    int rc = exec(c,
                  "SELECT window_end, success_count, total_count, last_offset, updated_at, "
                  "\"partition\" FROM scenario_stats WHERE scenario_id = $1 AND window_start = $2 "
                  "AND source_topic = $3 AND \"partition\" = $4",
                  p, 4, partial_row, &a, NULL);
    pthread_mutex_unlock(&c->lock);
    if (rc < 0)
        return rc;
    return a.found ? 0 : -ENOENT;
}

typedef struct window_many {
    sl_catalogue_window *v;
    size_t n, cap;
    int64_t min_start;
    bool any;
} window_many;

static int window_row(void *arg, int n, const char *const *v)
{
    window_many *a = arg;
    if (n < 7)
        return SL_ERR;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->v = sl_realloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = (sl_catalogue_window){
        .scenario_id = num(v[0]),     .window_start_us = num(v[1]), .window_end_us = num(v[2]),
        .success_count = num(v[3]),   .total_count = num(v[4]),     .updated_us = num(v[5]),
        .partials = (int32_t)num(v[6]),
    };
    return 0;
}

static int min_start_row(void *arg, int n, const char *const *v)
{
    window_many *a = arg;
    if (n >= 1 && v[0]) {
        a->min_start = num(v[0]);
        a->any = true;
    }
    return 0;
}

/* The newest `max` windows of one scenario, appended to a, oldest first. */
static int windows_of(sl_catalogue *c, int64_t id, size_t max, window_many *a)
{
    /* Two bounded index walks rather than one GROUP BY over the whole
       history: find where the last `max` windows start, then sum them. */
    a->any = false;
    cat_param p[] = { CAT_P_INT(id), CAT_P_INT((int64_t)max - 1) };
    int rc = exec(c,
                  "SELECT window_start FROM (SELECT DISTINCT window_start FROM scenario_stats "
                  "WHERE scenario_id = $1 ORDER BY window_start DESC LIMIT 1 OFFSET $2) x",
                  p, 2, min_start_row, a, NULL);
    if (rc < 0)
        return rc;
    if (!a->any) /* fewer than max windows: take them all */
        a->min_start = INT64_MIN;
    cat_param q[] = { CAT_P_INT(id), CAT_P_INT(a->min_start) };
    return exec(c,
                "SELECT scenario_id, window_start, MAX(window_end), SUM(success_count), "
                "SUM(total_count), MAX(updated_at), COUNT(*) FROM scenario_stats "
                "WHERE scenario_id = $1 AND window_start >= $2 "
                "GROUP BY scenario_id, window_start ORDER BY window_start",
                q, 2, window_row, a, NULL);
}

typedef struct id_many {
    int64_t *v;
    size_t n, cap;
} id_many;

static int id_row(void *arg, int n, const char *const *v)
{
    id_many *a = arg;
    if (n < 1)
        return SL_ERR;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->v = sl_realloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = num(v[0]);
    return 0;
}

int sl_catalogue_stats_windows(sl_catalogue *c, int64_t scenario_id, size_t max,
                               sl_catalogue_window **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (max == 0)
        return 0;
    window_many a = { 0 };
    id_many ids = { 0 };
    pthread_mutex_lock(&c->lock);
    int rc = 0;
    if (scenario_id > 0)
        rc = windows_of(c, scenario_id, max, &a);
    else {
        rc = exec(c, "SELECT DISTINCT scenario_id FROM scenario_stats ORDER BY scenario_id", NULL,
                  0, id_row, &ids, NULL);
        for (size_t i = 0; rc == 0 && i < ids.n; i++)
            rc = windows_of(c, ids.v[i], max, &a);
    }
    pthread_mutex_unlock(&c->lock);
    free(ids.v);
    if (rc < 0) {
        free(a.v);
        return rc;
    }
    *out = a.v;
    *n = a.n;
    return 0;
}

int sl_catalogue_stats_latest(sl_catalogue *c, const char *source_topic, int32_t partition,
                              int64_t *window_start_us)
{
    window_many a = { 0 };
    cat_param p[] = { CAT_P_STR(source_topic), CAT_P_INT(partition) };
    pthread_mutex_lock(&c->lock);
    int rc = exec(c,
                  "SELECT MAX(window_start) FROM scenario_stats WHERE source_topic = $1 AND "
                  "\"partition\" = $2",
                  p, 2, min_start_row, &a, NULL);
    pthread_mutex_unlock(&c->lock);
    if (rc < 0)
        return rc;
    if (!a.any)
        return -ENOENT;
    *window_start_us = a.min_start;
    return 0;
}

int sl_catalogue_stats_prune(sl_catalogue *c, int64_t before_us, int64_t *deleted)
{
    cat_param p = CAT_P_INT(before_us);
    int64_t changes = 0;
    pthread_mutex_lock(&c->lock);
    int rc = exec(c, "DELETE FROM scenario_stats WHERE window_start < $1", &p, 1, NULL, NULL,
                  &changes);
    pthread_mutex_unlock(&c->lock);
    if (deleted)
        *deleted = rc == 0 ? changes : 0;
    return rc;
}

typedef struct progress_one {
    int64_t base, cut;
    bool found;
} progress_one;

static int progress_row(void *arg, int n, const char *const *v)
{
    progress_one *a = arg;
    if (n < 2)
        return SL_ERR;
    a->found = true;
    a->base = num(v[0]);
    a->cut = num(v[1]);
    return 0;
}

int sl_catalogue_progress_get(sl_catalogue *c, const char *group, const char *source_topic,
                              int32_t partition, int64_t *results_base, int64_t *results_cut)
{
    progress_one a = { 0, 0, false };
    cat_param p[] = { CAT_P_STR(group), CAT_P_STR(source_topic), CAT_P_INT(partition) };
    pthread_mutex_lock(&c->lock);
    int rc = exec(c,
                  "SELECT results_base, results_cut FROM scenario_progress WHERE "
                  "consumer_group = $1 AND source_topic = $2 AND \"partition\" = $3",
                  p, 3, progress_row, &a, NULL);
    pthread_mutex_unlock(&c->lock);
    if (rc < 0)
        return rc;
    if (!a.found)
        return -ENOENT;
    *results_base = a.base;
    *results_cut = a.cut;
    return 0;
}

int sl_catalogue_progress_put(sl_catalogue *c, const sl_catalogue_progress *g, size_t n)
{
    return sl_catalogue_stats_put(c, NULL, 0, g, n);
}
