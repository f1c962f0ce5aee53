/*
 * timestamp.h - event timestamps in every shape senders use.
 *
 * Seed 004 was bitten by generators that sent epoch seconds as floats
 * (1768123166.291045) to a job expecting ISO-8601, which put everything in
 * __HIVE_DEFAULT_PARTITION__. sluice accepts both and normalises to
 * microseconds since the Unix epoch (UTC):
 *
 *   ISO-8601 / RFC 3339   2024-01-15T10:30:00Z, ...00.123456Z, ...+09:00,
 *                         +0900, a space instead of T; no zone = UTC
 *   epoch numbers         told apart by magnitude of the integer part:
 *                         < 1e11 seconds, < 1e14 milliseconds,
 *                         < 1e17 microseconds, else nanoseconds;
 *                         fractions allowed at every unit; numeric strings
 *                         ("1768123166.29") are read the same way
 *
 * Numbers are parsed from their text, not through a double, so nanosecond
 * inputs keep microsecond precision.
 */
#ifndef SL_TIMESTAMP_H
#define SL_TIMESTAMP_H

#include "core/common.h"

/* An ISO-8601 string (without JSON quotes). Returns 0 or SL_ERR_PARSE. */
int sl_timestamp_parse_iso(const char *s, size_t n, int64_t *us);
/* Epoch number text ("1768123166", "1768123166.291045", "1.7e9"). */
int sl_timestamp_parse_epoch(const char *s, size_t n, int64_t *us);
/* A raw JSON value: a string (ISO or numeric text) or a number. */
int sl_timestamp_parse_json(sl_view value, int64_t *us);

/* Format as 2024-01-15T10:30:00.123456Z into out (at least 32 bytes). */
void sl_timestamp_format_iso(int64_t us, char *out, size_t n);

#endif
