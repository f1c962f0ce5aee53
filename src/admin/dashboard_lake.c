/*
 * dashboard_lake.c - GET /api/lake: what each lake output has written,
 * per topic and hour partition, for the dashboard's Lake view.
 *
 *   {"lakes":[{"output":"lake","path":"/srv/sluice/lake","error":null,
 *     "topics":[{"topic":"logs.raw","files":12,"rows":120000,"bytes":3145728,
 *                "writing":1,
 *                "hours":[{"hour":"2026-01-11T09","year":2026,"month":1,"day":11,
 *                          "h":9,"files":3,"rows":30000,"bytes":786432}, ...]}]}]}
 *
 * It reads the lake directory read-only through src/lake/lake.h, the module
 * that owns the layout: finished files only (`writing` counts the output's
 * temporary files). Rows come from each file's Parquet footer; files never
 * change once they have their name, so footers are read once and
 * remembered by path and size. The newest 168 hour partitions (a week) of
 * each topic are listed, oldest first; the totals cover every file.
 */
#include "admin/dashboard.h"
#include "core/alloc.h"
#include "lake/lake.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- footer rows, remembered --------------------------------------------------- */

#define ROWS_BUCKETS 4096
#define ROWS_MAX     200000 /* entries before the cache starts over */

typedef struct rows_entry {
    struct rows_entry *next;
    int64_t size, rows;
    char path[];
} rows_entry;

static pthread_mutex_t rows_lock = PTHREAD_MUTEX_INITIALIZER;
static rows_entry *rows_table[ROWS_BUCKETS];
static size_t rows_count;

static uint32_t path_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static void rows_clear(void)
{
    for (size_t i = 0; i < ROWS_BUCKETS; i++) {
        for (rows_entry *e = rows_table[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
        rows_table[i] = NULL;
    }
    rows_count = 0;
}

/* Rows of a finished file, or -1 when its footer cannot be read. */
static int64_t file_rows(const char *path, int64_t size)
{
    uint32_t b = path_hash(path) % ROWS_BUCKETS;
    pthread_mutex_lock(&rows_lock);
    for (rows_entry *e = rows_table[b]; e; e = e->next)
        if (e->size == size && !strcmp(e->path, path)) {
            int64_t rows = e->rows;
            pthread_mutex_unlock(&rows_lock);
            return rows;
        }
    pthread_mutex_unlock(&rows_lock);

    sl_lake_footer f;
    if (sl_lake_footer_read(path, &f) < 0)
        return -1; /* not remembered: compaction may have just replaced it */
    int64_t rows = f.rows;
    sl_lake_footer_free(&f);

    size_t n = strlen(path);
    rows_entry *e = sl_malloc(sizeof *e + n + 1);
    e->size = size;
    e->rows = rows;
    memcpy(e->path, path, n + 1);
    pthread_mutex_lock(&rows_lock);
    if (rows_count >= ROWS_MAX)
        rows_clear();
    e->next = rows_table[b];
    rows_table[b] = e;
    rows_count++;
    pthread_mutex_unlock(&rows_lock);
    return rows;
}

/* ---- the document --------------------------------------------------------------- */

typedef struct hour_total {
    int64_t hour, files, rows, bytes;
} hour_total;

static int cmp_hour(const void *a, const void *b)
{
    const hour_total *x = a, *y = b;
    return (x->hour > y->hour) - (x->hour < y->hour);
}

static void topic_json(const char *root, const char *topic, size_t max_hours, sl_buf *out)
{
    sl_lake_list l = { 0 };
    int rc = sl_lake_scan(root, topic, &l);
    hour_total *hours = NULL;
    size_t nhours = 0;
    int64_t files = 0, rows = 0, bytes = 0, writing = 0;
    sl_buf path = SL_BUF_INIT;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        const sl_lake_entry *e = &l.v[i];
        if (e->kind == SL_LAKE_TMP)
            writing++;
        if (e->kind != SL_LAKE_DATA)
            continue;
        sl_lake_entry_path(e, &path);
        int64_t r = file_rows(path.data, e->size);
        if (r < 0)
            continue;
        hour_total *h = NULL;
        for (size_t j = 0; j < nhours && !h; j++)
            if (hours[j].hour == e->hour)
                h = &hours[j];
        if (!h) {
            hours = sl_realloc(hours, (nhours + 1) * sizeof *hours);
            h = &hours[nhours++];
            *h = (hour_total){ .hour = e->hour };
        }
        h->files++;
        h->rows += r;
        h->bytes += e->size;
        files++;
        rows += r;
        bytes += e->size;
    }
    sl_buf_free(&path);
    sl_lake_list_free(&l);
    if (nhours)
        qsort(hours, nhours, sizeof *hours, cmp_hour);

    sl_buf_append_str(out, "{\"topic\":");
    sl_buf_append_json_string(out, topic, strlen(topic));
    sl_buf_printf(out, ",\"files\":%lld,\"rows\":%lld,\"bytes\":%lld,\"writing\":%lld,\"hours\":[",
                  (long long)files, (long long)rows, (long long)bytes, (long long)writing);
    size_t from = nhours > max_hours ? nhours - max_hours : 0;
    for (size_t j = from; j < nhours; j++) {
        sl_lake_hour c;
        sl_lake_hour_civil(hours[j].hour, &c);
        sl_buf_printf(out,
                      "%s{\"hour\":\"%04d-%02d-%02dT%02d\",\"year\":%d,\"month\":%d,\"day\":%d,"
                      "\"h\":%d,\"files\":%lld,\"rows\":%lld,\"bytes\":%lld}",
                      j > from ? "," : "", c.year, c.month, c.day, c.hour, c.year, c.month, c.day,
                      c.hour, (long long)hours[j].files, (long long)hours[j].rows,
                      (long long)hours[j].bytes);
    }
    sl_buf_append_str(out, "]}");
    free(hours);
}

/* The lake root of an output entry: its `path`, else <data_dir>/lake. */
static char *lake_root(const sl_config *cfg, const sl_stage_config *st)
{
    for (size_t i = 0; i < st->npairs; i++)
        if (!strcmp(st->pairs[i].key, "path") && st->pairs[i].scalar && *st->pairs[i].scalar)
            return sl_strdup(st->pairs[i].scalar);
    return sl_asprintf("%s/lake", cfg->data_dir);
}

void sl_dashboard_lake_json(const sl_config *cfg, sl_buf *out)
{
    sl_buf_append_str(out, "{\"lakes\":[");
    bool first = true;
    for (size_t s = 0; s < cfg->nstages; s++) {
        const sl_stage_config *st = &cfg->stages[s];
        if (st->kind != SL_STAGE_OUTPUT || strcmp(st->type, "lake") != 0)
            continue;
        char *root = lake_root(cfg, st);
        sl_buf_append_str(out, first ? "{\"output\":" : ",{\"output\":");
        first = false;
        sl_buf_append_json_string(out, st->name, strlen(st->name));
        sl_buf_append_str(out, ",\"path\":");
        sl_buf_append_json_string(out, root, strlen(root));
        char **topics = NULL;
        size_t ntopics = 0;
        int rc = sl_lake_topics(root, &topics, &ntopics);
        sl_buf_append_str(out, ",\"error\":");
        if (rc < 0) {
            const char *why = sl_strerror(rc);
            sl_buf_append_json_string(out, why, strlen(why));
        } else
            sl_buf_append_str(out, "null");
        sl_buf_append_str(out, ",\"topics\":[");
        for (size_t t = 0; t < ntopics; t++) {
            if (t)
                sl_buf_append_char(out, ',');
            topic_json(root, topics[t], 168, out);
            free(topics[t]);
        }
        free(topics);
        sl_buf_append_str(out, "]}");
        free(root);
    }
    sl_buf_append_str(out, "]}\n");
}
