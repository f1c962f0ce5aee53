/*
 * catalogue.h - sluice's reference data: scenarios, members, and the
 * 5-second scenario statistics.
 *
 * One interface, two backends chosen at open:
 *
 *   SQLite       <data_dir>/catalogue.db, WAL mode (the embedded default)
 *   PostgreSQL   when catalogue.postgres holds a libpq conninfo; several
 *                sluice processes (workers of one group) share it
 *
 * The schema is the same on both (docs/scenarios.md draws it):
 *
 *   catalogue_meta     name -> value: change counters ("scenarios",
 *                      "members") that every write bumps in its own
 *                      transaction, so readers poll one row to see changes
 *   scenarios          scenario_id PK, definition (the JSON as the user
 *                      sent it), title, manager, version (1, 2, ... per
 *                      write), created_at, updated_at
 *   members            member_id PK, age, gender, extra (a JSON object of
 *                      any other columns), updated_at
 *   scenario_stats     idempotent partial counts: one row per (scenario_id,
 *                      window_start, source_topic, partition), upserted;
 *                      last_offset is the source offset the counts reach
 *   scenario_progress  the scenario processor's results cut points per
 *                      (consumer_group, source_topic, partition)
 *
 * Times are microseconds since the Unix epoch (UTC) in BIGINT columns on
 * both backends.
 *
 * A handle is thread-safe: one connection serialised by a mutex. Stages
 * that write often (the scenario processor) open a handle of their own, so
 * admin requests do not queue behind them; SQLite's WAL mode and a busy
 * timeout let the connections share the file.
 *
 * Errors are negative: -ENOENT (no such row), -EEXIST (create of an
 * existing id), -EINVAL (bad argument), SL_ERR (the database failed; the
 * message is logged and, where a call takes err, appended there).
 */
#ifndef SL_CATALOGUE_H
#define SL_CATALOGUE_H

#include "core/buf.h"
#include "core/common.h"
#include "core/config.h"

typedef struct sl_catalogue sl_catalogue;

/*
 * Open the catalogue of cfg: PostgreSQL when cfg->catalogue_postgres is
 * set, else SQLite at <data_dir>/catalogue.db (the directory is created).
 * Creates the tables when missing. On failure returns a negative code,
 * appends the reason to err (may be NULL) and leaves *out NULL.
 */
int sl_catalogue_open(const sl_config *cfg, sl_catalogue **out, sl_buf *err);
/* The same with explicit locations (tests): exactly one of them non-NULL. */
int sl_catalogue_open_sqlite(const char *path, sl_catalogue **out, sl_buf *err);
int sl_catalogue_open_postgres(const char *conninfo, sl_catalogue **out, sl_buf *err);
/* NULL-safe. No call may be running on the handle. */
void sl_catalogue_close(sl_catalogue *c);
/* "sqlite" or "postgres". */
const char *sl_catalogue_backend(const sl_catalogue *c);

/* The change counters: each bumps on every write of its table. */
int sl_catalogue_versions(sl_catalogue *c, int64_t *scenarios, int64_t *members);

/*
 * A process-wide count of scenario and member writes made through any
 * handle of this process, bumped once each write is committed. Readers
 * in the same process (the scenario processor) compare it before every
 * batch, so a write answered over HTTP applies to every event sent after
 * the answer; writes by other processes are seen by polling
 * sl_catalogue_versions.
 */
uint64_t sl_catalogue_local_changes(void);

/* ---- scenarios ------------------------------------------------------------ */

typedef struct sl_catalogue_scenario {
    int64_t id;
    char *definition;     /* the JSON as written by the user */
    char *title;
    char *manager;
    int64_t version;      /* 1 at creation, +1 per replace */
    int64_t created_us;
    int64_t updated_us;
} sl_catalogue_scenario;

typedef enum {
    SL_CATALOGUE_CREATE,  /* -EEXIST when the id exists */
    SL_CATALOGUE_REPLACE, /* -ENOENT when it does not */
} sl_catalogue_write_mode;

/*
 * Store a scenario (the caller validated it with sl_scenario_parse).
 * definition is copied. On success *version (may be NULL) gets the new
 * version.
 */
int sl_catalogue_scenario_put(sl_catalogue *c, int64_t id, sl_view definition, const char *title,
                              const char *manager, sl_catalogue_write_mode mode, int64_t *version);
/* Fill *out (free with sl_catalogue_scenario_clear); -ENOENT when absent. */
int sl_catalogue_scenario_get(sl_catalogue *c, int64_t id, sl_catalogue_scenario *out);
/* -ENOENT when absent. */
int sl_catalogue_scenario_delete(sl_catalogue *c, int64_t id);
/* Every scenario in id order; free with sl_catalogue_scenarios_free. */
int sl_catalogue_scenario_list(sl_catalogue *c, sl_catalogue_scenario **out, size_t *n);
void sl_catalogue_scenario_clear(sl_catalogue_scenario *s);
void sl_catalogue_scenarios_free(sl_catalogue_scenario *v, size_t n);

/* ---- members -------------------------------------------------------------- */

typedef struct sl_catalogue_member {
    char *member_id;
    bool has_age;
    int64_t age;
    char *gender;         /* NULL when unknown */
    char *extra;          /* a JSON object text ("{}" when none) */
    int64_t updated_us;
} sl_catalogue_member;

/* Insert or replace n members in one transaction (all or none). */
int sl_catalogue_members_put(sl_catalogue *c, const sl_catalogue_member *m, size_t n);
int sl_catalogue_member_get(sl_catalogue *c, const char *member_id, sl_catalogue_member *out);
int sl_catalogue_member_delete(sl_catalogue *c, const char *member_id);
/*
 * Up to limit members with member_id > after (NULL = from the first), in
 * member_id order; free with sl_catalogue_members_free.
 */
int sl_catalogue_member_list(sl_catalogue *c, const char *after, size_t limit,
                             sl_catalogue_member **out, size_t *n);
int sl_catalogue_member_count(sl_catalogue *c, int64_t *n);
/*
 * Call fn for every member (the scenario processor's cache load). The
 * member is valid during the call only; fn must not use the catalogue.
 * A non-zero return from fn stops the walk and is returned.
 */
int sl_catalogue_member_each(sl_catalogue *c,
                             int (*fn)(void *arg, const sl_catalogue_member *m), void *arg);
void sl_catalogue_member_clear(sl_catalogue_member *m);
void sl_catalogue_members_free(sl_catalogue_member *v, size_t n);

/*
 * The enrichment object of a member, as filters see it:
 * {"age":25,"gender":"MALE",<extra's members>} (absent parts left out).
 */
void sl_catalogue_member_json(const sl_catalogue_member *m, sl_buf *out);

/* ---- scenario statistics -------------------------------------------------- */

/*
 * A partial: the counts of one source partition for one scenario and one
 * window of event time, covering every record of that partition in the
 * window up to last_offset. Writing the same partial twice, or a later one
 * that covers more, replaces the row: partials are idempotent, and a
 * window's value is the sum over its partials.
 */
typedef struct sl_catalogue_partial {
    int64_t scenario_id;
    int64_t window_start_us;
    int64_t window_end_us;
    const char *source_topic;   /* owned by the caller on put; by the row on find */
    int32_t partition;
    int64_t success_count;
    int64_t total_count;
    int64_t last_offset;
    int64_t updated_us;
} sl_catalogue_partial;

/*
 * The scenario processor's cut points for one source partition (see
 * src/processor/scenario/scenario.h): results for source offsets below
 * results_base are durable; results_cut, when above the base, is where
 * the next results append ends.
 */
typedef struct sl_catalogue_progress {
    const char *group;
    const char *source_topic;
    int32_t partition;
    int64_t results_base;
    int64_t results_cut;
} sl_catalogue_progress;

/* Upsert partials and progress rows in one transaction. */
int sl_catalogue_stats_put(sl_catalogue *c, const sl_catalogue_partial *p, size_t np,
                           const sl_catalogue_progress *g, size_t ng);
/* The stored partial; -ENOENT when none. out->source_topic is left as given. */
int sl_catalogue_stats_find(sl_catalogue *c, int64_t scenario_id, int64_t window_start_us,
                            const char *source_topic, int32_t partition,
                            sl_catalogue_partial *out);

/* A window of one scenario: its partials summed. */
typedef struct sl_catalogue_window {
    int64_t scenario_id;
    int64_t window_start_us;
    int64_t window_end_us;
    int64_t success_count;
    int64_t total_count;
    int64_t updated_us;         /* the newest partial's */
    int32_t partials;
} sl_catalogue_window;

/* The newest window start with a partial of (source_topic, partition);
   -ENOENT when there is none. */
int sl_catalogue_stats_latest(sl_catalogue *c, const char *source_topic, int32_t partition,
                              int64_t *window_start_us);

/*
 * The newest `max` windows of a scenario, oldest first; free *out. With
 * scenario_id 0: every scenario that has statistics, `max` windows each,
 * ordered by scenario then window.
 */
int sl_catalogue_stats_windows(sl_catalogue *c, int64_t scenario_id, size_t max,
                               sl_catalogue_window **out, size_t *n);
/* Delete partials whose window started before before_us; *deleted may be NULL. */
int sl_catalogue_stats_prune(sl_catalogue *c, int64_t before_us, int64_t *deleted);

/* -ENOENT when the processor never stored progress for the partition. */
int sl_catalogue_progress_get(sl_catalogue *c, const char *group, const char *source_topic,
                              int32_t partition, int64_t *results_base, int64_t *results_cut);
int sl_catalogue_progress_put(sl_catalogue *c, const sl_catalogue_progress *g, size_t n);

#endif
