/*
 * format.c - the number and timestamp writers generator kinds use.
 *
 * Emission is the generator's hot loop (several million events/s), so
 * numbers and instants are written by hand into reserved space instead of
 * through snprintf and gmtime_r: a two-digits-at-a-time integer writer and
 * Howard Hinnant's days-to-civil-date arithmetic, which needs no tables and
 * no time zone lookups.
 *
 * The timestamp shapes are the ones seed 004 saw in the wild, so that the
 * collector's normaliser is exercised with all of them (--ts-format mixed):
 *
 *   ISO Z        "2024-01-15T10:30:00.123Z"         milliseconds
 *   ISO +09:00   "2024-01-15T19:30:00.123+09:00"    same instant, local wall time
 *   epoch s      1705314600.123456                  the seed's pitfall (a float)
 *   epoch ms     1705314600123
 *   epoch us     1705314600123456
 *   epoch ns     1705314600123456000
 */
#include "gen/kind.h"

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

char *sl_gen_put_u64(char *p, uint64_t v)
{
    char tmp[20];
    char *t = tmp + sizeof tmp;
    while (v >= 100) {
        unsigned k = (unsigned)(v % 100) * 2;
        v /= 100;
        *--t = digit_pairs[k + 1];
        *--t = digit_pairs[k];
    }
    if (v >= 10) {
        *--t = digit_pairs[v * 2 + 1];
        *--t = digit_pairs[v * 2];
    } else {
        *--t = (char)('0' + v);
    }
    size_t n = (size_t)(tmp + sizeof tmp - t);
    memcpy(p, t, n);
    return p + n;
}

char *sl_gen_put_fixed(char *p, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

static inline char *put2(char *p, unsigned v)
{
    p[0] = digit_pairs[v * 2];
    p[1] = digit_pairs[v * 2 + 1];
    return p + 2;
}

/* Days since 1970-01-01 to a proleptic Gregorian date (Hinnant's
 * civil_from_days): valid for any day, no loops, no tables. */
static void civil_from_days(int64_t z, int64_t *year, unsigned *month, unsigned *day)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *day = doy - (153 * mp + 2) / 5 + 1;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *year = (int64_t)yoe + era * 400 + (*month <= 2);
}

/* "YYYY-MM-DDTHH:MM:SS.mmm" of the wall time us (already shifted to its zone). */
static char *put_iso_wall(char *p, int64_t us)
{
    int64_t secs = us / 1000000;
    unsigned ms = (unsigned)(us % 1000000 / 1000);
    int64_t days = secs / 86400;
    unsigned sod = (unsigned)(secs % 86400);
    int64_t y;
    unsigned mo, d;
    civil_from_days(days, &y, &mo, &d);
    p = sl_gen_put_fixed(p, (uint64_t)y % 10000, 4);
    *p++ = '-';
    p = put2(p, mo);
    *p++ = '-';
    p = put2(p, d);
    *p++ = 'T';
    p = put2(p, sod / 3600);
    *p++ = ':';
    p = put2(p, sod / 60 % 60);
    *p++ = ':';
    p = put2(p, sod % 60);
    *p++ = '.';
    return sl_gen_put_fixed(p, ms, 3);
}

sl_gen_ts_shape sl_gen_ts_shape_of(sl_gen_ts_format f, uint64_t index)
{
    switch (f) {
    case SL_GEN_TS_EPOCH:    return SL_GEN_SHAPE_EPOCH_S;
    case SL_GEN_TS_EPOCH_MS: return SL_GEN_SHAPE_EPOCH_MS;
    case SL_GEN_TS_MIXED:    return (sl_gen_ts_shape)(index % SL_GEN_SHAPE_COUNT);
    case SL_GEN_TS_ISO:
    default:                 return SL_GEN_SHAPE_ISO_Z;
    }
}

char *sl_gen_put_ts(char *p, const sl_gen_event *ev)
{
    /* Instants before 1970 never come out of a run (--start refuses them);
     * clamping keeps the unsigned writers below simple. */
    int64_t us = ev->ts_us < 0 ? 0 : ev->ts_us;
    switch (sl_gen_ts_shape_of(ev->ts_format, ev->index)) {
    case SL_GEN_SHAPE_ISO_Z:
        *p++ = '"';
        p = put_iso_wall(p, us);
        SL_GEN_PUT_LIT(p, "Z\"");
        return p;
    case SL_GEN_SHAPE_ISO_P9:
        *p++ = '"';
        p = put_iso_wall(p, us + INT64_C(9) * 3600 * 1000000);
        SL_GEN_PUT_LIT(p, "+09:00\"");
        return p;
    case SL_GEN_SHAPE_EPOCH_S:
        p = sl_gen_put_u64(p, (uint64_t)us / 1000000);
        *p++ = '.';
        return sl_gen_put_fixed(p, (uint64_t)us % 1000000, 6);
    case SL_GEN_SHAPE_EPOCH_MS:
        return sl_gen_put_u64(p, (uint64_t)us / 1000);
    case SL_GEN_SHAPE_EPOCH_US:
        return sl_gen_put_u64(p, (uint64_t)us);
    case SL_GEN_SHAPE_EPOCH_NS:
    default:
        return sl_gen_put_u64(p, (uint64_t)us * 1000);
    }
}
