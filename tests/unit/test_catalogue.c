/*
 * test_catalogue.c - the catalogue on both backends: scenarios, members,
 * change counters, partials and their sums, progress rows; member uploads
 * in CSV and JSON.
 *
 * One suite of checks runs against SQLite (a file in a temporary
 * directory) and against PostgreSQL: a throw-away cluster that the test
 * creates with initdb and starts with pg_ctl on a free loopback port (as
 * the postgres user when running as root), and removes afterwards. Without
 * PostgreSQL's server binaries the PostgreSQL test is skipped and says so.
 */
#include "catalogue/catalogue.h"
#include "catalogue/members.h"
#include "core/alloc.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void make_dir(void)
{
    strcpy(dir, "/tmp/sluice-cat-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    if (dir[0])
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *SEED_5 =
    "{\"scenario_id\":5,\"title\":\"9\xec\x8b\x9c \xec\x9d\xb4\xed\x9b\x84\",\"manager\":\"admin_user\","
    "\"log_format\":{\"memberId\":1,\"h\":1},\"filters\":[],\"logical_operator\":\"AND\"}";

/* ---- the shared suite --------------------------------------------------------- */

static void check_scenarios(sl_catalogue *c)
{
    int64_t sv0, mv0, sv, mv, version = 0;
    cr_assert_eq(sl_catalogue_versions(c, &sv0, &mv0), 0);
    cr_assert_eq(sl_catalogue_scenario_put(c, 5, sl_view_of(SEED_5), "9\xec\x8b\x9c", "admin_user",
                                           SL_CATALOGUE_CREATE, &version), 0);
    cr_assert_eq(version, 1);
    cr_assert_eq(sl_catalogue_scenario_put(c, 5, sl_view_of(SEED_5), "x", "y", SL_CATALOGUE_CREATE,
                                           NULL), -EEXIST);
    cr_assert_eq(sl_catalogue_scenario_put(c, 6, sl_view_of("{}"), "", "", SL_CATALOGUE_REPLACE,
                                           NULL), -ENOENT);
    cr_assert_eq(sl_catalogue_scenario_put(c, 5, sl_view_of(SEED_5), "again", "m",
                                           SL_CATALOGUE_REPLACE, &version), 0);
    cr_assert_eq(version, 2);
    cr_assert_eq(sl_catalogue_scenario_put(c, 3, sl_view_of("{\"scenario_id\":3}"), "three", "",
                                           SL_CATALOGUE_CREATE, NULL), 0);
    cr_assert_eq(sl_catalogue_versions(c, &sv, &mv), 0);
    cr_assert_eq(sv, sv0 + 3, "every write bumps the scenario counter");
    cr_assert_eq(mv, mv0);

    sl_catalogue_scenario s;
    cr_assert_eq(sl_catalogue_scenario_get(c, 5, &s), 0);
    cr_assert_str_eq(s.definition, SEED_5, "kept verbatim");
    cr_assert_str_eq(s.title, "again");
    cr_assert_eq(s.version, 2);
    cr_assert_geq(s.updated_us, s.created_us);
    sl_catalogue_scenario_clear(&s);
    cr_assert_eq(sl_catalogue_scenario_get(c, 4, &s), -ENOENT);

    sl_catalogue_scenario *v;
    size_t n;
    cr_assert_eq(sl_catalogue_scenario_list(c, &v, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(v[0].id, 3, "in id order");
    cr_assert_eq(v[1].id, 5);
    sl_catalogue_scenarios_free(v, n);

    cr_assert_eq(sl_catalogue_scenario_delete(c, 3), 0);
    cr_assert_eq(sl_catalogue_scenario_delete(c, 3), -ENOENT);
    cr_assert_eq(sl_catalogue_versions(c, &sv, &mv), 0);
    cr_assert_eq(sv, sv0 + 4);
}

static int walk(void *arg, const sl_catalogue_member *x)
{
    cr_assert_not_null(x->member_id);
    (*(int *)arg)++;
    return 0;
}

static void check_members(sl_catalogue *c)
{
    int64_t sv0, mv0, sv, mv;
    cr_assert_eq(sl_catalogue_versions(c, &sv0, &mv0), 0);
    /* 260 members in one call: several multi-row INSERTs, one transaction;
       member 7 given twice, the later one wins. */
    enum { N = 260 };
    sl_catalogue_member m[N + 1];
    char ids[N + 1][16];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "m%03d", i);
        m[i] = (sl_catalogue_member){ .member_id = ids[i], .has_age = i % 10 != 0, .age = i % 90,
                                      .gender = i % 2 ? "MALE" : "FEMALE",
                                      .extra = i % 3 ? "{\"tier\":\"gold\",\"score\":4.5}" : NULL };
    }
    m[N] = (sl_catalogue_member){ .member_id = ids[7], .has_age = true, .age = 77, .gender = NULL,
                                  .extra = "{}" };
    cr_assert_eq(sl_catalogue_members_put(c, m, N + 1), 0);
    cr_assert_eq(sl_catalogue_versions(c, &sv, &mv), 0);
    cr_assert_eq(mv, mv0 + 1, "one import, one change");
    cr_assert_eq(sv, sv0);

    int64_t count;
    cr_assert_eq(sl_catalogue_member_count(c, &count), 0);
    cr_assert_eq(count, N);
    sl_catalogue_member got;
    cr_assert_eq(sl_catalogue_member_get(c, "m007", &got), 0);
    cr_assert(got.has_age && got.age == 77);
    cr_assert_null(got.gender);
    sl_catalogue_member_clear(&got);
    cr_assert_eq(sl_catalogue_member_get(c, "m010", &got), 0);
    cr_assert_not(got.has_age, "an unknown age stays unknown");
    sl_buf j = SL_BUF_INIT;
    sl_catalogue_member_json(&got, &j);
    cr_assert_str_eq(j.data, "{\"gender\":\"FEMALE\",\"tier\":\"gold\",\"score\":4.5}");
    sl_catalogue_member_clear(&got);
    cr_assert_eq(sl_catalogue_member_get(c, "nobody", &got), -ENOENT);

    sl_catalogue_member *page;
    size_t n;
    cr_assert_eq(sl_catalogue_member_list(c, NULL, 100, &page, &n), 0);
    cr_assert_eq(n, 100);
    cr_assert_str_eq(page[0].member_id, "m000");
    cr_assert_str_eq(page[99].member_id, "m099");
    sl_catalogue_members_free(page, n);
    cr_assert_eq(sl_catalogue_member_list(c, "m250", 100, &page, &n), 0);
    cr_assert_eq(n, 9);
    sl_catalogue_members_free(page, n);

    int walked = 0;
    cr_assert_eq(sl_catalogue_member_each(c, walk, &walked), 0);
    cr_assert_eq(walked, N);

    cr_assert_eq(sl_catalogue_member_delete(c, "m000"), 0);
    cr_assert_eq(sl_catalogue_member_delete(c, "m000"), -ENOENT);
    sl_buf_reset(&j);
    sl_catalogue_member plain = { .member_id = "x", .has_age = true, .age = 30, .gender = "MALE",
                                  .extra = "{\"age\":99,\"city\":\"Seoul\"}" };
    sl_catalogue_member_json(&plain, &j);
    cr_assert_str_eq(j.data, "{\"age\":30,\"gender\":\"MALE\",\"city\":\"Seoul\"}",
                     "the columns win over extra");
    sl_buf_free(&j);
}

#define SEC INT64_C(1000000)

static void check_stats(sl_catalogue *c)
{
    int64_t w0 = INT64_C(1768123165) * SEC, w = 5 * SEC;
    int64_t latest;
    cr_assert_eq(sl_catalogue_stats_latest(c, "web.raw", 0, &latest), -ENOENT);
    sl_catalogue_partial p[] = {
        { 5, w0, w0 + w, "web.raw", 0, 17, 20, 100, 0 },
        { 5, w0, w0 + w, "web.raw", 1, 3, 9, 50, 0 },
        { 5, w0 + w, w0 + 2 * w, "web.raw", 0, 1, 2, 130, 0 },
        { 7, w0, w0 + w, "web.raw", 2, 0, 4, 10, 0 },
    };
    sl_catalogue_progress g[] = { { "sluice.scenario", "web.raw", 0, 4096, -1 } };
    cr_assert_eq(sl_catalogue_stats_put(c, p, 4, g, 1), 0);
    /* The same partial again, covering more: replaced, not added. */
    p[0].success_count = 18;
    p[0].total_count = 22;
    p[0].last_offset = 120;
    cr_assert_eq(sl_catalogue_stats_put(c, p, 1, NULL, 0), 0);
    cr_assert_eq(sl_catalogue_stats_put(c, p, 1, NULL, 0), 0);

    sl_catalogue_partial row;
    cr_assert_eq(sl_catalogue_stats_find(c, 5, w0, "web.raw", 0, &row), 0);
    cr_assert_eq(row.success_count, 18);
    cr_assert_eq(row.total_count, 22);
    cr_assert_eq(row.last_offset, 120);
    cr_assert_eq(sl_catalogue_stats_find(c, 5, w0, "web.raw", 2, &row), -ENOENT);
    cr_assert_eq(sl_catalogue_stats_find(c, 5, w0, "other", 0, &row), -ENOENT);
    cr_assert_eq(sl_catalogue_stats_latest(c, "web.raw", 0, &latest), 0);
    cr_assert_eq(latest, w0 + w);

    sl_catalogue_window *win;
    size_t n;
    cr_assert_eq(sl_catalogue_stats_windows(c, 5, 60, &win, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(win[0].window_start_us, w0, "oldest first");
    cr_assert_eq(win[0].success_count, 21, "partials summed over partitions");
    cr_assert_eq(win[0].total_count, 31);
    cr_assert_eq(win[0].partials, 2);
    cr_assert_eq(win[0].window_end_us, w0 + w);
    cr_assert_eq(win[1].total_count, 2);
    free(win);
    cr_assert_eq(sl_catalogue_stats_windows(c, 5, 1, &win, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(win[0].window_start_us, w0 + w, "history=1: the newest window");
    free(win);
    cr_assert_eq(sl_catalogue_stats_windows(c, 0, 60, &win, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(win[2].scenario_id, 7);
    free(win);

    int64_t base, cut;
    cr_assert_eq(sl_catalogue_progress_get(c, "sluice.scenario", "web.raw", 0, &base, &cut), 0);
    cr_assert(base == 4096 && cut == -1);
    cr_assert_eq(sl_catalogue_progress_get(c, "sluice.scenario", "web.raw", 1, &base, &cut),
                 -ENOENT);
    sl_catalogue_progress g2 = { "sluice.scenario", "web.raw", 0, 4096, 5000 };
    cr_assert_eq(sl_catalogue_progress_put(c, &g2, 1), 0);
    cr_assert_eq(sl_catalogue_progress_get(c, "sluice.scenario", "web.raw", 0, &base, &cut), 0);
    cr_assert(base == 4096 && cut == 5000);

    int64_t deleted = 0;
    cr_assert_eq(sl_catalogue_stats_prune(c, w0 + w, &deleted), 0);
    cr_assert_eq(deleted, 3);
    cr_assert_eq(sl_catalogue_stats_windows(c, 0, 60, &win, &n), 0);
    cr_assert_eq(n, 1);
    free(win);
}

/* Two handles write at once (the admin API and the processor do). */
typedef struct writer_arg {
    sl_catalogue *c;
    int which;
} writer_arg;

static void *writer(void *arg)
{
    writer_arg *a = arg;
    for (int i = 0; i < 40; i++) {
        if (a->which == 0) {
            char id[16];
            snprintf(id, sizeof id, "w%d", i);
            sl_catalogue_member m = { .member_id = id, .has_age = true, .age = i, .extra = "{}" };
            if (sl_catalogue_members_put(a->c, &m, 1) < 0)
                return (void *)1;
        } else {
            sl_catalogue_partial p = { 9, i * SEC, (i + 5) * SEC, "t", 0, i, i, i, 0 };
            if (sl_catalogue_stats_put(a->c, &p, 1, NULL, 0) < 0)
                return (void *)1;
        }
    }
    return NULL;
}

static void check_concurrency(sl_catalogue *a, sl_catalogue *b)
{
    pthread_t t[2];
    writer_arg args[2] = { { a, 0 }, { b, 1 } };
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, writer, &args[i]);
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(t[i], &r);
        cr_assert_null(r, "writer %d failed", i);
    }
    sl_catalogue_window *win;
    size_t n;
    cr_assert_eq(sl_catalogue_stats_windows(a, 9, 100, &win, &n), 0);
    cr_assert_eq(n, 40, "the other handle's writes are visible");
    free(win);
}

static void run_suite(sl_catalogue *(*open_one)(void))
{
    sl_catalogue *c = open_one();
    check_scenarios(c);
    check_members(c);
    check_stats(c);
    sl_catalogue *c2 = open_one();
    check_concurrency(c, c2);
    sl_catalogue_close(c2);
    sl_catalogue_close(c);
    /* Reopening finds everything (the schema is created only once). */
    c = open_one();
    sl_catalogue_scenario s;
    cr_assert_eq(sl_catalogue_scenario_get(c, 5, &s), 0);
    sl_catalogue_scenario_clear(&s);
    sl_catalogue_close(c);
}

/* ---- SQLite -------------------------------------------------------------------- */

static sl_catalogue *open_sqlite(void)
{
    char *path = sl_asprintf("%s/catalogue.db", dir);
    sl_catalogue *c = NULL;
    sl_buf err = SL_BUF_INIT;
    cr_assert_eq(sl_catalogue_open_sqlite(path, &c, &err), 0, "%s", err.data);
    cr_assert_str_eq(sl_catalogue_backend(c), "sqlite");
    free(path);
    sl_buf_free(&err);
    return c;
}

TestSuite(catalogue_sqlite, .init = make_dir, .fini = remove_dir, .timeout = 120);

Test(catalogue_sqlite, whole_suite)
{
    run_suite(open_sqlite);
}

Test(catalogue_sqlite, open_from_config_creates_data_dir)
{
    char *data = sl_asprintf("%s/a/b", dir);
    sl_config cfg = { .data_dir = data, .catalogue_postgres = "" };
    sl_catalogue *c = NULL;
    cr_assert_eq(sl_catalogue_open(&cfg, &c, NULL), 0);
    sl_catalogue_close(c);
    char *file = sl_asprintf("%s/catalogue.db", data);
    struct stat st;
    cr_assert_eq(stat(file, &st), 0);
    free(file);
    free(data);
}

Test(catalogue_sqlite, unreachable_postgres_is_an_error_with_a_reason)
{
    sl_config cfg = { .data_dir = dir,
                      .catalogue_postgres = "host=127.0.0.1 port=1 connect_timeout=2" };
    sl_catalogue *c = NULL;
    sl_buf err = SL_BUF_INIT;
    cr_assert_lt(sl_catalogue_open(&cfg, &c, &err), 0);
    cr_assert_null(c);
    cr_assert(strstr(err.data, "postgres: cannot connect"), "%s", err.data);
    sl_buf_free(&err);
}

/* ---- PostgreSQL (a throw-away cluster) -------------------------------------------- */

#define PG_BIN "/usr/lib/postgresql/15/bin"

static char pg_root[64];
static int pg_port;
static char pg_conninfo[256];
static bool pg_as_postgres;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Keep the test runner's descriptors away from the server, which
   outlives the shell that starts it. */
static void close_on_exec_all(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            int fd = atoi(e->d_name);
            if (fd > 2 && fd != dirfd(d))
                fcntl(fd, F_SETFD, FD_CLOEXEC);
        }
    closedir(d);
}

/* Run a shell command, as the postgres user when we are root. */
static int pg_shell(const char *cmd)
{
    close_on_exec_all();
    char *line = pg_as_postgres ? sl_asprintf("su postgres -s /bin/sh -c '%s' >>%s/pg.out 2>&1",
                                              cmd, pg_root)
                                : sl_asprintf("%s >>%s/pg.out 2>&1", cmd, pg_root);
    int rc = system(line);
    free(line);
    return rc;
}

static void pg_stop(void)
{
    if (!pg_root[0])
        return;
    char *cmd = sl_asprintf(PG_BIN "/pg_ctl -D %s/data -m immediate stop", pg_root);
    pg_shell(cmd);
    free(cmd);
    nftw(pg_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    pg_root[0] = '\0';
}

static sl_catalogue *open_postgres(void)
{
    sl_catalogue *c = NULL;
    sl_buf err = SL_BUF_INIT;
    cr_assert_eq(sl_catalogue_open_postgres(pg_conninfo, &c, &err), 0, "%s", err.data);
    cr_assert_str_eq(sl_catalogue_backend(c), "postgres");
    sl_buf_free(&err);
    return c;
}

TestSuite(catalogue_postgres, .fini = pg_stop, .timeout = 120);

Test(catalogue_postgres, whole_suite)
{
    if (access(PG_BIN "/initdb", X_OK) != 0)
        cr_skip_test("PostgreSQL server binaries not found (" PG_BIN "/initdb): the PostgreSQL "
                     "catalogue is not tested here");
    pg_as_postgres = geteuid() == 0;
    if (pg_as_postgres && !getpwnam("postgres"))
        cr_skip_test("running as root without a postgres user: initdb cannot run");
    strcpy(pg_root, "/tmp/sluice-pg-XXXXXX");
    cr_assert_not_null(mkdtemp(pg_root));
    chmod(pg_root, 0777); /* the postgres user writes its output and socket here */
    pg_port = free_port();
    cr_assert_gt(pg_port, 0);
    char *cmd = sl_asprintf(PG_BIN "/initdb --no-sync -A trust -U sluice -D %s/data", pg_root);
    int rc = pg_shell(cmd);
    free(cmd);
    cr_assert_eq(rc, 0, "initdb failed (see %s/pg.out)", pg_root);
    cmd = sl_asprintf(PG_BIN "/pg_ctl -D %s/data -w -t 30 -l %s/pg.log -o \"-p %d -k %s "
                             "-c listen_addresses=127.0.0.1 -c fsync=off\" start",
                      pg_root, pg_root, pg_port, pg_root);
    rc = pg_shell(cmd);
    free(cmd);
    cr_assert_eq(rc, 0, "pg_ctl start failed (see %s/pg.log)", pg_root);
    snprintf(pg_conninfo, sizeof pg_conninfo,
             "host=127.0.0.1 port=%d user=sluice dbname=postgres connect_timeout=10", pg_port);
    run_suite(open_postgres);
}

/* ---- member uploads ----------------------------------------------------------------- */

static sl_catalogue_member *parse_ok(const char *body, const char *ctype, size_t *n)
{
    sl_catalogue_member *m = NULL;
    sl_buf err = SL_BUF_INIT;
    long line = 0;
    int rc = sl_members_parse(sl_view_of(body), ctype, &m, n, &err, &line);
    cr_assert_eq(rc, 0, "refused: %s", err.data);
    sl_buf_free(&err);
    return m;
}

static void parse_bad_as(const char *body, const char *ctype, const char *want, long want_line)
{
    sl_catalogue_member *m = NULL;
    size_t n = 99;
    sl_buf err = SL_BUF_INIT;
    long line = -1;
    int rc = sl_members_parse(sl_view_of(body), ctype, &m, &n, &err, &line);
    cr_assert_eq(rc, SL_ERR_PARSE, "accepted: %s", body);
    cr_assert_null(m);
    cr_assert_eq(n, 0);
    cr_assert(err.data && strstr(err.data, want), "message '%s' lacks '%s'", err.data, want);
    cr_assert_eq(line, want_line, "line %ld, want %ld (%s)", line, want_line, err.data);
    sl_buf_free(&err);
}

static void parse_bad(const char *body, const char *want, long want_line)
{
    parse_bad_as(body, NULL, want, want_line);
}

Test(members_upload, csv_with_quotes_crlf_bom_and_extra_columns)
{
    size_t n;
    sl_catalogue_member *m = parse_ok("\xEF\xBB\xBFmember_id, age ,gender,tier,score,note\r\n"
                                      "123456,34,MALE,gold,4.5,\"says \"\"hi\"\", twice\"\r\n"
                                      "\r\n"
                                      "123457,,FEMALE,,007,\"two\nlines\"\r\n"
                                      "123458,19,,silver,-1,plain",
                                      NULL, &n);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(m[0].member_id, "123456");
    cr_assert(m[0].has_age && m[0].age == 34);
    cr_assert_str_eq(m[0].gender, "MALE");
    cr_assert_str_eq(m[0].extra, "{\"tier\":\"gold\",\"score\":4.5,\"note\":\"says \\\"hi\\\", twice\"}");
    cr_assert_not(m[1].has_age);
    cr_assert_str_eq(m[1].extra, "{\"score\":\"007\",\"note\":\"two\\nlines\"}",
                     "007 is not a JSON number: kept as text");
    cr_assert_null(m[2].gender);
    cr_assert_str_eq(m[2].extra, "{\"tier\":\"silver\",\"score\":-1,\"note\":\"plain\"}");
    sl_catalogue_members_free(m, n);
}

Test(members_upload, csv_errors_name_the_line)
{
    parse_bad("", "empty body", 0);
    parse_bad("age,gender\n30,MALE\n", "needs a member_id column", 1);
    parse_bad("member_id,age\n1,30\n2,old\n", "line 3: age must be an integer, not 'old'", 3);
    parse_bad("member_id,age\n1,30\n2\n", "line 3: 1 fields, but the header has 2", 3);
    parse_bad("member_id,age\n1,30\n\"2,40\n", "unterminated quoted field", 3);
    parse_bad("member_id,age\n ,30\n", "line 2: member_id is empty", 2);
    parse_bad("member_id,,age\n1,x,2\n", "column 2 of the header has no name", 1);
}

Test(members_upload, json_arrays_and_objects)
{
    size_t n;
    sl_catalogue_member *m = parse_ok(
        " [{\"member_id\":123456,\"age\":34,\"gender\":\"MALE\",\"tier\":\"gold\",\"tags\":[1,2]},"
        "{\"memberId\":\"a\\u0062\",\"age\":\"20\",\"gender\":null,\"updated_at\":\"x\"}]",
        NULL, &n);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(m[0].member_id, "123456");
    cr_assert_str_eq(m[0].extra, "{\"tier\":\"gold\",\"tags\":[1,2]}");
    cr_assert_str_eq(m[1].member_id, "ab");
    cr_assert(m[1].has_age && m[1].age == 20);
    cr_assert_null(m[1].gender);
    cr_assert_str_eq(m[1].extra, "{}", "updated_at is ours, not an extra column");
    sl_catalogue_members_free(m, n);
    m = parse_ok("{\"member_id\":\"x\"}", "application/json", &n);
    cr_assert_eq(n, 1);
    sl_catalogue_members_free(m, n);
    parse_bad("[{\"age\":3}]", "members[0].member_id: missing", 0);
    parse_bad("[{\"member_id\":1},{\"member_id\":2,\"age\":1.5}]", "members[1].age", 0);
    parse_bad("[{\"member_id\":1,\"gender\":3}]", "members[0].gender: must be a string", 0);
    parse_bad("[1]", "members[0]: must be an object", 0);
    parse_bad("[{\"member_id\":1}", "invalid JSON", 0);
    parse_bad_as("\"x\"", "application/json", "members must be a JSON array", 0);
    parse_bad("\"x\"", "needs a member_id column", 1); /* not JSON-looking: read as CSV */
}
