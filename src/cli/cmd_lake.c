/*
 * cmd_lake.c - `sluice lake`: look into the Parquet lake and compact it.
 *
 *   ls        per topic, partition and hour directory: files, rows, bytes
 *             and the offset ranges they cover (from the footers only)
 *   schema    one file's columns, row count and sluice metadata
 *   cat       one file's rows as NDJSON (dotted names stay dotted)
 *   compact   merge the small files of closed hours (src/lake/lake_compact.c)
 *
 * The lake is found as --path P, else the lake outputs of -c FILE (their
 * `path`, or <data_dir>/lake), else <--data DIR>/lake, else
 * ./sluice-data/lake. Every subcommand reads sluice's files through its own
 * reader and may run next to a running pipeline.
 */
#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/config.h"
#include "lake/lake.h"
#include "lake/lake_compact.h"
#include "lake/parquet/parquet_reader.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_DATA_DIR "./sluice-data"

static void lake_usage(FILE *out)
{
    fprintf(out,
            "usage: sluice lake ls      [--path P | -c FILE | --data DIR] [--topic T] [--json]\n"
            "       sluice lake schema  FILE.parquet\n"
            "       sluice lake cat     FILE.parquet [--limit N] [--nulls]\n"
            "       sluice lake compact [--older-than D] [--target-size S] [--dry-run] [--topic T]\n"
            "                           [--path P | -c FILE | --data DIR]\n\n"
            "Looks into the Parquet lake the `lake` output writes:\n"
            "  <lake>/<topic>/year=Y/month=M/day=D/hour=H/<topic>+<partition>+<start>+<end>.parquet\n\n"
            "  ls        files, rows, bytes and offset ranges per topic, partition and hour\n"
            "  schema    the columns of one file, its row count and sluice metadata\n"
            "  cat       the rows of one file as NDJSON\n"
            "  compact   merge the small files of hours that ended at least --older-than ago\n\n"
            "The lake: --path P; else the lake outputs of -c FILE; else DIR/lake for --data DIR;\n"
            "else " DEFAULT_DATA_DIR "/lake. Safe next to a running `sluice run`.\n"
            "Run `sluice lake SUBCOMMAND --help` for the options of each.\n");
}

static void sub_usage(FILE *out, const char *sub)
{
    if (!strcmp(sub, "ls"))
        fprintf(out,
                "usage: sluice lake ls [--path P | -c FILE | --data DIR] [--topic T] [--json]\n\n"
                "One line per topic, partition and hour directory: files, rows, bytes and the\n"
                "offset ranges the files cover, then a total per topic. Rows come from the\n"
                "files' footers; no data is read. Temporary and half-compacted files are\n"
                "counted apart (they are invisible to readers).\n\n"
                "  -p, --path P      the lake directory\n"
                "  -c, --config F    the lake outputs of configuration file F\n"
                "  -d, --data DIR    DIR/lake\n"
                "  -t, --topic T     only topic T\n"
                "      --json        one JSON object per line instead of the table\n");
    else if (!strcmp(sub, "schema"))
        fprintf(out,
                "usage: sluice lake schema FILE.parquet\n\n"
                "Prints the file's row count, row groups, the topic, partition, offsets and\n"
                "time zone sluice recorded in it, and its columns with their types (nested\n"
                "JSON fields are dotted column names, such as metadata.status_code).\n");
    else if (!strcmp(sub, "cat"))
        fprintf(out,
                "usage: sluice lake cat FILE.parquet [--limit N] [--nulls]\n\n"
                "Prints the file's rows as NDJSON: one object per row, keys are the column\n"
                "names (dotted names stay dotted), ts is ISO-8601 UTC.\n\n"
                "  -n, --limit N     at most N rows\n"
                "      --nulls       include null columns as \"name\":null\n");
    else
        fprintf(out,
                "usage: sluice lake compact [--older-than D] [--target-size S] [--dry-run]\n"
                "                           [--topic T] [--path P | -c FILE | --data DIR]\n\n"
                "Merges, per topic, partition and hour directory, consecutive small files into\n"
                "one named by the union of their offset ranges. Only hours that ended at least\n"
                "--older-than ago are touched (default 1h), never the current one. Safe while\n"
                "the pipeline writes: inputs are swapped out under the lake's lock so readers\n"
                "never see a row twice, and an interrupted compaction is repaired by the next\n"
                "one (or by the lake output when it resumes).\n\n"
                "  -o, --older-than D    e.g. 30m, 2h, 0s (default 1h)\n"
                "  -s, --target-size S   a merged file gathers inputs up to S (default 256MiB)\n"
                "      --dry-run         say what would be merged, change nothing\n"
                "  -t, --topic T         only topic T\n"
                "  -p, --path P | -c FILE | -d, --data DIR   the lake, as for ls\n");
}

/* ---- finding the lake ------------------------------------------------------- */

typedef struct lake_paths {
    char **v;
    size_t n;
} lake_paths;

static void paths_add(lake_paths *p, char *path)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->v[i], path)) {
            free(path);
            return;
        }
    p->v = sl_realloc(p->v, (p->n + 1) * sizeof *p->v);
    p->v[p->n++] = path;
}

static void paths_free(lake_paths *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
}

static int resolve_lakes(const char *path, const char *config, const char *data, lake_paths *out)
{
    if (path) {
        paths_add(out, sl_strdup(path));
        return 0;
    }
    if (config) {
        sl_buf errors = SL_BUF_INIT;
        sl_config *cfg = NULL;
        if (sl_config_load(config, &cfg, &errors) < 0) {
            fputs(errors.data ? errors.data : "invalid configuration\n", stderr);
            sl_buf_free(&errors);
            return 1;
        }
        sl_buf_free(&errors);
        for (size_t i = 0; i < cfg->nstages; i++) {
            const sl_stage_config *st = &cfg->stages[i];
            if (st->kind != SL_STAGE_OUTPUT || strcmp(st->type, "lake") != 0)
                continue;
            const char *p = NULL;
            for (size_t k = 0; k < st->npairs; k++)
                if (!strcmp(st->pairs[k].key, "path") && st->pairs[k].kind == SL_CONF_SCALAR)
                    p = st->pairs[k].scalar;
            paths_add(out, p && *p ? sl_strdup(p) : sl_asprintf("%s/lake", cfg->data_dir));
        }
        if (!out->n)
            paths_add(out, sl_asprintf("%s/lake", cfg->data_dir));
        sl_config_free(cfg);
        return 0;
    }
    paths_add(out, sl_asprintf("%s/lake", data ? data : DEFAULT_DATA_DIR));
    return 0;
}

/* ---- ls ------------------------------------------------------------------------ */

static void human_bytes(uint64_t b, char *out, size_t n)
{
    static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, n, "%" PRIu64 " B", b);
    else
        snprintf(out, n, "%.1f %s", v, units[u]);
}

static int cmp_ls(const void *a, const void *b)
{
    const sl_lake_entry *x = a, *y = b;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    if (x->hour != y->hour)
        return x->hour < y->hour ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

typedef struct range {
    int64_t start, end;
} range;

/* Append the ranges of g (sorted by start), contiguous ones joined. */
static void ranges_of(const sl_lake_entry *g, size_t n, range **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    for (size_t i = 0; i < n; i++) {
        if (*nout && g[i].start == (*out)[*nout - 1].end + 1) {
            (*out)[*nout - 1].end = g[i].end;
            continue;
        }
        *out = sl_realloc(*out, (*nout + 1) * sizeof **out);
        (*out)[(*nout)++] = (range){ g[i].start, g[i].end };
    }
}

static int ls_topic(const char *root, const char *topic, bool json, bool *header)
{
    sl_lake_list l = { 0 };
    int rc = sl_lake_scan(root, topic, &l);
    if (rc < 0) {
        fprintf(stderr, "sluice lake ls: %s/%s: %s\n", root, topic, sl_strerror(rc));
        return 1;
    }
    size_t hidden[5] = { 0 }, kept = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (l.v[i].kind == SL_LAKE_DATA) {
            l.v[kept++] = l.v[i];
        } else {
            hidden[l.v[i].kind]++;
            free(l.v[i].dir);
            free(l.v[i].name);
        }
    }
    l.n = kept;
    qsort(l.v, l.n, sizeof *l.v, cmp_ls);
    uint64_t t_files = 0, t_rows = 0, t_bytes = 0, bad = 0;
    sl_buf path = SL_BUF_INIT, line = SL_BUF_INIT;
    for (size_t i = 0; i < l.n;) {
        size_t j = i;
        uint64_t rows = 0, bytes = 0;
        while (j < l.n && l.v[j].partition == l.v[i].partition && l.v[j].hour == l.v[i].hour) {
            sl_lake_entry_path(&l.v[j], &path);
            sl_lake_footer f;
            if (sl_lake_footer_read(path.data, &f) == 0) {
                rows += (uint64_t)f.rows;
                sl_lake_footer_free(&f);
            } else {
                fprintf(stderr, "sluice lake ls: %s: not a readable Parquet file\n", path.data);
                bad++;
            }
            bytes += (uint64_t)l.v[j].size;
            j++;
        }
        range *r;
        size_t nr;
        ranges_of(&l.v[i], j - i, &r, &nr);
        sl_lake_hour h;
        sl_lake_hour_civil(l.v[i].hour, &h);
        sl_buf_reset(&line);
        if (json) {
            sl_buf_append_str(&line, "{\"topic\":");
            sl_buf_append_json_string(&line, topic, strlen(topic));
            sl_buf_printf(&line, ",\"partition\":%" PRId32 ",\"hour\":\"year=%d/month=%d/day=%d/"
                          "hour=%d\",\"files\":%zu,\"rows\":%" PRIu64 ",\"bytes\":%" PRIu64
                          ",\"offsets\":[", l.v[i].partition, h.year, h.month, h.day, h.hour,
                          j - i, rows, bytes);
            for (size_t k = 0; k < nr; k++)
                sl_buf_printf(&line, "%s[%" PRId64 ",%" PRId64 "]", k ? "," : "", r[k].start,
                              r[k].end);
            sl_buf_append_str(&line, "]}");
        } else {
            if (!*header) {
                printf("%-20s %4s  %-32s %6s %12s %11s  %s\n", "TOPIC", "PART", "HOUR", "FILES",
                       "ROWS", "BYTES", "OFFSETS");
                *header = true;
            }
            char hb[32], hour[48];
            human_bytes(bytes, hb, sizeof hb);
            snprintf(hour, sizeof hour, "year=%d/month=%d/day=%d/hour=%d", h.year, h.month, h.day,
                     h.hour);
            sl_buf_printf(&line, "%-20s %4" PRId32 "  %-32s %6zu %12" PRIu64 " %11s  ", topic,
                          l.v[i].partition, hour, j - i, rows, hb);
            for (size_t k = 0; k < nr && k < 4; k++)
                sl_buf_printf(&line, "%s%" PRId64 "-%" PRId64, k ? "," : "", r[k].start, r[k].end);
            if (nr > 4)
                sl_buf_printf(&line, ",... (%zu ranges)", nr);
        }
        puts(line.data);
        free(r);
        t_files += j - i;
        t_rows += rows;
        t_bytes += bytes;
        i = j;
    }
    if (!json && (t_files || hidden[SL_LAKE_TMP] || hidden[SL_LAKE_MERGING] ||
                  hidden[SL_LAKE_COMPACTED])) {
        char hb[32];
        human_bytes(t_bytes, hb, sizeof hb);
        printf("%s: %" PRIu64 " files, %" PRIu64 " rows, %s", topic, t_files, t_rows, hb);
        if (hidden[SL_LAKE_TMP])
            printf("; %zu being written", hidden[SL_LAKE_TMP]);
        if (hidden[SL_LAKE_MERGING] || hidden[SL_LAKE_COMPACTED])
            printf("; %zu compaction leftovers (repaired by the next compaction)",
                   hidden[SL_LAKE_MERGING] + hidden[SL_LAKE_COMPACTED]);
        printf("\n");
    }
    sl_buf_free(&path);
    sl_buf_free(&line);
    sl_lake_list_free(&l);
    return bad ? 1 : 0;
}

static int cmd_ls(const lake_paths *lakes, const char *topic, bool json)
{
    int status = 0;
    for (size_t k = 0; k < lakes->n; k++) {
        const char *root = lakes->v[k];
        char **topics = NULL;
        size_t n = 0;
        if (topic) {
            if (!sl_lake_topic_ok(topic)) {
                fprintf(stderr, "sluice lake ls: invalid topic name '%s'\n", topic);
                return 2;
            }
            topics = sl_malloc(sizeof *topics);
            topics[0] = sl_strdup(topic);
            n = 1;
        } else {
            int rc = sl_lake_topics(root, &topics, &n);
            if (rc < 0) {
                fprintf(stderr, "sluice lake ls: %s: %s\n", root, sl_strerror(rc));
                return 1;
            }
        }
        if (!json)
            printf("%slake %s\n", k ? "\n" : "", root);
        bool header = false;
        for (size_t i = 0; i < n; i++)
            status |= ls_topic(root, topics[i], json, &header);
        if (!json && !header)
            printf("(no files)\n");
        for (size_t i = 0; i < n; i++)
            free(topics[i]);
        free(topics);
    }
    return status;
}

/* ---- schema and cat ------------------------------------------------------------- */

static int open_reader(const char *cmd, const char *file, sl_parquet_reader **r)
{
    char err[256] = "";
    int rc = sl_parquet_reader_open_file(r, file, NULL, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "sluice lake %s: %s: %s\n", cmd, file, err[0] ? err : sl_strerror(rc));
        return 1;
    }
    return 0;
}

static int cmd_schema(const char *file)
{
    sl_parquet_reader *r;
    if (open_reader("schema", file, &r))
        return 1;
    sl_view cb = sl_parquet_reader_created_by(r);
    printf("file            %s\n", file);
    printf("rows            %" PRId64 " in %zu row groups\n", sl_parquet_reader_num_rows(r),
           sl_parquet_reader_num_row_groups(r));
    printf("created by      %.*s\n", (int)cb.len, cb.ptr ? cb.ptr : "");
    static const struct {
        const char *key, *label;
    } kv[] = {
        { SL_LAKE_KV_TOPIC, "topic" },           { SL_LAKE_KV_PARTITION, "partition" },
        { SL_LAKE_KV_START, "first offset" },    { SL_LAKE_KV_END, "last offset" },
        { SL_LAKE_KV_TIMEZONE, "time zone" },    { SL_LAKE_KV_COMPACTED, "compacted from" },
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(kv); i++) {
        sl_view v;
        if (sl_parquet_reader_find_metadata(r, kv[i].key, &v))
            printf("%-15s %.*s%s\n", kv[i].label, (int)v.len, v.ptr,
                   !strcmp(kv[i].key, SL_LAKE_KV_COMPACTED) ? " files" : "");
    }
    size_t n = sl_parquet_reader_num_columns(r);
    size_t width = 6;
    for (size_t i = 0; i < n; i++)
        width = SL_MAX(width, sl_parquet_reader_column(r, i)->name_len);
    printf("columns         %zu\n", n);
    for (size_t i = 0; i < n; i++) {
        const sl_parquet_column_info *c = sl_parquet_reader_column(r, i);
        printf("  %-*s  %s%s\n", (int)width, c->name, sl_parquet_type_name(c->type),
               c->optional ? "" : " (required)");
    }
    sl_parquet_reader_free(r);
    return 0;
}

static int cmd_cat(const char *file, int64_t limit, bool nulls)
{
    sl_parquet_reader *r;
    if (open_reader("cat", file, &r))
        return 1;
    sl_buf out = SL_BUF_INIT;
    int rc = 0;
    for (int64_t n = 0; limit < 0 || n < limit; n++) {
        sl_buf_reset(&out);
        rc = sl_parquet_reader_next_json(r, nulls ? SL_PARQUET_JSON_NULLS : 0, &out);
        if (rc <= 0)
            break;
        sl_buf_append_char(&out, '\n');
        if (fwrite(out.data, 1, out.len, stdout) != out.len) {
            rc = -EIO;
            break;
        }
    }
    if (rc < 0)
        fprintf(stderr, "sluice lake cat: %s: %s\n", file,
                sl_parquet_reader_message(r) ? sl_parquet_reader_message(r) : sl_strerror(rc));
    sl_buf_free(&out);
    sl_parquet_reader_free(r);
    return rc < 0 ? 1 : 0;
}

/* ---- compact --------------------------------------------------------------------- */

static void print_line(void *arg, const char *line)
{
    (void)arg;
    printf("%s\n", line);
    fflush(stdout);
}

static int cmd_compact(const lake_paths *lakes, const char *topic, int64_t older_than_us,
                       int64_t target, bool dry_run)
{
    int status = 0;
    for (size_t k = 0; k < lakes->n; k++) {
        sl_lake_compact_options o = { .root = lakes->v[k], .topic = topic,
                                      .older_than_us = older_than_us,
                                      .target_bytes = (uint64_t)target, .dry_run = dry_run,
                                      .report = print_line };
        sl_lake_compact_stats st;
        int rc = sl_lake_compact(&o, &st);
        char in[32], out[32];
        human_bytes(st.bytes_in, in, sizeof in);
        human_bytes(st.bytes_out, out, sizeof out);
        printf("lake %s: %zu merged files from %zu inputs (%" PRIu64 " rows, %s -> %s)%s\n",
               lakes->v[k], st.merges, st.inputs, st.rows, in, out,
               dry_run ? " [dry run]" : "");
        if (rc < 0) {
            fprintf(stderr, "sluice lake compact: %s: %s\n", lakes->v[k], sl_strerror(rc));
            status = 1;
        }
    }
    return status;
}

/* ---- dispatch ---------------------------------------------------------------------- */

int sl_cmd_lake(int argc, char **argv)
{
    enum { OPT_JSON = 1000, OPT_NULLS };
    static const struct option opts[] = {
        { "path", required_argument, NULL, 'p' },
        { "config", required_argument, NULL, 'c' },
        { "data", required_argument, NULL, 'd' },
        { "topic", required_argument, NULL, 't' },
        { "json", no_argument, NULL, OPT_JSON },
        { "limit", required_argument, NULL, 'n' },
        { "nulls", no_argument, NULL, OPT_NULLS },
        { "older-than", required_argument, NULL, 'o' },
        { "target-size", required_argument, NULL, 's' },
        { "dry-run", no_argument, NULL, 'N' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    if (argc < 2) {
        lake_usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        lake_usage(stdout);
        return 0;
    }
    if (strcmp(sub, "ls") && strcmp(sub, "schema") && strcmp(sub, "cat") && strcmp(sub, "compact")) {
        fprintf(stderr, "sluice lake: unknown subcommand \"%s\"\n\n", sub);
        lake_usage(stderr);
        return 2;
    }
    bool is_ls = !strcmp(sub, "ls"), is_cat = !strcmp(sub, "cat"),
         is_compact = !strcmp(sub, "compact"), is_file = !is_ls && !is_compact;
    const char *path = NULL, *config = NULL, *data = NULL, *topic = NULL;
    bool json = false, nulls = false, dry_run = false;
    int64_t limit = -1, older_than = 3600LL * 1000000, target = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc - 1, argv + 1, "p:c:d:t:n:o:s:h", opts, NULL)) != -1) {
        bool ok = true;
        char *end;
        switch (c) {
        case 'h':
            sub_usage(stdout, sub);
            return 0;
        case 'p': ok = !is_file; path = optarg; break;
        case 'c': ok = !is_file; config = optarg; break;
        case 'd': ok = !is_file; data = optarg; break;
        case 't': ok = !is_file; topic = optarg; break;
        case OPT_JSON: ok = is_ls; json = true; break;
        case OPT_NULLS: ok = is_cat; nulls = true; break;
        case 'N': ok = is_compact; dry_run = true; break;
        case 'n':
            ok = is_cat;
            errno = 0;
            limit = strtoll(optarg, &end, 10);
            if (errno || *end || end == optarg || limit < 0) {
                fprintf(stderr, "sluice lake cat: --limit needs a number of rows\n");
                return 2;
            }
            break;
        case 'o':
            ok = is_compact;
            if (ok && sl_parse_duration_us(optarg, &older_than) < 0) {
                fprintf(stderr, "sluice lake compact: --older-than needs a duration (30m, 1h)\n");
                return 2;
            }
            break;
        case 's':
            ok = is_compact;
            if (ok && (sl_parse_size(optarg, &target) < 0 || target < 1)) {
                fprintf(stderr, "sluice lake compact: --target-size needs a size (256MiB)\n");
                return 2;
            }
            break;
        default:
            ok = false;
        }
        if (!ok) {
            fprintf(stderr, "sluice lake %s: unknown or misplaced option '%s'\n\n", sub,
                    argv[optind] ? argv[optind] : "");
            sub_usage(stderr, sub);
            return 2;
        }
    }
    int rest = argc - 1 - optind; /* operands after the options */
    char **operands = argv + 1 + optind;
    if (is_file) {
        if (rest != 1) {
            sub_usage(stderr, sub);
            return 2;
        }
        return is_cat ? cmd_cat(operands[0], limit, nulls) : cmd_schema(operands[0]);
    }
    if (rest != 0) {
        sub_usage(stderr, sub);
        return 2;
    }
    lake_paths lakes = { 0 };
    int status = resolve_lakes(path, config, data, &lakes);
    if (status == 0)
        status = is_ls ? cmd_ls(&lakes, topic, json)
                       : cmd_compact(&lakes, topic, older_than, target, dry_run);
    paths_free(&lakes);
    return status;
}
