/* logging.c - leveled, tagged diagnostic lines with repeat folding. */
#include "core/logging.h"
#include "core/common.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

sl_log_level sl_log_min_level = SL_LOG_INFO;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_line[512];
static unsigned last_repeats;
static int64_t last_time_us;

static const char *level_names[] = { "debug", "info ", "warn ", "error" };

void sl_log_set_level(sl_log_level level)
{
    sl_log_min_level = level;
}

int sl_log_parse_level(const char *name, sl_log_level *out)
{
    static const char *names[] = { "debug", "info", "warn", "error", "off" };
    for (int i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (sl_log_level)i;
            return 0;
        }
    return -1;
}

static void format_time(char *out, size_t n, int64_t us)
{
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03dZ", (int)(us / 1000 % 1000));
}

void sl_log_write(sl_log_level level, const char *tag, int errnum, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (errnum) {
        size_t len = strlen(msg);
        snprintf(msg + len, sizeof msg - len, ": %s",
                 sl_strerror(errnum > 0 ? -errnum : errnum));
    }

    int64_t now = sl_now_us();
    char when[40];
    pthread_mutex_lock(&log_lock);
    if (strcmp(msg, last_line) == 0 && now - last_time_us < 1000000) {
        last_repeats++;
        pthread_mutex_unlock(&log_lock);
        return;
    }
    format_time(when, sizeof when, now);
    if (last_repeats)
        fprintf(stderr, "%s %s [%s] (last message repeated %u times)\n", when,
                level_names[level], tag, last_repeats);
    fprintf(stderr, "%s %s [%s] %s\n", when, level_names[level], tag, msg);
    snprintf(last_line, sizeof last_line, "%s", msg);
    last_repeats = 0;
    last_time_us = now;
    pthread_mutex_unlock(&log_lock);
}
