/*
 * timestamp.c - event timestamps in every shape senders use (see
 * timestamp.h).
 *
 * Everything becomes microseconds since the Unix epoch, UTC. Calendar
 * dates go through days-from-civil arithmetic on the proleptic Gregorian
 * calendar (Howard Hinnant's algorithms), never through timegm or mktime:
 * those consult the process's time zone and locale, and the answer must not
 * depend on where sluice runs.
 *
 * Epoch numbers are read digit by digit rather than through a double: a
 * nanosecond timestamp has 19 significant digits and a double keeps 15-17,
 * which would lose the microseconds. The digits are kept as text with a
 * decimal point position, the exponent moves the point, and the integer
 * part then says which unit the sender meant. Results are truncated toward
 * zero at the microsecond.
 *
 * Accepted instants span years 0000 to 9999, the range sl_timestamp_format_iso
 * writes with four year digits; anything outside is an error, not a date.
 */
#include "core/timestamp.h"
#include "core/buf.h"
#include "core/json.h"

#include <stdio.h>

#define US_PER_SEC INT64_C(1000000)
#define US_PER_DAY (INT64_C(86400) * US_PER_SEC)
/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z. */
#define MIN_US (INT64_C(-62167219200) * US_PER_SEC)
#define MAX_US (INT64_C(253402300800) * US_PER_SEC - 1)

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1-12, d 1-31). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);                   /* [0, 399] */
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;       /* [0, 146096] */
    return era * 146097 + (int64_t)doe - 719468;
}

/* The inverse: the date of a day count. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned char days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static inline bool is_digit(char c)
{
    return (unsigned)(c - '0') < 10;
}

/* Exactly n digits at s[*i]; advances *i. */
static bool read_digits(const char *s, size_t len, size_t *i, int n, int *out)
{
    if (len - *i < (size_t)n)
        return false;
    int v = 0;
    for (int k = 0; k < n; k++) {
        char c = s[*i + (size_t)k];
        if (!is_digit(c))
            return false;
        v = v * 10 + (c - '0');
    }
    *i += (size_t)n;
    *out = v;
    return true;
}

/*
 * YYYY-MM-DD[(T|t|' ')HH:MM[:SS[(.|,)F{1,9}]]][Z|z|(+|-)HH[[:]MM]].
 * RFC 3339 is the strict subset with seconds and a zone; the rest is what
 * ISO-8601 allows and senders write (a date alone, no zone meaning UTC).
 */
int sl_timestamp_parse_iso(const char *s, size_t n, int64_t *us)
{
    int year, month, day, hour = 0, minute = 0, second = 0, frac_us = 0;
    bool has_time = false;
    size_t i = 0;

    if (!s || !read_digits(s, n, &i, 4, &year) || i >= n || s[i++] != '-' ||
        !read_digits(s, n, &i, 2, &month) || i >= n || s[i++] != '-' ||
        !read_digits(s, n, &i, 2, &day))
        return SL_ERR_PARSE;
    if (month < 1 || month > 12 || day < 1 || (unsigned)day > days_in_month(year, (unsigned)month))
        return SL_ERR_PARSE;

    if (i < n && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
        i++;
        has_time = true;
        if (!read_digits(s, n, &i, 2, &hour) || i >= n || s[i++] != ':' ||
            !read_digits(s, n, &i, 2, &minute))
            return SL_ERR_PARSE;
        if (i < n && s[i] == ':') {
            i++;
            if (!read_digits(s, n, &i, 2, &second))
                return SL_ERR_PARSE;
            if (i < n && (s[i] == '.' || s[i] == ',')) {
                int digits = 0;
                for (i++; i < n && is_digit(s[i]); i++, digits++)
                    if (digits < 6)
                        frac_us = frac_us * 10 + (s[i] - '0');
                if (digits < 1 || digits > 9)
                    return SL_ERR_PARSE;
                for (int k = digits; k < 6; k++)
                    frac_us *= 10;
            }
        }
        /* 60 is a leap second: it counts as the first second of the next minute. */
        if (hour > 23 || minute > 59 || second > 60)
            return SL_ERR_PARSE;
    }

    int offset_s = 0;
    if (!has_time) {
        /* A zone belongs to a time of day; a bare date is midnight UTC. */
    } else if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i++] == '-' ? -1 : 1, oh, om = 0;
        if (!read_digits(s, n, &i, 2, &oh))
            return SL_ERR_PARSE;
        if (i < n && s[i] == ':') {
            i++;
            if (!read_digits(s, n, &i, 2, &om))
                return SL_ERR_PARSE;
        } else if (i < n) {
            if (!read_digits(s, n, &i, 2, &om))
                return SL_ERR_PARSE;
        }
        if (oh > 23 || om > 59)
            return SL_ERR_PARSE;
        offset_s = sign * (oh * 3600 + om * 60);
    }
    if (i != n)
        return SL_ERR_PARSE;

    int64_t secs = days_from_civil(year, (unsigned)month, (unsigned)day) * 86400 +
                   hour * 3600 + minute * 60 + second - offset_s;
    int64_t v = secs * US_PER_SEC + frac_us;
    if (v < MIN_US || v > MAX_US)
        return SL_ERR_PARSE;
    *us = v;
    return 0;
}

/*
 * The significant digits of an epoch number are kept as text: keep[] holds
 * the first KEEP of them (leading zeros dropped) and point says how many
 * belong before the decimal point once the exponent has moved it. Digits
 * past KEEP can only be fraction digits below the microsecond (the integer
 * part is at most 19 digits, the finest fraction needed 6 more), and those
 * are truncated anyway.
 */
#define KEEP 32

int sl_timestamp_parse_epoch(const char *s, size_t n, int64_t *us)
{
    char keep[KEEP];
    int nkeep = 0;        /* digits in keep[] */
    long sig = 0;         /* significant digits seen, kept or not */
    long point = 0;       /* position of the decimal point in the digits */
    bool neg = false, any = false;
    size_t i = 0;

    if (!s || n == 0)
        return SL_ERR_PARSE;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i++;
    }
    for (; i < n && is_digit(s[i]); i++) {
        any = true;
        if (sig == 0 && s[i] == '0')
            continue;
        if (nkeep < KEEP)
            keep[nkeep++] = s[i];
        sig++;
        point++;
    }
    if (!any)
        return SL_ERR_PARSE;
    if (i < n && s[i] == '.') {
        bool frac = false;
        for (i++; i < n && is_digit(s[i]); i++) {
            frac = true;
            if (sig == 0 && s[i] == '0') {
                point--; /* 0.000123: the point sits left of the first digit */
                continue;
            }
            if (nkeep < KEEP)
                keep[nkeep++] = s[i];
            sig++;
        }
        if (!frac)
            return SL_ERR_PARSE;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        long e = 0;
        bool edigits = false;
        for (; i < n && is_digit(s[i]); i++) {
            edigits = true;
            if (e < 100000)
                e = e * 10 + (s[i] - '0');
        }
        if (!edigits)
            return SL_ERR_PARSE;
        point += eneg ? -e : e;
    }
    if (i != n)
        return SL_ERR_PARSE;

    if (sig == 0) { /* zero, however written */
        *us = 0;
        return 0;
    }
    /* Beyond 19 integer digits even nanoseconds would be past year 2286. */
    if (point > 19)
        return SL_ERR_PARSE;

    /* digit(k): the k-th significant digit, 0 past the ones written. */
#define DIGIT(k) ((k) >= 0 && (k) < nkeep ? keep[(k)] - '0' : 0)
    uint64_t ipart = 0;
    for (long k = 0; k < point; k++)
        ipart = ipart * 10 + (uint64_t)DIGIT(k);

    int frac_digits; /* fraction digits that still count at this unit */
    uint64_t mult;
    if (ipart < UINT64_C(100000000000)) {           /* < 1e11: seconds */
        frac_digits = 6;
        mult = 1000000;
    } else if (ipart < UINT64_C(100000000000000)) { /* < 1e14: milliseconds */
        frac_digits = 3;
        mult = 1000;
    } else if (ipart < UINT64_C(100000000000000000)) { /* < 1e17: microseconds */
        frac_digits = 0;
        mult = 1;
    } else {                                        /* nanoseconds */
        frac_digits = 0;
        mult = 0;
    }
    uint64_t mag;
    if (mult == 0) {
        mag = ipart / 1000;
    } else {
        uint64_t frac = 0;
        for (int k = 0; k < frac_digits; k++)
            frac = frac * 10 + (uint64_t)DIGIT(point + k);
        mag = ipart * mult + frac;
    }
#undef DIGIT

    /* Every positive magnitude fits (1e11 s is year 5138); check the past. */
    if (mag > (uint64_t)MAX_US || (neg && mag > (uint64_t)-MIN_US))
        return SL_ERR_PARSE;
    *us = neg ? -(int64_t)mag : (int64_t)mag;
    return 0;
}

/* Whether string text looks like a calendar date rather than a number. */
static bool looks_iso(const char *s, size_t n)
{
    return n >= 10 && s[4] == '-';
}

int sl_timestamp_parse_json(sl_view value, int64_t *us)
{
    sl_view text;
    switch (sl_json_type_of(value)) {
    case SL_JSON_NUMBER: {
        size_t i = sl_json_skip_ws(value.ptr, value.len, 0), j = value.len;
        while (j > i && (value.ptr[j - 1] == ' ' || value.ptr[j - 1] == '\t' ||
                         value.ptr[j - 1] == '\n' || value.ptr[j - 1] == '\r'))
            j--;
        return sl_timestamp_parse_epoch(value.ptr + i, j - i, us);
    }
    case SL_JSON_STRING:
        if (sl_json_string_plain(value, &text))
            return looks_iso(text.ptr, text.len) ? sl_timestamp_parse_iso(text.ptr, text.len, us)
                                                 : sl_timestamp_parse_epoch(text.ptr, text.len, us);
        /* Escapes in a timestamp are odd but legal JSON: decode, then parse. */
        {
            sl_buf b = SL_BUF_INIT;
            int rc = sl_json_string_decode(value, &b);
            if (rc == 0)
                rc = looks_iso(b.data, b.len) ? sl_timestamp_parse_iso(b.data, b.len, us)
                                              : sl_timestamp_parse_epoch(b.data, b.len, us);
            sl_buf_free(&b);
            return rc;
        }
    default:
        return SL_ERR_PARSE;
    }
}

static void put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

void sl_timestamp_format_iso(int64_t us, char *out, size_t n)
{
    if (!out || n == 0)
        return;
    /* Floor division, so instants before 1970 keep a positive fraction. */
    int64_t days = us / US_PER_DAY, rem = us % US_PER_DAY;
    if (rem < 0) {
        rem += US_PER_DAY;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    unsigned secs = (unsigned)(rem / US_PER_SEC), frac = (unsigned)(rem % US_PER_SEC);

    if (y < 0 || y > 9999 || n < 28) {
        snprintf(out, n, "%04lld-%02u-%02uT%02u:%02u:%02u.%06uZ", (long long)y, m, d,
                 secs / 3600, secs / 60 % 60, secs % 60, frac);
        return;
    }
    /* The common case by hand: this runs once per event on the lake path. */
    char *p = out;
    put2(p, (unsigned)(y / 100));
    put2(p + 2, (unsigned)(y % 100));
    p[4] = '-';
    put2(p + 5, m);
    p[7] = '-';
    put2(p + 8, d);
    p[10] = 'T';
    put2(p + 11, secs / 3600);
    p[13] = ':';
    put2(p + 14, secs / 60 % 60);
    p[16] = ':';
    put2(p + 17, secs % 60);
    p[19] = '.';
    for (int k = 25; k >= 20; k--) {
        p[k] = (char)('0' + frac % 10);
        frac /= 10;
    }
    p[26] = 'Z';
    p[27] = '\0';
}
