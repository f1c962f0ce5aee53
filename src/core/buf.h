/*
 * buf.h - the one growable byte buffer.
 *
 * An sl_buf owns its bytes. It is always NUL-terminated past len (so a
 * buffer of text can be handed to C string functions), and an all-zero
 * sl_buf is a valid empty buffer. Growth aborts on out-of-memory through
 * sl_realloc; sl_buf_try_reserve is the variant that reports failure, for
 * request bodies where sluice sheds load instead.
 */
#ifndef SL_BUF_H
#define SL_BUF_H

#include "core/common.h"

#include <stdarg.h>

typedef struct sl_buf {
    char *data;
    size_t len;
    size_t cap;
} sl_buf;

#define SL_BUF_INIT ((sl_buf){ NULL, 0, 0 })

void sl_buf_reserve(sl_buf *b, size_t extra);
int  sl_buf_try_reserve(sl_buf *b, size_t extra); /* 0, or -ENOMEM */
void sl_buf_append(sl_buf *b, const void *p, size_t n);
void sl_buf_append_str(sl_buf *b, const char *s);
void sl_buf_append_char(sl_buf *b, char c);
void sl_buf_printf(sl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sl_buf_vprintf(sl_buf *b, const char *fmt, va_list ap);
/* Append s as a JSON string literal, quotes included, escaping as needed. */
void sl_buf_append_json_string(sl_buf *b, const char *s, size_t n);
void sl_buf_reset(sl_buf *b);       /* len = 0, keeps the memory */
void sl_buf_free(sl_buf *b);        /* frees and zeroes; NULL-safe */
/* Hand the bytes to the caller (who frees them) and empty the buffer. */
char *sl_buf_steal(sl_buf *b);

static inline sl_view sl_buf_view(const sl_buf *b)
{
    return (sl_view){ b->data, b->len };
}

#endif
