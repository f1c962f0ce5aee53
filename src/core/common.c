/* common.c - error names and clocks (see common.h). */
#include "core/common.h"

#include <string.h>
#include <time.h>

const char *sl_strerror(int code)
{
    switch (code) {
    case 0:                  return "ok";
    case SL_ERR:             return "failed";
    case SL_ERR_NOTOPIC:     return "topic is not declared";
    case SL_ERR_NOPARTITION: return "partition does not exist";
    case SL_ERR_FULL:        return "log cannot accept now (backpressure)";
    case SL_ERR_CORRUPT:     return "data is corrupt";
    case SL_ERR_PARSE:       return "malformed input";
    case SL_ERR_TOOBIG:      return "over the size limit";
    case SL_ERR_CLOSED:      return "shutting down";
    case SL_ERR_TIMEOUT:     return "timed out";
    case SL_ERR_RANGE:       return "offset out of range";
    case SL_ERR_CONFIG:      return "invalid configuration";
    default:
        if (code < 0 && code > -1000)
            return strerror(-code);
        return "unknown error";
    }
}

int64_t sl_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sl_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
