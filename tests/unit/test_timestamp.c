/*
 * test_timestamp.c - one instant in every shape senders write it, the
 * inputs that must be refused, and two independent checks: ISO parsing
 * against glibc's timegm over thousands of random instants, and
 * format/parse round trips.
 *
 * The PRNG seed is fixed; SL_TEST_SEED=<n> mixes in another, and failures
 * print it.
 */
#include "core/timestamp.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* 2026-01-11T09:19:26.291045Z */
#define INSTANT INT64_C(1768123166291045)

static int64_t iso(const char *s)
{
    int64_t us = 0x7777;
    int rc = sl_timestamp_parse_iso(s, strlen(s), &us);
    cr_assert_eq(rc, 0, "ISO \"%s\" refused", s);
    return us;
}

static int64_t epoch(const char *s)
{
    int64_t us = 0x7777;
    int rc = sl_timestamp_parse_epoch(s, strlen(s), &us);
    cr_assert_eq(rc, 0, "epoch \"%s\" refused", s);
    return us;
}

static int64_t json(const char *s)
{
    int64_t us = 0x7777;
    int rc = sl_timestamp_parse_json(sl_view_of(s), &us);
    cr_assert_eq(rc, 0, "JSON %s refused", s);
    return us;
}

#define SAME(expr, want)                                                          \
    do {                                                                          \
        int64_t got_ = (expr);                                                    \
        cr_assert_eq(got_, (int64_t)(want), "%s = %lld, wanted %lld", #expr,      \
                     (long long)got_, (long long)(want));                         \
    } while (0)

Test(timestamp, one_instant_as_iso)
{
    SAME(iso("2026-01-11T09:19:26.291045Z"), INSTANT);
    SAME(iso("2026-01-11T18:19:26.291045+09:00"), INSTANT);
    SAME(iso("2026-01-11T18:19:26.291045+0900"), INSTANT);
    SAME(iso("2026-01-11T03:49:26.291045-05:30"), INSTANT);
    SAME(iso("2026-01-11T03:49:26.291045-0530"), INSTANT);
    SAME(iso("2026-01-11T18:19:26.291045+09"), INSTANT);
    SAME(iso("2026-01-11T09:19:26.291045+00:00"), INSTANT);
    SAME(iso("2026-01-11T09:19:26.291045-00:00"), INSTANT);
    SAME(iso("2026-01-11 09:19:26.291045Z"), INSTANT);
    SAME(iso("2026-01-11t09:19:26.291045z"), INSTANT);
    SAME(iso("2026-01-11T09:19:26.291045"), INSTANT);       /* no zone = UTC */
    SAME(iso("2026-01-11T09:19:26,291045Z"), INSTANT);      /* ISO decimal comma */
    /* Fractions of every length; beyond microseconds they are truncated. */
    SAME(iso("2026-01-11T09:19:26.2910451Z"), INSTANT);
    SAME(iso("2026-01-11T09:19:26.29104599Z"), INSTANT);
    SAME(iso("2026-01-11T09:19:26.291045999Z"), INSTANT);
    SAME(iso("2026-01-11T09:19:26.29104Z"), INSTANT - 5);
    SAME(iso("2026-01-11T09:19:26.291Z"), INSTANT - 45);
    SAME(iso("2026-01-11T09:19:26.29Z"), INSTANT - 1045);
    SAME(iso("2026-01-11T09:19:26.2Z"), INSTANT - 91045);
    SAME(iso("2026-01-11T09:19:26Z"), INSTANT - 291045);
    SAME(iso("2026-01-11T09:19Z"), INSTANT - 26291045);
    SAME(iso("2026-01-11"), INSTANT - (9 * 3600 + 19 * 60 + 26) * INT64_C(1000000) - 291045);
    /* Seed 004's shapes. */
    SAME(iso("2024-01-15T10:30:00.123Z"), INT64_C(1705314600123000));
    SAME(iso("2025-06-18 12:50:10"), INT64_C(1750251010000000));
}

Test(timestamp, one_instant_as_epoch_numbers)
{
    SAME(epoch("1768123166"), INSTANT - 291045);           /* seconds */
    SAME(epoch("1768123166.291045"), INSTANT);
    SAME(epoch("1768123166.2910459"), INSTANT);            /* truncated, not rounded */
    SAME(epoch("1768123166.29"), INSTANT - 1045);
    SAME(epoch("1768123166291"), INSTANT - 45);            /* milliseconds */
    SAME(epoch("1768123166291.045"), INSTANT);
    SAME(epoch("1768123166291.0459"), INSTANT);
    SAME(epoch("1768123166291045"), INSTANT);              /* microseconds */
    SAME(epoch("1768123166291045.9"), INSTANT);
    SAME(epoch("1768123166291045123"), INSTANT);           /* nanoseconds */
    SAME(epoch("1768123166291045999"), INSTANT);
    /* Exponents move the point before the unit is chosen. */
    SAME(epoch("1.768123166291045e9"), INSTANT);
    SAME(epoch("1.768123166291045E+9"), INSTANT);
    SAME(epoch("17681231662910.45e-1"), INSTANT);          /* = 1768123166291.045 ms */
    SAME(epoch("1768123166291045e-6"), INSTANT);           /* = seconds */
    SAME(epoch("1.768123166291045123e18"), INSTANT);       /* = nanoseconds */
    SAME(epoch("0.0001768123166291045e13"), INSTANT);
    SAME(epoch("1.7e9"), INT64_C(1700000000000000));
    SAME(epoch("001768123166"), INSTANT - 291045);
    SAME(epoch("+1768123166"), INSTANT - 291045);
    /* Numeric strings and JSON values go the same way. */
    SAME(json("1768123166.291045"), INSTANT);
    SAME(json("1768123166291"), INSTANT - 45);
    SAME(json("1768123166291045"), INSTANT);
    SAME(json("1768123166291045123"), INSTANT);
    SAME(json("1.768123166291045e9"), INSTANT);
    SAME(json("\"1768123166.291045\""), INSTANT);
    SAME(json("\"1768123166291\""), INSTANT - 45);
    SAME(json("\"1768123166291045123\""), INSTANT);
    SAME(json("\"2026-01-11T09:19:26.291045Z\""), INSTANT);
    SAME(json("\"2026-01-11T18:19:26.291045+09:00\""), INSTANT);
    SAME(json("\"2026-01-11T18:19:26.291045\\u002B09:00\""), INSTANT); /* escaped '+' */
    SAME(json(" 1768123166 "), INSTANT - 291045);
}

Test(timestamp, small_and_negative_epochs)
{
    SAME(epoch("0"), 0);
    SAME(epoch("-0"), 0);
    SAME(epoch("0.000001"), 1);
    SAME(epoch("0.0000009"), 0);
    SAME(epoch("-1.5"), -1500000);
    SAME(epoch("-0.0000019"), -1);                         /* toward zero */
    SAME(epoch("-1768123166291"), -(INSTANT - 45));        /* magnitude picks ms */
    SAME(epoch("-62167219200"), INT64_C(-62167219200000000)); /* 0000-01-01 */
    SAME(epoch("1e-9"), 0);
    SAME(epoch("0e5"), 0);
    SAME(epoch("99999999999"), INT64_C(99999999999000000)); /* the largest seconds */
    SAME(epoch("100000000000"), INT64_C(100000000000000));  /* the smallest ms */
    SAME(epoch("9999999999999999999"), INT64_C(9999999999999999)); /* 19 digits of ns */
}

Test(timestamp, calendar_ranges)
{
    SAME(iso("2024-02-29T00:00:00Z"), INT64_C(1709164800000000));
    SAME(iso("2000-02-29T12:00:00Z"), INT64_C(951825600000000));
    SAME(iso("1970-01-01T00:00:00Z"), 0);
    SAME(iso("1969-12-31T23:59:59.999999Z"), -1);
    SAME(iso("0000-01-01T00:00:00Z"), INT64_C(-62167219200000000));
    SAME(iso("9999-12-31T23:59:59.999999Z"), INT64_C(253402300799999999));
    /* A leap second is the first second of the next minute. */
    SAME(iso("2016-12-31T23:59:60Z"), iso("2017-01-01T00:00:00Z"));
    /* Offsets may carry an instant across a day or a year. */
    SAME(iso("2026-01-01T00:30:00+01:00"), iso("2025-12-31T23:30:00Z"));
}

static void refuse_iso(const char *s)
{
    int64_t us = 42;
    cr_assert_eq(sl_timestamp_parse_iso(s, strlen(s), &us), SL_ERR_PARSE, "ISO \"%s\" accepted", s);
    cr_assert_eq(us, 42, "output written on failure for \"%s\"", s);
}

static void refuse_epoch(const char *s)
{
    int64_t us = 42;
    cr_assert_eq(sl_timestamp_parse_epoch(s, strlen(s), &us), SL_ERR_PARSE,
                 "epoch \"%s\" accepted as %lld", s, (long long)us);
    cr_assert_eq(us, 42);
}

static void refuse_json(const char *s)
{
    int64_t us = 42;
    cr_assert_eq(sl_timestamp_parse_json(sl_view_of(s), &us), SL_ERR_PARSE,
                 "JSON %s accepted as %lld", s, (long long)us);
}

Test(timestamp, invalid_inputs_are_refused)
{
    static const char *const bad_iso[] = {
        "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-02-30", "2026-02-29",
        "1900-02-29", "2026-04-31T00:00:00Z", "2026-01-00", "2026-01-32",
        "2026-01-11T24:00:00Z", "2026-01-11T23:60:00Z", "2026-01-11T23:59:61Z",
        "2026-01-11T09:19:26.Z", "2026-01-11T09:19:26.1234567890Z", "2026-01-11T09:19:26Zx",
        "2026-01-11T09:19:26+24:00", "2026-01-11T09:19:26+09:60", "2026-01-11T09:19:26+9",
        "2026-01-11T09:19:26+09:0", "2026-01-11T09:19:26+09:000", "2026-01-11T", "2026-01-11T9:19:26Z",
        "2026-1-11", "26-01-11", "2026/01/11", "2026-01-11Z", "2026-01-11 ", " 2026-01-11",
        "2026-01-11T09", "2026-01-11T09:1", "abc", "", "\xff\xfe",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad_iso); i++)
        refuse_iso(bad_iso[i]);

    static const char *const bad_epoch[] = {
        "", "abc", "NaN", "nan", "inf", "Infinity", "-Infinity", "1e", "1e+", "1.", ".5", "-",
        "--1", "1-2", "0x10", "1,5", " 1", "1 ", "1768123166Z", "true",
        "99999999999999999999",       /* 20 digits: beyond any unit */
        "1e19", "1e999999", "12345678901234567890123", "-99999999999", /* before year 0 */
        "1.5e", "1768123166.291045.1",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad_epoch); i++)
        refuse_epoch(bad_epoch[i]);

    static const char *const bad_json[] = {
        "true", "false", "null", "{}", "[]", "[1768123166]", "\"\"", "\"abc\"",
        "\"NaN\"", "\"2026-13-01T00:00:00Z\"", "\"2026-02-30\"", "", "\"1768123166",
        "{\"ts\":1768123166}", "\"99999999999999999999\"",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad_json); i++)
        refuse_json(bad_json[i]);

    /* Views are not NUL-terminated: only n bytes count, a NUL among them too. */
    int64_t us;
    cr_assert_eq(sl_timestamp_parse_iso("2026-01-11\0", 11, &us), SL_ERR_PARSE);
    cr_assert_eq(sl_timestamp_parse_epoch("1768123166\0", 11, &us), SL_ERR_PARSE);
    cr_assert_eq(sl_timestamp_parse_iso("2026-01-11T09:19:26Zjunk", 20, &us), 0);
    SAME(us, INSTANT - 291045);
    cr_assert_eq(sl_timestamp_parse_epoch("17681231669", 10, &us), 0);
    SAME(us, INSTANT - 291045);
}

Test(timestamp, format_iso)
{
    char out[32];
    sl_timestamp_format_iso(INSTANT, out, sizeof out);
    cr_assert_str_eq(out, "2026-01-11T09:19:26.291045Z");
    sl_timestamp_format_iso(0, out, sizeof out);
    cr_assert_str_eq(out, "1970-01-01T00:00:00.000000Z");
    sl_timestamp_format_iso(-1, out, sizeof out);
    cr_assert_str_eq(out, "1969-12-31T23:59:59.999999Z");
    sl_timestamp_format_iso(INT64_C(1705314600123000), out, sizeof out);
    cr_assert_str_eq(out, "2024-01-15T10:30:00.123000Z");
    sl_timestamp_format_iso(INT64_C(-62167219200000000), out, sizeof out);
    cr_assert_str_eq(out, "0000-01-01T00:00:00.000000Z");
    sl_timestamp_format_iso(INT64_C(253402300799999999), out, sizeof out);
    cr_assert_str_eq(out, "9999-12-31T23:59:59.999999Z");
    /* Outside four-digit years it still writes something sensible. */
    sl_timestamp_format_iso(INT64_C(253402300800000000), out, sizeof out);
    cr_assert_str_eq(out, "10000-01-01T00:00:00.000000Z");
    /* A short buffer is truncated, never overrun. */
    char small[12];
    memset(small, 'x', sizeof small);
    sl_timestamp_format_iso(INSTANT, small, 11);
    cr_assert_str_eq(small, "2026-01-11");
    cr_assert_eq(small[11], 'x');
}

/* ---- independent checks ------------------------------------------------ */

static uint64_t test_seed(void)
{
    uint64_t seed = UINT64_C(0x7157a3b0001);
    const char *env = getenv("SL_TEST_SEED");
    if (env && *env)
        seed ^= strtoull(env, NULL, 0) * UINT64_C(0x9e3779b97f4a7c15);
    return seed;
}

static uint64_t next(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static int rnd(uint64_t *s, int n)
{
    return (int)(next(s) % (uint64_t)n);
}

Test(timestamp, iso_matches_timegm_on_random_instants)
{
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    uint64_t seed = test_seed(), s = seed;
    for (int round = 0; round < 5000; round++) {
        struct tm tm = { 0 };
        int year = rnd(&s, 4) ? 1900 + rnd(&s, 300) : rnd(&s, 10000);
        int mon = rnd(&s, 12);
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        int mday = 1 + rnd(&s, mdays[mon] + (mon == 1 && leap));
        tm.tm_year = year - 1900;
        tm.tm_mon = mon;
        tm.tm_mday = mday;
        tm.tm_hour = rnd(&s, 24);
        tm.tm_min = rnd(&s, 60);
        tm.tm_sec = rnd(&s, 61); /* includes leap seconds; timegm normalises */
        int fdigits = rnd(&s, 10), frac = 0, frac_us = 0;
        char fstr[16] = "";
        if (fdigits) {
            fstr[0] = '.';
            for (int i = 0; i < fdigits; i++) {
                int d = rnd(&s, 10);
                fstr[1 + i] = (char)('0' + d);
                if (i < 6)
                    frac = frac * 10 + d;
            }
            fstr[1 + fdigits] = '\0';
            frac_us = frac;
            for (int i = fdigits; i < 6; i++)
                frac_us *= 10;
        }
        int off_min = 0;
        char zone[8] = "";
        switch (rnd(&s, 5)) {
        case 0: break;                                        /* no zone */
        case 1: strcpy(zone, rnd(&s, 2) ? "Z" : "z"); break;
        default: {
            off_min = (rnd(&s, 2) ? 1 : -1) * (rnd(&s, 24) * 60 + rnd(&s, 60));
            int a = abs(off_min);
            snprintf(zone, sizeof zone, rnd(&s, 2) ? "%c%02d:%02d" : "%c%02d%02d",
                     off_min < 0 ? '-' : '+', a / 60, a % 60);
        }
        }
        char text[64];
        snprintf(text, sizeof text, "%04d-%02d-%02d%c%02d:%02d:%02d%s%s", year, mon + 1, mday,
                 rnd(&s, 2) ? 'T' : ' ', tm.tm_hour, tm.tm_min, tm.tm_sec, fstr, zone);
        time_t t = timegm(&tm);
        int64_t want = (int64_t)t * 1000000 + frac_us - (int64_t)off_min * 60000000;
        int64_t got = 0;
        int rc = sl_timestamp_parse_iso(text, strlen(text), &got);
        if (want < INT64_C(-62167219200000000) || want > INT64_C(253402300799999999)) {
            /* An offset pushed it out of years 0000-9999: refused. */
            cr_assert_eq(rc, SL_ERR_PARSE, "seed %llu: %s accepted",
                         (unsigned long long)seed, text);
            continue;
        }
        cr_assert_eq(rc, 0, "seed %llu: %s refused", (unsigned long long)seed, text);
        cr_assert_eq(got, want, "seed %llu: %s = %lld, timegm says %lld",
                     (unsigned long long)seed, text, (long long)got, (long long)want);
    }
}

Test(timestamp, format_parse_round_trips)
{
    uint64_t seed = test_seed() ^ 0xf0, s = seed;
    const int64_t lo = INT64_C(-62167219200000000), hi = INT64_C(253402300799999999);
    for (int round = 0; round < 5000; round++) {
        int64_t us = lo + (int64_t)(next(&s) % (uint64_t)(hi - lo + 1));
        char out[32];
        sl_timestamp_format_iso(us, out, sizeof out);
        cr_assert_eq(strlen(out), 27, "%s", out);
        int64_t back = 0;
        cr_assert_eq(sl_timestamp_parse_iso(out, strlen(out), &back), 0,
                     "seed %llu: %s refused", (unsigned long long)seed, out);
        cr_assert_eq(back, us, "seed %llu: %lld -> %s -> %lld", (unsigned long long)seed,
                     (long long)us, out, (long long)back);
        /* ...and the formatter agrees with gmtime on the calendar part. */
        time_t t = (time_t)(us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000));
        struct tm tm;
        gmtime_r(&t, &tm);
        char cal[80];
        snprintf(cal, sizeof cal, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cr_assert(strncmp(out, cal, 19) == 0, "seed %llu: %s, gmtime %s",
                  (unsigned long long)seed, out, cal);
    }
}

Test(timestamp, every_epoch_unit_agrees_on_random_instants)
{
    uint64_t seed = test_seed() ^ 0xe0, s = seed;
    /* From 1973-03-04 (1e14 us) every unit is told apart by magnitude. */
    const int64_t lo = INT64_C(100000000000000), hi = INT64_C(9999999999999999);
    for (int round = 0; round < 5000; round++) {
        int64_t us = lo + (int64_t)(next(&s) % (uint64_t)(hi - lo));
        int64_t sec = us / 1000000, ms = us / 1000;
        char text[6][64];
        snprintf(text[0], 64, "%lld.%06lld", (long long)sec, (long long)(us % 1000000));
        snprintf(text[1], 64, "%lld.%03lld", (long long)ms, (long long)(us % 1000));
        snprintf(text[2], 64, "%lld", (long long)us);
        snprintf(text[3], 64, "%lld%03d", (long long)us, rnd(&s, 1000));
        /* Scientific notation of the seconds: d.ddddd...e+N. */
        char digits[32];
        int n = snprintf(digits, sizeof digits, "%lld", (long long)us);
        snprintf(text[4], 64, "%c.%se%d", digits[0], digits + 1, n - 1 - 6);
        snprintf(text[5], 64, "\"%s\"", text[rnd(&s, 5)]);
        for (int k = 0; k < 6; k++) {
            int64_t got = 0;
            int rc = k == 5 ? sl_timestamp_parse_json(sl_view_of(text[k]), &got)
                            : sl_timestamp_parse_epoch(text[k], strlen(text[k]), &got);
            cr_assert_eq(rc, 0, "seed %llu: %s refused", (unsigned long long)seed, text[k]);
            cr_assert_eq(got, us, "seed %llu: %s = %lld, wanted %lld", (unsigned long long)seed,
                         text[k], (long long)got, (long long)us);
        }
        /* Coarser units truncate. */
        char coarse[64];
        snprintf(coarse, 64, "%lld", (long long)ms);
        cr_assert_eq(epoch(coarse), ms * 1000);
        snprintf(coarse, 64, "%lld", (long long)sec);
        cr_assert_eq(epoch(coarse), sec * 1000000);
    }
}
