/*
 * logging.h - sluice's own diagnostic log (to stderr), not the event log.
 *
 * Lines look like `2026-11-21T10:00:00.123Z warn  [collector:http] message`.
 * The macros test the level before formatting anything, take the stage tag
 * as an argument, and SL_LOG_ERRNO appends strerror of the errno value
 * given (never the global, which may have changed). Identical messages
 * repeated within a second are folded into one "(repeated N times)" line.
 */
#ifndef SL_LOGGING_H
#define SL_LOGGING_H

typedef enum { SL_LOG_DEBUG, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR, SL_LOG_OFF } sl_log_level;

extern sl_log_level sl_log_min_level;

void sl_log_set_level(sl_log_level level);
/* Parse "debug|info|warn|error|off"; returns 0 or -1. */
int  sl_log_parse_level(const char *name, sl_log_level *out);
void sl_log_write(sl_log_level level, const char *tag, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define SL_LOG_AT(level, tag, errnum, ...)                                     \
    do {                                                                       \
        if ((level) >= sl_log_min_level)                                       \
            sl_log_write((level), (tag), (errnum), __VA_ARGS__);               \
    } while (0)

#define SL_DEBUG(tag, ...) SL_LOG_AT(SL_LOG_DEBUG, tag, 0, __VA_ARGS__)
#define SL_INFO(tag, ...)  SL_LOG_AT(SL_LOG_INFO, tag, 0, __VA_ARGS__)
#define SL_WARN(tag, ...)  SL_LOG_AT(SL_LOG_WARN, tag, 0, __VA_ARGS__)
#define SL_ERROR(tag, ...) SL_LOG_AT(SL_LOG_ERROR, tag, 0, __VA_ARGS__)
/* errnum is a positive errno value (or a negative sluice/-errno code). */
#define SL_LOG_ERRNO(level, tag, errnum, ...) SL_LOG_AT(level, tag, errnum, __VA_ARGS__)

#endif
