/*
 * parquet_write.c - NDJSON events on stdin -> one Parquet file, through
 * sluice's Parquet writer. The end-to-end tests write their files with it
 * and check them with DuckDB and hyparquet; it also times the encoder.
 *
 *   parquet_write [options] OUT.parquet < events.ndjson
 *
 *   --codec zstd|snappy|gzip|none   page compression (default zstd)
 *   --level N                       compression level (0 = codec default)
 *   --row-group-rows N              rows per row group
 *   --row-group-bytes N             buffered bytes per row group
 *   --page-rows N                   rows per data page
 *   --dict-limit BYTES              dictionary size limit per column chunk
 *   --no-dictionary                 PLAIN strings only
 *   --ts-field NAME                 event time from this field, any shape
 *                                   sluice accepts (ISO-8601, epoch s/ms/us/ns);
 *                                   default: the integer field `ts`, in us
 *   --kv KEY=VALUE                  key-value metadata (repeatable)
 *   --trusted                       skip JSON validation
 *   --stats                         print {"rows":..,"bytes":..,"seconds":..,...} on stdout
 *
 * Exit status 0, 1 on a bad event or I/O error (with a message naming the line).
 */
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/timestamp.h"
#include "lake/parquet/parquet_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
    fprintf(stderr, "usage: parquet_write [--codec zstd|snappy|gzip|none] [--level N] [--row-group-rows N]\n"
                    "                     [--row-group-bytes N] [--page-rows N] [--dict-limit BYTES]\n"
                    "                     [--no-dictionary] [--ts-field NAME] [--kv KEY=VALUE]... [--trusted]\n"
                    "                     [--stats] OUT.parquet < events.ndjson\n");
    exit(2);
}

static size_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s)
        usage();
    return (size_t)v;
}

int main(int argc, char **argv)
{
    sl_parquet_writer_options o;
    sl_parquet_writer_options_default(&o);
    const char *ts_field = NULL, *out_path = NULL;
    bool stats = false;
    sl_parquet_kv kv[32];
    size_t n_kv = 0;
    char *kv_copies[32];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--codec") && more) {
            if (sl_parquet_codec_parse(argv[++i], &o.codec) < 0) {
                fprintf(stderr, "parquet_write: unknown codec %s\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--level") && more) {
            o.compression_level = atoi(argv[++i]);
        } else if (!strcmp(a, "--row-group-rows") && more) {
            o.row_group_rows = parse_size(argv[++i]);
        } else if (!strcmp(a, "--row-group-bytes") && more) {
            o.row_group_bytes = parse_size(argv[++i]);
        } else if (!strcmp(a, "--page-rows") && more) {
            o.page_rows = parse_size(argv[++i]);
        } else if (!strcmp(a, "--dict-limit") && more) {
            o.dict_limit = parse_size(argv[++i]);
        } else if (!strcmp(a, "--no-dictionary")) {
            o.no_dictionary = true;
        } else if (!strcmp(a, "--ts-field") && more) {
            ts_field = argv[++i];
        } else if (!strcmp(a, "--kv") && more) {
            char *copy = sl_strdup(argv[++i]);
            char *eq = strchr(copy, '=');
            if (!eq || n_kv == SL_ARRAY_LEN(kv))
                usage();
            *eq = '\0';
            kv_copies[n_kv] = copy;
            kv[n_kv++] = (sl_parquet_kv){ copy, eq + 1 };
        } else if (!strcmp(a, "--trusted")) {
            o.trusted_json = true;
        } else if (!strcmp(a, "--stats")) {
            stats = true;
        } else if (a[0] == '-' || out_path) {
            usage();
        } else {
            out_path = a;
        }
    }
    if (!out_path)
        usage();
    o.kv = kv;
    o.n_kv = n_kv;

    sl_parquet_writer *w;
    if (sl_parquet_writer_new(&w, &o) < 0) {
        fprintf(stderr, "parquet_write: codec %s is not available in this build\n", sl_parquet_codec_name(o.codec));
        return 1;
    }

    int64_t t0 = sl_mono_us();
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    uint64_t in_bytes = 0;
    ssize_t n;
    int status = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        lineno++;
        in_bytes += (uint64_t)n;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n == 0)
            continue;
        sl_view ev = { line, (size_t)n };
        int64_t ts = SL_PARQUET_TS_NULL;
        sl_view tv;
        size_t start = sl_json_skip_ws(line, (size_t)n, 0);
        sl_view obj = { line + start, (size_t)n - start };
        if (!ts_field) {
            if (sl_json_type_of(obj) == SL_JSON_OBJECT && sl_json_get(obj, "ts", &tv) &&
                sl_json_int64(tv, &ts) < 0)
                ts = SL_PARQUET_TS_NULL;
        } else if (sl_json_type_of(obj) == SL_JSON_OBJECT && sl_json_get_path(obj, ts_field, &tv)) {
            if (sl_timestamp_parse_json(tv, &ts) < 0)
                ts = SL_PARQUET_TS_NULL;
        }
        int rc = sl_parquet_writer_add_json(w, ev, ts);
        if (rc < 0) {
            fprintf(stderr, "parquet_write: line %zu: %s\n", lineno, sl_strerror(rc));
            status = 1;
            break;
        }
    }
    free(line);
    sl_parquet_writer_stats st;
    sl_parquet_writer_stats_get(w, &st);

    if (status == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "parquet_write: %s: %s\n", out_path, strerror(errno));
            status = 1;
        } else {
            int rc = sl_parquet_writer_finish_fd(w, fd);
            if (rc < 0) {
                fprintf(stderr, "parquet_write: %s: %s\n", out_path, sl_strerror(rc));
                status = 1;
            }
            off_t size = lseek(fd, 0, SEEK_CUR);
            close(fd);
            double secs = (double)(sl_mono_us() - t0) / 1e6;
            if (stats && status == 0)
                printf("{\"rows\":%llu,\"columns\":%llu,\"json_bytes\":%llu,\"bytes\":%lld,\"seconds\":%.3f,"
                       "\"events_per_s\":%.0f,\"ratio\":%.2f}\n",
                       (unsigned long long)st.rows, (unsigned long long)st.columns,
                       (unsigned long long)in_bytes, (long long)size, secs,
                       secs > 0 ? (double)st.rows / secs : 0.0,
                       size > 0 ? (double)in_bytes / (double)size : 0.0);
        }
    }
    sl_parquet_writer_free(w);
    for (size_t i = 0; i < n_kv; i++)
        free(kv_copies[i]);
    return status;
}
