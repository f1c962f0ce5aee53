/*
 * api.h - the catalogue's HTTP API on the admin listener.
 *
 *   GET    /api/scenarios              {"scenarios":[...]}
 *   POST   /api/scenarios              create (201; 409 when the id exists)
 *   GET    /api/scenarios/{id}         one scenario
 *   PUT    /api/scenarios/{id}         replace (404 when absent)
 *   DELETE /api/scenarios/{id}
 *   GET    /api/members?limit=&after=  {"members":[...],"total":N,"next":ID|null}
 *   POST   /api/members                CSV with a header, or a JSON array
 *   GET    /api/members/{id}, DELETE /api/members/{id}
 *   GET    /api/stats/scenarios[?history=N]       latest window and history
 *   GET    /api/stats/scenarios/{id}[?history=N]  one scenario
 *
 * A scenario document is the JSON the user wrote, as written, plus
 * "version", "created_at", "updated_at" and "expression" (the filters in
 * the expression language). An invalid scenario gets 400 with
 * {"error": every problem, "field": the first bad part, e.g.
 * "filters[1].operator"}. docs/scenarios.md describes every answer.
 */
#ifndef SL_CATALOGUE_API_H
#define SL_CATALOGUE_API_H

#include "admin/admin.h"
#include "catalogue/catalogue.h"

typedef struct sl_catalogue_api sl_catalogue_api;

/*
 * Open the catalogue of cfg for the API (before the admin listener starts,
 * so that the routes can answer as soon as they exist). If it cannot be
 * opened (PostgreSQL down) the routes answer 503 with the reason and
 * opening is retried at most every 5 s. cfg is read during the call only.
 */
int  sl_catalogue_api_open(const sl_config *cfg, sl_catalogue_api **out);
/* Register the routes; api must outlive the admin listener. */
int  sl_catalogue_api_register(sl_catalogue_api *api, sl_admin *admin);
/* After sl_admin_stop. NULL-safe. */
void sl_catalogue_api_stop(sl_catalogue_api *api);

/* Times as the API shows them: 2026-01-11T09:19:25Z (fraction only when
   not zero), and the seed's Redis updated_at, 2025-06-18 12:50:10 (UTC). */
void sl_catalogue_format_iso(int64_t us, char *out, size_t n);
void sl_catalogue_format_seed_time(int64_t us, char *out, size_t n);

/* The seed's success_ratio: successes / total rounded to 4 decimals, as
   Python's json.dumps(round(x, 4)) writes it (0.85, 1.0, 0.0). */
void sl_catalogue_append_ratio(sl_buf *out, int64_t success, int64_t total);

#endif
