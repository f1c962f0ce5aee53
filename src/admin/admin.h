/*
 * admin.h - the admin listener on admin.listen (default 127.0.0.1:8080).
 *
 *   GET /health        {"status":"ok"}
 *   GET /metrics       Prometheus text format (open unless admin.metrics_open: false)
 *   GET /api/topics    topics, partitions with start/end offsets, groups and lag
 *
 * When admin.token is set every route but /health (and /metrics when
 * metrics_open) needs "Authorization: Bearer <token>" or the session cookie
 * of the dashboard's login (admin/auth.h); a page request without either
 * is redirected to /login.
 */
#ifndef SL_ADMIN_H
#define SL_ADMIN_H

#include "core/config.h"
#include "log/log.h"

typedef struct sl_admin sl_admin;

/* cfg_ref points at the live config pointer, which a reload may swap. */
int  sl_admin_start(const sl_config *const *cfg_ref, sl_log *log, sl_admin **out);
int  sl_admin_port(const sl_admin *a);
void sl_admin_stop(sl_admin *a); /* NULL-safe */

/*
 * Further routes (scenarios, members, stats, the dashboard) come from the
 * modules that own them. A route matches a path equal to prefix or starting
 * with prefix + "/"; the longest prefix wins. handler gets the whole request
 * (body up to 1 MiB) and must set a response. Register before requests
 * arrive (during start-up); arg must outlive the admin listener. A route
 * marked open needs no token (the dashboard's login page).
 */
#include "http/server.h"

typedef void (*sl_admin_handler)(void *arg, sl_http_request *req, sl_http_response *resp);
int sl_admin_add_route(sl_admin *a, const char *prefix, bool open, sl_admin_handler handler,
                       void *arg);

/* The /api/topics document, also used by `sluice log offsets --json`. */
void sl_admin_topics_json(sl_log *log, sl_buf *out);

#endif
