/*
 * client.h - the admin API seen from the command line: `sluice scenario`
 * and `sluice members` are thin clients of a running sluice (libcurl).
 */
#ifndef SL_CATALOGUE_CLIENT_H
#define SL_CATALOGUE_CLIENT_H

#include "core/buf.h"

#define SL_ADMIN_DEFAULT_URL "http://127.0.0.1:8080"

typedef struct sl_admin_client {
    const char *base;    /* http://127.0.0.1:8080 (no trailing slash needed) */
    const char *token;   /* bearer token or NULL */
} sl_admin_client;

/*
 * One request. body may be empty (no body sent); content_type may be
 * NULL (application/json). On return 0, *status holds the HTTP status and
 * out the response body; on a transport failure (connection refused,
 * timeout) returns SL_ERR and appends the reason to err.
 */
int sl_admin_request(const sl_admin_client *c, const char *method, const char *path,
                     const char *content_type, sl_view body, long *status, sl_buf *out,
                     sl_buf *err);

/* The "error" member of a JSON answer (decoded), or the body itself. */
void sl_admin_error_text(const sl_buf *answer, sl_buf *out);

#endif
