/*
 * dashboard.c - the dashboard's routes on the admin listener (see
 * dashboard.h): the embedded files, the login form, /api/lake.
 *
 * The route "/" catches every path no other module registered, so it also
 * answers the 404s of unknown /api/... paths (as JSON, like the rest of
 * the API). Files are served from the binary with an ETag and
 * "Cache-Control: no-cache": a browser revalidates each load (304) and
 * never runs a stale script after an upgrade.
 */
#include "admin/dashboard.h"
#include "admin/auth.h"
#include "core/logging.h"
#include "core/metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define TAG "admin"

/* The page loads only what it was built with: no inline script, no other origin. */
#define CSP                                                                        \
    "Content-Security-Policy: default-src 'self'; img-src 'self' data:; "          \
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'\r\n"

static sl_metric_family *login_failures;

static const sl_config *live(void *arg)
{
    return atomic_load((_Atomic(const sl_config *) *)arg);
}

static bool is_read(const sl_http_request *req)
{
    return !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
}

const sl_dashboard_asset *sl_dashboard_asset_find(const char *path)
{
    if (!strcmp(path, "/"))
        path = "/index.html";
    for (size_t i = 0; i < sl_dashboard_nassets; i++)
        if (!strcmp(sl_dashboard_assets[i].path, path))
            return &sl_dashboard_assets[i];
    return NULL;
}

static bool is_html(const sl_dashboard_asset *a)
{
    return !strncmp(a->content_type, "text/html", 9);
}

static void serve_asset(const sl_http_request *req, const sl_dashboard_asset *a,
                        sl_http_response *resp)
{
    snprintf(resp->extra_headers, sizeof resp->extra_headers,
             "ETag: %s\r\nCache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n%s",
             a->etag, is_html(a) ? CSP : "");
    resp->content_type = a->content_type;
    const char *match = sl_http_header(req, "If-None-Match");
    if (match && strstr(match, a->etag)) {
        resp->status = 304;
        resp->static_body = "";
        resp->static_len = 0;
        return;
    }
    resp->status = 200;
    resp->static_body = a->data;
    resp->static_len = a->len;
}

static void files_route(void *arg, sl_http_request *req, sl_http_response *resp)
{
    (void)arg;
    if (!strncmp(req->path, "/api/", 5) || !strcmp(req->path, "/api")) {
        sl_http_error(resp, 404, "no such endpoint: %s", req->path);
        return;
    }
    if (!is_read(req)) {
        sl_http_error(resp, 405, "%s is not allowed on %s", req->method, req->path);
        return;
    }
    const sl_dashboard_asset *a = sl_dashboard_asset_find(req->path);
    if (!a || !strcmp(req->path, "/login.html")) {
        sl_http_error(resp, 404, "no such page: %s", req->path);
        return;
    }
    serve_asset(req, a, resp);
}

/* ---- login -------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The value of `name` in an application/x-www-form-urlencoded body. */
static bool form_value(sl_view body, const char *name, sl_buf *out)
{
    size_t nlen = strlen(name);
    const char *p = body.ptr, *end = body.ptr + body.len;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (eq && (size_t)(eq - p) == nlen && !memcmp(p, name, nlen)) {
            sl_buf_reset(out);
            for (const char *v = eq + 1; v < stop; v++) {
                if (*v == '+')
                    sl_buf_append_char(out, ' ');
                else if (*v == '%' && stop - v > 2 && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
                    sl_buf_append_char(out, (char)(hexval(v[1]) * 16 + hexval(v[2])));
                    v += 2;
                } else
                    sl_buf_append_char(out, *v);
            }
            return true;
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

static void redirect(sl_http_response *resp, const char *to)
{
    resp->status = 303;
    resp->content_type = "text/plain; charset=utf-8";
    sl_buf_reset(&resp->body);
    sl_buf_printf(&resp->body, "see %s\n", to);
    size_t used = strlen(resp->extra_headers);
    snprintf(resp->extra_headers + used, sizeof resp->extra_headers - used,
             "Location: %s\r\nCache-Control: no-store\r\n", to);
}

/* The login form, with a message in place of its <!--error--> marker. */
static void login_page(sl_http_response *resp, int status, const char *error)
{
    const sl_dashboard_asset *a = sl_dashboard_asset_find("/login.html");
    if (!a) {
        sl_http_error(resp, 500, "the login page is missing from this build");
        return;
    }
    static const char marker[] = "<!--error-->";
    const char *page = (const char *)a->data;
    const char *at = strstr(page, marker);
    resp->status = status;
    resp->content_type = a->content_type;
    snprintf(resp->extra_headers, sizeof resp->extra_headers,
             "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n" CSP);
    sl_buf_reset(&resp->body);
    if (!at || !error) {
        sl_buf_append(&resp->body, page, a->len);
        return;
    }
    sl_buf_append(&resp->body, page, (size_t)(at - page));
    sl_buf_printf(&resp->body, "<p class=\"login-error\" role=\"alert\">%s</p>", error);
    sl_buf_append_str(&resp->body, at + sizeof marker - 1);
}

static void login_route(void *arg, sl_http_request *req, sl_http_response *resp)
{
    const sl_config *cfg = live(arg);
    const char *token = cfg->admin.token;
    if (!token || !*token) { /* nothing to log in to */
        redirect(resp, "/");
        return;
    }
    if (is_read(req)) {
        if (sl_auth_request_ok(req, token))
            redirect(resp, "/");
        else
            login_page(resp, 200, NULL);
        return;
    }
    if (strcmp(req->method, "POST") != 0) {
        sl_http_error(resp, 405, "%s is not allowed on /login (GET, POST)", req->method);
        return;
    }
    sl_buf given = SL_BUF_INIT;
    bool have = form_value(sl_buf_view(&req->body), "token", &given);
    if (have && sl_auth_equal(given.data ? given.data : "", given.len, token, strlen(token))) {
        sl_auth_set_cookie(resp, token, sl_now_us() / 1000000);
        redirect(resp, "/");
        SL_INFO(TAG, "dashboard login from %s", req->client_ip);
    } else {
        sl_counter_add(sl_metric_get0(login_failures), 1);
        SL_WARN(TAG, "dashboard login refused from %s (wrong token)", req->client_ip);
        login_page(resp, 401, have ? "Wrong token." : "Enter the admin token.");
    }
    sl_buf_free(&given);
}

static void logout_route(void *arg, sl_http_request *req, sl_http_response *resp)
{
    (void)arg;
    if (strcmp(req->method, "POST") != 0) {
        sl_http_error(resp, 405, "%s is not allowed on /logout (POST)", req->method);
        return;
    }
    sl_auth_set_cookie(resp, NULL, 0);
    redirect(resp, "/login");
}

/* {"auth":true} when admin.token is set: the page shows "Log out" only then. */
static void session_route(void *arg, sl_http_request *req, sl_http_response *resp)
{
    if (!is_read(req)) {
        sl_http_error(resp, 405, "%s is not allowed on /api/session (GET)", req->method);
        return;
    }
    const char *token = live(arg)->admin.token;
    resp->status = 200;
    sl_buf_printf(&resp->body, "{\"auth\":%s}\n", token && *token ? "true" : "false");
}

static void lake_route(void *arg, sl_http_request *req, sl_http_response *resp)
{
    if (!is_read(req)) {
        sl_http_error(resp, 405, "%s is not allowed on /api/lake (GET)", req->method);
        return;
    }
    resp->status = 200;
    sl_dashboard_lake_json(live(arg), &resp->body);
}

int sl_dashboard_register(sl_admin *admin, const sl_config *const *cfg_ref)
{
    login_failures = sl_metrics_family("sluice_admin_login_failures_total",
                                       "Dashboard logins refused for a wrong token.", SL_COUNTER,
                                       "");
    sl_metric_get0(login_failures); /* exported as 0 from the start */
    void *arg = (void *)cfg_ref;
    int rc = sl_admin_add_route(admin, "/", false, files_route, arg);
    /* What the login page itself loads is open: nothing in it is secret. */
    if (rc == 0)
        rc = sl_admin_add_route(admin, "/app.css", true, files_route, arg);
    if (rc == 0)
        rc = sl_admin_add_route(admin, "/favicon.svg", true, files_route, arg);
    if (rc == 0)
        rc = sl_admin_add_route(admin, "/login", true, login_route, arg);
    if (rc == 0)
        rc = sl_admin_add_route(admin, "/logout", true, logout_route, arg);
    if (rc == 0)
        rc = sl_admin_add_route(admin, "/api/lake", false, lake_route, arg);
    if (rc == 0)
        rc = sl_admin_add_route(admin, "/api/session", false, session_route, arg);
    if (rc < 0)
        SL_ERROR(TAG, "cannot register the dashboard routes: %s", sl_strerror(rc));
    return rc;
}
