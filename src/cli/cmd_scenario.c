/*
 * cmd_scenario.c - `sluice scenario list | show ID | add FILE | rm ID`: the
 * scenarios of a running sluice, through its admin API (api.h).
 *
 * `add` sends a file in the seed's shape (one scenario object, or a JSON
 * array of them) to POST /api/scenarios; with --replace an existing id is
 * replaced with PUT instead of refused. Validation happens in the server,
 * and its message (naming the bad part) is printed as it comes.
 */
#include "catalogue/client.h"
#include "cli/cli.h"
#include "core/alloc.h"
#include "core/json.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void scenario_usage(FILE *out)
{
    fprintf(out,
            "usage: sluice scenario list [--json]\n"
            "       sluice scenario show ID\n"
            "       sluice scenario add FILE [--replace]\n"
            "       sluice scenario rm ID\n\n"
            "Manages the scenarios of a running sluice through its admin API. FILE holds one\n"
            "scenario in seed 001's JSON shape (scenario_id, title, manager, log_format,\n"
            "filters, logical_operator), or a JSON array of them; - reads standard input.\n"
            "Changes take effect in the scenario processor within a second, no restart.\n\n"
            "  --admin URL    admin listener (default %s, or $SLUICE_ADMIN)\n"
            "  --token T      bearer token (admin.token; or $SLUICE_ADMIN_TOKEN)\n"
            "  --replace      add: replace a scenario whose id exists\n"
            "  --json         list: print the API's JSON\n",
            SL_ADMIN_DEFAULT_URL);
}

/* Print the server's error and return 1; 0 for 2xx. */
static int answer_status(const char *what, long status, const sl_buf *answer)
{
    if (status >= 200 && status < 300)
        return 0;
    sl_buf msg = SL_BUF_INIT;
    sl_admin_error_text(answer, &msg);
    fprintf(stderr, "sluice: %s: HTTP %ld: %s\n", what, status, msg.data ? msg.data : "");
    sl_buf_free(&msg);
    return 1;
}

static int request(const sl_admin_client *c, const char *method, const char *path, sl_view body,
                   long *status, sl_buf *answer)
{
    sl_buf err = SL_BUF_INIT;
    int rc = sl_admin_request(c, method, path, NULL, body, status, answer, &err);
    if (rc < 0)
        fprintf(stderr, "sluice: %s (is sluice running? --admin URL)\n", err.data);
    sl_buf_free(&err);
    return rc;
}

static void print_text(sl_view v, int width)
{
    sl_buf b = SL_BUF_INIT;
    if (sl_json_type_of(v) == SL_JSON_STRING)
        sl_json_string_decode(v, &b);
    else
        sl_buf_append(&b, v.ptr ? v.ptr : "", v.len);
    const char *t = b.data ? b.data : "";
    if (width <= 0) {
        printf("%s", t);
    } else {
        /* Cut and pad by characters, never inside a UTF-8 sequence. */
        size_t bytes = 0;
        int chars = 0;
        while (t[bytes] && chars < width) {
            bytes++;
            while (((unsigned char)t[bytes] & 0xC0) == 0x80)
                bytes++;
            chars++;
        }
        printf("%.*s%*s", (int)bytes, t, width - chars, "");
    }
    sl_buf_free(&b);
}

static int list(const sl_admin_client *c, bool json)
{
    long status = 0;
    sl_buf answer = SL_BUF_INIT;
    if (request(c, "GET", "/api/scenarios", SL_VIEW_NULL, &status, &answer) < 0)
        return 1;
    int rc = answer_status("list", status, &answer);
    if (rc == 0 && json)
        fwrite(answer.data, 1, answer.len, stdout);
    else if (rc == 0) {
        size_t end = 0;
        sl_view all, arr, item, v;
        if (sl_json_validate(answer.data, answer.len, 0, &end, NULL) < 0) {
            fprintf(stderr, "sluice: the server's answer is not JSON\n");
            rc = 1;
            goto out;
        }
        all = (sl_view){ answer.data + sl_json_skip_ws(answer.data, answer.len, 0), 0 };
        all.len = answer.data + end - all.ptr;
        if (!sl_json_get(all, "scenarios", &arr) || sl_json_type_of(arr) != SL_JSON_ARRAY) {
            fprintf(stderr, "sluice: unexpected answer: %s\n", answer.data);
            rc = 1;
            goto out;
        }
        printf("%-8s %-7s %-32s %s\n", "ID", "VERSION", "TITLE", "FILTERS");
        sl_json_iter it;
        sl_json_iter_init(&it, arr);
        size_t n = 0;
        while (sl_json_array_next(&it, &item)) {
            n++;
            if (sl_json_get(item, "scenario_id", &v))
                print_text(v, 8);
            printf(" ");
            if (sl_json_get(item, "version", &v))
                print_text(v, 7);
            printf(" ");
            if (sl_json_get(item, "title", &v))
                print_text(v, 32);
            else
                printf("%-32s", "");
            printf(" ");
            if (sl_json_get(item, "expression", &v))
                print_text(v, 0);
            printf("\n");
        }
        if (n == 0)
            printf("(no scenarios)\n");
    }
out:
    sl_buf_free(&answer);
    return rc;
}

static int show(const sl_admin_client *c, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/api/scenarios/%s", id);
    long status = 0;
    sl_buf answer = SL_BUF_INIT;
    if (request(c, "GET", path, SL_VIEW_NULL, &status, &answer) < 0)
        return 1;
    int rc = answer_status(id, status, &answer);
    if (rc == 0)
        fwrite(answer.data, 1, answer.len, stdout);
    sl_buf_free(&answer);
    return rc;
}

/* POST one scenario (PUT when it exists and replace is set). */
static int add_one(const sl_admin_client *c, sl_view scenario, bool replace, const char *what)
{
    long status = 0;
    sl_buf answer = SL_BUF_INIT;
    int rc = 1;
    if (request(c, "POST", "/api/scenarios", scenario, &status, &answer) < 0)
        goto out;
    if (status == 409 && replace) {
        sl_view id;
        int64_t n = 0;
        if (!sl_json_get(scenario, "scenario_id", &id) || sl_json_int64(id, &n) < 0) {
            fprintf(stderr, "sluice: %s: no usable scenario_id\n", what);
            goto out;
        }
        char path[64];
        snprintf(path, sizeof path, "/api/scenarios/%" PRId64, n);
        sl_buf_reset(&answer);
        if (request(c, "PUT", path, scenario, &status, &answer) < 0)
            goto out;
    }
    if (answer_status(what, status, &answer) != 0)
        goto out;
    sl_view doc = sl_buf_view(&answer), id, ver;
    size_t end = 0;
    if (sl_json_validate(doc.ptr, doc.len, 0, &end, NULL) == 0 &&
        sl_json_get((sl_view){ doc.ptr, end }, "scenario_id", &id) &&
        sl_json_get((sl_view){ doc.ptr, end }, "version", &ver))
        printf("scenario %.*s %s (version %.*s)\n", (int)id.len, id.ptr,
               status == 201 ? "created" : "replaced", (int)ver.len, ver.ptr);
    else
        fwrite(answer.data, 1, answer.len, stdout);
    rc = 0;
out:
    sl_buf_free(&answer);
    return rc;
}

static int add(const sl_admin_client *c, const char *file, bool replace)
{
    sl_buf text = SL_BUF_INIT;
    if (sl_cli_read_file(file, &text) < 0)
        return 1;
    int rc = 0;
    size_t end = 0;
    sl_json_error je;
    size_t s0 = sl_json_skip_ws(text.data, text.len, 0);
    bool valid = sl_json_validate(text.data, text.len, 0, &end, &je) == 0;
    sl_view root = { text.data + s0, valid ? end - s0 : 0 };
    if (valid && text.data[s0] == '[') { /* several scenarios */
        sl_json_iter it;
        sl_view item;
        sl_json_iter_init(&it, root);
        for (size_t i = 0; sl_json_array_next(&it, &item); i++) {
            char what[600];
            snprintf(what, sizeof what, "%s[%zu]", file, i);
            rc |= add_one(c, item, replace, what);
        }
    } else if (valid && text.data[s0] == '{')
        rc = add_one(c, root, replace, file);
    else /* the server explains what is wrong with it */
        rc = add_one(c, sl_buf_view(&text), false, file);
    sl_buf_free(&text);
    return rc;
}

static int rm(const sl_admin_client *c, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/api/scenarios/%s", id);
    long status = 0;
    sl_buf answer = SL_BUF_INIT;
    if (request(c, "DELETE", path, SL_VIEW_NULL, &status, &answer) < 0)
        return 1;
    int rc = answer_status(id, status, &answer);
    if (rc == 0)
        printf("scenario %s deleted\n", id);
    sl_buf_free(&answer);
    return rc;
}

int sl_cmd_scenario(int argc, char **argv)
{
    static const struct option opts[] = {
        { "admin", required_argument, NULL, 'a' }, { "token", required_argument, NULL, 't' },
        { "replace", no_argument, NULL, 'r' },     { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },        { 0 },
    };
    sl_admin_client c = { getenv("SLUICE_ADMIN"), getenv("SLUICE_ADMIN_TOKEN") };
    bool replace = false, json = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'a': c.base = optarg; break;
        case 't': c.token = optarg; break;
        case 'r': replace = true; break;
        case 'j': json = true; break;
        case 'h': scenario_usage(stdout); return 0;
        default: scenario_usage(stderr); return 2;
        }
    }
    int nargs = argc - optind;
    const char *verb = nargs > 0 ? argv[optind] : NULL;
    if (verb && !strcmp(verb, "list") && nargs == 1)
        return list(&c, json);
    if (verb && !strcmp(verb, "show") && nargs == 2)
        return show(&c, argv[optind + 1]);
    if (verb && !strcmp(verb, "add") && nargs == 2)
        return add(&c, argv[optind + 1], replace);
    if (verb && (!strcmp(verb, "rm") || !strcmp(verb, "delete")) && nargs == 2)
        return rm(&c, argv[optind + 1]);
    scenario_usage(stderr);
    return 2;
}
