/*
 * lake.h - the lake on disk: where files go, what they are called, and the
 * few file-system moves that make a file appear exactly once.
 *
 * The lake output (src/output/lake/), `sluice lake` (src/cli/cmd_lake.c)
 * and compaction (lake_compact.c) all go through this module, so the
 * layout is decided in one place:
 *
 *   <root>/<topic>/year=2026/month=1/day=11/hour=9/
 *       logs.raw+0+0000000000+0000009999.parquet     rows of offsets 0..9999
 *       logs.raw+0+0000010000+0000012345.parquet     (inclusive ranges)
 *       .logs.raw+1+0000004000+0000004999.parquet.tmp        being written
 *       .logs.raw+2+0000000000+0000050000.parquet.merging    compaction output
 *       .logs.raw+2+0000000000+0000020000.parquet.compacted  compaction input
 *   <root>/.sluice-lake.lock                          flock: compaction commits
 *
 * Directory numbers are unpadded (month=1), as Hive and Spark write them.
 * File names carry the topic, the partition and the first and last offset
 * the file covers, zero-padded to ten digits (as Kafka Connect's HDFS and
 * S3 sinks do) so a directory lists in offset order. Every name that is not
 * a finished file starts with a dot (Spark and Hive skip those) and ends in
 * something other than `.parquet` (DuckDB's glob lists dot files, but a
 * pattern ending in `*.parquet` never matches one).
 *
 * Nothing taken from an event becomes a path component: a path is built
 * from the root, a topic name (from the configuration, checked by
 * sl_lake_topic_ok) and numbers.
 *
 * Functions return 0 or a negative code (-errno for I/O, SL_ERR_* else).
 */
#ifndef SL_LAKE_H
#define SL_LAKE_H

#include "core/buf.h"
#include "core/common.h"
#include "lake/parquet/schema.h"

/* Offsets in file names are zero-padded to this many digits (longer when they need it). */
#define SL_LAKE_OFFSET_DIGITS 10

/* The lock compaction holds while it swaps files (and resume while it scans). */
#define SL_LAKE_LOCK_NAME ".sluice-lake.lock"

/* Key-value metadata the lake writes into every file. */
#define SL_LAKE_KV_TOPIC     "sluice.topic"
#define SL_LAKE_KV_PARTITION "sluice.partition"
#define SL_LAKE_KV_START     "sluice.start_offset"
#define SL_LAKE_KV_END       "sluice.end_offset"
#define SL_LAKE_KV_TIMEZONE  "sluice.timezone"
#define SL_LAKE_KV_COMPACTED "sluice.compacted_files"

/* ---- names -------------------------------------------------------------- */

/* A topic name that is safe as one path component: [A-Za-z0-9._-], 1..200
   bytes, not starting with '.' (which would hide it from readers). */
bool sl_lake_topic_ok(const char *topic);

typedef enum sl_lake_file_kind {
    SL_LAKE_DATA = 1,      /* <name>.parquet: a finished file, visible to readers */
    SL_LAKE_TMP,           /* .<name>.parquet.tmp: the output writing a file */
    SL_LAKE_MERGING,       /* .<name>.parquet.merging: compaction writing its output */
    SL_LAKE_COMPACTED,     /* .<name>.parquet.compacted: an input compaction has hidden */
} sl_lake_file_kind;

typedef struct sl_lake_name {
    sl_lake_file_kind kind;
    sl_view topic;         /* points into the parsed name */
    int32_t partition;
    int64_t start, end;    /* inclusive */
} sl_lake_name;

/* Append `<topic>+<partition>+<start>+<end>.parquet` (kind decides the dot and suffix). */
void sl_lake_name_format(sl_buf *out, sl_lake_file_kind kind, const char *topic,
                         int32_t partition, int64_t start, int64_t end);
/* Parse a directory entry's name. 0, or SL_ERR_PARSE for anything that is not
   exactly one of the four shapes with 0 <= start <= end. */
int sl_lake_name_parse(const char *name, size_t len, sl_lake_name *out);

/* ---- event time and hours ---------------------------------------------- */

/* Event times the lake places (years 1..9999); others are rejected. */
#define SL_LAKE_TS_MIN (-62135596800LL * 1000000)  /* 0001-01-01T00:00:00Z */
#define SL_LAKE_TS_MAX (253402300799LL * 1000000 + 999999) /* 9999-12-31T23:59:59.999999Z */

/*
 * "UTC", "Z", or a fixed offset "+09:00", "-05:30", "+0900", "+09" (at most
 * 18 hours). Named zones with daylight saving are not supported: an hour
 * directory must name one hour. 0 or SL_ERR_PARSE.
 */
int sl_lake_timezone_parse(const char *text, int32_t *offset_s);
/* "UTC" or "+09:00"; out holds at least 8 bytes. */
void sl_lake_timezone_format(int32_t offset_s, char *out, size_t n);

/* Can the lake place this event time? Its local time (in the lake's zone)
   must fall in years 1..9999, or there is no directory to name. */
static inline bool sl_lake_ts_ok(int64_t ts_us, int32_t tz_offset_s)
{
    return ts_us >= SL_LAKE_TS_MIN - (int64_t)tz_offset_s * 1000000 &&
           ts_us <= SL_LAKE_TS_MAX - (int64_t)tz_offset_s * 1000000;
}

/* The hour of an event: hours since 1970-01-01T00:00 in the lake's zone. */
static inline int64_t sl_lake_hour_of(int64_t ts_us, int32_t tz_offset_s)
{
    int64_t t = ts_us + (int64_t)tz_offset_s * 1000000;
    int64_t h = t / 3600000000LL;
    return (t % 3600000000LL < 0) ? h - 1 : h;
}

typedef struct sl_lake_hour {
    int year, month, day, hour; /* month 1..12, day 1..31, hour 0..23 */
} sl_lake_hour;

void sl_lake_hour_civil(int64_t hour_key, sl_lake_hour *out);
/* The inverse; SL_ERR_PARSE for an impossible date. */
int sl_lake_hour_key(const sl_lake_hour *h, int64_t *hour_key);

/* Append "<root>/<topic>/year=Y/month=M/day=D/hour=H". SL_ERR_CONFIG for a bad topic. */
int sl_lake_hour_dir(sl_buf *out, const char *root, const char *topic, int64_t hour_key);

/* ---- durable file-system moves ------------------------------------------ */

/* fsync a directory (its entries). */
int sl_lake_fsync_dir(const char *path);
/*
 * Create dir and any missing parents, syncing each parent whose entries
 * changed so the new directory survives a crash.
 */
int sl_lake_mkdirs(const char *dir);
/* rename without replacing an existing target (-EEXIST); renameat2 with a link+unlink fallback. */
int sl_lake_rename_noreplace(const char *from, const char *to);

/* The lake lock (blocking flock on <root>/.sluice-lake.lock). Returns an fd >= 0 or <0. */
int sl_lake_lock(const char *root, bool wait);
void sl_lake_unlock(int fd);

/* ---- scanning -------------------------------------------------------------- */

/* One file of the lake, as a scan found it. Strings owned by the list. */
typedef struct sl_lake_entry {
    char *dir;            /* the hour directory */
    char *name;           /* the entry's name */
    sl_lake_file_kind kind;
    int32_t partition;
    int64_t start, end;
    int64_t hour;         /* hour key of the directory */
    int64_t size;         /* bytes */
} sl_lake_entry;

typedef struct sl_lake_list {
    sl_lake_entry *v;
    size_t n, cap;
} sl_lake_list;

/*
 * Append every lake file of topic (all four kinds) under <root>/<topic>.
 * Only directories named year=/month=/day=/hour= with valid numbers are
 * entered, symbolic links are not followed, and names of other topics or
 * shapes are ignored. A missing topic directory is an empty lake (0).
 */
int sl_lake_scan(const char *root, const char *topic, sl_lake_list *out);
void sl_lake_list_free(sl_lake_list *l);
/* Full path of an entry into out (reset first). */
void sl_lake_entry_path(const sl_lake_entry *e, sl_buf *out);

/* The topic directories under root (valid names only), sorted. Free each and the array. */
int sl_lake_topics(const char *root, char ***topics, size_t *n);

/*
 * Put the lake back in a state with no compaction in progress (call with
 * the lock held): a hidden input (.compacted) covered by a finished file
 * of the same partition in its directory is removed, any other is renamed
 * back. With remove_merging, unfinished compaction outputs are removed too.
 * partition < 0 = every partition. counts (may be NULL) += entries fixed.
 */
int sl_lake_recover(const char *root, const char *topic, int32_t partition, bool remove_merging,
                    size_t *fixed);

/*
 * Where a partition resumes: 1 + the highest end offset among its finished
 * files and hidden compaction inputs (which hold rows not yet elsewhere),
 * or -1 when it has none. newest (may be NULL) receives the path of the
 * finished file with the highest end, for the schema.
 */
int64_t sl_lake_resume_offset(const sl_lake_list *l, int32_t partition, sl_buf *newest);

/* ---- footers -------------------------------------------------------------- */

/* What the lake needs from a file's footer, read without reading its data. */
typedef struct sl_lake_footer {
    int64_t rows;
    size_t row_groups;
    sl_parquet_schema schema;   /* owned: sl_lake_footer_free */
    int codec;                  /* of the first column chunk; -1 without row groups */
    int32_t tz_offset_s;        /* sluice.timezone, 0 when absent */
    bool has_ts;                /* min/max of the ts column's statistics */
    int64_t min_ts, max_ts;
} sl_lake_footer;

/* 0, -errno, or SL_ERR_CORRUPT (not Parquet, damaged footer). */
int sl_lake_footer_read(const char *path, sl_lake_footer *out);
void sl_lake_footer_free(sl_lake_footer *f);

#endif
