/*
 * redis_url.c - where the `redis` output connects: the `url` key.
 *
 * The two URL shapes Redis clients share (redis-py, Jedis, hiredis' own
 * tools):
 *
 *   redis://[[username]:password@]host[:port][/db]
 *   unix:/path/to/redis.sock[?db=N&password=P]      (unix:///path too)
 *
 * `rediss://` (TLS) is refused with a reason rather than silently sent in
 * the clear. Percent escapes are decoded in the userinfo, the socket path
 * and query values, so a password may contain ':' or '@'.
 */
#include "output/redis/redis_int.h"
#include "core/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int url_fail(char *why, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int url_fail(char *why, size_t n, const char *fmt, ...)
{
    if (why && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
    }
    return SL_ERR_PARSE;
}

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

/* Percent-decode s[0..n) into a new string; NULL on a broken escape or a NUL. */
static char *pct_decode(const char *s, size_t n)
{
    char *out = sl_malloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        int hi = i + 1 < n ? hex_digit(s[i + 1]) : -1;
        int lo = i + 2 < n ? hex_digit(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return NULL;
        }
        out[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    out[o] = '\0';
    return out;
}

/* A decimal integer in [min, max] spanning exactly s[0..n). */
static bool parse_int(const char *s, size_t n, long min, long max, int *out)
{
    if (n == 0 || n > 9)
        return false;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return false;
    *out = (int)v;
    return true;
}

/* [username]:password or username (userinfo before '@'). */
static int parse_userinfo(const char *s, size_t n, redis_url *u, char *why, size_t why_len)
{
    const char *colon = memchr(s, ':', n);
    if (!colon)
        return url_fail(why, why_len,
                        "'%.*s@' is a user without a password (write :password@ or user:password@)",
                        (int)n, s);
    size_t ulen = (size_t)(colon - s);
    if (ulen) {
        u->username = pct_decode(s, ulen);
        if (!u->username)
            return url_fail(why, why_len, "broken %% escape in the username");
    }
    u->password = pct_decode(colon + 1, n - ulen - 1);
    if (!u->password)
        return url_fail(why, why_len, "broken %% escape in the password");
    if (!*u->password)
        return url_fail(why, why_len, "empty password after ':' (leave out ':@' for none)");
    return 0;
}

static int parse_tcp(const char *s, redis_url *u, char *why, size_t why_len)
{
    /* authority ends at the first '/', '?' or '#'; the userinfo at the last '@' in it */
    size_t alen = strcspn(s, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (s[i] == '@')
            at = s + i;
    if (at) {
        int rc = parse_userinfo(s, (size_t)(at - s), u, why, why_len);
        if (rc < 0)
            return rc;
        alen -= (size_t)(at + 1 - s);
        s = at + 1;
    }
    const char *host = s, *port = NULL;
    size_t hlen;
    if (alen && s[0] == '[') {
        const char *close = memchr(s, ']', alen);
        if (!close)
            return url_fail(why, why_len, "'[' without ']' around an IPv6 address");
        host = s + 1;
        hlen = (size_t)(close - host);
        if (close + 1 < s + alen) {
            if (close[1] != ':')
                return url_fail(why, why_len, "expected ':port' after ']'");
            port = close + 2;
        }
    } else {
        const char *colon = memchr(s, ':', alen);
        hlen = colon ? (size_t)(colon - s) : alen;
        port = colon ? colon + 1 : NULL;
    }
    u->host = hlen ? sl_strndup(host, hlen) : sl_strdup("127.0.0.1");
    u->port = 6379;
    if (port && !parse_int(port, (size_t)(s + alen - port), 1, 65535, &u->port))
        return url_fail(why, why_len, "port '%.*s' is not a number from 1 to 65535",
                        (int)(s + alen - port), port);
    const char *rest = s + alen;
    if (*rest == '/') {
        size_t dlen = strcspn(rest + 1, "?#");
        if (dlen && !parse_int(rest + 1, dlen, 0, 1000000, &u->db))
            return url_fail(why, why_len, "database '%.*s' is not a number", (int)dlen, rest + 1);
        rest += 1 + dlen;
    }
    if (*rest)
        return url_fail(why, why_len, "unexpected '%s' (redis://[[user]:password@]host:port/db)",
                        rest);
    return 0;
}

static int parse_unix(const char *s, redis_url *u, char *why, size_t why_len)
{
    /* unix:///path and unix:/path are the same; unix://host/path is not a thing */
    if (!strncmp(s, "//", 2))
        s += 2;
    if (*s != '/')
        return url_fail(why, why_len, "a unix socket needs an absolute path (unix:/path/to/sock)");
    size_t plen = strcspn(s, "?#");
    u->socket_path = pct_decode(s, plen);
    if (!u->socket_path)
        return url_fail(why, why_len, "broken %% escape in the socket path");
    const char *q = s + plen;
    if (*q == '#')
        return url_fail(why, why_len, "unexpected '%s'", q);
    if (*q == '?')
        q++;
    while (*q) {
        size_t len = strcspn(q, "&");
        const char *eq = memchr(q, '=', len);
        size_t klen = eq ? (size_t)(eq - q) : len;
        const char *v = eq ? eq + 1 : q + len;
        size_t vlen = (size_t)(q + len - v);
        if (klen == 2 && !strncmp(q, "db", 2)) {
            if (!parse_int(v, vlen, 0, 1000000, &u->db))
                return url_fail(why, why_len, "database '%.*s' is not a number", (int)vlen, v);
        } else if (klen == 8 && !strncmp(q, "password", 8)) {
            free(u->password);
            u->password = pct_decode(v, vlen);
            if (!u->password || !*u->password)
                return url_fail(why, why_len, "empty or broken password");
        } else {
            return url_fail(why, why_len, "unknown parameter '%.*s' (db, password)", (int)klen, q);
        }
        q += len;
        if (*q == '&')
            q++;
    }
    return 0;
}

int redis_url_parse(const char *text, redis_url *out, char *why, size_t why_len)
{
    redis_url u = { 0 };
    int rc;
    if (!text || !*text)
        rc = url_fail(why, why_len, "empty URL");
    else if (!strncmp(text, "redis://", 8))
        rc = parse_tcp(text + 8, &u, why, why_len);
    else if (!strncmp(text, "unix:", 5))
        rc = parse_unix(text + 5, &u, why, why_len);
    else if (!strncmp(text, "rediss://", 9))
        rc = url_fail(why, why_len, "rediss:// (TLS) is not supported; use redis:// or unix:");
    else
        rc = url_fail(why, why_len, "expected redis://host:port/db or unix:/path");
    if (rc < 0) {
        redis_url_free(&u);
        return rc;
    }
    *out = u;
    return 0;
}

void redis_url_free(redis_url *u)
{
    if (!u)
        return;
    free(u->host);
    free(u->socket_path);
    free(u->username);
    free(u->password);
    memset(u, 0, sizeof *u);
}

void redis_url_describe(const redis_url *u, char *out, size_t n)
{
    if (u->socket_path)
        snprintf(out, n, "unix:%s/%d", u->socket_path, u->db);
    else if (strchr(u->host, ':'))
        snprintf(out, n, "[%s]:%d/%d", u->host, u->port, u->db);
    else
        snprintf(out, n, "%s:%d/%d", u->host, u->port, u->db);
}
