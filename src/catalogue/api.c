/*
 * api.c - scenarios, members and scenario statistics over HTTP on the
 * admin listener (see api.h).
 *
 * Handlers run on the admin listener's threads and share one catalogue
 * handle (its mutex serialises them). Every scenario written is first
 * compiled with sl_scenario_parse, so the catalogue never holds one the
 * scenario processor would refuse; the processor notices the write
 * through the catalogue's change counter and swaps its compiled set.
 */
#include "catalogue/api.h"
#include "catalogue/members.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/logging.h"
#include "core/timestamp.h"
#include "expr/scenario.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TAG "admin:catalogue"

#define DEFAULT_HISTORY 60
#define MAX_HISTORY 10000
#define DEFAULT_MEMBER_LIMIT 100
#define MAX_MEMBER_LIMIT 10000

struct sl_catalogue_api {
    pthread_mutex_t lock;
    sl_catalogue *cat;        /* NULL until opened */
    int64_t last_try_us;
    char *open_error;
    char *data_dir;
    char *postgres;
};

/* ---- formatting ------------------------------------------------------------ */

void sl_catalogue_format_iso(int64_t us, char *out, size_t n)
{
    char full[40];
    sl_timestamp_format_iso(us, full, sizeof full);
    /* 2026-01-11T09:19:25.000000Z -> 2026-01-11T09:19:25Z */
    char *dot = strchr(full, '.');
    if (dot && !strcmp(dot, ".000000Z"))
        strcpy(dot, "Z");
    snprintf(out, n, "%s", full);
}

void sl_catalogue_format_seed_time(int64_t us, char *out, size_t n)
{
    char full[40];
    sl_timestamp_format_iso(us, full, sizeof full);
    /* 2025-06-18T12:50:10.123456Z -> 2025-06-18 12:50:10 */
    if (strlen(full) >= 19) {
        full[10] = ' ';
        full[19] = '\0';
    }
    snprintf(out, n, "%s", full);
}

void sl_catalogue_append_ratio(sl_buf *out, int64_t success, int64_t total)
{
    if (total <= 0) {
        sl_buf_append_str(out, "0");
        return;
    }
    /* printf rounds the double's exact value to 4 decimals, as Python's
       round(x, 4) does; trailing zeros go as in its repr (1.0, 0.85). */
    double r = (double)success / (double)total;
    char text[32];
    snprintf(text, sizeof text, "%.4f", r);
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == '0' && text[n - 2] != '.')
        n--;
    sl_buf_append(out, text, n);
}

static void append_time(sl_buf *out, const char *key, int64_t us)
{
    char t[48];
    sl_catalogue_format_iso(us, t, sizeof t);
    sl_buf_printf(out, "\"%s\":\"%s\"", key, t);
}

/* ---- the catalogue handle ---------------------------------------------------- */

static sl_catalogue *catalogue(sl_catalogue_api *api, sl_http_response *resp)
{
    pthread_mutex_lock(&api->lock);
    if (!api->cat && sl_mono_us() - api->last_try_us >= 5000000) {
        api->last_try_us = sl_mono_us();
        sl_buf err = SL_BUF_INIT;
        sl_config where = { .data_dir = api->data_dir, .catalogue_postgres = api->postgres };
        int rc = sl_catalogue_open(&where, &api->cat, &err);
        if (rc < 0) {
            free(api->open_error);
            api->open_error = sl_strdup(err.data ? err.data : sl_strerror(rc));
            SL_WARN(TAG, "catalogue unavailable: %s", api->open_error);
        }
        sl_buf_free(&err);
    }
    sl_catalogue *c = api->cat;
    if (!c)
        sl_http_error(resp, 503, "catalogue unavailable: %s",
                      api->open_error ? api->open_error : "not open yet");
    pthread_mutex_unlock(&api->lock);
    return c;
}

static void db_error(sl_http_response *resp, int rc)
{
    sl_http_error(resp, 500, "catalogue error: %s (see sluice's log)", sl_strerror(rc));
}

/* ---- request helpers --------------------------------------------------------- */

static bool method_is(const sl_http_request *req, const char *m)
{
    return strcmp(req->method, m) == 0;
}

/* The path after prefix: "" for the collection, else the id ("5"). */
static const char *path_rest(const sl_http_request *req, const char *prefix)
{
    const char *rest = req->path + strlen(prefix);
    while (*rest == '/')
        rest++;
    return rest;
}

static bool parse_id(const char *s, int64_t *id)
{
    if (!*s || strlen(s) > 18)
        return false;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    *id = v;
    return v > 0;
}

/* %XX in a path segment (member ids). */
static char *unescape(const char *s)
{
    sl_buf b = SL_BUF_INIT;
    for (const char *p = s; *p; p++) {
        int h1, h2;
        if (p[0] == '%' && p[1] && p[2] &&
            sscanf((char[]){ p[1], p[2], 0 }, "%1x%1x", &h1, &h2) == 2) {
            sl_buf_append_char(&b, (char)(h1 * 16 + h2));
            p += 2;
        } else
            sl_buf_append_char(&b, *p);
    }
    if (!b.data)
        sl_buf_append(&b, "", 0);
    return sl_buf_steal(&b);
}

static bool query_int(const sl_http_request *req, const char *name, int64_t def, int64_t min,
                      int64_t max, int64_t *out, sl_http_response *resp)
{
    sl_buf v = SL_BUF_INIT;
    *out = def;
    bool ok = true;
    if (sl_http_query_param(req, name, &v)) {
        char *end = NULL;
        long long x = strtoll(v.data ? v.data : "", &end, 10);
        if (!v.len || *end || x < min || x > max) {
            sl_http_error(resp, 400, "%s must be an integer from %lld to %lld", name,
                          (long long)min, (long long)max);
            ok = false;
        } else
            *out = x;
    }
    sl_buf_free(&v);
    return ok;
}

/* ---- scenarios --------------------------------------------------------------- */

static bool metadata_key(sl_view k)
{
    return sl_json_key_eq(k, "version", 7) || sl_json_key_eq(k, "created_at", 10) ||
           sl_json_key_eq(k, "updated_at", 10) || sl_json_key_eq(k, "expression", 10);
}

/* The definition as written (minus our own keys), then our metadata. */
static void scenario_doc(const sl_catalogue_scenario *s, sl_buf *out)
{
    sl_view def = sl_view_of(s->definition);
    size_t end = 0;
    sl_buf_append_char(out, '{');
    size_t start = out->len;
    if (sl_json_validate(def.ptr, def.len, 0, &end, NULL) == 0) {
        size_t s0 = sl_json_skip_ws(def.ptr, def.len, 0);
        sl_view root = { def.ptr + s0, end - s0 };
        sl_json_iter it;
        sl_view k, v;
        sl_json_iter_init(&it, root);
        while (sl_json_object_next(&it, &k, &v)) {
            if (metadata_key(k))
                continue;
            if (out->len > start)
                sl_buf_append_char(out, ',');
            sl_buf_append(out, k.ptr - 1, k.len + 2);
            sl_buf_append_char(out, ':');
            sl_buf_append(out, v.ptr, v.len);
        }
    }
    if (out->len > start)
        sl_buf_append_char(out, ',');
    sl_buf_printf(out, "\"version\":%" PRId64 ",", s->version);
    append_time(out, "created_at", s->created_us);
    sl_buf_append_char(out, ',');
    append_time(out, "updated_at", s->updated_us);
    sl_buf_append_str(out, ",\"expression\":");
    sl_scenario *parsed = NULL;
    if (sl_scenario_parse(def, &parsed, NULL) == 0) {
        sl_buf e = SL_BUF_INIT;
        sl_expr_to_string(parsed->filter, &e);
        sl_buf_append_json_string(out, e.data ? e.data : "", e.len);
        sl_buf_free(&e);
        sl_scenario_free(parsed);
    } else
        sl_buf_append_str(out, "null");
    sl_buf_append_char(out, '}');
}

/*
 * 400 for a scenario sl_scenario_parse refused: every problem in "error",
 * the first bad part in "field" ("filters[1].operator"), null when the
 * problem is the document itself (invalid JSON).
 */
static void scenario_invalid(sl_http_response *resp, const sl_buf *problems)
{
    static const char *const parts[] = { "scenario_id", "title", "manager", "log_format",
                                         "filters", "logical_operator" };
    const char *msg = problems->data ? problems->data : "invalid scenario";
    const char *field = NULL;
    size_t field_len = 0;
    for (size_t i = 0; i < SL_ARRAY_LEN(parts); i++) {
        size_t n = strlen(parts[i]);
        if (strncmp(msg, parts[i], n) == 0 && strchr(":.[", msg[n])) {
            const char *colon = strstr(msg, ": ");
            if (colon) {
                field = msg;
                field_len = (size_t)(colon - msg);
            }
            break;
        }
    }
    resp->status = 400;
    sl_buf_reset(&resp->body);
    sl_buf_append_str(&resp->body, "{\"error\":");
    sl_buf_append_json_string(&resp->body, msg, strlen(msg));
    sl_buf_append_str(&resp->body, ",\"field\":");
    if (field)
        sl_buf_append_json_string(&resp->body, field, field_len);
    else
        sl_buf_append_str(&resp->body, "null");
    sl_buf_append_str(&resp->body, "}\n");
}

/*
 * Validate a body; for PUT (path_id > 0) a missing scenario_id is taken
 * from the path and a different one is refused. On success *parsed and
 * *stored (the text to keep) are set; on failure the response is set.
 */
static bool scenario_body(const sl_http_request *req, int64_t path_id, sl_http_response *resp,
                          sl_scenario **parsed, sl_buf *stored)
{
    sl_view body = sl_buf_view(&req->body);
    sl_buf_reset(stored);
    size_t end = 0;
    if (path_id > 0 && body.len && sl_json_validate(body.ptr, body.len, 0, &end, NULL) == 0 &&
        sl_json_skip_ws(body.ptr, body.len, end) == body.len) {
        size_t s0 = sl_json_skip_ws(body.ptr, body.len, 0);
        sl_view root = { body.ptr + s0, end - s0 };
        sl_view have;
        if (sl_json_type_of(root) == SL_JSON_OBJECT && !sl_json_get(root, "scenario_id", &have)) {
            size_t inner = sl_json_skip_ws(root.ptr, root.len, 1);
            bool empty = root.ptr[inner] == '}';
            sl_buf_printf(stored, "{\"scenario_id\":%" PRId64 "%s", path_id, empty ? "" : ",");
            sl_buf_append(stored, root.ptr + 1, root.len - 1);
        }
    }
    if (!stored->len)
        sl_buf_append(stored, body.ptr ? body.ptr : "", body.len);
    sl_buf problems = SL_BUF_INIT;
    if (sl_scenario_parse(sl_buf_view(stored), parsed, &problems) < 0) {
        scenario_invalid(resp, &problems);
        sl_buf_free(&problems);
        return false;
    }
    sl_buf_free(&problems);
    /* The processor adds these three to every result: a kept field of the
       same name would appear twice in one object. */
    for (size_t i = 0; i < (*parsed)->nfields; i++) {
        const sl_scenario_field *f = &(*parsed)->fields[i];
        if (f->keep && (!strcmp(f->name, "success") || !strcmp(f->name, "scenario_id") ||
                        !strcmp(f->name, "date"))) {
            resp->status = 400;
            sl_buf_reset(&resp->body);
            sl_buf_printf(&resp->body,
                          "{\"error\":\"log_format.%s: every result gets success, scenario_id "
                          "and date; mark it 0 or leave it out\",\"field\":\"log_format.%s\"}\n",
                          f->name, f->name);
            sl_scenario_free(*parsed);
            *parsed = NULL;
            return false;
        }
    }
    if (path_id > 0 && (*parsed)->id != path_id) {
        resp->status = 400;
        sl_buf_reset(&resp->body);
        sl_buf_printf(&resp->body,
                      "{\"error\":\"scenario_id: %" PRId64 " does not match the path (%" PRId64
                      ")\",\"field\":\"scenario_id\"}\n",
                      (*parsed)->id, path_id);
        sl_scenario_free(*parsed);
        *parsed = NULL;
        return false;
    }
    return true;
}

static void scenario_answer(sl_catalogue *cat, int64_t id, int status, sl_http_response *resp)
{
    sl_catalogue_scenario s;
    int rc = sl_catalogue_scenario_get(cat, id, &s);
    if (rc < 0) {
        if (rc == -ENOENT)
            sl_http_error(resp, 404, "no scenario %" PRId64, id);
        else
            db_error(resp, rc);
        return;
    }
    resp->status = status;
    sl_buf_reset(&resp->body);
    scenario_doc(&s, &resp->body);
    sl_buf_append_char(&resp->body, '\n');
    sl_catalogue_scenario_clear(&s);
}

static void scenarios_route(void *arg, sl_http_request *req, sl_http_response *resp)
{
    sl_catalogue_api *api = arg;
    sl_catalogue *cat = catalogue(api, resp);
    if (!cat)
        return;
    const char *rest = path_rest(req, "/api/scenarios");
    if (!*rest) {
        if (method_is(req, "GET")) {
            sl_catalogue_scenario *v = NULL;
            size_t n = 0;
            int rc = sl_catalogue_scenario_list(cat, &v, &n);
            if (rc < 0) {
                db_error(resp, rc);
                return;
            }
            resp->status = 200;
            sl_buf_append_str(&resp->body, "{\"scenarios\":[");
            for (size_t i = 0; i < n; i++) {
                if (i)
                    sl_buf_append_char(&resp->body, ',');
                scenario_doc(&v[i], &resp->body);
            }
            sl_buf_append_str(&resp->body, "]}\n");
            sl_catalogue_scenarios_free(v, n);
            return;
        }
        if (method_is(req, "POST")) {
            sl_scenario *s = NULL;
            sl_buf stored = SL_BUF_INIT;
            if (scenario_body(req, 0, resp, &s, &stored)) {
                int rc = sl_catalogue_scenario_put(cat, s->id, sl_buf_view(&stored), s->title,
                                                   s->manager, SL_CATALOGUE_CREATE, NULL);
                if (rc == -EEXIST)
                    sl_http_error(resp, 409,
                                  "scenario %" PRId64 " exists; PUT /api/scenarios/%" PRId64
                                  " replaces it",
                                  s->id, s->id);
                else if (rc < 0)
                    db_error(resp, rc);
                else {
                    SL_INFO(TAG, "scenario %" PRId64 " created", s->id);
                    scenario_answer(cat, s->id, 201, resp);
                }
            }
            sl_scenario_free(s);
            sl_buf_free(&stored);
            return;
        }
        sl_http_error(resp, 405, "%s is not allowed on /api/scenarios (GET, POST)", req->method);
        return;
    }
    int64_t id;
    if (!parse_id(rest, &id)) {
        sl_http_error(resp, 400, "scenario id must be a positive integer, not '%.40s'", rest);
        return;
    }
    if (method_is(req, "GET")) {
        scenario_answer(cat, id, 200, resp);
    } else if (method_is(req, "PUT")) {
        sl_scenario *s = NULL;
        sl_buf stored = SL_BUF_INIT;
        if (scenario_body(req, id, resp, &s, &stored)) {
            int rc = sl_catalogue_scenario_put(cat, id, sl_buf_view(&stored), s->title, s->manager,
                                               SL_CATALOGUE_REPLACE, NULL);
            if (rc == -ENOENT)
                sl_http_error(resp, 404,
                              "no scenario %" PRId64 "; POST /api/scenarios creates it", id);
            else if (rc < 0)
                db_error(resp, rc);
            else {
                SL_INFO(TAG, "scenario %" PRId64 " replaced", id);
                scenario_answer(cat, id, 200, resp);
            }
        }
        sl_scenario_free(s);
        sl_buf_free(&stored);
    } else if (method_is(req, "DELETE")) {
        int rc = sl_catalogue_scenario_delete(cat, id);
        if (rc == -ENOENT)
            sl_http_error(resp, 404, "no scenario %" PRId64, id);
        else if (rc < 0)
            db_error(resp, rc);
        else {
            SL_INFO(TAG, "scenario %" PRId64 " deleted", id);
            resp->status = 200;
            sl_buf_printf(&resp->body, "{\"deleted\":%" PRId64 "}\n", id);
        }
    } else
        sl_http_error(resp, 405, "%s is not allowed on /api/scenarios/{id} (GET, PUT, DELETE)",
                      req->method);
}

/* ---- members ----------------------------------------------------------------- */

static void member_doc(const sl_catalogue_member *m, sl_buf *out)
{
    sl_buf_append_str(out, "{\"member_id\":");
    sl_buf_append_json_string(out, m->member_id, strlen(m->member_id));
    sl_buf inner = SL_BUF_INIT;
    sl_catalogue_member_json(m, &inner);
    if (inner.len > 2) {
        sl_buf_append_char(out, ',');
        sl_buf_append(out, inner.data + 1, inner.len - 2);
    }
    sl_buf_free(&inner);
    sl_buf_append_char(out, ',');
    append_time(out, "updated_at", m->updated_us);
    sl_buf_append_char(out, '}');
}

static void members_route(void *arg, sl_http_request *req, sl_http_response *resp)
{
    sl_catalogue_api *api = arg;
    sl_catalogue *cat = catalogue(api, resp);
    if (!cat)
        return;
    const char *rest = path_rest(req, "/api/members");
    if (!*rest) {
        if (method_is(req, "GET")) {
            int64_t limit;
            if (!query_int(req, "limit", DEFAULT_MEMBER_LIMIT, 1, MAX_MEMBER_LIMIT, &limit, resp))
                return;
            sl_buf after = SL_BUF_INIT;
            bool has_after = sl_http_query_param(req, "after", &after);
            sl_catalogue_member *v = NULL;
            size_t n = 0;
            int64_t total = 0;
            int rc = sl_catalogue_member_list(cat, has_after ? after.data : NULL, (size_t)limit,
                                              &v, &n);
            if (rc == 0)
                rc = sl_catalogue_member_count(cat, &total);
            sl_buf_free(&after);
            if (rc < 0) {
                sl_catalogue_members_free(v, n);
                db_error(resp, rc);
                return;
            }
            resp->status = 200;
            sl_buf_append_str(&resp->body, "{\"members\":[");
            for (size_t i = 0; i < n; i++) {
                if (i)
                    sl_buf_append_char(&resp->body, ',');
                member_doc(&v[i], &resp->body);
            }
            sl_buf_printf(&resp->body, "],\"total\":%" PRId64 ",\"next\":", total);
            if (n == (size_t)limit && n > 0)
                sl_buf_append_json_string(&resp->body, v[n - 1].member_id,
                                          strlen(v[n - 1].member_id));
            else
                sl_buf_append_str(&resp->body, "null");
            sl_buf_append_str(&resp->body, "}\n");
            sl_catalogue_members_free(v, n);
            return;
        }
        if (method_is(req, "POST")) {
            sl_catalogue_member *v = NULL;
            size_t n = 0;
            sl_buf err = SL_BUF_INIT;
            long line = 0;
            int rc = sl_members_parse(sl_buf_view(&req->body), sl_http_header(req, "Content-Type"),
                                      &v, &n, &err, &line);
            if (rc < 0) {
                resp->status = 400;
                sl_buf_append_str(&resp->body, "{\"error\":");
                sl_buf_append_json_string(&resp->body, err.data ? err.data : "invalid members",
                                          err.len);
                if (line > 0)
                    sl_buf_printf(&resp->body, ",\"line\":%ld", line);
                sl_buf_append_str(&resp->body, "}\n");
            } else {
                rc = n ? sl_catalogue_members_put(cat, v, n) : 0;
                if (rc < 0)
                    db_error(resp, rc);
                else {
                    SL_INFO(TAG, "%zu members imported", n);
                    resp->status = 200;
                    sl_buf_printf(&resp->body, "{\"imported\":%zu}\n", n);
                }
            }
            sl_catalogue_members_free(v, n);
            sl_buf_free(&err);
            return;
        }
        sl_http_error(resp, 405, "%s is not allowed on /api/members (GET, POST)", req->method);
        return;
    }
    char *id = unescape(rest);
    if (method_is(req, "GET")) {
        sl_catalogue_member m;
        int rc = sl_catalogue_member_get(cat, id, &m);
        if (rc == -ENOENT)
            sl_http_error(resp, 404, "no member '%.100s'", id);
        else if (rc < 0)
            db_error(resp, rc);
        else {
            resp->status = 200;
            member_doc(&m, &resp->body);
            sl_buf_append_char(&resp->body, '\n');
            sl_catalogue_member_clear(&m);
        }
    } else if (method_is(req, "DELETE")) {
        int rc = sl_catalogue_member_delete(cat, id);
        if (rc == -ENOENT)
            sl_http_error(resp, 404, "no member '%.100s'", id);
        else if (rc < 0)
            db_error(resp, rc);
        else {
            resp->status = 200;
            sl_buf_append_str(&resp->body, "{\"deleted\":");
            sl_buf_append_json_string(&resp->body, id, strlen(id));
            sl_buf_append_str(&resp->body, "}\n");
        }
    } else
        sl_http_error(resp, 405, "%s is not allowed on /api/members/{id} (GET, DELETE)",
                      req->method);
    free(id);
}

/* ---- statistics ---------------------------------------------------------------- */

/* updated_at is the window's end, as in Redis (docs/redis.md), so the API
   and Redis give the same value for the same window whenever it is read;
   written_at is when its newest partial was written. */
static void window_doc(const sl_catalogue_window *w, sl_buf *out)
{
    char upd[32], written[32];
    sl_catalogue_format_seed_time(w->window_end_us, upd, sizeof upd);
    sl_catalogue_format_seed_time(w->updated_us, written, sizeof written);
    sl_buf_append_char(out, '{');
    append_time(out, "window_start", w->window_start_us);
    sl_buf_append_char(out, ',');
    append_time(out, "window_end", w->window_end_us);
    sl_buf_printf(out, ",\"success_count\":%" PRId64 ",\"total_count\":%" PRId64
                       ",\"success_ratio\":",
                  w->success_count, w->total_count);
    sl_catalogue_append_ratio(out, w->success_count, w->total_count);
    sl_buf_printf(out, ",\"updated_at\":\"%s\",\"written_at\":\"%s\",\"partials\":%d}", upd,
                  written, w->partials);
}

/* The seed's Redis value, key for key and in its order. */
static void seed_value(const sl_catalogue_window *w, sl_buf *out)
{
    char upd[32];
    sl_catalogue_format_seed_time(w->window_end_us, upd, sizeof upd);
    sl_buf_append_str(out, "{\"success_ratio\":");
    sl_catalogue_append_ratio(out, w->success_count, w->total_count);
    sl_buf_printf(out, ",\"total_count\":%" PRId64 ",\"success_count\":%" PRId64
                       ",\"updated_at\":\"%s\"}",
                  w->total_count, w->success_count, upd);
}

static void scenario_stats_doc(int64_t id, const char *title, const sl_catalogue_window *w,
                               size_t n, sl_buf *out)
{
    sl_buf_printf(out, "{\"scenario_id\":%" PRId64 ",\"title\":", id);
    if (title)
        sl_buf_append_json_string(out, title, strlen(title));
    else
        sl_buf_append_str(out, "null");
    sl_buf_append_str(out, ",\"latest\":");
    if (n)
        window_doc(&w[n - 1], out);
    else
        sl_buf_append_str(out, "null");
    sl_buf_append_str(out, ",\"value\":");
    if (n)
        seed_value(&w[n - 1], out);
    else
        sl_buf_append_str(out, "null");
    sl_buf_append_str(out, ",\"history\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sl_buf_append_char(out, ',');
        window_doc(&w[i], out);
    }
    sl_buf_append_str(out, "]}");
}

static void stats_route(void *arg, sl_http_request *req, sl_http_response *resp)
{
    sl_catalogue_api *api = arg;
    if (!method_is(req, "GET")) {
        sl_http_error(resp, 405, "%s is not allowed on %s (GET)", req->method, req->path);
        return;
    }
    sl_catalogue *cat = catalogue(api, resp);
    if (!cat)
        return;
    int64_t history;
    if (!query_int(req, "history", DEFAULT_HISTORY, 1, MAX_HISTORY, &history, resp))
        return;
    const char *rest = path_rest(req, "/api/stats/scenarios");
    int64_t only = 0;
    if (*rest && !parse_id(rest, &only)) {
        sl_http_error(resp, 400, "scenario id must be a positive integer, not '%.40s'", rest);
        return;
    }
    sl_catalogue_scenario *sc = NULL;
    size_t nsc = 0;
    sl_catalogue_window *w = NULL;
    size_t nw = 0;
    int rc = sl_catalogue_scenario_list(cat, &sc, &nsc);
    if (rc == 0)
        rc = sl_catalogue_stats_windows(cat, only, (size_t)history, &w, &nw);
    if (rc < 0) {
        db_error(resp, rc);
        goto out;
    }
    if (only) {
        const char *title = NULL;
        for (size_t i = 0; i < nsc; i++)
            if (sc[i].id == only)
                title = sc[i].title;
        if (!title && nw == 0) {
            sl_http_error(resp, 404, "no scenario %" PRId64 " and no statistics for it", only);
            goto out;
        }
        resp->status = 200;
        scenario_stats_doc(only, title, w, nw, &resp->body);
        sl_buf_append_char(&resp->body, '\n');
        goto out;
    }
    /* Every scenario of the catalogue, and scenarios deleted since that
       still have statistics, in id order (both lists are sorted). */
    resp->status = 200;
    sl_buf_append_str(&resp->body, "{\"scenarios\":[");
    size_t i = 0, j = 0;
    bool first = true;
    while (i < nsc || j < nw) {
        int64_t id = i < nsc && (j >= nw || sc[i].id <= w[j].scenario_id) ? sc[i].id
                                                                           : w[j].scenario_id;
        const char *title = i < nsc && sc[i].id == id ? sc[i].title : NULL;
        size_t from = j;
        while (j < nw && w[j].scenario_id == id)
            j++;
        if (i < nsc && sc[i].id == id)
            i++;
        if (!first)
            sl_buf_append_char(&resp->body, ',');
        first = false;
        scenario_stats_doc(id, title, w + from, j - from, &resp->body);
    }
    sl_buf_append_str(&resp->body, "]}\n");
out:
    sl_catalogue_scenarios_free(sc, nsc);
    free(w);
}

/* ---- start / stop ------------------------------------------------------------- */

int sl_catalogue_api_open(const sl_config *cfg, sl_catalogue_api **out)
{
    sl_catalogue_api *api = sl_calloc(1, sizeof *api);
    pthread_mutex_init(&api->lock, NULL);
    api->data_dir = sl_strdup(cfg->data_dir);
    api->postgres = sl_strdup(cfg->catalogue_postgres ? cfg->catalogue_postgres : "");
    api->last_try_us = sl_mono_us();
    sl_buf err = SL_BUF_INIT;
    int rc = sl_catalogue_open(cfg, &api->cat, &err);
    if (rc < 0) {
        api->open_error = sl_strdup(err.data ? err.data : sl_strerror(rc));
        SL_ERROR(TAG, "catalogue unavailable (retrying on use): %s", api->open_error);
    } else
        SL_INFO(TAG, "catalogue open (%s)", sl_catalogue_backend(api->cat));
    sl_buf_free(&err);
    *out = api;
    return 0;
}

int sl_catalogue_api_register(sl_catalogue_api *api, sl_admin *admin)
{
    int rc = sl_admin_add_route(admin, "/api/scenarios", false, scenarios_route, api);
    if (rc == 0)
        rc = sl_admin_add_route(admin, "/api/members", false, members_route, api);
    if (rc == 0)
        rc = sl_admin_add_route(admin, "/api/stats/scenarios", false, stats_route, api);
    if (rc < 0)
        SL_ERROR(TAG, "cannot register the catalogue routes: %s", sl_strerror(rc));
    return rc;
}

void sl_catalogue_api_stop(sl_catalogue_api *api)
{
    if (!api)
        return;
    sl_catalogue_close(api->cat);
    pthread_mutex_destroy(&api->lock);
    free(api->open_error);
    free(api->data_dir);
    free(api->postgres);
    free(api);
}
