/*
 * client.c - HTTP requests to the admin API for the CLI (see client.h).
 */
#include "catalogue/client.h"
#include "core/json.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    sl_buf_append(arg, data, size * n);
    return size * n;
}

int sl_admin_request(const sl_admin_client *c, const char *method, const char *path,
                     const char *content_type, sl_view body, long *status, sl_buf *out,
                     sl_buf *err)
{
    static bool initialised;
    if (!initialised) { /* the CLI is single-threaded here */
        curl_global_init(CURL_GLOBAL_DEFAULT);
        initialised = true;
    }
    CURL *curl = curl_easy_init();
    if (!curl) {
        sl_buf_printf(err, "cannot start libcurl");
        return SL_ERR;
    }
    sl_buf url = SL_BUF_INIT;
    const char *base = c->base && *c->base ? c->base : SL_ADMIN_DEFAULT_URL;
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    sl_buf_append(&url, base, blen);
    sl_buf_append_str(&url, path);

    struct curl_slist *headers = NULL;
    char line[512];
    snprintf(line, sizeof line, "Content-Type: %s", content_type ? content_type : "application/json");
    headers = curl_slist_append(headers, line);
    if (c->token && *c->token) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", c->token);
        headers = curl_slist_append(headers, line);
    }
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(curl, CURLOPT_URL, url.data);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 120000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (body.len) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.ptr);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
    }
    CURLcode rc = curl_easy_perform(curl);
    int result = 0;
    if (rc != CURLE_OK) {
        sl_buf_printf(err, "%s %s: %s", method, url.data, curl_easy_strerror(rc));
        result = SL_ERR;
    } else
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    sl_buf_free(&url);
    return result;
}

void sl_admin_error_text(const sl_buf *answer, sl_buf *out)
{
    sl_view body = sl_buf_view(answer);
    size_t end = 0;
    sl_view v;
    if (body.len && sl_json_validate(body.ptr, body.len, 0, &end, NULL) == 0) {
        size_t s0 = sl_json_skip_ws(body.ptr, body.len, 0);
        sl_view root = { body.ptr + s0, end - s0 };
        if (sl_json_type_of(root) == SL_JSON_OBJECT && sl_json_get(root, "error", &v) &&
            sl_json_type_of(v) == SL_JSON_STRING) {
            sl_json_string_decode(v, out);
            return;
        }
    }
    sl_buf_append(out, body.ptr ? body.ptr : "", body.len);
    while (out->len && (out->data[out->len - 1] == '\n'))
        out->data[--out->len] = '\0';
}
