/*
 * lake.c - the lake's layout: names, hour directories, durable renames,
 * scanning, recovery after a crashed compaction, and footers (see lake.h).
 *
 * Everything here works on paths built from the root, a checked topic name
 * and numbers; a scan enters only directories whose names parse back to
 * numbers in range and never follows a symbolic link, so neither a
 * configuration nor a planted link can send the lake outside its root.
 */
#include "lake/lake.h"
#include "core/alloc.h"
#include "lake/parquet/metadata.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- names -------------------------------------------------------------- */

/* The rule of sl_lake_topic_ok on n bytes (a NUL among them fails it). */
static bool topic_bytes_ok(const char *t, size_t n)
{
    if (n == 0 || n > 200 || t[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool sl_lake_topic_ok(const char *topic)
{
    return topic && topic_bytes_ok(topic, strlen(topic));
}

static const char *const kind_suffix[] = { "", ".parquet", ".parquet.tmp", ".parquet.merging",
                                           ".parquet.compacted" };

void sl_lake_name_format(sl_buf *out, sl_lake_file_kind kind, const char *topic,
                         int32_t partition, int64_t start, int64_t end)
{
    sl_buf_printf(out, "%s%s+%" PRId32 "+%0*" PRId64 "+%0*" PRId64 "%s",
                  kind == SL_LAKE_DATA ? "" : ".", topic, partition, SL_LAKE_OFFSET_DIGITS, start,
                  SL_LAKE_OFFSET_DIGITS, end, kind_suffix[kind]);
}

static bool ends_with(const char *s, size_t n, const char *suffix, size_t *stem)
{
    size_t k = strlen(suffix);
    if (n < k || memcmp(s + n - k, suffix, k) != 0)
        return false;
    *stem = n - k;
    return true;
}

/* Digits only (no sign, no spaces), at most 18 so the value fits. */
static int parse_number(const char *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 18)
        return SL_ERR_PARSE;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return SL_ERR_PARSE;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int sl_lake_name_parse(const char *name, size_t len, sl_lake_name *out)
{
    sl_lake_file_kind kind;
    size_t stem;
    if (len > 0 && name[0] == '.') {
        if (ends_with(name, len, kind_suffix[SL_LAKE_TMP], &stem))
            kind = SL_LAKE_TMP;
        else if (ends_with(name, len, kind_suffix[SL_LAKE_MERGING], &stem))
            kind = SL_LAKE_MERGING;
        else if (ends_with(name, len, kind_suffix[SL_LAKE_COMPACTED], &stem))
            kind = SL_LAKE_COMPACTED;
        else
            return SL_ERR_PARSE;
        if (stem < 2) /* the dot alone, or nothing before the suffix */
            return SL_ERR_PARSE;
        name++;
        stem--;
    } else if (ends_with(name, len, kind_suffix[SL_LAKE_DATA], &stem)) {
        kind = SL_LAKE_DATA;
    } else {
        return SL_ERR_PARSE;
    }
    /* <topic>+<partition>+<start>+<end>, read from the right. */
    int64_t field[3];
    size_t at = stem;
    for (int f = 2; f >= 0; f--) {
        size_t plus = at;
        while (plus > 0 && name[plus - 1] != '+')
            plus--;
        if (plus == 0 || parse_number(name + plus, at - plus, &field[f]) < 0)
            return SL_ERR_PARSE;
        at = plus - 1;
    }
    sl_view topic = { name, at };
    if (!topic_bytes_ok(topic.ptr, topic.len) || field[0] > INT32_MAX || field[1] > field[2])
        return SL_ERR_PARSE;
    *out = (sl_lake_name){ kind, topic, (int32_t)field[0], field[1], field[2] };
    return 0;
}

/* ---- time zones and hours ----------------------------------------------- */

int sl_lake_timezone_parse(const char *text, int32_t *offset_s)
{
    if (!text)
        return SL_ERR_PARSE;
    if (!strcasecmp(text, "UTC") || !strcmp(text, "Z") || !strcasecmp(text, "GMT") ||
        !strcmp(text, "+00:00")) {
        *offset_s = 0;
        return 0;
    }
    if (text[0] != '+' && text[0] != '-')
        return SL_ERR_PARSE;
    const char *p = text + 1;
    int d[4], nd = 0;
    bool colon = false;
    for (; *p; p++) {
        if (*p == ':' && nd == 2 && !colon) {
            colon = true;
            continue;
        }
        if (*p < '0' || *p > '9' || nd == 4)
            return SL_ERR_PARSE;
        d[nd++] = *p - '0';
    }
    if (nd != 2 && nd != 4)
        return SL_ERR_PARSE;
    if (colon && nd != 4)
        return SL_ERR_PARSE;
    int hours = d[0] * 10 + d[1], minutes = nd == 4 ? d[2] * 10 + d[3] : 0;
    if (minutes > 59 || hours * 60 + minutes > 18 * 60)
        return SL_ERR_PARSE;
    int32_t s = (hours * 60 + minutes) * 60;
    *offset_s = text[0] == '-' ? -s : s;
    return 0;
}

void sl_lake_timezone_format(int32_t offset_s, char *out, size_t n)
{
    if (offset_s == 0) {
        snprintf(out, n, "UTC");
        return;
    }
    int32_t a = offset_s < 0 ? -offset_s : offset_s;
    snprintf(out, n, "%c%02d:%02d", offset_s < 0 ? '-' : '+', (int)(a / 3600),
             (int)(a % 3600 / 60));
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 <-> proleptic Gregorian dates, by 400-year eras. */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;                                  /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);           /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                /* March = 0 */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t days_from_civil(int y, int m, int d)
{
    int64_t yy = y - (m <= 2);
    int64_t era = floor_div(yy, 400);
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void sl_lake_hour_civil(int64_t hour_key, sl_lake_hour *out)
{
    int64_t days = floor_div(hour_key, 24);
    civil_from_days(days, &out->year, &out->month, &out->day);
    out->hour = (int)(hour_key - days * 24);
}

int sl_lake_hour_key(const sl_lake_hour *h, int64_t *hour_key)
{
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (h->year < 1 || h->year > 9999 || h->month < 1 || h->month > 12 || h->day < 1 ||
        h->day > mdays[h->month - 1] || h->hour < 0 || h->hour > 23)
        return SL_ERR_PARSE;
    int64_t days = days_from_civil(h->year, h->month, h->day);
    sl_lake_hour back;
    sl_lake_hour_civil(days * 24, &back);
    if (back.day != h->day) /* February 29 of a common year */
        return SL_ERR_PARSE;
    *hour_key = days * 24 + h->hour;
    return 0;
}

int sl_lake_hour_dir(sl_buf *out, const char *root, const char *topic, int64_t hour_key)
{
    if (!sl_lake_topic_ok(topic))
        return SL_ERR_CONFIG;
    sl_lake_hour h;
    sl_lake_hour_civil(hour_key, &h);
    sl_buf_printf(out, "%s/%s/year=%d/month=%d/day=%d/hour=%d", root, topic, h.year, h.month,
                  h.day, h.hour);
    return 0;
}

/* ---- durable file-system moves ------------------------------------------ */

int sl_lake_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int sl_lake_mkdirs(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
    char *path = sl_strdup(dir);
    int rc = 0;
    for (char *p = path + 1;; p++) {
        bool last = *p == 0;
        if (*p != '/' && !last)
            continue;
        *p = 0;
        if (mkdir(path, 0755) == 0) {
            /* A new entry in the parent: sync the parent so it survives a crash. */
            char *slash = strrchr(path, '/');
            if (!slash) {
                rc = sl_lake_fsync_dir(".");
            } else if (slash == path) {
                rc = sl_lake_fsync_dir("/");
            } else {
                *slash = 0;
                rc = sl_lake_fsync_dir(path);
                *slash = '/';
            }
        } else if (errno != EEXIST) {
            rc = -errno;
        }
        if (!last)
            *p = '/';
        if (rc < 0 || last)
            break;
    }
    free(path);
    return rc;
}

int sl_lake_rename_noreplace(const char *from, const char *to)
{
#ifdef RENAME_NOREPLACE
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return -errno;
#endif
    /* Filesystems without RENAME_NOREPLACE: link fails on an existing target. */
    if (link(from, to) < 0)
        return -errno;
    if (unlink(from) < 0)
        return -errno;
    return 0;
}

int sl_lake_lock(const char *root, bool wait)
{
    int rc = sl_lake_mkdirs(root);
    if (rc < 0)
        return rc;
    sl_buf path = SL_BUF_INIT;
    sl_buf_printf(&path, "%s/%s", root, SL_LAKE_LOCK_NAME);
    int fd = open(path.data, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    sl_buf_free(&path);
    if (fd < 0)
        return -errno;
    while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
        if (errno == EINTR)
            continue;
        rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

void sl_lake_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

/* ---- scanning -------------------------------------------------------------- */

/* "<prefix><number>" with the number in [lo, hi]. */
static bool dir_number(const char *name, const char *prefix, int lo, int hi, int *out)
{
    size_t k = strlen(prefix);
    if (strncmp(name, prefix, k) != 0)
        return false;
    int64_t v;
    if (parse_number(name + k, strlen(name + k), &v) < 0 || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

/* Is this entry of dir a directory (not following links)? */
static bool is_dir(int dfd, const struct dirent *d)
{
    if (d->d_type == DT_DIR)
        return true;
    if (d->d_type != DT_UNKNOWN)
        return false;
    struct stat st;
    return fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static const char *const level_prefix[] = { "year=", "month=", "day=", "hour=" };
static const int level_lo[] = { 1, 1, 1, 0 }, level_hi[] = { 9999, 12, 31, 23 };

static void list_push(sl_lake_list *l, const sl_lake_entry *e)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = sl_realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = *e;
}

static int scan_hour_dir(const char *dir, const char *topic, int64_t hour, sl_lake_list *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    size_t tlen = strlen(topic);
    struct dirent *de;
    while ((de = readdir(d))) {
        sl_lake_name nm;
        if (sl_lake_name_parse(de->d_name, strlen(de->d_name), &nm) < 0)
            continue;
        if (nm.topic.len != tlen || memcmp(nm.topic.ptr, topic, tlen) != 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        sl_lake_entry e = { sl_strdup(dir), sl_strdup(de->d_name), nm.kind, nm.partition,
                            nm.start, nm.end, hour, (int64_t)st.st_size };
        list_push(out, &e);
    }
    closedir(d);
    return 0;
}

/* Descend year= / month= / day= / hour= from dir; parts holds the numbers so far. */
static int scan_level(const char *dir, int level, int *parts, const char *topic,
                      sl_lake_list *out)
{
    if (level == 4) {
        sl_lake_hour h = { parts[0], parts[1], parts[2], parts[3] };
        int64_t key;
        if (sl_lake_hour_key(&h, &key) < 0)
            return 0;
        return scan_hour_dir(dir, topic, key, out);
    }
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    int rc = 0;
    struct dirent *de;
    sl_buf sub = SL_BUF_INIT;
    while (rc == 0 && (de = readdir(d))) {
        if (!dir_number(de->d_name, level_prefix[level], level_lo[level], level_hi[level],
                        &parts[level]) ||
            !is_dir(dirfd(d), de))
            continue;
        /* Only the canonical spelling: "month=01" would be a second name for month=1. */
        char canon[32];
        snprintf(canon, sizeof canon, "%s%d", level_prefix[level], parts[level]);
        if (strcmp(canon, de->d_name) != 0)
            continue;
        sl_buf_reset(&sub);
        sl_buf_printf(&sub, "%s/%s", dir, de->d_name);
        rc = scan_level(sub.data, level + 1, parts, topic, out);
    }
    sl_buf_free(&sub);
    closedir(d);
    return rc;
}

int sl_lake_scan(const char *root, const char *topic, sl_lake_list *out)
{
    if (!sl_lake_topic_ok(topic))
        return SL_ERR_CONFIG;
    sl_buf dir = SL_BUF_INIT;
    sl_buf_printf(&dir, "%s/%s", root, topic);
    int parts[4];
    int rc = scan_level(dir.data, 0, parts, topic, out);
    sl_buf_free(&dir);
    return rc;
}

void sl_lake_list_free(sl_lake_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].dir);
        free(l->v[i].name);
    }
    free(l->v);
    *l = (sl_lake_list){ 0 };
}

void sl_lake_entry_path(const sl_lake_entry *e, sl_buf *out)
{
    sl_buf_reset(out);
    sl_buf_printf(out, "%s/%s", e->dir, e->name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int sl_lake_topics(const char *root, char ***topics, size_t *n)
{
    *topics = NULL;
    *n = 0;
    DIR *d = opendir(root);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!sl_lake_topic_ok(de->d_name) || !is_dir(dirfd(d), de))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *topics = sl_realloc(*topics, cap * sizeof **topics);
        }
        (*topics)[(*n)++] = sl_strdup(de->d_name);
    }
    closedir(d);
    if (*n)
        qsort(*topics, *n, sizeof **topics, cmp_str);
    return 0;
}

/* ---- recovery and resume ---------------------------------------------------- */

static bool covered(const sl_lake_list *l, const sl_lake_entry *e)
{
    for (size_t i = 0; i < l->n; i++) {
        const sl_lake_entry *o = &l->v[i];
        if (o->kind == SL_LAKE_DATA && o->partition == e->partition && o->start <= e->start &&
            e->end <= o->end && strcmp(o->dir, e->dir) == 0)
            return true;
    }
    return false;
}

int sl_lake_recover(const char *root, const char *topic, int32_t partition, bool remove_merging,
                    size_t *fixed)
{
    sl_lake_list l = { 0 };
    int rc = sl_lake_scan(root, topic, &l);
    sl_buf path = SL_BUF_INIT, back = SL_BUF_INIT;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        sl_lake_entry *e = &l.v[i];
        if (partition >= 0 && e->partition != partition)
            continue;
        sl_lake_entry_path(e, &path);
        if (e->kind == SL_LAKE_MERGING && remove_merging) {
            if (unlink(path.data) < 0 && errno != ENOENT)
                rc = -errno;
        } else if (e->kind == SL_LAKE_COMPACTED) {
            if (covered(&l, e)) {
                if (unlink(path.data) < 0 && errno != ENOENT)
                    rc = -errno;
            } else {
                /* The merged file never appeared: the input is visible again. */
                sl_buf_reset(&back);
                sl_buf_printf(&back, "%s/", e->dir);
                sl_lake_name_format(&back, SL_LAKE_DATA, topic, e->partition, e->start, e->end);
                rc = sl_lake_rename_noreplace(path.data, back.data);
                if (rc == -EEXIST) /* both names: the visible one is the same file */
                    rc = unlink(path.data) < 0 ? -errno : 0;
            }
        } else {
            continue;
        }
        if (rc == 0) {
            if (fixed)
                (*fixed)++;
            rc = sl_lake_fsync_dir(e->dir);
        }
    }
    sl_buf_free(&path);
    sl_buf_free(&back);
    sl_lake_list_free(&l);
    return rc;
}

int64_t sl_lake_resume_offset(const sl_lake_list *l, int32_t partition, sl_buf *newest)
{
    int64_t best = -1;
    const sl_lake_entry *which = NULL;
    for (size_t i = 0; i < l->n; i++) {
        const sl_lake_entry *e = &l->v[i];
        if (e->partition != partition || (e->kind != SL_LAKE_DATA && e->kind != SL_LAKE_COMPACTED))
            continue;
        if (e->end + 1 > best)
            best = e->end + 1;
        if (e->kind == SL_LAKE_DATA && (!which || e->end > which->end))
            which = e;
    }
    if (newest) {
        sl_buf_reset(newest);
        if (which)
            sl_lake_entry_path(which, newest);
    }
    return best;
}

/* ---- footers ------------------------------------------------------------------ */

static int pread_full(int fd, void *buf, size_t n, off_t off)
{
    char *p = buf;
    while (n > 0) {
        ssize_t k = pread(fd, p, n, off);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (k == 0)
            return SL_ERR_CORRUPT;
        p += k;
        n -= (size_t)k;
        off += k;
    }
    return 0;
}

static sl_parquet_type element_type(const sl_parquet_schema_element *e)
{
    switch (e->type) {
    case SL_PQ_BOOLEAN: return SL_PARQUET_BOOLEAN;
    case SL_PQ_INT32: return SL_PARQUET_INT32;
    case SL_PQ_INT64:
        return (e->logical_type == SL_PQ_LT_TIMESTAMP ||
                e->converted_type == SL_PQ_CT_TIMESTAMP_MICROS ||
                e->converted_type == SL_PQ_CT_TIMESTAMP_MILLIS)
                   ? SL_PARQUET_TIMESTAMP
                   : SL_PARQUET_INT64;
    case SL_PQ_FLOAT:
    case SL_PQ_DOUBLE: return SL_PARQUET_DOUBLE;
    default: return SL_PARQUET_STRING;
    }
}

static int64_t le64(const char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | (uint8_t)p[i];
    return (int64_t)v;
}

int sl_lake_footer_read(const char *path, sl_lake_footer *out)
{
    memset(out, 0, sizeof *out);
    out->codec = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    char tail[8], *footer = NULL;
    sl_parquet_arena arena = { 0 };
    int rc;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto done;
    }
    if (st.st_size < 12) {
        rc = SL_ERR_CORRUPT;
        goto done;
    }
    if ((rc = pread_full(fd, tail, 8, st.st_size - 8)) < 0)
        goto done;
    uint32_t flen = (uint32_t)(uint8_t)tail[0] | (uint32_t)(uint8_t)tail[1] << 8 |
                    (uint32_t)(uint8_t)tail[2] << 16 | (uint32_t)(uint8_t)tail[3] << 24;
    if (memcmp(tail + 4, "PAR1", 4) != 0 || (int64_t)flen > st.st_size - 12) {
        rc = SL_ERR_CORRUPT;
        goto done;
    }
    footer = sl_malloc(flen ? flen : 1);
    if ((rc = pread_full(fd, footer, flen, st.st_size - 8 - flen)) < 0)
        goto done;
    sl_parquet_file_meta m;
    if (sl_parquet_file_meta_decode(footer, flen, &arena, &m) < 0 || m.num_rows < 0) {
        rc = SL_ERR_CORRUPT;
        goto done;
    }
    out->rows = m.num_rows;
    out->row_groups = m.n_row_groups;
    out->schema = SL_PARQUET_SCHEMA_INIT;
    bool have_schema = false;
    for (size_t i = 0; i < m.n_kv; i++) {
        const sl_parquet_key_value *kv = &m.kv[i];
        if (!kv->has_value)
            continue;
        if (sl_view_eq_str(kv->key, "sluice.schema"))
            have_schema = sl_parquet_schema_from_json(&out->schema, kv->value) == 0;
        else if (sl_view_eq_str(kv->key, SL_LAKE_KV_TIMEZONE) && kv->value.len < 16) {
            char tz[16];
            memcpy(tz, kv->value.ptr, kv->value.len);
            tz[kv->value.len] = 0;
            if (sl_lake_timezone_parse(tz, &out->tz_offset_s) < 0)
                out->tz_offset_s = 0;
        }
    }
    if (!have_schema) { /* a foreign file: its flat leaves */
        sl_parquet_schema_free(&out->schema);
        for (size_t i = 1; i < m.n_schema; i++)
            if (m.schema[i].num_children <= 0)
                sl_parquet_schema_add(&out->schema, m.schema[i].name.ptr, m.schema[i].name.len,
                                      element_type(&m.schema[i]));
    }
    /* ts statistics: the column named ts of type timestamp. */
    int ts_col = sl_parquet_schema_find(&out->schema, "ts", 2);
    if (ts_col >= 0 && out->schema.cols[ts_col].type != SL_PARQUET_TIMESTAMP)
        ts_col = -1;
    for (size_t g = 0; g < m.n_row_groups; g++) {
        const sl_parquet_row_group *rg = &m.row_groups[g];
        if (g == 0 && rg->n_columns > 0 && rg->columns[0].has_meta)
            out->codec = rg->columns[0].meta.codec;
        if (ts_col < 0 || (size_t)ts_col >= rg->n_columns || !rg->columns[ts_col].has_meta)
            continue;
        const sl_parquet_statistics *s = &rg->columns[ts_col].meta.statistics;
        if (!rg->columns[ts_col].meta.has_statistics || !s->has_min || !s->has_max ||
            s->min_value.len != 8 || s->max_value.len != 8)
            continue;
        int64_t lo = le64(s->min_value.ptr), hi = le64(s->max_value.ptr);
        if (!out->has_ts || lo < out->min_ts)
            out->min_ts = lo;
        if (!out->has_ts || hi > out->max_ts)
            out->max_ts = hi;
        out->has_ts = true;
    }
    rc = 0;
done:
    sl_parquet_arena_free(&arena);
    free(footer);
    close(fd);
    if (rc < 0)
        sl_lake_footer_free(out);
    return rc;
}

void sl_lake_footer_free(sl_lake_footer *f)
{
    sl_parquet_schema_free(&f->schema);
    f->schema = SL_PARQUET_SCHEMA_INIT;
}
