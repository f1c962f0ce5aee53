/*
 * cmd_log.c - `sluice log`: inspect the log. Every subcommand opens the log
 * read-only (no lock, no repair), so it can run beside a server that is
 * writing the same data directory; with -c FILE whose log.backend is kafka
 * it reads the configured cluster instead (verify is for the embedded log):
 *
 *   topics    the topics, their partitions and how many records they hold
 *   tail      print a topic's records (values, or one JSON object each)
 *   offsets   start/end per partition, committed offset and lag per group
 *   verify    check every batch, offset and index entry (exit 1 on problems)
 */
#include "cli/cli.h"
#include "core/config.h"

#include "core/buf.h"
#include "core/timestamp.h"
#include "log/embedded/embedded.h"
#include "log/log.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_DATA_DIR "./sluice-data"

static void log_usage(FILE *out)
{
    fprintf(out,
            "usage: sluice log topics  [--data DIR | -c FILE]\n"
            "       sluice log tail TOPIC [-f] [--from-beginning] [--partition P] [-n N] [--meta]\n"
            "                             [--data DIR | -c FILE]\n"
            "       sluice log offsets [--data DIR | -c FILE]\n"
            "       sluice log verify  [--data DIR | -c FILE]\n\n"
            "Inspects the embedded log in DIR/log (default " DEFAULT_DATA_DIR "), read-only:\n"
            "safe while `sluice run` writes the same directory. With -c FILE whose\n"
            "log.backend is kafka, reads that Kafka cluster instead.\n\n"
            "  topics    topics with their partitions and record counts\n"
            "  tail      print records of a topic\n"
            "  offsets   start and end offset of every partition, and each group's\n"
            "            committed offset and lag\n"
            "  verify    check every batch CRC, offset contiguity and index entry;\n"
            "            exit status 1 when anything is wrong\n\n"
            "Run `sluice log SUBCOMMAND --help` for the options of each.\n");
}

static void tail_usage(FILE *out)
{
    fprintf(out,
            "usage: sluice log tail TOPIC [options]\n\n"
            "Prints each record's value on its own line (values are JSON). Starts at the\n"
            "end of each partition unless told otherwise, and exits when caught up.\n\n"
            "  -f, --follow          keep printing new records until interrupted\n"
            "      --from-beginning  start at the first record still in the log\n"
            "  -n, --lines N         start N records before the end of each partition\n"
            "  -p, --partition P     only partition P\n"
            "      --meta            one JSON object per record: topic, partition, offset,\n"
            "                        timestamp, key and value\n"
            "  -d, --data DIR        the data directory (the log is DIR/log)\n"
            "  -c, --config F        the data directory, or the Kafka cluster, of config F\n");
}

static void simple_usage(FILE *out, const char *sub)
{
    static const struct {
        const char *name, *what;
    } subs[] = {
        { "topics", "Lists the topics with their partitions and the records they hold." },
        { "offsets", "Prints start and end offsets per partition, then each group's committed\n"
                     "offset and lag (end - committed)." },
        { "verify", "Checks every batch (length, CRC, records), offset contiguity within and\n"
                    "across segments and every index entry. Prints a summary; exit status 1\n"
                    "when any problem is found. An incomplete batch at the tail is a problem\n"
                    "only when no writer holds the log's lock." },
    };
    fprintf(out, "usage: sluice log %s [--data DIR]\n\n", sub);
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(subs[i].name, sub) == 0)
            fprintf(out, "%s\n\n", subs[i].what);
    fprintf(out, "  -d, --data DIR   the data directory (the log is DIR/log)\n"
                 "  -c, --config F   take the data directory (or the Kafka cluster) from\n"
                 "                   configuration file F\n");
}

/* Where the log is: --data DIR wins; else the configuration file -c FILE
   (its data_dir, or its Kafka cluster when log.backend is kafka, which
   *kafka then holds); else the default directory. */
static int resolve_data_dir(const char *data, const char *config, const char **out,
                            sl_config **kafka)
{
    static char from_config[4096];
    *kafka = NULL;
    if (data || !config) {
        *out = data ? data : DEFAULT_DATA_DIR;
        return 0;
    }
    sl_buf errors = SL_BUF_INIT;
    sl_config *cfg = NULL;
    if (sl_config_load(config, &cfg, &errors) < 0) {
        fputs(errors.data ? errors.data : "invalid configuration\n", stderr);
        sl_buf_free(&errors);
        return 1;
    }
    snprintf(from_config, sizeof from_config, "%s", cfg->data_dir);
    sl_buf_free(&errors);
    if (strcmp(cfg->log_backend, "kafka") == 0)
        *kafka = cfg;
    else
        sl_config_free(cfg);
    *out = from_config;
    return 0;
}

/* Read-only: the embedded log in data_dir, or the configured Kafka cluster. */
static int open_log(const char *data_dir, const sl_config *kafka, sl_log **log)
{
    sl_log_options o = { .data_dir = data_dir, .read_only = true };
    sl_topic_spec *specs = NULL;
    if (kafka) {
        sl_config_log_options(kafka, &o, &specs);
        o.read_only = true;
    }
    int rc = sl_log_open(&o, log);
    free(specs);
    if (rc) {
        if (kafka)
            fprintf(stderr, "sluice log: cannot open the log on Kafka: %s\n", sl_strerror(rc));
        else
            fprintf(stderr, "sluice log: cannot open the log in %s/log: %s\n", data_dir,
                    sl_strerror(rc));
        return 1;
    }
    return 0;
}

/* ---- topics ------------------------------------------------------------------ */

static int log_topics(sl_log *log)
{
    sl_topic_info *topics;
    size_t n;
    if (sl_log_topics(log, &topics, &n) != 0)
        return 1;
    printf("%-32s %10s %14s\n", "TOPIC", "PARTITIONS", "RECORDS");
    for (size_t i = 0; i < n; i++) {
        int64_t records = 0;
        for (int32_t p = 0; p < topics[i].partitions; p++) {
            int64_t start, end;
            if (sl_log_offsets(log, topics[i].name, p, &start, &end) == 0)
                records += end - start;
        }
        printf("%-32s %10d %14" PRId64 "\n", topics[i].name, topics[i].partitions, records);
    }
    sl_log_topics_free(topics, n);
    return 0;
}

/* ---- offsets ------------------------------------------------------------------ */

static int log_offsets(sl_log *log)
{
    sl_topic_info *topics;
    size_t n;
    if (sl_log_topics(log, &topics, &n) != 0)
        return 1;
    printf("%-32s %9s %14s %14s\n", "TOPIC", "PARTITION", "START", "END");
    for (size_t i = 0; i < n; i++)
        for (int32_t p = 0; p < topics[i].partitions; p++) {
            int64_t start = 0, end = 0;
            sl_log_offsets(log, topics[i].name, p, &start, &end);
            printf("%-32s %9d %14" PRId64 " %14" PRId64 "\n", topics[i].name, p, start, end);
        }
    bool header = false;
    for (size_t i = 0; i < n; i++) {
        char **groups;
        size_t ng;
        if (sl_log_groups(log, topics[i].name, &groups, &ng) != 0)
            continue;
        for (size_t g = 0; g < ng; g++) {
            for (int32_t p = 0; p < topics[i].partitions; p++) {
                int64_t committed, start, end;
                if (sl_log_committed(log, groups[g], topics[i].name, p, &committed) != 0)
                    continue;
                sl_log_offsets(log, topics[i].name, p, &start, &end);
                if (!header) {
                    printf("\n%-24s %-32s %9s %14s %14s %10s\n", "GROUP", "TOPIC", "PARTITION",
                           "COMMITTED", "END", "LAG");
                    header = true;
                }
                printf("%-24s %-32s %9d %14" PRId64 " %14" PRId64 " %10" PRId64 "\n", groups[g],
                       topics[i].name, p, committed, end, end > committed ? end - committed : 0);
            }
            free(groups[g]);
        }
        free(groups);
    }
    sl_log_topics_free(topics, n);
    return 0;
}

/* ---- verify ------------------------------------------------------------------- */

static int log_verify(const char *data_dir)
{
    sl_buf report = SL_BUF_INIT;
    sl_log_verify_stats st;
    int rc = sl_log_embedded_verify(data_dir, &report, &st);
    if (rc) {
        fprintf(stderr, "sluice log verify: %s/log: %s\n", data_dir, sl_strerror(rc));
        sl_buf_free(&report);
        return 1;
    }
    if (report.len)
        fputs(report.data, stdout);
    printf("verified %" PRId64 " topics, %" PRId64 " partitions, %" PRId64 " segments, %" PRId64
           " batches, %" PRId64 " records (%" PRId64 " bytes): ",
           st.topics, st.partitions, st.segments, st.batches, st.records, st.bytes);
    if (st.problems)
        printf("%" PRId64 " problem%s\n", st.problems, st.problems == 1 ? "" : "s");
    else
        printf("ok\n");
    sl_buf_free(&report);
    return st.problems ? 1 : 0;
}

/* ---- tail --------------------------------------------------------------------- */

static volatile sig_atomic_t tail_stop;

static void tail_on_signal(int sig)
{
    (void)sig;
    tail_stop = 1;
}

typedef struct tail_opts {
    const char *topic;
    bool follow, from_beginning, meta;
    int32_t partition; /* -1: all */
    int64_t lines;     /* -1: not given */
} tail_opts;

static void tail_print(const char *topic, const sl_message *m, bool meta, sl_buf *line)
{
    if (!meta) {
        fwrite(m->value.ptr, 1, m->value.len, stdout);
        fputc('\n', stdout);
        return;
    }
    char ts[40];
    sl_timestamp_format_iso(m->ts_us, ts, sizeof ts);
    sl_buf_reset(line);
    sl_buf_append_str(line, "{\"topic\":");
    sl_buf_append_json_string(line, topic, strlen(topic));
    sl_buf_printf(line, ",\"partition\":%d,\"offset\":%" PRId64 ",\"timestamp\":\"%s\",\"key\":",
                  m->partition, m->offset, ts);
    if (m->key.ptr)
        sl_buf_append_json_string(line, m->key.ptr, m->key.len);
    else
        sl_buf_append_str(line, "null");
    sl_buf_append_str(line, ",\"value\":");
    if (m->value.len)
        sl_buf_append(line, m->value.ptr, m->value.len);
    else
        sl_buf_append_str(line, "null");
    sl_buf_append_str(line, "}\n");
    fwrite(line->data, 1, line->len, stdout);
}

static int log_tail(sl_log *log, const tail_opts *o)
{
    sl_topic_info *topics;
    size_t n;
    int32_t partitions = -1;
    if (sl_log_topics(log, &topics, &n) != 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(topics[i].name, o->topic) == 0)
            partitions = topics[i].partitions;
    sl_log_topics_free(topics, n);
    if (partitions < 0) {
        fprintf(stderr, "sluice log tail: no topic %s in the log\n", o->topic);
        return 1;
    }
    if (o->partition >= partitions) {
        fprintf(stderr, "sluice log tail: %s has partitions 0..%d\n", o->topic, partitions - 1);
        return 1;
    }
    int32_t first = o->partition >= 0 ? o->partition : 0;
    int32_t last = o->partition >= 0 ? o->partition : partitions - 1;
    int64_t *pos = calloc((size_t)partitions, sizeof *pos);
    for (int32_t p = first; p <= last; p++) {
        int64_t start = 0, end = 0;
        sl_log_offsets(log, o->topic, p, &start, &end);
        if (o->from_beginning)
            pos[p] = start;
        else if (o->lines > 0)
            pos[p] = end - o->lines > start ? end - o->lines : start;
        else
            pos[p] = end;
    }

    struct sigaction sa = { .sa_handler = tail_on_signal }; /* no SA_RESTART: wake sleeps */
    sigemptyset(&sa.sa_mask);
    struct sigaction old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    tail_stop = 0;

    sl_buf line = SL_BUF_INIT;
    int status = 0;
    while (!tail_stop) {
        bool progress = false;
        for (int32_t p = first; p <= last && !tail_stop; p++) {
            sl_fetch f;
            int rc = sl_log_read(log, o->topic, p, pos[p], 1000, 1 << 20, 0, &f);
            if (rc == SL_ERR_RANGE) {
                int64_t start, end;
                sl_log_offsets(log, o->topic, p, &start, &end);
                pos[p] = pos[p] < start ? start : end; /* retention passed us */
                continue;
            }
            if (rc) {
                fprintf(stderr, "sluice log tail: %s/%d at offset %" PRId64 ": %s\n", o->topic,
                        p, pos[p], sl_strerror(rc));
                status = 1;
                goto out;
            }
            for (size_t i = 0; i < f.n; i++)
                tail_print(o->topic, &f.msgs[i], o->meta, &line);
            if (f.n) {
                pos[p] = f.next_offset;
                progress = true;
            }
            sl_fetch_release(&f);
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
            status = 1;
            break;
        }
        if (!progress) {
            if (!o->follow)
                break;
            usleep(100000);
        }
    }
out:
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sl_buf_free(&line);
    free(pos);
    return status;
}

/* ---- dispatch ----------------------------------------------------------------- */

static bool parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        return false;
    *out = v;
    return true;
}

int sl_cmd_log(int argc, char **argv)
{
    enum { OPT_FROM_BEGINNING = 1000, OPT_META };
    static const struct option opts[] = {
        { "data", required_argument, NULL, 'd' },
        { "config", required_argument, NULL, 'c' },
        { "follow", no_argument, NULL, 'f' },
        { "from-beginning", no_argument, NULL, OPT_FROM_BEGINNING },
        { "partition", required_argument, NULL, 'p' },
        { "lines", required_argument, NULL, 'n' },
        { "meta", no_argument, NULL, OPT_META },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    if (argc < 2) {
        log_usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        log_usage(stdout);
        return 0;
    }
    bool is_tail = strcmp(sub, "tail") == 0;
    if (!is_tail && strcmp(sub, "topics") != 0 && strcmp(sub, "offsets") != 0 &&
        strcmp(sub, "verify") != 0) {
        fprintf(stderr, "sluice log: unknown subcommand \"%s\"\n\n", sub);
        log_usage(stderr);
        return 2;
    }

    const char *data = NULL, *config = NULL;
    tail_opts t = { .partition = -1, .lines = -1 };
    int c;
    int64_t v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc - 1, argv + 1, is_tail ? "d:c:fp:n:h" : "d:c:h", opts, NULL)) !=
           -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'c': config = optarg; break;
        case 'h':
            if (is_tail)
                tail_usage(stdout);
            else
                simple_usage(stdout, sub);
            return 0;
        case 'f':
            t.follow = true;
            break;
        case OPT_FROM_BEGINNING:
        case OPT_META:
        case 'p':
        case 'n':
            if (!is_tail) {
                fprintf(stderr, "sluice log %s: that option belongs to tail\n", sub);
                simple_usage(stderr, sub);
                return 2;
            }
            if (c == OPT_FROM_BEGINNING)
                t.from_beginning = true;
            else if (c == OPT_META)
                t.meta = true;
            else if (!parse_int(optarg, &v) || (c == 'p' && v > INT32_MAX)) {
                fprintf(stderr, "sluice log tail: %s needs a number, not \"%s\"\n",
                        c == 'p' ? "--partition" : "-n", optarg);
                return 2;
            } else if (c == 'p') {
                t.partition = (int32_t)v;
            } else {
                t.lines = v;
            }
            break;
        default:
            fprintf(stderr, "sluice log %s: unknown option or missing value\n\n", sub);
            if (is_tail)
                tail_usage(stderr);
            else
                simple_usage(stderr, sub);
            return 2;
        }
    }
    int nargs = argc - 1 - optind;
    char **args = argv + 1 + optind;
    if (is_tail ? nargs != 1 : nargs != 0) {
        fprintf(stderr, is_tail ? "sluice log tail: give exactly one TOPIC\n\n"
                                : "sluice log %s: unexpected argument\n\n", sub);
        if (is_tail)
            tail_usage(stderr);
        else
            simple_usage(stderr, sub);
        return 2;
    }
    const char *data_dir;
    sl_config *kafka = NULL;
    int rc = resolve_data_dir(data, config, &data_dir, &kafka);
    if (rc)
        return rc;
    if (strcmp(sub, "verify") == 0 && kafka) {
        fprintf(stderr, "sluice log verify: checks the embedded log's files; the log of %s is "
                        "on Kafka\n", config);
        sl_config_free(kafka);
        return 1;
    }
    if (strcmp(sub, "verify") == 0)
        return log_verify(data_dir);

    sl_log *log;
    rc = open_log(data_dir, kafka, &log);
    if (rc != 0) {
        sl_config_free(kafka);
        return 1;
    }
    if (is_tail) {
        t.topic = args[0];
        rc = log_tail(log, &t);
    } else if (strcmp(sub, "topics") == 0) {
        rc = log_topics(log);
    } else {
        rc = log_offsets(log);
    }
    sl_log_close(log);
    sl_config_free(kafka);
    return rc;
}
