/*
 * auth.c - bearer tokens and login sessions for the admin listener (see
 * auth.h): SHA-256, HMAC-SHA256, the session format, the cookie.
 */
#include "admin/auth.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- SHA-256 (FIPS 180-4, section 6.2) ------------------------------------ */

typedef struct sha256_ctx {
    uint32_t h[8];
    uint8_t block[64];
    size_t used;      /* bytes in block */
    uint64_t total;   /* bytes hashed */
} sha256_ctx;

/* The first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
};

static inline uint32_t rotr(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void sha256_block(sha256_ctx *c, const uint8_t *p)
{
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3];
    uint32_t e = c->h[4], f = c->h[5], g = c->h[6], h = c->h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] +
                      w[t];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = cc;
        cc = b;
        b = a;
        a = t1 + t2;
    }
    c->h[0] += a;
    c->h[1] += b;
    c->h[2] += cc;
    c->h[3] += d;
    c->h[4] += e;
    c->h[5] += f;
    c->h[6] += g;
    c->h[7] += h;
}

static void sha256_init(sha256_ctx *c)
{
    static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    memcpy(c->h, h0, sizeof h0);
    c->used = 0;
    c->total = 0;
}

static void sha256_update(sha256_ctx *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    c->total += len;
    while (len) {
        size_t n = SL_MIN(64 - c->used, len);
        memcpy(c->block + c->used, p, n);
        c->used += n;
        p += n;
        len -= n;
        if (c->used == 64) {
            sha256_block(c, c->block);
            c->used = 0;
        }
    }
}

static void sha256_final(sha256_ctx *c, uint8_t out[32])
{
    uint64_t bits = c->total * 8;
    uint8_t pad = 0x80;
    sha256_update(c, &pad, 1);
    pad = 0;
    while (c->used != 56)
        sha256_update(c, &pad, 1);
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(c, len, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
}

void sl_sha256(const void *data, size_t len, uint8_t out[32])
{
    sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, data, len);
    sha256_final(&c, out);
}

/* ---- HMAC (RFC 2104) -------------------------------------------------------- */

void sl_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                    uint8_t out[32])
{
    uint8_t k[64] = { 0 }, pad[64], inner[32];
    if (key_len > 64)
        sl_sha256(key, key_len, k);
    else if (key_len)
        memcpy(k, key, key_len);
    sha256_ctx c;
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    sha256_init(&c);
    sha256_update(&c, pad, 64);
    sha256_update(&c, msg, msg_len);
    sha256_final(&c, inner);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    sha256_init(&c);
    sha256_update(&c, pad, 64);
    sha256_update(&c, inner, 32);
    sha256_final(&c, out);
}

bool sl_auth_equal(const void *a, size_t a_len, const void *b, size_t b_len)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t diff = (uint8_t)(a_len != b_len);
    for (size_t i = 0; i < a_len; i++)
        diff |= (uint8_t)(x[i] ^ y[b_len ? i % b_len : 0]);
    return diff == 0;
}

/* ---- sessions ---------------------------------------------------------------- */

static void session_mac(const char *token, int64_t expires, char hex[65])
{
    char msg[64];
    int n = snprintf(msg, sizeof msg, "sluice-admin-session v1 %" PRId64, expires);
    uint8_t mac[32];
    sl_hmac_sha256(token, strlen(token), msg, (size_t)n, mac);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
}

void sl_auth_session_make(const char *token, int64_t expires, char out[SL_AUTH_SESSION_MAX])
{
    char hex[65];
    session_mac(token, expires, hex);
    snprintf(out, SL_AUTH_SESSION_MAX, "v1.%" PRId64 ".%s", expires, hex);
}

bool sl_auth_session_ok(const char *token, const char *session, int64_t now)
{
    if (!token || !*token || !session || strncmp(session, "v1.", 3) != 0)
        return false;
    const char *p = session + 3;
    int64_t expires = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 18; p++, digits++) /* no overflow */
        expires = expires * 10 + (*p - '0');
    if (!digits || *p != '.' || expires <= now)
        return false;
    char hex[65];
    session_mac(token, expires, hex);
    return sl_auth_equal(p + 1, strlen(p + 1), hex, 64);
}

/* The value of cookie `name` in a Cookie header, copied into out (false when absent). */
static bool cookie_value(const char *header, const char *name, char *out, size_t n)
{
    size_t nlen = strlen(name);
    for (const char *p = header; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        if ((size_t)(end - p) > nlen && !strncmp(p, name, nlen) && p[nlen] == '=') {
            size_t len = (size_t)(end - p) - nlen - 1;
            if (len >= n)
                return false;
            memcpy(out, p + nlen + 1, len);
            out[len] = '\0';
            return true;
        }
        p = *end ? end + 1 : end;
    }
    return false;
}

/* "http://host:port" -> does host:port equal the Host header? */
static bool same_origin(const sl_http_request *req)
{
    const char *site = sl_http_header(req, "Sec-Fetch-Site");
    if (site && strcasecmp(site, "same-origin") != 0 && strcasecmp(site, "none") != 0)
        return false;
    const char *origin = sl_http_header(req, "Origin");
    if (!origin)
        return true; /* not a browser's cross-site request: those carry Origin */
    const char *host = sl_http_header(req, "Host");
    const char *sep = strstr(origin, "://");
    return host && sep && strcasecmp(sep + 3, host) == 0;
}

bool sl_auth_request_ok(const sl_http_request *req, const char *token)
{
    if (!token || !*token || sl_http_token_ok(req, token))
        return true;
    char session[SL_AUTH_SESSION_MAX];
    const char *cookies = sl_http_header(req, "Cookie");
    if (!cookies || !cookie_value(cookies, SL_AUTH_COOKIE, session, sizeof session) ||
        !sl_auth_session_ok(token, session, sl_now_us() / 1000000))
        return false;
    bool safe = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
    return safe || same_origin(req);
}

bool sl_auth_wants_login(const sl_http_request *req)
{
    bool read = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
    return read && strncmp(req->path, "/api/", 5) != 0 && strcmp(req->path, "/api") != 0 &&
           strcmp(req->path, "/metrics") != 0 && strcmp(req->path, "/health") != 0;
}

void sl_auth_redirect_login(sl_http_response *resp)
{
    resp->status = 303;
    resp->content_type = "text/plain; charset=utf-8";
    sl_buf_reset(&resp->body);
    sl_buf_append_str(&resp->body, "login required: /login\n");
    snprintf(resp->extra_headers, sizeof resp->extra_headers,
             "Location: /login\r\nCache-Control: no-store\r\n");
}

void sl_auth_set_cookie(sl_http_response *resp, const char *token, int64_t now)
{
    size_t used = strlen(resp->extra_headers);
    char *at = resp->extra_headers + used;
    size_t room = sizeof resp->extra_headers - used;
    if (!token) {
        snprintf(at, room, "Set-Cookie: " SL_AUTH_COOKIE
                           "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0\r\n");
        return;
    }
    char session[SL_AUTH_SESSION_MAX];
    sl_auth_session_make(token, now + SL_AUTH_SESSION_SECONDS, session);
    snprintf(at, room, "Set-Cookie: " SL_AUTH_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; "
                       "Max-Age=%d\r\n", session, SL_AUTH_SESSION_SECONDS);
}
