/*
 * test_nginx_pcre2.c - the NGINX line parser checked against an independent
 * implementation: the regular expression of Fluentd's `nginx` parser
 * (docs.fluentd.org/parser/nginx), run by PCRE2.
 *
 * The Makefile compiles unit tests with -DSL_HAVE_PCRE2 and links
 * -lpcre2-8 (libpcre2-dev); built without them, the suite holds one skipped
 * test. The expression, as documented (the documentation's x_forwarded_for
 * is [^ ]+, not [^ ]*):
 *
 *   ^(?<remote>[^ ]*) (?<host>[^ ]*) (?<user>[^ ]*) \[(?<time>[^\]]*)\]
 *   "(?<method>\S+)(?: +(?<path>[^\"]*?)(?: +\S*)?)?" (?<code>[^ ]*)
 *   (?<size>[^ ]*)(?: "(?<referer>[^\"]*)" "(?<agent>[^\"]*)"
 *   (?:\s+(?<http_x_forwarded_for>[^ ]+))?)?$
 *
 * Part 1 generates lines the way NGINX writes them (random addresses,
 * users, times in every offset, methods, paths with query strings,
 * statuses, sizes, referers and agents carrying '"', '\', UTF-8 and control
 * bytes, all escaped as \xHH) in the combined and main formats. Both must
 * accept every line and agree on every field; sluice's values must also be
 * the generator's original bytes and its time the generator's instant.
 *
 * Part 2 mutates such lines (bytes deleted, inserted, replaced, cut) and
 * requires the two to agree on match / no match, or else the difference to
 * be one of these, where they legitimately differ:
 *
 *   1. sluice decodes \xHH; the regex returns the text as written. Fields
 *      are compared raw, and decoded by this test's own decoder.
 *   2. sluice reads '-' as absent; the regex returns "-". A request of "-"
 *      is absent in sluice and method "-" in the regex.
 *   3. sluice checks typed values (the time, $status, $body_bytes_sent,
 *      escapes); the regex takes any text without a space.
 *   4. sluice's combined format is exact: the literal '-' between address
 *      and user, the referer and agent required, nothing after the agent.
 *      The regex takes any token for '-', makes referer and agent optional
 *      and takes one more token after the agent (x_forwarded_for).
 *   5. A sluice variable ends where its following literal begins, so an
 *      unquoted field may hold a space (a Basic-auth user may) and a quoted
 *      one a raw '"' not followed by the next literal (NGINX never writes
 *      one); the regex's [^ ]* and [^\"]* refuse both.
 *   6. A request that is empty or starts with a space has no method: sluice
 *      keeps it as "request", the regex (\S+) refuses the line.
 *   7. The regex's \S+ (method) and \S* (protocol) also match '"', so on a
 *      line with a raw quote it can stretch the request over the fields
 *      after it (method "GET/x\"", code taken from the agent); sluice ends
 *      $request at the first '" '.
 *   When both accept a line but 5, 6 or 7 applies, the regex has split it
 *   elsewhere; such lines are counted, not compared field by field.
 *   8. main's ' "$http_x_forwarded_for"' is one space in sluice; the
 *      regex's \s+ takes any run of white space.
 *
 * The PRNG seed is fixed; SL_TEST_SEED=<n> mixes in another, and failures
 * print the line.
 */
#include <criterion/criterion.h>

#ifndef SL_HAVE_PCRE2

Test(nginx_pcre2, needs_pcre2)
{
    cr_skip_test("built without SL_HAVE_PCRE2: the differential test against Fluentd's regex "
                 "needs -DSL_HAVE_PCRE2 and -lpcre2-8");
}

#else

#define PCRE2_CODE_UNIT_WIDTH 8
#include "core/json.h"
#include "input/tail/nginx_format.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char fluentd_nginx_regex[] =
    "^(?<remote>[^ ]*) (?<host>[^ ]*) (?<user>[^ ]*) \\[(?<time>[^\\]]*)\\] "
    "\"(?<method>\\S+)(?: +(?<path>[^\\\"]*?)(?: +\\S*)?)?\" (?<code>[^ ]*) (?<size>[^ ]*)"
    "(?: \"(?<referer>[^\\\"]*)\" \"(?<agent>[^\\\"]*)\"(?:\\s+(?<http_x_forwarded_for>[^ ]+))?)?$";

enum { G_REMOTE, G_HOST, G_USER, G_TIME, G_METHOD, G_PATH, G_CODE, G_SIZE, G_REFERER, G_AGENT,
       G_XFF, G_COUNT };
static const char *group_names[G_COUNT] = { "remote", "host",   "user",    "time",  "method",
                                            "path",   "code",   "size",    "referer", "agent",
                                            "http_x_forwarded_for" };

typedef struct regex_result {
    bool matched;
    sl_view g[G_COUNT]; /* ptr NULL when the group did not take part */
} regex_result;

static pcre2_code *re;
static pcre2_match_data *md;
static int group_number[G_COUNT];

static void regex_setup(void)
{
    int code;
    PCRE2_SIZE at;
    re = pcre2_compile((PCRE2_SPTR)fluentd_nginx_regex, PCRE2_ZERO_TERMINATED, 0, &code, &at, NULL);
    cr_assert_not_null(re, "the regex does not compile (error %d at %zu)", code, (size_t)at);
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional: faster when available */
    md = pcre2_match_data_create_from_pattern(re, NULL);
    for (int i = 0; i < G_COUNT; i++) {
        group_number[i] = pcre2_substring_number_from_name(re, (PCRE2_SPTR)group_names[i]);
        cr_assert_gt(group_number[i], 0, "no group %s", group_names[i]);
    }
}

static void regex_teardown(void)
{
    pcre2_match_data_free(md);
    pcre2_code_free(re);
}

static regex_result regex_match(const char *line, size_t len)
{
    regex_result r = { 0 };
    int rc = pcre2_match(re, (PCRE2_SPTR)line, len, 0, 0, md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH)
        return r;
    cr_assert_gt(rc, 0, "pcre2_match failed: %d", rc);
    r.matched = true;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    for (int i = 0; i < G_COUNT; i++) {
        int n = group_number[i];
        if (n < rc && ov[2 * n] != PCRE2_UNSET)
            r.g[i] = (sl_view){ line + ov[2 * n], ov[2 * n + 1] - ov[2 * n] };
    }
    return r;
}

/* ---- this test's own view of NGINX's escaping ---- */

static void nginx_escape(sl_buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f)
            sl_buf_printf(out, "\\x%02X", c);
        else
            sl_buf_append_char(out, (char)c);
    }
}

/* Decode \xHH in s (which the regex matched, so escapes are whole or absent). */
static void unescape(sl_buf *out, sl_view s)
{
    sl_buf_reset(out);
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] == '\\' && i + 3 < s.len && s.ptr[i + 1] == 'x') {
            char hex[3] = { s.ptr[i + 2], s.ptr[i + 3], 0 };
            sl_buf_append_char(out, (char)strtol(hex, NULL, 16));
            i += 3;
        } else {
            sl_buf_append_char(out, s.ptr[i]);
        }
    }
}

/* ---- random lines ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static unsigned below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static const char *pick(const char *const *list, size_t n)
{
    return list[below((unsigned)n)];
}

#define PICK(list) pick(list, SL_ARRAY_LEN(list))

static void seed_rng(void)
{
    rng_state = UINT64_C(0x5eed0001);
    const char *env = getenv("SL_TEST_SEED");
    if (env)
        rng_state ^= strtoull(env, NULL, 10) * UINT64_C(0x9E3779B97F4A7C15);
}

static const char *const methods[] = { "GET", "GET", "GET", "POST", "HEAD", "PUT", "DELETE",
                                       "OPTIONS", "PATCH", "PROPFIND" };
static const char *const protocols[] = { "HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0" };
static const char *const words[] = { "product_detail", "api", "v1", "collect", "5", "17",
                                     "img", "static", "a.gif", "index.html", "%EC%83%81",
                                     "search", "x-y_z", "~user", "dir.name" };
static const char *const query_keys[] = { "e_c", "e_a", "e_n", "url", "urlref", "_idn",
                                          "cookie", "res", "memberId", "h", "q" };
static const char *const query_values[] = {
    "buttonClick", "Clicked", "\\uace0\\uba74\\ud560\\ub2f9\\ud558\\uae30", "http://shop/p/1",
    "1920x1080", "123456", "0", "1", "%EC%83%81%ED%92%88", "a+b", "\"quoted\"", "\xEA\xB3\xA0",
    "", "tab\there", "C:\\dir" };
static const char *const agents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15",
    "curl/8.5.0", "Opera/12.0", "Go-http-client/1.1", "sluice-gen/1.0",
    "say \"hi\" \\ back", "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4 agent", "ctl\x01\x1f\x7f end",
    "latin1 caf\xE9", "[brackets] - and \"] \"", "" };
static const char *const users[] = { "-", "-", "-", "frank", "admin_user", "a.b@c", "x-y",
                                     "\xEA\xB9\x80", "q\"uote" };

static void gen_ip(sl_buf *b)
{
    if (below(10) == 0)
        sl_buf_printf(b, "2001:db8::%x", below(65536));
    else
        sl_buf_printf(b, "%u.%u.%u.%u", below(256), below(256), below(256), below(256));
}

/* A request target; raw bytes (escaped later). Spaces only when protocol follows. */
static void gen_target(sl_buf *b, bool spaces)
{
    unsigned segs = 1 + below(4);
    for (unsigned i = 0; i < segs; i++) {
        sl_buf_append_char(b, '/');
        sl_buf_append_str(b, PICK(words));
        if (spaces && below(15) == 0)
            sl_buf_append_str(b, " sp");
    }
    if (below(3) == 0)
        return;
    unsigned n = 1 + below(8);
    for (unsigned i = 0; i < n; i++) {
        sl_buf_append_char(b, i ? '&' : '?');
        sl_buf_append_str(b, PICK(query_keys));
        sl_buf_append_char(b, '=');
        sl_buf_append_str(b, PICK(query_values));
    }
}

typedef struct gen_line {
    sl_buf line;
    sl_buf user, target, referer, agent, xff; /* raw (unescaped) values */
    const char *method, *protocol;
    int64_t ts_us;
    bool main_format;
} gen_line;

static void gen_free(gen_line *g)
{
    sl_buf_free(&g->line);
    sl_buf_free(&g->user);
    sl_buf_free(&g->target);
    sl_buf_free(&g->referer);
    sl_buf_free(&g->agent);
    sl_buf_free(&g->xff);
}

static void gen(gen_line *g)
{
    static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    sl_buf_reset(&g->line);
    sl_buf_reset(&g->user);
    sl_buf_reset(&g->target);
    sl_buf_reset(&g->referer);
    sl_buf_reset(&g->agent);
    sl_buf_reset(&g->xff);
    sl_buf *l = &g->line;

    gen_ip(l);
    sl_buf_append_str(l, " - ");
    sl_buf_append_str(&g->user, PICK(users));
    nginx_escape(l, g->user.data, g->user.len);

    /* Any instant 1970-2099 in any offset from -12:00 to +14:00 by 15 min. */
    time_t t = (time_t)(rnd() % UINT64_C(4102444800));
    int off = ((int)below(105) - 48) * 15;
    time_t local = t + off * 60;
    struct tm tm;
    gmtime_r(&local, &tm);
    int aoff = off < 0 ? -off : off;
    sl_buf_printf(l, " [%02d/%s/%04d:%02d:%02d:%02d %c%02d%02d] \"", tm.tm_mday, mon[tm.tm_mon],
                  tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
                  aoff / 60, aoff % 60);
    g->ts_us = (int64_t)t * 1000000;

    g->method = PICK(methods);
    g->protocol = below(12) == 0 ? NULL : PICK(protocols);
    gen_target(&g->target, g->protocol != NULL);
    sl_buf_append_str(l, g->method);
    sl_buf_append_char(l, ' ');
    nginx_escape(l, g->target.data, g->target.len);
    if (g->protocol) {
        sl_buf_append_char(l, ' ');
        sl_buf_append_str(l, g->protocol);
    }
    static const unsigned statuses[] = { 200, 200, 200, 201, 204, 301, 302, 304, 400, 403, 404, 499, 500, 502 };
    sl_buf_printf(l, "\" %u %llu \"", statuses[below(SL_ARRAY_LEN(statuses))],
                  below(4) == 0 ? 0ULL : (unsigned long long)(rnd() % 100000000));
    if (below(3) == 0) {
        sl_buf_append_char(&g->referer, '-');
    } else {
        sl_buf_append_str(&g->referer, "http://shop.example");
        gen_target(&g->referer, false);
    }
    nginx_escape(l, g->referer.data, g->referer.len);
    sl_buf_append_str(l, "\" \"");
    sl_buf_append_str(&g->agent, below(12) == 0 ? "-" : PICK(agents));
    nginx_escape(l, g->agent.data, g->agent.len);
    sl_buf_append_char(l, '"');

    g->main_format = below(3) == 0;
    if (g->main_format) {
        unsigned k = below(3);
        if (k == 0)
            sl_buf_append_char(&g->xff, '-');
        else
            gen_ip(&g->xff);
        if (k == 2) { /* a chain without spaces keeps the regex's [^ ]+ happy */
            sl_buf_append_char(&g->xff, ',');
            gen_ip(&g->xff);
        }
        sl_buf_append_str(l, " \"");
        nginx_escape(l, g->xff.data, g->xff.len);
        sl_buf_append_char(l, '"');
    }
}

/* ---- comparing ---- */

static sl_nginx_format *combined, *main_fmt;
static sl_nginx_line parsed;
static char scratch[1 << 16];
static sl_buf tmp;

static void setup(void)
{
    sl_nginx_error err;
    regex_setup();
    cr_assert_eq(sl_nginx_format_new("combined", &combined, &err), 0);
    cr_assert_eq(sl_nginx_format_new("main", &main_fmt, &err), 0);
    seed_rng();
}

static void teardown(void)
{
    regex_teardown();
    sl_nginx_format_free(combined);
    sl_nginx_format_free(main_fmt);
    sl_buf_free(&tmp);
}

#define SAME_VIEW(a, b, what, line)                                                          \
    cr_assert(sl_view_eq((a), (b)), "%s differs: sluice \"%.*s\", regex \"%.*s\"\n  line: %s", \
              (what), (int)(a).len, (a).ptr ? (a).ptr : "", (int)(b).len,                    \
              (b).ptr ? (b).ptr : "", (line))

/* A field's raw text as the regex would show it: '-' for an absent field. */
static sl_view raw_of(const sl_nginx_line *l, const char *name)
{
    const sl_nginx_field *f = sl_nginx_line_get(l, name);
    cr_assert_not_null(f);
    return f->raw;
}

/* Both accepted the line: every field must agree. */
static void compare_fields(const sl_nginx_line *l, const regex_result *r, const char *line,
                           bool main_format)
{
    SAME_VIEW(raw_of(l, "remote_addr"), r->g[G_REMOTE], "remote_addr", line);
    cr_assert(sl_view_eq_str(r->g[G_HOST], "-"), "host \"%.*s\": %s", (int)r->g[G_HOST].len,
              r->g[G_HOST].ptr, line);
    SAME_VIEW(raw_of(l, "remote_user"), r->g[G_USER], "remote_user", line);
    cr_assert_eq(sl_nginx_line_get(l, "remote_user")->absent, sl_view_eq_str(r->g[G_USER], "-"));
    SAME_VIEW(raw_of(l, "time_local"), r->g[G_TIME], "time_local", line);
    SAME_VIEW(raw_of(l, "status"), r->g[G_CODE], "status", line);
    SAME_VIEW(raw_of(l, "body_bytes_sent"), r->g[G_SIZE], "body_bytes_sent", line);
    cr_assert_eq(sl_nginx_line_get(l, "status")->num, strtoll(r->g[G_CODE].ptr, NULL, 10));
    SAME_VIEW(raw_of(l, "http_referer"), r->g[G_REFERER], "http_referer", line);
    SAME_VIEW(raw_of(l, "http_user_agent"), r->g[G_AGENT], "http_user_agent", line);
    static const struct { const char *name; int group; } decoded[] = {
        { "remote_user", G_USER }, { "http_referer", G_REFERER }, { "http_user_agent", G_AGENT } };
    for (size_t i = 0; i < SL_ARRAY_LEN(decoded); i++) {
        const sl_nginx_field *f = sl_nginx_line_get(l, decoded[i].name);
        if (f->absent)
            continue;
        unescape(&tmp, r->g[decoded[i].group]);
        SAME_VIEW(f->value, sl_buf_view(&tmp), decoded[i].name, line);
    }

    /* $request: "-" is absent in sluice and method "-" in the regex. */
    if (sl_nginx_line_get(l, "request")->absent) {
        cr_assert(sl_view_eq_str(r->g[G_METHOD], "-") && !r->g[G_PATH].ptr, "%s", line);
    } else {
        unescape(&tmp, r->g[G_METHOD]);
        SAME_VIEW(l->method, sl_buf_view(&tmp), "method", line);
        if (r->g[G_PATH].len == 0) {
            cr_assert_null(l->path.ptr, "sluice path \"%.*s\", regex none: %s", (int)l->path.len,
                           l->path.ptr, line);
        } else {
            unescape(&tmp, r->g[G_PATH]);
            SAME_VIEW(l->path, sl_buf_view(&tmp), "path", line);
        }
    }

    /* x_forwarded_for: the regex keeps the quotes of main's "$http_x_forwarded_for". */
    if (main_format) {
        sl_view x = r->g[G_XFF];
        cr_assert(x.len >= 2 && x.ptr[0] == '"' && x.ptr[x.len - 1] == '"', "%s", line);
        x.ptr++;
        x.len -= 2;
        SAME_VIEW(raw_of(l, "http_x_forwarded_for"), x, "http_x_forwarded_for", line);
    } else {
        cr_assert_null(r->g[G_XFF].ptr, "regex found x_forwarded_for in a combined line: %s", line);
    }

    sl_buf json = SL_BUF_INIT;
    sl_nginx_line_to_json(l, &json);
    sl_json_error jerr;
    size_t end;
    cr_assert_eq(sl_json_validate(json.data, json.len, 0, &end, &jerr), 0, "invalid JSON %s: %s",
                 jerr.message, json.data);
    sl_buf_free(&json);
}

TestSuite(nginx_pcre2, .init = setup, .fini = teardown);

Test(nginx_pcre2, generated_lines_agree)
{
    gen_line g = { 0 };
    unsigned n_main = 0, n_escapes = 0;
    for (int i = 0; i < 20000; i++) {
        gen(&g);
        const char *line = g.line.data;
        regex_result r = regex_match(line, g.line.len);
        cr_assert(r.matched, "the regex refused a generated line: %s", line);
        sl_nginx_error err;
        const sl_nginx_format *f = g.main_format ? main_fmt : combined;
        int rc = sl_nginx_parse(f, line, g.line.len, &parsed, scratch, sizeof scratch, &err);
        cr_assert_eq(rc, 0, "sluice refused a generated line: %s\n  %s", err.message, line);
        compare_fields(&parsed, &r, line, g.main_format);

        /* And against the generator's own values. */
        cr_assert_eq(parsed.ts_us, g.ts_us, "time: %s", line);
        const sl_nginx_field *u = sl_nginx_line_get(&parsed, "remote_user");
        if (!u->absent)
            SAME_VIEW(u->value, sl_buf_view(&g.user), "remote_user vs generated", line);
        cr_assert(sl_view_eq_str(parsed.method, g.method), "%s", line);
        SAME_VIEW(parsed.path, sl_buf_view(&g.target), "path vs generated", line);
        if (g.protocol)
            cr_assert(sl_view_eq_str(parsed.protocol, g.protocol), "%s", line);
        else
            cr_assert_null(parsed.protocol.ptr, "%s", line);
        const sl_nginx_field *a = sl_nginx_line_get(&parsed, "http_user_agent");
        if (!a->absent)
            SAME_VIEW(a->value, sl_buf_view(&g.agent), "agent vs generated", line);
        n_main += g.main_format;
        n_escapes += memchr(line, '\\', g.line.len) != NULL;
    }
    cr_assert_gt(n_main, 5000);
    cr_assert_gt(n_escapes, 5000);
    gen_free(&g);
}

/* Why sluice accepted a line the regex refused, or NULL if unexplained. */
static const char *why_sluice_only(const sl_nginx_line *l, bool main_format)
{
    if (memchr(raw_of(l, "remote_addr").ptr, ' ', raw_of(l, "remote_addr").len) ||
        memchr(raw_of(l, "remote_user").ptr, ' ', raw_of(l, "remote_user").len))
        return "5: space in an unquoted field";
    static const char *const quoted[] = { "request", "http_referer", "http_user_agent",
                                          "http_x_forwarded_for" };
    for (size_t i = 0; i < SL_ARRAY_LEN(quoted); i++) {
        const sl_nginx_field *f = sl_nginx_line_get(l, quoted[i]);
        if (f && memchr(f->raw.ptr, '"', f->raw.len))
            return "5: raw quote in a quoted field";
    }
    if (main_format && memchr(raw_of(l, "http_x_forwarded_for").ptr, ' ',
                              raw_of(l, "http_x_forwarded_for").len))
        return "5: space in x_forwarded_for";
    sl_view req = raw_of(l, "request");
    if (req.len == 0 || req.ptr[0] == ' ')
        return "6: request without a method";
    return NULL;
}

/* Did the regex's \S take a '"' into the request (difference 7)? */
static bool regex_request_took_a_quote(const regex_result *r)
{
    const char *start = r->g[G_METHOD].ptr, *end = r->g[G_CODE].ptr - 2; /* before '" ' */
    return end > start && memchr(start, '"', (size_t)(end - start)) != NULL;
}

/* Why the regex accepted a line sluice refused, or NULL if unexplained. */
static const char *why_regex_only(const regex_result *r, const char *message, bool main_format)
{
    if (regex_request_took_a_quote(r))
        return "7: the regex's \\S took a quote";
    if (strstr(message, "is not a number") || strstr(message, "is out of range") ||
        strstr(message, "is not a time") || strstr(message, "invalid escape"))
        return "3: typed value";
    if (!sl_view_eq_str(r->g[G_HOST], "-"))
        return "4: host is not '-'";
    if (!r->g[G_REFERER].ptr)
        return "4: no referer and agent";
    if (!main_format && r->g[G_XFF].ptr)
        return "4: text after the agent";
    if (main_format && (!r->g[G_XFF].ptr || r->g[G_XFF].len < 2 || r->g[G_XFF].ptr[0] != '"' ||
                        r->g[G_XFF].ptr[r->g[G_XFF].len - 1] != '"'))
        return "4: no quoted x_forwarded_for";
    if (main_format && memchr(r->g[G_XFF].ptr + 1, '"', r->g[G_XFF].len - 2))
        return "5: raw quote in x_forwarded_for (sluice's field ends at it)";
    if (main_format && r->g[G_XFF].ptr - (r->g[G_AGENT].ptr + r->g[G_AGENT].len) != 2)
        return "8: more than one space before x_forwarded_for";
    return NULL;
}

Test(nginx_pcre2, mutated_lines_agree_or_differ_for_a_documented_reason)
{
    static const char alphabet[] = " \"[]-\\xA0/:+";
    gen_line g = { 0 };
    sl_buf m = SL_BUF_INIT;
    unsigned both = 0, neither = 0, sluice_only = 0, regex_only = 0, misaligned = 0;
    unsigned reasons[10] = { 0 };
    for (int i = 0; i < 30000; i++) {
        gen(&g);
        sl_buf_reset(&m);
        sl_buf_append(&m, g.line.data, g.line.len);
        unsigned edits = 1 + below(3);
        for (unsigned e = 0; e < edits && m.len > 0; e++) {
            size_t at = below((unsigned)m.len);
            switch (below(4)) {
            case 0: /* delete */
                memmove(m.data + at, m.data + at + 1, m.len - at - 1);
                m.len--;
                break;
            case 1: /* insert */
                sl_buf_append_char(&m, 0);
                memmove(m.data + at + 1, m.data + at, m.len - at - 1);
                m.data[at] = alphabet[below(sizeof alphabet - 1)];
                break;
            case 2: /* replace */
                m.data[at] = alphabet[below(sizeof alphabet - 1)];
                break;
            default: /* cut */
                m.len = at;
            }
            m.data[m.len] = '\0';
        }
        const char *line = m.data;
        regex_result r = regex_match(line, m.len);
        sl_nginx_error err;
        const sl_nginx_format *f = g.main_format ? main_fmt : combined;
        int rc = sl_nginx_parse(f, line, m.len, &parsed, scratch, sizeof scratch, &err);
        cr_assert(rc == 0 || rc == SL_ERR_PARSE, "rc %d", rc);
        if (rc == 0 && r.matched) {
            /* A documented difference makes the regex split the line elsewhere. */
            if (regex_request_took_a_quote(&r) || why_sluice_only(&parsed, g.main_format)) {
                misaligned++;
                continue;
            }
            compare_fields(&parsed, &r, line, g.main_format);
            both++;
        } else if (rc != 0 && !r.matched) {
            neither++;
        } else if (rc == 0) {
            const char *why = why_sluice_only(&parsed, g.main_format);
            cr_assert_not_null(why, "sluice accepted, the regex refused, no documented reason:\n  %s",
                               line);
            sluice_only++;
            reasons[why[0] - '0']++;
        } else {
            const char *why = why_regex_only(&r, err.message, g.main_format);
            cr_assert_not_null(why, "the regex accepted, sluice refused (%s), no documented reason:\n  %s",
                               err.message, line);
            regex_only++;
            reasons[why[0] - '0']++;
        }
    }
    fprintf(stderr, "nginx_pcre2 mutations: both accept %u (+%u split elsewhere, reasons 5-7), "
            "both refuse %u, sluice only %u, regex only %u\n",
            both, misaligned, neither, sluice_only, regex_only);
    fprintf(stderr, "  differences by reason:");
    for (int k = 1; k < 10; k++)
        if (reasons[k])
            fprintf(stderr, " %d: %u", k, reasons[k]);
    fputc('\n', stderr);
    cr_assert_gt(both, 1000);
    cr_assert_gt(neither, 1000);
    sl_buf_free(&m);
    gen_free(&g);
}

#endif /* SL_HAVE_PCRE2 */
