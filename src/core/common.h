/*
 * common.h - the few types and helpers every sluice module uses.
 *
 * sl_view is a borrowed (pointer, length) slice into someone else's bytes:
 * the hot path passes views into a request or batch buffer instead of
 * copying fields out. Nothing frees a view; its lifetime is the buffer's.
 *
 * Errors are values: functions return 0 on success and a negative code on
 * failure. Codes below -1000 are sluice's own; others are -errno, so an
 * -ENOSPC from fsync stays distinguishable from a parse error.
 */
#ifndef SL_COMMON_H
#define SL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct sl_view {
    const char *ptr;
    size_t len;
} sl_view;

#define SL_VIEW_LIT(s) ((sl_view){ (s), sizeof(s) - 1 })
#define SL_VIEW_NULL   ((sl_view){ NULL, 0 })

static inline sl_view sl_view_of(const char *s)
{
    return (sl_view){ s, s ? strlen(s) : 0 };
}

static inline bool sl_view_eq(sl_view a, sl_view b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline bool sl_view_eq_str(sl_view a, const char *s)
{
    return sl_view_eq(a, sl_view_of(s));
}

/* sluice's own error codes (negative, below any -errno). */
enum {
    SL_ERR             = -1000, /* generic failure, see the log */
    SL_ERR_NOTOPIC     = -1001, /* topic is not declared */
    SL_ERR_NOPARTITION = -1002, /* partition out of range */
    SL_ERR_FULL        = -1003, /* backpressure: the log cannot accept now */
    SL_ERR_CORRUPT     = -1004, /* on-disk data failed a CRC or a bound */
    SL_ERR_PARSE       = -1005, /* malformed input */
    SL_ERR_TOOBIG      = -1006, /* over a configured size limit */
    SL_ERR_CLOSED      = -1007, /* the object is shutting down */
    SL_ERR_TIMEOUT     = -1008, /* waited and nothing came */
    SL_ERR_RANGE       = -1009, /* offset out of the available range */
    SL_ERR_CONFIG      = -1010, /* invalid configuration */
};

/* A static, human-readable name for an error code (sluice's or -errno). */
const char *sl_strerror(int code);

#define SL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SL_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define SL_MAX(a, b)    ((a) > (b) ? (a) : (b))
#define SL_UNUSED(x)    ((void)(x))

/* Wall clock and monotonic clock. */
int64_t sl_now_us(void);       /* microseconds since the Unix epoch */
int64_t sl_mono_us(void);      /* monotonic microseconds, for durations */

#endif
