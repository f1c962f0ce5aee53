/*
 * cmd_gen.c - `sluice gen KIND [options]`: the command line of the
 * built-in generators (src/gen/).
 *
 * Every flag is declared once in the table below; parsing and the --help
 * text both come from it, and the list of kinds comes from the generator
 * registry, so a new kind or flag shows up in --help by itself. Usage
 * errors exit 2 with a message naming the flag and the offending text;
 * nothing is started before all arguments are valid.
 */
#include "cli/cli.h"

#include "gen/gen.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

typedef enum {
    FLAG_RATE, FLAG_COUNT, FLAG_DURATION, FLAG_BATCH, FLAG_TO, FLAG_TOKEN, FLAG_CONCURRENCY,
    FLAG_SEED, FLAG_START, FLAG_TS_FORMAT, FLAG_TRUTH, FLAG_MAX_RETRIES, FLAG_TIMEOUT,
    FLAG_PROGRESS, FLAG_NO_PROGRESS, FLAG_HELP, FLAG_AS,
} flag_id;

typedef struct gen_flag {
    const char *name;
    const char *arg;    /* metavariable, or NULL for a switch */
    flag_id id;
    const char *help;   /* lines after the first are indented under it */
} gen_flag;

static const gen_flag flags[] = {
    { "--rate", "N", FLAG_RATE,
      "events per second overall, paced smoothly; 0 = as fast as possible\n"
      "(default 0; suffixes k, M: 500k)" },
    { "--count", "N", FLAG_COUNT, "stop after N events (suffixes k, M: 2M)" },
    { "--duration", "D", FLAG_DURATION,
      "stop after D: 500ms, 30s, 5m, 1h (with --count, whichever comes first;\n"
      "with neither, run until SIGINT/SIGTERM)" },
    { "--batch", "N", FLAG_BATCH, "events per POST or write (default 100)" },
    { "--to", "TARGET", FLAG_TO,
      "http://HOST:PORT/PATH  POST JSON arrays (default " SL_GEN_DEFAULT_URL ")\n"
      "file:PATH              append NDJSON lines to PATH\n"
      "-                      NDJSON on stdout" },
    { "--token", "T", FLAG_TOKEN, "send Authorization: Bearer T" },
    { "--concurrency", "C", FLAG_CONCURRENCY, "parallel HTTP connections (default 1)" },
    { "--seed", "S", FLAG_SEED,
      "make the events reproducible byte for byte (default: a random seed);\n"
      "ids are req-<seed>-<index> / evt-<seed>-<index>" },
    { "--start", "ISO", FLAG_START,
      "timestamps = ISO + index / rate (1 ms apart at rate 0) instead of now;\n"
      "with --seed the whole output is reproducible" },
    { "--ts-format", "F", FLAG_TS_FORMAT,
      "iso       2024-01-15T10:30:00.123Z (default)\n"
      "epoch     1705314600.123456 (seconds, 6 decimals)\n"
      "epoch-ms  1705314600123\n"
      "mixed     cycle: ISO Z, ISO +09:00, epoch s, ms, us, ns" },
    { "--as", "WIRE", FLAG_AS,
      "json   JSON objects (every kind)\n"
      "pixel  tracking-pixel GETs (web; the default with http://)\n"
      "nginx  NGINX access-log lines (web; the default with file: and -)" },
    { "--truth", "FILE", FLAG_TRUTH,
      "append the id (request_id / event_id) of every acknowledged event,\n"
      "one per line, once it is acknowledged" },
    { "--max-retries", "N", FLAG_MAX_RETRIES,
      "give a batch up after N retries (default: retry until acknowledged)" },
    { "--timeout", "D", FLAG_TIMEOUT, "per-request HTTP timeout (default 30s)" },
    { "--progress", NULL, FLAG_PROGRESS, "progress line on stderr (default: when stderr is a terminal)" },
    { "--no-progress", NULL, FLAG_NO_PROGRESS, "no progress line" },
    { "--help", NULL, FLAG_HELP, "this text (also -h)" },
};

static void print_usage(FILE *f)
{
    fprintf(f, "usage: sluice gen KIND [options]\n\n"
               "Generate synthetic events of one kind and deliver them in batches: to the\n"
               "collector (a JSON array per POST, retried until acknowledged), a file or\n"
               "stdout (NDJSON).\n\nkinds:\n");
    for (const sl_gen_kind *const *k = sl_gen_kind_list(); *k; k++)
        fprintf(f, "  %-10s%s\n", (*k)->name, (*k)->description);
    fprintf(f, "\noptions:\n");
    for (size_t i = 0; i < SL_ARRAY_LEN(flags); i++) {
        char head[40];
        snprintf(head, sizeof head, "%s%s%s", flags[i].name, flags[i].arg ? " " : "",
                 flags[i].arg ? flags[i].arg : "");
        const char *h = flags[i].help;
        bool first = true;
        while (*h) {
            const char *nl = strchr(h, '\n');
            int len = nl ? (int)(nl - h) : (int)strlen(h);
            fprintf(f, "  %-18s%.*s\n", first ? head : "", len, h);
            first = false;
            h += len + (nl ? 1 : 0);
        }
    }
    bool any = false;
    for (const sl_gen_kind *const *k = sl_gen_kind_list(); *k; k++)
        for (const sl_gen_kind_flag *kf = (*k)->flags; kf && kf->name; kf++) {
            if (!any)
                fprintf(f, "\nkind options:\n");
            any = true;
            char head[40];
            snprintf(head, sizeof head, "%s %s", kf->name, kf->arg);
            fprintf(f, "  %-18s%s\n", head, kf->help);
        }
    fprintf(f, "\nOn SIGINT/SIGTERM the batches in flight are still delivered (a second\n"
               "signal abandons them), then a summary is printed on stderr. Exit status:\n"
               "0 when every generated event was acknowledged, 1 otherwise, 2 on a usage\n"
               "error.\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sluice gen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'sluice gen --help'.\n", stderr);
    va_end(ap);
    return 2;
}

/* An unsigned integer with an optional k/M/G multiplier; 0 or -1. */
static int parse_count(const char *s, uint64_t *out)
{
    if (!*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1000, end++;
    else if (*end == 'M')
        mul = 1000000, end++;
    else if (*end == 'G')
        mul = 1000000000, end++;
    if (*end || v > UINT64_MAX / mul)
        return -1;
    *out = v * mul;
    return 0;
}

static int parse_rate(const char *s, double *out)
{
    if (!*s)
        return -1;
    char *end;
    double v = strtod(s, &end);
    if (end == s)
        return -1;
    if (*end == 'k' || *end == 'K')
        v *= 1e3, end++;
    else if (*end == 'M')
        v *= 1e6, end++;
    if (*end || !isfinite(v) || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* "500ms", "30s", "5m", "1h", "1d", "1.5s" or a bare number of seconds. */
static int parse_duration(const char *s, int64_t *us)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v) || v < 0)
        return -1;
    double unit = 1e6;
    if (strcmp(end, "ms") == 0)
        unit = 1e3;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        unit = 1e6;
    else if (strcmp(end, "m") == 0)
        unit = 60e6;
    else if (strcmp(end, "h") == 0)
        unit = 3600e6;
    else if (strcmp(end, "d") == 0)
        unit = 86400e6;
    else
        return -1;
    double t = v * unit;
    if (t > 9e18)
        return -1;
    *us = (int64_t)t;
    return 0;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool take_digits(const char **p, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (unsigned)(c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|+HH:MM|+HHMM|-...]; no zone = UTC. */
static int parse_iso(const char *s, int64_t *us)
{
    const char *p = s;
    unsigned y, mo, d, h, mi, se, frac = 0, zh = 0, zm = 0;
    if (!take_digits(&p, 4, &y) || *p++ != '-' || !take_digits(&p, 2, &mo) || *p++ != '-' ||
        !take_digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    if (!take_digits(&p, 2, &h) || *p++ != ':' || !take_digits(&p, 2, &mi) || *p++ != ':' ||
        !take_digits(&p, 2, &se))
        return -1;
    if (*p == '.') {
        p++;
        int n = 0;
        while (*p >= '0' && *p <= '9') {
            if (n < 6)
                frac = frac * 10 + (unsigned)(*p - '0');
            n++, p++;
        }
        if (n == 0)
            return -1;
        for (; n < 6; n++)
            frac *= 10;
    }
    int sign = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p++ == '+' ? 1 : -1;
        if (!take_digits(&p, 2, &zh))
            return -1;
        if (*p == ':')
            p++;
        if (!take_digits(&p, 2, &zm))
            return -1;
    }
    if (*p || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 ||
        zh > 23 || zm > 59)
        return -1;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    secs -= sign * (int64_t)(zh * 3600 + zm * 60);
    if (secs < 0)
        return -1;
    *us = secs * 1000000 + frac;
    return 0;
}

static uint64_t random_seed(void)
{
    uint32_t v;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v)
        v = (uint32_t)(sl_gen_mix64((uint64_t)sl_now_us() ^ ((uint64_t)getpid() << 32)));
    /* 32 bits tell runs apart and keep ids (req-<seed>-<index>) short. */
    return v;
}

static void on_stop_signal(int sig)
{
    SL_UNUSED(sig);
    sl_gen_request_stop();
}

/* The kind flag called name (up to len), in any kind, or NULL. */
static const sl_gen_kind_flag *find_kind_flag(const char *name, size_t len,
                                              const sl_gen_kind **owner)
{
    for (const sl_gen_kind *const *k = sl_gen_kind_list(); *k; k++)
        for (const sl_gen_kind_flag *kf = (*k)->flags; kf && kf->name; kf++)
            if (strlen(kf->name) == len && strncmp(kf->name, name, len) == 0) {
                *owner = *k;
                return kf;
            }
    return NULL;
}

/* Parse argv into *o. 0 = run, 1 = help printed, 2 = usage error.
   kind_opts (room for argc + 1 pointers) receives the kind's own flags. */
static int parse_args(int argc, char **argv, sl_gen_options *o, int *progress,
                      const char **kind_opts)
{
    const char *kind = NULL;
    bool have_seed = false;
    size_t nopts = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0)
            a = "--help";
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            if (kind)
                return usage_error("unexpected argument '%s'", a);
            kind = a;
            continue;
        }
        const gen_flag *f = NULL;
        const char *value = NULL;
        size_t name_len = strcspn(a, "=");
        for (size_t k = 0; k < SL_ARRAY_LEN(flags); k++)
            if (strlen(flags[k].name) == name_len && strncmp(flags[k].name, a, name_len) == 0)
                f = &flags[k];
        if (!f) {
            const sl_gen_kind *owner = NULL;
            const sl_gen_kind_flag *kf = find_kind_flag(a, name_len, &owner);
            if (!kf)
                return usage_error("unknown option '%.*s'", (int)name_len, a);
            if (a[name_len] == '=')
                value = a + name_len + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else
                return usage_error("%s needs a value (%s)", kf->name, kf->arg);
            kind_opts[nopts++] = kf->name + 2;
            kind_opts[nopts++] = value;
            continue;
        }
        if (f->arg) {
            if (a[name_len] == '=')
                value = a + name_len + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else
                return usage_error("%s needs a value (%s)", f->name, f->arg);
        } else if (a[name_len] == '=') {
            return usage_error("%s takes no value", f->name);
        }

        uint64_t u;
        switch (f->id) {
        case FLAG_HELP:
            print_usage(stdout);
            return 1;
        case FLAG_RATE:
            if (parse_rate(value, &o->rate) < 0)
                return usage_error("--rate: '%s' is not a rate (events/s >= 0)", value);
            break;
        case FLAG_COUNT:
            if (parse_count(value, &o->count) < 0 || o->count == 0)
                return usage_error("--count: '%s' is not a positive count", value);
            break;
        case FLAG_DURATION:
            if (parse_duration(value, &o->duration_us) < 0 || o->duration_us == 0)
                return usage_error("--duration: '%s' is not a duration (500ms, 30s, 5m, 1h)", value);
            break;
        case FLAG_BATCH:
            if (parse_count(value, &u) < 0 || u == 0 || u > 100000)
                return usage_error("--batch: '%s' is not a batch size (1..100000)", value);
            o->batch = (uint32_t)u;
            break;
        case FLAG_TO:
            if (strcmp(value, "-") == 0) {
                o->target = SL_GEN_TO_STDOUT;
            } else if (strncmp(value, "file:", 5) == 0 && value[5]) {
                o->target = SL_GEN_TO_FILE;
                o->path = value + 5;
            } else if ((strncmp(value, "http://", 7) == 0 && value[7]) ||
                       (strncmp(value, "https://", 8) == 0 && value[8])) {
                o->target = SL_GEN_TO_HTTP;
                o->url = value;
            } else {
                return usage_error("--to: '%s' is not http://..., https://..., file:PATH or -", value);
            }
            break;
        case FLAG_TOKEN:
            o->token = value;
            break;
        case FLAG_CONCURRENCY:
            if (parse_count(value, &u) < 0 || u == 0 || u > 256)
                return usage_error("--concurrency: '%s' is not 1..256", value);
            o->concurrency = (int)u;
            break;
        case FLAG_SEED: {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(value, &end, 10);
            if (!*value || *end || errno || *value == '-')
                return usage_error("--seed: '%s' is not an unsigned integer", value);
            o->seed = v;
            have_seed = true;
            break;
        }
        case FLAG_START:
            if (parse_iso(value, &o->start_us) < 0)
                return usage_error("--start: '%s' is not an ISO-8601 instant after 1970 "
                                   "(2024-01-15T10:30:00Z)", value);
            o->have_start = true;
            break;
        case FLAG_TS_FORMAT:
            if (strcmp(value, "iso") == 0)
                o->ts_format = SL_GEN_TS_ISO;
            else if (strcmp(value, "epoch") == 0)
                o->ts_format = SL_GEN_TS_EPOCH;
            else if (strcmp(value, "epoch-ms") == 0)
                o->ts_format = SL_GEN_TS_EPOCH_MS;
            else if (strcmp(value, "mixed") == 0)
                o->ts_format = SL_GEN_TS_MIXED;
            else
                return usage_error("--ts-format: '%s' is not iso, epoch, epoch-ms or mixed", value);
            break;
        case FLAG_TRUTH:
            if (!*value)
                return usage_error("--truth needs a file name");
            o->truth_path = value;
            break;
        case FLAG_MAX_RETRIES:
            if (parse_count(value, &u) < 0 || u > INT64_MAX)
                return usage_error("--max-retries: '%s' is not a count", value);
            o->max_retries = (int64_t)u;
            break;
        case FLAG_TIMEOUT: {
            int64_t us;
            if (parse_duration(value, &us) < 0 || us < 1000)
                return usage_error("--timeout: '%s' is not a duration of at least 1ms", value);
            o->timeout_ms = us / 1000;
            break;
        }
        case FLAG_AS:
            if (strcmp(value, "json") == 0)
                o->wire = SL_GEN_WIRE_JSON;
            else if (strcmp(value, "pixel") == 0)
                o->wire = SL_GEN_WIRE_PIXEL;
            else if (strcmp(value, "nginx") == 0)
                o->wire = SL_GEN_WIRE_NGINX;
            else
                return usage_error("--as: '%s' is not json, pixel or nginx", value);
            o->wire_set = true;
            break;
        case FLAG_PROGRESS:
            *progress = 1;
            break;
        case FLAG_NO_PROGRESS:
            *progress = 0;
            break;
        }
    }
    if (!kind) {
        print_usage(stderr);
        return 2;
    }
    o->kind = sl_gen_kind_find(kind);
    if (!o->kind) {
        char names[256] = "";
        for (const sl_gen_kind *const *k = sl_gen_kind_list(); *k; k++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                     names[0] ? ", " : "", (*k)->name);
        return usage_error("unknown kind '%s' (kinds: %s)", kind, names);
    }
    for (size_t k = 0; k < nopts; k += 2) {
        bool ours = false;
        for (const sl_gen_kind_flag *kf = o->kind->flags; kf && kf->name; kf++)
            ours |= strcmp(kf->name + 2, kind_opts[k]) == 0;
        const sl_gen_kind *owner = NULL;
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", kind_opts[k]);
        find_kind_flag(flag, strlen(flag), &owner);
        if (!ours)
            return usage_error("%s is an option of kind %s, not of %s", flag,
                               owner ? owner->name : "?", o->kind->name);
    }
    kind_opts[nopts] = NULL;
    o->kind_opts = nopts ? kind_opts : NULL;
    if (o->wire_set && o->wire != SL_GEN_WIRE_JSON &&
        !(o->kind->wires & SL_GEN_WIRE_BIT(o->wire)))
        return usage_error("--as: kind %s writes only json", o->kind->name);
    if (!have_seed)
        o->seed = random_seed();
    return 0;
}

int sl_cmd_gen(int argc, char **argv)
{
    sl_gen_options o;
    sl_gen_options_init(&o);
    int progress = -1;
    const char **kind_opts = calloc((size_t)argc + 2, sizeof *kind_opts);
    if (!kind_opts)
        return 1;
    int rc = parse_args(argc, argv, &o, &progress, kind_opts);
    if (rc == 1 || rc) {
        free(kind_opts);
        return rc == 1 ? 0 : rc;
    }
    o.progress = progress >= 0 ? progress : isatty(STDERR_FILENO);

    /* SIGINT/SIGTERM stop production and let in-flight batches land; the
     * handlers are the caller's again when the run is over. A closed pipe
     * must be a write error (reported, run stopped), not a silent death. */
    struct sigaction sa = { .sa_handler = on_stop_signal }, old_int, old_term, old_pipe;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    struct sigaction ign = { .sa_handler = SIG_IGN };
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old_pipe);

    sl_gen_stats st;
    rc = sl_gen_run(&o, &st);

    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    free(kind_opts);
    if (rc < 0)
        return 1;
    sl_buf line = SL_BUF_INIT;
    sl_gen_format_summary(&o, &st, &line);
    fprintf(stderr, "%s\n", line.data);
    sl_buf_free(&line);
    return rc;
}
