/*
 * dashboard.h - the live dashboard sluice serves on its admin listener.
 *
 *   GET  /                the dashboard (web/src/index.html): scenarios, pipeline,
 *                         scenario editor, lake
 *   GET  /<file>          its scripts and styles; /assets/echarts.min.js
 *   GET  /login           the login form (open); redirects to / when no token is set
 *   POST /login           token=<admin.token> -> session cookie, 303 to /
 *   POST /logout          clears the cookie, 303 to /login
 *   GET  /api/lake        files and rows per hour partition of each lake output
 *   GET  /api/session     {"auth": true|false}: whether admin.token is set
 *
 * Everything the page shows comes from the admin API (/api/stats/scenarios,
 * /api/scenarios, /api/members, /api/topics, /api/lake) and /metrics, parsed
 * in the browser. The files are compiled into the binary: the Makefile runs
 * scripts/embed_assets.sh over web/src/ and ECharts from web/node_modules
 * into $(BUILD)/gen/dashboard_assets.c, which defines the table below. The
 * page needs no network.
 */
#ifndef SL_ADMIN_DASHBOARD_H
#define SL_ADMIN_DASHBOARD_H

#include "admin/admin.h"

#include <stddef.h>

typedef struct sl_dashboard_asset {
    const char *path;          /* "/index.html", "/assets/echarts.min.js" */
    const char *content_type;
    const unsigned char *data; /* NUL-terminated past len */
    size_t len;
    const char *etag;          /* quoted, as sent */
} sl_dashboard_asset;

/* Defined by the generated file. */
extern const sl_dashboard_asset sl_dashboard_assets[];
extern const size_t sl_dashboard_nassets;

/* The asset served at path ("/" is "/index.html"), or NULL. */
const sl_dashboard_asset *sl_dashboard_asset_find(const char *path);


/*
 * Register the dashboard's routes on admin (during start-up). cfg_ref is
 * the live config pointer the admin listener reads (admin.token, the lake
 * outputs); it must outlive the listener. Returns 0 or a negative code.
 */
int sl_dashboard_register(sl_admin *admin, const sl_config *const *cfg_ref);

/* GET /api/lake (dashboard_lake.c). */
void sl_dashboard_lake_json(const sl_config *cfg, sl_buf *out);

#endif
