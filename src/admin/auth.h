/*
 * auth.h - who may use the admin listener when admin.token is set.
 *
 * Two ways in, both derived from the one token:
 *
 *   Authorization: Bearer <token>      scripts, Prometheus, `sluice scenario`
 *   Cookie: sluice_session=<session>   the dashboard, after POST /login
 *
 * A session never holds the token. It is
 *
 *   v1.<expires>.<hex HMAC-SHA256(key = token, "sluice-admin-session v1 <expires>")>
 *
 * with <expires> in Unix seconds, so a session ends on its own after
 * SL_AUTH_SESSION_SECONDS, and every session ends when the token changes
 * (a SIGHUP with a new admin.token logs everyone out). Comparisons are
 * constant-time. The cookie is HttpOnly and SameSite=Strict; on top of
 * that, a request authenticated by the cookie that changes something (not
 * GET or HEAD) must not come from another origin (Origin, Sec-Fetch-Site).
 *
 * SHA-256 and HMAC are written here from FIPS 180-4 and RFC 2104 (sluice
 * links no crypto library); tests/unit/test_admin_auth.c checks them
 * against the published test vectors.
 */
#ifndef SL_ADMIN_AUTH_H
#define SL_ADMIN_AUTH_H

#include "core/common.h"
#include "http/server.h"

#include <stdint.h>

#define SL_AUTH_COOKIE          "sluice_session"
#define SL_AUTH_SESSION_SECONDS (7 * 24 * 3600)
/* "v1." + up to 20 digits + "." + 64 hex digits + NUL */
#define SL_AUTH_SESSION_MAX     96

void sl_sha256(const void *data, size_t len, uint8_t out[32]);
void sl_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                    uint8_t out[32]);
/* Equal lengths and bytes, in time that depends on the lengths only. */
bool sl_auth_equal(const void *a, size_t a_len, const void *b, size_t b_len);

/* The session value for token, valid until expires (Unix seconds). */
void sl_auth_session_make(const char *token, int64_t expires, char out[SL_AUTH_SESSION_MAX]);
/* A well-formed, unexpired session made with this token. */
bool sl_auth_session_ok(const char *token, const char *session, int64_t now);

/*
 * May this request use a protected route? True when token is empty, for a
 * right bearer token, or for a valid session cookie (with the same-origin
 * rule above for writes).
 */
bool sl_auth_request_ok(const sl_http_request *req, const char *token);

/*
 * An unauthenticated request a browser makes for a page (GET or HEAD of
 * anything but /api/... and /metrics) is sent to the login page instead of
 * getting a 401: sets 303 + Location: /login.
 */
bool sl_auth_wants_login(const sl_http_request *req);
void sl_auth_redirect_login(sl_http_response *resp);

/*
 * Set-Cookie header lines into resp->extra_headers (appended): a fresh
 * session for token, or (token NULL) one that clears the cookie.
 */
void sl_auth_set_cookie(sl_http_response *resp, const char *token, int64_t now);

#endif
