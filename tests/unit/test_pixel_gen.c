/*
 * test_pixel_gen.c - `sluice gen web` against the decoders that read its
 * traffic: every generated pixel hit (TARGET TAB REFERER TAB UA) and every
 * generated NGINX line, decoded by the pixel's event builder (and for the
 * line, by the NGINX parser first), gives exactly the parameters the
 * generator's ground truth lists; the members CSV agrees with the truth.
 * The generator writes the wire bytes in several encodings (\u escapes,
 * percent-encoded UTF-8, %5Cu, encodeURIComponent'ed URLs, NGINX's \x5C),
 * so this is a differential test of the decoders over thousands of hits.
 */
#include "gen/gen.h"
#include "input/pixel/pixel.h"
#include "input/tail/nginx_format.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define START_US INT64_C(1750204800000000) /* 2025-06-18T00:00:00Z */
#define N 20000

static const char *const opts[] = { "scenarios", "5,6,7", "members", "50", NULL };

static json_t *parse(const char *text, size_t n)
{
    json_error_t err;
    json_t *v = json_loadb(text, n, JSON_REJECT_DUPLICATES, &err);
    cr_assert_not_null(v, "invalid JSON (%s): %.*s", err.text, (int)n, text);
    return v;
}

/* The event minus the fields that come from the request, not the query. */
static json_t *params_of(json_t *event)
{
    json_t *p = json_deep_copy(event);
    json_object_del(p, "scenario_id");
    json_object_del(p, "ip");
    json_object_del(p, "user_agent");
    json_object_del(p, "referer");
    json_object_del(p, "ts");
    return p;
}

static void check_against_truth(json_t *event, json_t *truth, const char *wire)
{
    cr_assert(json_equal(json_object_get(event, "scenario_id"),
                         json_object_get(truth, "scenario_id")), "scenario of %s", wire);
    json_t *p = params_of(event);
    if (!json_equal(p, json_object_get(truth, "params"))) {
        char *a = json_dumps(p, JSON_SORT_KEYS), *b = json_dumps(json_object_get(truth, "params"),
                                                                 JSON_SORT_KEYS);
        cr_assert_fail("decoded %s\n  got   %s\n  truth %s", wire, a, b);
    }
    json_decref(p);
}

Test(pixel_gen, every_pixel_hit_decodes_to_its_ground_truth)
{
    sl_gen_source s;
    char err[256] = "";
    cr_assert_eq(sl_gen_source_init_with(&s, sl_gen_kind_find("web"), 11, SL_GEN_TS_ISO, opts,
                                         err, sizeof err), 0, "%s", err);
    s.wire = SL_GEN_WIRE_PIXEL;
    sl_buf out = SL_BUF_INIT, truth = SL_BUF_INIT, ev = SL_BUF_INIT;
    s.truth = &truth;
    sl_pixel_builder *b = sl_pixel_builder_new();
    int scenarios[8] = { 0 }, anonymous = 0;
    for (int i = 0; i < N; i++) {
        sl_gen_event gev;
        sl_buf_reset(&out);
        sl_buf_reset(&truth);
        sl_gen_source_emit(&s, START_US + (int64_t)i * 997000, &out, &gev);
        cr_assert(strncmp(out.data + gev.id_off, "w-11-", 5) == 0);
        char *tab = strchr(out.data, '\t'), *tab2 = strchr(tab + 1, '\t');
        cr_assert(tab && tab2 && !strchr(out.data, '\n'));
        sl_view path, query;
        sl_query_split_target((sl_view){ out.data, (size_t)(tab - out.data) }, &path, &query);
        sl_pixel_hit hit = { .path = path, .query = query,
                             .referer = { tab + 1, (size_t)(tab2 - tab - 1) },
                             .user_agent = sl_view_of(tab2 + 1), .ts_us = gev.ts_us };
        sl_view key;
        sl_pixel_error perr = { 0 };
        sl_buf_reset(&ev);
        cr_assert_eq(sl_pixel_event_build(b, &hit, &ev, &key, &perr), 0, "%s: %s", out.data,
                     perr.message);
        json_t *e = parse(ev.data, ev.len), *t = parse(truth.data, truth.len);
        check_against_truth(e, t, out.data);
        /* The Referer is the page, as a browser sends it for the tracker. */
        cr_assert_str_eq(json_string_value(json_object_get(e, "referer")),
                         json_string_value(json_object_get(json_object_get(t, "params"), "url")));
        json_t *member = json_object_get(t, "memberId");
        if (json_is_null(member)) {
            anonymous++;
            cr_assert_eq(key.len, 0);
        } else {
            cr_assert(sl_view_eq_str(key, json_string_value(member)));
        }
        scenarios[json_integer_value(json_object_get(t, "scenario_id"))]++;
        json_decref(e);
        json_decref(t);
    }
    cr_assert(scenarios[5] > N / 4 && scenarios[6] > N / 4 && scenarios[7] > N / 4);
    cr_assert(anonymous > N / 20 && anonymous < N / 5);
    sl_pixel_builder_free(b);
    sl_buf_free(&out);
    sl_buf_free(&truth);
    sl_buf_free(&ev);
    sl_gen_source_free(&s);
}

Test(pixel_gen, every_nginx_line_decodes_to_its_ground_truth)
{
    sl_gen_source s;
    char err[256] = "";
    cr_assert_eq(sl_gen_source_init_with(&s, sl_gen_kind_find("web"), 12, SL_GEN_TS_ISO, opts,
                                         err, sizeof err), 0, "%s", err);
    s.wire = SL_GEN_WIRE_NGINX;
    sl_buf out = SL_BUF_INIT, truth = SL_BUF_INIT, ev = SL_BUF_INIT;
    s.truth = &truth;
    sl_nginx_format *fmt = NULL;
    cr_assert_eq(sl_nginx_format_new("combined", &fmt, NULL), 0);
    sl_pixel_builder *b = sl_pixel_builder_new();
    static sl_nginx_line line;
    char *scratch = malloc(65536);
    for (int i = 0; i < N; i++) {
        sl_gen_event gev;
        sl_buf_reset(&out);
        sl_buf_reset(&truth);
        int64_t ts = START_US + (int64_t)i * 997000;
        sl_gen_source_emit(&s, ts, &out, &gev);
        cr_assert(strncmp(out.data + gev.id_off, "w-12-", 5) == 0, "id at %zu", gev.id_off);
        sl_nginx_error nerr = { 0 };
        cr_assert_eq(sl_nginx_parse(fmt, out.data, out.len, &line, scratch, 65536, &nerr), 0,
                     "%s: %s", out.data, nerr.message);
        cr_assert(sl_view_eq_str(line.method, "GET"));
        cr_assert_eq(line.ts_us, ts / 1000000 * 1000000, "time_local of %s", out.data);
        sl_view path, query;
        sl_query_split_target(line.path, &path, &query);
        sl_pixel_hit hit = { .path = path, .query = query, .ts_us = line.ts_us };
        sl_view key;
        sl_pixel_error perr = { 0 };
        sl_buf_reset(&ev);
        cr_assert_eq(sl_pixel_event_build(b, &hit, &ev, &key, &perr), 0, "%s: %s", out.data,
                     perr.message);
        json_t *e = parse(ev.data, ev.len), *t = parse(truth.data, truth.len);
        check_against_truth(e, t, out.data);
        json_decref(e);
        json_decref(t);
    }
    free(scratch);
    sl_nginx_format_free(fmt);
    sl_pixel_builder_free(b);
    sl_buf_free(&out);
    sl_buf_free(&truth);
    sl_buf_free(&ev);
    sl_gen_source_free(&s);
}

Test(pixel_gen, the_members_csv_agrees_with_the_truth)
{
    char path[] = "/tmp/sluice-members-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    const char *o[] = { "members", "30", "members-csv", path, NULL };
    sl_gen_source s;
    char err[256] = "";
    cr_assert_eq(sl_gen_source_init_with(&s, sl_gen_kind_find("web"), 13, SL_GEN_TS_ISO, o, err,
                                         sizeof err), 0, "%s", err);
    /* member_id -> "age,gender" from the file */
    char rows[30][32];
    FILE *f = fopen(path, "r");
    char l[128];
    cr_assert_not_null(fgets(l, sizeof l, f));
    cr_assert_str_eq(l, "member_id,age,gender\n");
    int n = 0;
    while (fgets(l, sizeof l, f)) {
        unsigned id;
        char rest[32];
        cr_assert_eq(sscanf(l, "%u,%31s", &id, rest), 2);
        cr_assert_eq(id, 100000u + (unsigned)n);
        snprintf(rows[n++], sizeof rows[0], "%s", rest);
    }
    fclose(f);
    unlink(path);
    cr_assert_eq(n, 30);
    sl_buf out = SL_BUF_INIT, truth = SL_BUF_INIT;
    s.truth = &truth;
    for (int i = 0; i < 2000; i++) {
        sl_gen_event gev;
        sl_buf_reset(&truth);
        sl_gen_source_emit(&s, START_US + i, &out, &gev);
        json_t *t = parse(truth.data, truth.len);
        json_t *m = json_object_get(t, "memberId");
        if (!json_is_null(m)) {
            int k = atoi(json_string_value(m)) - 100000;
            cr_assert(k >= 0 && k < 30);
            char want[32];
            snprintf(want, sizeof want, "%lld,%s",
                     (long long)json_integer_value(json_object_get(t, "age")),
                     json_string_value(json_object_get(t, "gender")));
            cr_assert_str_eq(rows[k], want);
        }
        json_decref(t);
    }
    sl_buf_free(&out);
    sl_buf_free(&truth);
    sl_gen_source_free(&s);
    /* Refusals name the flag. */
    const char *bad[] = { "scenarios", "5,x", NULL };
    cr_assert_lt(sl_gen_source_init_with(&s, sl_gen_kind_find("web"), 1, SL_GEN_TS_ISO, bad, err,
                                         sizeof err), 0);
    cr_assert_not_null(strstr(err, "--scenarios"), "%s", err);
    sl_gen_source_free(&s);
}
