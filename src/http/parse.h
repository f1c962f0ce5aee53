/*
 * parse.h - the HTTP/1.x request parser of the epoll engine, kept apart
 * from the sockets so that the unit tests and a fuzz target drive it with
 * plain bytes.
 *
 * Parsing is in place: the head (request line and headers) is found
 * first, without touching a byte, and only a complete head is parsed, by
 * writing NULs after its tokens, so the strings a request hands out point
 * into the connection's read buffer and nothing is copied or allocated.
 */
#ifndef SL_HTTP_PARSE_H
#define SL_HTTP_PARSE_H

#include "core/common.h"

#include <sys/types.h>

#define SL_HTTP_MAX_HEAD    16384   /* request line + headers */
#define SL_HTTP_MAX_HEADERS 100

typedef struct sl_http_field {
    const char *name;
    const char *value;          /* without surrounding whitespace */
} sl_http_field;

typedef struct sl_http_head {
    const char *method;
    const char *path;           /* the target up to '?' */
    const char *query;          /* after '?', "" when none */
    int minor;                  /* HTTP/1.<minor>: 0 or 1 */
    int64_t content_length;     /* -1 when absent */
    bool chunked;               /* Transfer-Encoding: chunked */
    bool keep_alive;            /* by version and Connection */
    bool expect_continue;       /* Expect: 100-continue (HTTP/1.1) */
    size_t nfields;
    sl_http_field fields[SL_HTTP_MAX_HEADERS];
} sl_http_head;

/*
 * Where the head in buf[0, len) ends: the offset just past its blank
 * line, or 0 while it is incomplete. Blank lines before the request line
 * are part of the head (RFC 9112 tolerates them). *scanned remembers how
 * far the search went, so that bytes arriving in pieces are looked at
 * once (start it at 0).
 */
size_t sl_http_head_end(const char *buf, size_t len, size_t *scanned);

/*
 * Parse the complete head buf[0, len) (len from sl_http_head_end) in
 * place. Returns 0, or the HTTP status to refuse it with: 400 malformed,
 * 431 too many headers, 501 a transfer coding other than chunked, 505 a
 * version other than HTTP/1.0 or 1.1.
 */
int sl_http_head_parse(char *buf, size_t len, sl_http_head *out);

/* A header's value (case-insensitive name), or NULL. */
const char *sl_http_head_field(const sl_http_head *h, const char *name);

/*
 * The chunked transfer coding, decoded incrementally. Feed it the bytes
 * as they come; it hands the data bytes to `data` and skips the chunk
 * sizes, extensions and trailers. Extensions and trailers are bounded
 * (SL_HTTP_MAX_HEAD in all) since nothing reads them.
 */
typedef struct sl_http_chunked {
    int state;
    uint64_t remaining;         /* data bytes left in the current chunk */
    size_t overhead;            /* extension and trailer bytes seen */
    int digits;
    bool done;
} sl_http_chunked;

/*
 * Decode in[0, n): returns the bytes consumed (fewer than n only once the
 * last chunk and its trailers are in: dec->done), or -1 when the coding is
 * malformed.
 */
ssize_t sl_http_chunked_feed(sl_http_chunked *dec, const char *in, size_t n,
                             void (*data)(void *arg, const char *p, size_t n), void *arg);

#endif
