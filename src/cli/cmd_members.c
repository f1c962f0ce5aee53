/*
 * cmd_members.c - `sluice members import FILE | list | show ID`: the
 * members table of a running sluice, through its admin API (api.h).
 *
 * The admin listener takes bodies up to 1 MiB, so `import` sends a large
 * CSV in parts of whole records (each part repeats the header line); each
 * part is one transaction on the server, so an error in part k leaves
 * parts 1..k-1 imported, and the message says which line failed. A JSON
 * file (an array of members) goes in one request.
 */
#include "catalogue/client.h"
#include "cli/cli.h"
#include "core/json.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PART_BYTES (768 * 1024)

static void members_usage(FILE *out)
{
    fprintf(out,
            "usage: sluice members import FILE\n"
            "       sluice members list [--limit N] [--after ID]\n"
            "       sluice members show ID\n\n"
            "Manages the members (member_id, age, gender, and any other columns) that the\n"
            "scenario processor joins to events by memberId. FILE is CSV with a header line\n"
            "(member_id,age,gender,...) or a JSON array of member objects; - reads stdin.\n"
            "An existing member_id is replaced. The processor sees changes within a second.\n\n"
            "  --admin URL    admin listener (default %s, or $SLUICE_ADMIN)\n"
            "  --token T      bearer token (admin.token; or $SLUICE_ADMIN_TOKEN)\n"
            "  --limit N      list: at most N members (default 100)\n"
            "  --after ID     list: start after this member_id\n",
            SL_ADMIN_DEFAULT_URL);
}

/* The end of the CSV record starting at p (past its newline), quotes respected. */
static const char *record_end(const char *p, const char *end, size_t *newlines)
{
    bool quoted = false;
    for (; p < end; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (*p == '\n') {
            (*newlines)++;
            if (!quoted)
                return p + 1;
        }
    }
    return end;
}

/* Send one part; add the imported count; 0 or 1 (printed). */
static int send_part(const sl_admin_client *c, sl_view body, const char *ctype, long first_line,
                     long *imported)
{
    long status = 0;
    sl_buf answer = SL_BUF_INIT, err = SL_BUF_INIT;
    int rc = sl_admin_request(c, "POST", "/api/members", ctype, body, &status, &answer, &err);
    if (rc < 0) {
        fprintf(stderr, "sluice: %s (is sluice running? --admin URL)\n", err.data);
        rc = 1;
        goto out;
    }
    size_t end = 0;
    sl_view v;
    bool json = answer.len && sl_json_validate(answer.data, answer.len, 0, &end, NULL) == 0 &&
                answer.data[0] == '{';
    if (status != 200) {
        sl_buf msg = SL_BUF_INIT;
        sl_admin_error_text(&answer, &msg);
        int64_t line = 0;
        if (json && sl_json_get((sl_view){ answer.data, end }, "line", &v))
            sl_json_int64(v, &line);
        if (line > 0 && first_line > 1) /* the part's line -> the file's */
            fprintf(stderr, "sluice: import failed at line %ld of the file: %s\n",
                    (long)(line - 2 + first_line), msg.data ? msg.data : "");
        else
            fprintf(stderr, "sluice: import failed: HTTP %ld: %s\n", status,
                    msg.data ? msg.data : "");
        sl_buf_free(&msg);
        rc = 1;
        goto out;
    }
    int64_t n = 0;
    if (json && sl_json_get((sl_view){ answer.data, end }, "imported", &v))
        sl_json_int64(v, &n);
    *imported += (long)n;
out:
    sl_buf_free(&answer);
    sl_buf_free(&err);
    return rc;
}

static int import(const sl_admin_client *c, const char *file)
{
    sl_buf text = SL_BUF_INIT;
    if (sl_cli_read_file(file, &text) < 0)
        return 1;
    long imported = 0;
    int rc = 0;
    size_t s0 = sl_json_skip_ws(text.data, text.len, 0);
    if (s0 < text.len && (text.data[s0] == '[' || text.data[s0] == '{')) {
        rc = send_part(c, sl_buf_view(&text), "application/json", 0, &imported);
    } else {
        const char *p = text.data, *end = text.data + text.len;
        if (end - p >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
            p += 3;
        size_t lines = 0;
        const char *header_end = record_end(p, end, &lines);
        sl_view header = { p, (size_t)(header_end - p) };
        long line = 2; /* of the file, where the next part's records start */
        sl_buf part = SL_BUF_INIT;
        const char *q = header_end;
        if (q == end) /* a header alone: let the server say so */
            rc = send_part(c, header, "text/csv", 1, &imported);
        while (rc == 0 && q < end) {
            sl_buf_reset(&part);
            sl_buf_append(&part, header.ptr, header.len);
            if (header.len && header.ptr[header.len - 1] != '\n')
                sl_buf_append_char(&part, '\n');
            size_t part_lines = 0;
            while (q < end && (part.len < PART_BYTES || part_lines == 0)) {
                const char *r = record_end(q, end, &part_lines);
                sl_buf_append(&part, q, (size_t)(r - q));
                q = r;
            }
            rc = send_part(c, sl_buf_view(&part), "text/csv", line, &imported);
            line += (long)part_lines;
        }
        sl_buf_free(&part);
    }
    if (imported || rc == 0)
        printf("imported %ld member%s\n", imported, imported == 1 ? "" : "s");
    sl_buf_free(&text);
    return rc;
}

static int get(const sl_admin_client *c, const char *path)
{
    long status = 0;
    sl_buf answer = SL_BUF_INIT, err = SL_BUF_INIT;
    int rc = sl_admin_request(c, "GET", path, NULL, SL_VIEW_NULL, &status, &answer, &err);
    if (rc < 0) {
        fprintf(stderr, "sluice: %s (is sluice running? --admin URL)\n", err.data);
        rc = 1;
    } else if (status != 200) {
        sl_buf msg = SL_BUF_INIT;
        sl_admin_error_text(&answer, &msg);
        fprintf(stderr, "sluice: HTTP %ld: %s\n", status, msg.data ? msg.data : "");
        sl_buf_free(&msg);
        rc = 1;
    } else
        fwrite(answer.data, 1, answer.len, stdout);
    sl_buf_free(&answer);
    sl_buf_free(&err);
    return rc;
}

/* Percent-encode a path segment or query value. */
static void encode(sl_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~')
            sl_buf_append_char(out, (char)*p);
        else {
            char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
            sl_buf_append(out, e, 3);
        }
    }
}

int sl_cmd_members(int argc, char **argv)
{
    static const struct option opts[] = {
        { "admin", required_argument, NULL, 'a' }, { "token", required_argument, NULL, 't' },
        { "limit", required_argument, NULL, 'l' }, { "after", required_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },        { 0 },
    };
    sl_admin_client c = { getenv("SLUICE_ADMIN"), getenv("SLUICE_ADMIN_TOKEN") };
    const char *limit = NULL, *after = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'a': c.base = optarg; break;
        case 't': c.token = optarg; break;
        case 'l': limit = optarg; break;
        case 'f': after = optarg; break;
        case 'h': members_usage(stdout); return 0;
        default: members_usage(stderr); return 2;
        }
    }
    int nargs = argc - optind;
    const char *verb = nargs > 0 ? argv[optind] : NULL;
    if (verb && !strcmp(verb, "import") && nargs == 2)
        return import(&c, argv[optind + 1]);
    if (verb && (!strcmp(verb, "list") && nargs == 1)) {
        sl_buf path = SL_BUF_INIT;
        sl_buf_append_str(&path, "/api/members?limit=");
        encode(&path, limit ? limit : "100");
        if (after) {
            sl_buf_append_str(&path, "&after=");
            encode(&path, after);
        }
        int rc = get(&c, path.data);
        sl_buf_free(&path);
        return rc;
    }
    if (verb && !strcmp(verb, "show") && nargs == 2) {
        sl_buf path = SL_BUF_INIT;
        sl_buf_append_str(&path, "/api/members/");
        encode(&path, argv[optind + 1]);
        int rc = get(&c, path.data);
        sl_buf_free(&path);
        return rc;
    }
    members_usage(stderr);
    return 2;
}
