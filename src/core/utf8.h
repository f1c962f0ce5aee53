/*
 * utf8.h - strict UTF-8 checks (RFC 3629: no overlong forms, no encoded
 * surrogates, nothing above U+10FFFF), shared by every parser that must
 * refuse or repair bytes before they become JSON.
 */
#ifndef SL_UTF8_H
#define SL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0. */
size_t sl_utf8_sequence(const unsigned char *s, size_t n);
/* Offset of the first byte that is not valid UTF-8, or n when all are. */
size_t sl_utf8_check(const char *p, size_t n);

static inline bool sl_utf8_valid(const char *p, size_t n)
{
    return sl_utf8_check(p, n) == n;
}

#endif
