/*
 * parse.c - the HTTP/1.x request parser (see parse.h).
 *
 * Strict where leniency would let two parsers disagree about where a
 * request ends (RFC 9112 section 11.2, request smuggling): a
 * Content-Length must be digits, repeated ones must agree, and a request
 * with both it and Transfer-Encoding is refused; obsolete line folding and
 * whitespace before a header's colon are refused. Lenient where it costs
 * nothing: bare LF line ends, blank lines before the request line.
 */
#include "http/parse.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 token characters: the method and header names. A table,
   since every byte of every header name goes through it. */
static const bool tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
};

static bool is_tchar(unsigned char c)
{
    return tchar[c];
}

/* Bytes allowed in a header value: visible ASCII, space, tab and obs-text
   (>= 0x80); not the other controls, so no bare CR and no NUL. */
static const bool value_byte[256] = {
    ['\t'] = 1, [0x20 ... 0x7e] = 1, [0x80 ... 0xff] = 1,
};

size_t sl_http_head_end(const char *buf, size_t len, size_t *scanned)
{
    size_t start = 0;
    while (start < len && (buf[start] == '\r' || buf[start] == '\n'))
        start++;
    size_t i = *scanned > start ? *scanned : start;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        if (!nl) {
            i = len;
            break;
        }
        size_t at = (size_t)(nl - buf);
        if (at + 1 >= len) { /* the next byte decides: look again from here */
            i = at;
            break;
        }
        if (buf[at + 1] == '\n')
            return at + 2;
        if (buf[at + 1] == '\r') {
            if (at + 2 >= len) {
                i = at;
                break;
            }
            if (buf[at + 2] == '\n')
                return at + 3;
        }
        i = at + 1;
    }
    *scanned = i;
    return 0;
}

/* Step over a line end ("\r\n" or "\n") at *p; false if there is none. */
static bool skip_line_end(char **p, const char *end)
{
    if (*p < end && **p == '\n') {
        (*p)++;
        return true;
    }
    if (end - *p >= 2 && (*p)[0] == '\r' && (*p)[1] == '\n') {
        *p += 2;
        return true;
    }
    return false;
}

/* Does the comma-separated list hold token (case-insensitive)? */
static bool list_has(const char *list, const char *token)
{
    size_t tlen = strlen(token);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *stop = p;
        while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t'))
            stop--;
        if ((size_t)(stop - start) == tlen && strncasecmp(start, token, tlen) == 0)
            return true;
    }
    return false;
}

static int parse_content_length(const char *v, int64_t *out)
{
    int64_t n = 0;
    if (!*v)
        return 400;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9' || p - v >= 18)
            return 400;
        n = n * 10 + (*p - '0');
    }
    if (*out >= 0 && *out != n)
        return 400; /* two lengths that disagree */
    *out = n;
    return 0;
}

/* Transfer-Encoding: only chunked, once (it must be the last coding). */
static int parse_transfer_encoding(const char *v, bool *chunked)
{
    for (const char *p = v; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *stop = p;
        while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t'))
            stop--;
        if ((size_t)(stop - start) != 7 || strncasecmp(start, "chunked", 7) != 0)
            return 501;
        if (*chunked)
            return 400;
        *chunked = true;
    }
    return *chunked ? 0 : 400;
}

/* What the framing and connection headers say. */
static int interpret_fields(sl_http_head *h)
{
    bool close = false, keep = false, has_te = false;
    for (size_t i = 0; i < h->nfields; i++) {
        const char *name = h->fields[i].name, *value = h->fields[i].value;
        int rc = 0;
        char first = (char)(name[0] | 0x20); /* lower case */
        if (first != 'c' && first != 't' && first != 'e')
            continue; /* none of the four below: spares four compares per field */
        if (strcasecmp(name, "Content-Length") == 0) {
            rc = parse_content_length(value, &h->content_length);
        } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
            has_te = true;
            rc = parse_transfer_encoding(value, &h->chunked);
        } else if (strcasecmp(name, "Connection") == 0) {
            close |= list_has(value, "close");
            keep |= list_has(value, "keep-alive");
        } else if (strcasecmp(name, "Expect") == 0) {
            h->expect_continue = h->minor == 1 && strcasecmp(value, "100-continue") == 0;
        }
        if (rc)
            return rc;
    }
    if (has_te && h->content_length >= 0)
        return 400; /* which one frames the body? refuse rather than guess */
    h->keep_alive = h->minor == 1 ? !close : keep && !close;
    return 0;
}

/* Split the target into path and query; an absolute-form target keeps its path. */
static void split_target(char *target, sl_http_head *h)
{
    char *path = target;
    if (strncasecmp(path, "http://", 7) == 0 || strncasecmp(path, "https://", 8) == 0) {
        path = strstr(path, "//") + 2;
        path += strcspn(path, "/?");
    }
    char *q = strchr(path, '?');
    h->query = "";
    if (q) {
        *q = '\0';
        h->query = q + 1;
    }
    h->path = *path ? path : "/";
}

int sl_http_head_parse(char *buf, size_t len, sl_http_head *out)
{
    char *p = buf, *end = buf + len;
    out->nfields = 0;
    out->content_length = -1;
    out->chunked = out->keep_alive = out->expect_continue = false;
    while (p < end && (*p == '\r' || *p == '\n'))
        p++;

    char *method = p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    if (p == method || p >= end || *p != ' ')
        return 400;
    *p++ = '\0';
    char *target = p;
    while (p < end && (unsigned char)*p > ' ' && *p != 0x7f)
        p++;
    if (p == target || p >= end || *p != ' ')
        return 400;
    *p++ = '\0';
    if (end - p < 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' || p[5] < '0' || p[5] > '9' ||
        p[7] < '0' || p[7] > '9')
        return 400;
    if (p[5] != '1' || p[7] > '1')
        return 505;
    out->minor = p[7] - '0';
    p += 8;
    if (!skip_line_end(&p, end))
        return 400;

    for (;;) {
        if (skip_line_end(&p, end))
            break; /* the blank line */
        char *name = p;
        while (p < end && is_tchar((unsigned char)*p))
            p++;
        if (p == name || p >= end || *p != ':')
            return 400; /* also obsolete folding and "Name :" */
        *p++ = '\0';
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        char *value = p;
        while (p < end && value_byte[(unsigned char)*p])
            p++;
        char *vend = p;
        if (!skip_line_end(&p, end))
            return 400;
        while (vend > value && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        *vend = '\0';
        if (out->nfields == SL_HTTP_MAX_HEADERS)
            return 431;
        out->fields[out->nfields++] = (sl_http_field){ name, value };
    }
    out->method = method;
    split_target(target, out);
    return interpret_fields(out);
}

const char *sl_http_head_field(const sl_http_head *h, const char *name)
{
    for (size_t i = 0; i < h->nfields; i++)
        if (strcasecmp(h->fields[i].name, name) == 0)
            return h->fields[i].value;
    return NULL;
}

/* ---- chunked bodies ---------------------------------------------------------- */

/*
 *   chunk   = hex-size [ ";" ext ] CRLF data CRLF
 *   last    = "0" [ ";" ext ] CRLF *( trailer-line CRLF ) CRLF
 */
enum {
    CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF,
    CH_TRAILER_START, CH_TRAILER, CH_TRAILER_LF, CH_DONE
};

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The size line is over: data follows, or the trailers. */
static void chunk_size_done(sl_http_chunked *d)
{
    d->state = d->remaining ? CH_DATA : CH_TRAILER_START;
    d->digits = 0;
}

ssize_t sl_http_chunked_feed(sl_http_chunked *d, const char *in, size_t n,
                             void (*data)(void *arg, const char *p, size_t n), void *arg)
{
    size_t i = 0;
    while (i < n && d->state != CH_DONE) {
        char c = in[i];
        switch (d->state) {
        case CH_SIZE: {
            int v = hex_digit(c);
            if (v >= 0) {
                if (++d->digits > 15)
                    return -1;
                d->remaining = d->remaining * 16 + (uint64_t)v;
            } else if (d->digits == 0) {
                return -1;
            } else if (c == ';' || c == ' ' || c == '\t') {
                d->state = CH_EXT;
            } else if (c == '\r') {
                d->state = CH_SIZE_LF;
            } else if (c == '\n') {
                chunk_size_done(d);
            } else {
                return -1;
            }
            i++;
            break;
        }
        case CH_EXT:
        case CH_TRAILER:
            if (++d->overhead > SL_HTTP_MAX_HEAD)
                return -1;
            if (c == '\n') {
                if (d->state == CH_EXT)
                    chunk_size_done(d);
                else
                    d->state = CH_TRAILER_START;
            }
            i++;
            break;
        case CH_SIZE_LF:
            if (c != '\n')
                return -1;
            chunk_size_done(d);
            i++;
            break;
        case CH_DATA: {
            size_t take = n - i;
            if ((uint64_t)take > d->remaining)
                take = (size_t)d->remaining;
            data(arg, in + i, take);
            d->remaining -= take;
            i += take;
            if (!d->remaining)
                d->state = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            if (c == '\r')
                d->state = CH_DATA_LF;
            else if (c == '\n')
                d->state = CH_SIZE;
            else
                return -1;
            i++;
            break;
        case CH_DATA_LF:
            if (c != '\n')
                return -1;
            d->state = CH_SIZE;
            i++;
            break;
        case CH_TRAILER_START:
            if (c == '\n')
                d->state = CH_DONE;
            else if (c == '\r')
                d->state = CH_TRAILER_LF;
            else
                d->state = CH_TRAILER;
            if (d->state != CH_TRAILER)
                i++;
            break;
        case CH_TRAILER_LF:
            if (c != '\n')
                return -1;
            d->state = CH_DONE;
            i++;
            break;
        }
    }
    d->done = d->state == CH_DONE;
    return (ssize_t)i;
}
