/*
 * kind_web.c - `sluice gen web`: seed 001's tracking traffic, Matomo-style
 * parameters on `GET /{scenario_id}?...`, for a set of scenarios and a pool
 * of members.
 *
 *   /5?e_c=buttonClick&e_a=Clicked&e_n=\uad6c\ub9e4\ud558\uae30
 *     &url=http://shop.example.com/product_detail/running-shoes
 *     &urlref=http://shop.example.com/&_idn=0&cookie=1&res=1920x1080
 *     &memberId=100042&h=14&uid=w-7-0
 *
 * Three wires (`--as`, chosen by the target when not given):
 *
 *   pixel  (--to http://...)  TARGET TAB REFERER TAB USER-AGENT; the pixel
 *                             target sends it as one GET with those headers
 *   nginx  (--to file:PATH)   the line NGINX writes for that GET in the
 *                             combined format, `\` written as \x5C as NGINX
 *                             does, the time in +0900
 *   json   (--as json)        the event the pixel makes of it, without ip,
 *                             user_agent and referer, with "timestamp"
 *
 * Every parameter is decodable and its value is what the ground truth says
 * (--truth writes one JSON line per acknowledged event: uid, scenario_id,
 * memberId, the member's age and gender, h, and every parameter decoded),
 * but the bytes on the wire vary the way real trackers vary them: e_n as
 * literal \uXXXX escapes (as in the seed), as percent-encoded UTF-8, or as
 * %5CuXXXX; url raw or encodeURIComponent'ed; an empty urlref for direct
 * visits; one event in ten from a visitor who is not a member (no
 * memberId).
 *
 * Members are 100000 .. 100000+N-1 (--members N, default 1000). A member's
 * age, gender, time zone, address and browser are a function of (seed,
 * member), so the same member is the same person in every event and in
 * --members-csv FILE (member_id,age,gender), which `sluice members import`
 * loads. h is the hour of the event's instant in the member's time zone
 * (Matomo's h is the visitor's local hour), so scenario filters on h see
 * every hour even in a short run.
 *
 * uid is w-<seed>-<index>: unique within a run, the event's id for --truth.
 */
#include "gen/kind.h"

#include "core/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V(s) { (s), sizeof(s) - 1 }

#define MEMBER_FIRST 100000u
#define MEMBERS_MAX 900000u
#define SCENARIOS_MAX 64

typedef struct web_state {
    uint32_t scenarios[SCENARIOS_MAX];
    size_t nscenarios;
    uint32_t members;
} web_state;

typedef struct pair { sl_view category, action; } pair;
static const pair actions[] = {
    { V("buttonClick"), V("Clicked") }, { V("pageView"), V("Viewed") },
    { V("formSubmit"), V("Submitted") }, { V("purchase"), V("Purchased") },
    { V("scroll"), V("Scrolled") },
};
static const uint16_t action_cum[] = { 40, 70, 80, 92, 100 };

/* Event names: the seed's Korean ones as \u escapes and as UTF-8 (spaces are
   '+' in the escaped form, as a form encoder writes them). */
typedef struct name { const char *escaped, *utf8; } name;
static const name names[] = {
    { "\\uace0\\uba74\\ud560\\ub2f9\\ud558\\uae30",
      "\xea\xb3\xa0\xeb\xa9\xb4\xed\x95\xa0\xeb\x8b\xb9\xed\x95\x98\xea\xb8\xb0" },
    { "\\uad6c\\ub9e4\\ud558\\uae30", "\xea\xb5\xac\xeb\xa7\xa4\xed\x95\x98\xea\xb8\xb0" },
    { "\\uc7a5\\ubc14\\uad6c\\ub2c8+\\ub2f4\\uae30",
      "\xec\x9e\xa5\xeb\xb0\x94\xea\xb5\xac\xeb\x8b\x88 \xeb\x8b\xb4\xea\xb8\xb0" },
    { "\\uc0c1\\ud488+\\ubcf4\\uae30", "\xec\x83\x81\xed\x92\x88 \xeb\xb3\xb4\xea\xb8\xb0" },
    { "\\ud68c\\uc6d0\\uac00\\uc785", "\xed\x9a\x8c\xec\x9b\x90\xea\xb0\x80\xec\x9e\x85" },
    { "\\ub85c\\uadf8\\uc778", "\xeb\xa1\x9c\xea\xb7\xb8\xec\x9d\xb8" },
    { "\\uac80\\uc0c9\\ud558\\uae30", "\xea\xb2\x80\xec\x83\x89\xed\x95\x98\xea\xb8\xb0" },
    { "\\ucfe0\\ud3f0+\\ubc1b\\uae30", "\xec\xbf\xa0\xed\x8f\xb0 \xeb\xb0\x9b\xea\xb8\xb0" },
    { "checkout", "checkout" },
    { "add+to+cart", "add to cart" },
};

/* Product pages; the last ones have Korean slugs, percent-encoded in the URL. */
static const sl_view products[] = {
    V("running-shoes"), V("wireless-earbuds"), V("coffee-grinder"), V("yoga-mat"),
    V("desk-lamp"), V("%EC%9A%B4%EB%8F%99%ED%99%94"), V("%EB%85%B8%ED%8A%B8%EB%B6%81"),
};
#define ASCII_PRODUCTS 5

static const sl_view resolutions[] = {
    V("1920x1080"), V("1366x768"), V("1440x900"), V("2560x1440"), V("390x844"), V("412x915"),
};
static const sl_view agents[] = {
    V("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"),
    V("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"),
    V("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"),
    V("Mozilla/5.0 (Linux; Android 14; SM-S918N) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"),
    V("Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"),
};
/* Members' time zones (hours from UTC): mostly Korea, some elsewhere. */
static const int8_t zones[] = { 9, 9, 9, 9, 9, 9, 9, 8, 0, -5, -8, 1 };

#define SHOP "http://shop.example.com"

/* ---- members --------------------------------------------------------------- */

typedef struct member {
    uint32_t id;
    unsigned age;
    bool male;
    int zone;
    uint8_t ip[3];
    unsigned agent;
} member;

static member member_of(uint64_t seed, uint32_t k)
{
    uint64_t h = sl_gen_mix64(seed ^ (0x6a09e667f3bcc909ULL * (k + 1)));
    member m = {
        .id = MEMBER_FIRST + k,
        .age = 15 + (unsigned)(h % 55),
        .male = (h >> 8) & 1,
        .zone = zones[(h >> 16) % SL_ARRAY_LEN(zones)],
        .ip = { (uint8_t)(h >> 24), (uint8_t)(h >> 32), (uint8_t)(1 + (h >> 40) % 254) },
        .agent = (unsigned)((h >> 48) % SL_ARRAY_LEN(agents)),
    };
    return m;
}

/* ---- options ----------------------------------------------------------------- */

static int parse_scenarios(web_state *s, const char *v, char *err, size_t errlen)
{
    s->nscenarios = 0;
    for (const char *p = v; *p;) {
        char *end;
        errno = 0;
        unsigned long id = strtoul(p, &end, 10);
        if (end == p || errno || id == 0 || id > UINT32_MAX || (*end && *end != ',') ||
            s->nscenarios == SCENARIOS_MAX) {
            snprintf(err, errlen, "--scenarios: '%s' is not a list of up to %d scenario ids "
                                  "(5,6,7)", v, SCENARIOS_MAX);
            return -EINVAL;
        }
        s->scenarios[s->nscenarios++] = (uint32_t)id;
        p = *end ? end + 1 : end;
    }
    if (s->nscenarios == 0) {
        snprintf(err, errlen, "--scenarios needs at least one id");
        return -EINVAL;
    }
    return 0;
}

static int write_members_csv(uint64_t seed, uint32_t n, const char *path, char *err,
                             size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "--members-csv: cannot write %s: %s", path, strerror(e));
        return -e;
    }
    fputs("member_id,age,gender\n", f);
    for (uint32_t k = 0; k < n; k++) {
        member m = member_of(seed, k);
        fprintf(f, "%u,%u,%s\n", m.id, m.age, m.male ? "MALE" : "FEMALE");
    }
    if (fclose(f) != 0) {
        int e = errno;
        snprintf(err, errlen, "--members-csv: cannot write %s: %s", path, strerror(e));
        return -e;
    }
    return 0;
}

static int web_init(void **state, uint64_t seed, const char *const *opts, char *err,
                    size_t errlen)
{
    web_state *s = sl_calloc(1, sizeof *s);
    s->scenarios[0] = 5;
    s->nscenarios = 1;
    s->members = 1000;
    const char *csv = NULL;
    int rc = 0;
    for (size_t i = 0; opts && opts[i] && rc == 0; i += 2) {
        const char *k = opts[i], *v = opts[i + 1];
        if (strcmp(k, "scenarios") == 0) {
            rc = parse_scenarios(s, v, err, errlen);
        } else if (strcmp(k, "members") == 0) {
            char *end;
            errno = 0;
            unsigned long n = strtoul(v, &end, 10);
            if (end == v || *end || errno || n == 0 || n > MEMBERS_MAX) {
                snprintf(err, errlen, "--members: '%s' is not a count 1..%u", v, MEMBERS_MAX);
                rc = -EINVAL;
            }
            s->members = (uint32_t)n;
        } else if (strcmp(k, "members-csv") == 0) {
            csv = v;
        } else {
            snprintf(err, errlen, "unknown option --%s", k);
            rc = -EINVAL;
        }
    }
    if (rc == 0 && csv)
        rc = write_members_csv(seed, s->members, csv, err, errlen);
    if (rc < 0) {
        free(s);
        return rc;
    }
    *state = s;
    return 0;
}

static void web_destroy(void *state)
{
    free(state);
}

/* ---- one hit ------------------------------------------------------------------- */

typedef struct hit {
    uint32_t scenario;
    bool anonymous;
    member m;
    unsigned action, name, name_form, product, url_form, ref_kind, res;
    bool new_visit, cookie;
    unsigned hour;
} hit;

static void draw(const web_state *s, sl_gen_rng *rng, const sl_gen_event *ev, hit *h)
{
    h->scenario = s->scenarios[sl_gen_rng_below(rng, (uint32_t)s->nscenarios)];
    h->anonymous = sl_gen_rng_below(rng, 10) == 0;
    uint32_t k = h->anonymous ? sl_gen_rng_below(rng, 1u << 20) : sl_gen_rng_below(rng, s->members);
    h->m = member_of(ev->seed ^ (h->anonymous ? 0xa5a5a5a5ULL : 0), k);
    h->action = sl_gen_rng_pick(rng, action_cum, SL_ARRAY_LEN(action_cum));
    h->name = sl_gen_rng_below(rng, SL_ARRAY_LEN(names));
    h->name_form = sl_gen_rng_below(rng, 10); /* 0-5 \u, 6-8 %XX UTF-8, 9 %5Cu */
    h->product = sl_gen_rng_below(rng, SL_ARRAY_LEN(products));
    h->url_form = sl_gen_rng_below(rng, 2); /* 0 raw, 1 encodeURIComponent */
    if (h->product >= ASCII_PRODUCTS)
        h->url_form = 1; /* a raw '%' would be decoded: always encode these */
    h->ref_kind = sl_gen_rng_below(rng, 10); /* 0 direct (empty), 1-4 home, 5-9 search */
    h->res = sl_gen_rng_below(rng, SL_ARRAY_LEN(resolutions));
    h->new_visit = sl_gen_rng_below(rng, 10) == 0;
    h->cookie = sl_gen_rng_below(rng, 20) != 0;
    int64_t hour_utc = (ev->ts_us / 3600000000LL) % 24;
    h->hour = (unsigned)((hour_utc + h->m.zone + 48) % 24);
}

static const char hexdigits[] = "0123456789ABCDEF";

/* s percent-encoded as encodeURIComponent does (unreserved: A-Z a-z 0-9 - _ . ! ~ * ' ( )). */
static char *put_component(char *p, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-_.!~*'()", c)) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hexdigits[c >> 4];
            *p++ = hexdigits[c & 15];
        }
    }
    return p;
}

/* The page URL (decoded value of url). */
static char *put_page_url(char *p, const hit *h)
{
    SL_GEN_PUT_LIT(p, SHOP "/product_detail/");
    return sl_gen_put_view(p, products[h->product]);
}

/* The previous page (decoded value of urlref): "" for a direct visit. */
static char *put_ref_url(char *p, const hit *h)
{
    if (h->ref_kind == 0)
        return p;
    if (h->ref_kind < 5) {
        SL_GEN_PUT_LIT(p, SHOP "/");
        return p;
    }
    SL_GEN_PUT_LIT(p, "http://search.example.org/search?q=shop");
    return p;
}

/* The request target /{sid}?... as a tracker sends it; uid's position in
   it is returned through id_at (an offset from p's start). */
static char *put_target(char *p, const hit *h, const sl_gen_event *ev, size_t *id_at,
                        size_t *id_len)
{
    char *start = p, tmp[512];
    *p++ = '/';
    p = sl_gen_put_u64(p, h->scenario);
    SL_GEN_PUT_LIT(p, "?e_c=");
    p = sl_gen_put_view(p, actions[h->action].category);
    SL_GEN_PUT_LIT(p, "&e_a=");
    p = sl_gen_put_view(p, actions[h->action].action);
    SL_GEN_PUT_LIT(p, "&e_n=");
    const name *nm = &names[h->name];
    if (h->name_form <= 5) {
        p = sl_gen_put(p, nm->escaped, strlen(nm->escaped));
    } else if (h->name_form <= 8) {
        for (const unsigned char *c = (const unsigned char *)nm->utf8; *c; c++) {
            if (*c == ' ') {
                *p++ = '+';
            } else if (*c < 0x80) {
                *p++ = (char)*c;
            } else {
                *p++ = '%';
                *p++ = hexdigits[*c >> 4];
                *p++ = hexdigits[*c & 15];
            }
        }
    } else {
        for (const char *c = nm->escaped; *c; c++) {
            if (*c == '\\')
                SL_GEN_PUT_LIT(p, "%5C");
            else
                *p++ = *c;
        }
    }
    SL_GEN_PUT_LIT(p, "&url=");
    char *u = put_page_url(tmp, h);
    p = h->url_form == 0 ? sl_gen_put(p, tmp, (size_t)(u - tmp))
                         : put_component(p, tmp, (size_t)(u - tmp));
    SL_GEN_PUT_LIT(p, "&urlref=");
    u = put_ref_url(tmp, h);
    p = h->url_form == 0 ? sl_gen_put(p, tmp, (size_t)(u - tmp))
                         : put_component(p, tmp, (size_t)(u - tmp));
    SL_GEN_PUT_LIT(p, "&_idn=");
    *p++ = h->new_visit ? '1' : '0';
    SL_GEN_PUT_LIT(p, "&cookie=");
    *p++ = h->cookie ? '1' : '0';
    SL_GEN_PUT_LIT(p, "&res=");
    p = sl_gen_put_view(p, resolutions[h->res]);
    if (!h->anonymous) {
        SL_GEN_PUT_LIT(p, "&memberId=");
        p = sl_gen_put_u64(p, h->m.id);
    }
    SL_GEN_PUT_LIT(p, "&h=");
    p = sl_gen_put_u64(p, h->hour);
    SL_GEN_PUT_LIT(p, "&uid=");
    *id_at = (size_t)(p - start);
    SL_GEN_PUT_LIT(p, "w-");
    p = sl_gen_put_u64(p, ev->seed);
    *p++ = '-';
    p = sl_gen_put_u64(p, ev->index);
    *id_len = (size_t)(p - start) - *id_at;
    return p;
}

/* The decoded parameters as JSON members ("e_c":"buttonClick",...). Values
   hold no quote, backslash or control byte, so they are written as is. */
static char *put_params_json(char *p, const hit *h, const sl_gen_event *ev, size_t *id_at,
                             char *base)
{
    SL_GEN_PUT_LIT(p, "\"e_c\":\"");
    p = sl_gen_put_view(p, actions[h->action].category);
    SL_GEN_PUT_LIT(p, "\",\"e_a\":\"");
    p = sl_gen_put_view(p, actions[h->action].action);
    SL_GEN_PUT_LIT(p, "\",\"e_n\":\"");
    p = sl_gen_put(p, names[h->name].utf8, strlen(names[h->name].utf8));
    SL_GEN_PUT_LIT(p, "\",\"url\":\"");
    p = put_page_url(p, h);
    SL_GEN_PUT_LIT(p, "\",\"urlref\":\"");
    p = put_ref_url(p, h);
    SL_GEN_PUT_LIT(p, "\",\"_idn\":\"");
    *p++ = h->new_visit ? '1' : '0';
    SL_GEN_PUT_LIT(p, "\",\"cookie\":\"");
    *p++ = h->cookie ? '1' : '0';
    SL_GEN_PUT_LIT(p, "\",\"res\":\"");
    p = sl_gen_put_view(p, resolutions[h->res]);
    if (!h->anonymous) {
        SL_GEN_PUT_LIT(p, "\",\"memberId\":\"");
        p = sl_gen_put_u64(p, h->m.id);
    }
    SL_GEN_PUT_LIT(p, "\",\"h\":\"");
    p = sl_gen_put_u64(p, h->hour);
    SL_GEN_PUT_LIT(p, "\",\"uid\":\"");
    if (id_at)
        *id_at = (size_t)(p - base);
    SL_GEN_PUT_LIT(p, "w-");
    p = sl_gen_put_u64(p, ev->seed);
    *p++ = '-';
    p = sl_gen_put_u64(p, ev->index);
    *p++ = '"';
    return p;
}

/* civil date from days since 1970-01-01 (Howard Hinnant's algorithm). */
static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* $time_local in +0900: 18/Jun/2025:12:50:10 +0900 */
static char *put_time_local(char *p, int64_t ts_us)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int64_t secs = ts_us / 1000000 + 9 * 3600;
    int64_t days = secs / 86400, rem = secs % 86400;
    int y;
    unsigned mo, d;
    civil_from_days(days, &y, &mo, &d);
    p = sl_gen_put_fixed(p, d, 2);
    *p++ = '/';
    p = sl_gen_put(p, months + 3 * (mo - 1), 3);
    *p++ = '/';
    p = sl_gen_put_fixed(p, (uint64_t)y, 4);
    *p++ = ':';
    p = sl_gen_put_fixed(p, (uint64_t)(rem / 3600), 2);
    *p++ = ':';
    p = sl_gen_put_fixed(p, (uint64_t)(rem / 60 % 60), 2);
    *p++ = ':';
    p = sl_gen_put_fixed(p, (uint64_t)(rem % 60), 2);
    SL_GEN_PUT_LIT(p, " +0900");
    return p;
}

static char *put_ip(char *p, const hit *h)
{
    if (h->anonymous) {
        SL_GEN_PUT_LIT(p, "198.51.100.");
        return sl_gen_put_u64(p, 1 + h->m.ip[2] % 254);
    }
    SL_GEN_PUT_LIT(p, "10.");
    p = sl_gen_put_u64(p, h->m.ip[0]);
    *p++ = '.';
    p = sl_gen_put_u64(p, h->m.ip[1]);
    *p++ = '.';
    return sl_gen_put_u64(p, h->m.ip[2]);
}

/* The ground truth of one hit, one JSON line (without the newline). */
static void put_truth(sl_buf *truth, const hit *h, const sl_gen_event *ev)
{
    char *p = sl_gen_begin(truth, 1536), *base = p;
    SL_GEN_PUT_LIT(p, "{\"uid\":\"w-");
    p = sl_gen_put_u64(p, ev->seed);
    *p++ = '-';
    p = sl_gen_put_u64(p, ev->index);
    SL_GEN_PUT_LIT(p, "\",\"scenario_id\":");
    p = sl_gen_put_u64(p, h->scenario);
    if (h->anonymous) {
        SL_GEN_PUT_LIT(p, ",\"memberId\":null,\"age\":null,\"gender\":null");
    } else {
        SL_GEN_PUT_LIT(p, ",\"memberId\":\"");
        p = sl_gen_put_u64(p, h->m.id);
        SL_GEN_PUT_LIT(p, "\",\"age\":");
        p = sl_gen_put_u64(p, h->m.age);
        if (h->m.male)
            SL_GEN_PUT_LIT(p, ",\"gender\":\"MALE\"");
        else
            SL_GEN_PUT_LIT(p, ",\"gender\":\"FEMALE\"");
    }
    SL_GEN_PUT_LIT(p, ",\"h\":");
    p = sl_gen_put_u64(p, h->hour);
    SL_GEN_PUT_LIT(p, ",\"params\":{");
    p = put_params_json(p, h, ev, NULL, base);
    SL_GEN_PUT_LIT(p, "}}");
    sl_gen_end(truth, p);
}

static void web_emit(void *state, sl_gen_rng *rng, sl_gen_event *ev, sl_buf *out)
{
    const web_state *s = state;
    hit h;
    draw(s, rng, ev, &h);
    char *p = sl_gen_begin(out, 2048), *base = out->data;
    size_t id_at = 0, id_len = 0;
    switch (ev->wire) {
    case SL_GEN_WIRE_PIXEL: {
        char *t = p;
        p = put_target(p, &h, ev, &id_at, &id_len);
        ev->id_off = (size_t)(t - base) + id_at;
        ev->id_len = id_len;
        *p++ = '\t';
        p = put_page_url(p, &h);
        *p++ = '\t';
        p = sl_gen_put_view(p, agents[h.m.agent]);
        break;
    }
    case SL_GEN_WIRE_NGINX: {
        char target[1536];
        char *te = put_target(target, &h, ev, &id_at, &id_len);
        p = put_ip(p, &h);
        SL_GEN_PUT_LIT(p, " - - [");
        p = put_time_local(p, ev->ts_us);
        SL_GEN_PUT_LIT(p, "] \"GET ");
        /* NGINX writes '\' (and '"', controls, bytes >= 0x7F) as \xHH. */
        for (const char *c = target; c < te; c++) {
            if (c == target + id_at)
                ev->id_off = (size_t)(p - base);
            if (*c == '\\')
                SL_GEN_PUT_LIT(p, "\\x5C");
            else
                *p++ = *c;
        }
        ev->id_len = id_len;
        SL_GEN_PUT_LIT(p, " HTTP/1.1\" 200 43 \"");
        p = put_page_url(p, &h);
        SL_GEN_PUT_LIT(p, "\" \"");
        p = sl_gen_put_view(p, agents[h.m.agent]);
        *p++ = '"';
        break;
    }
    default: {
        SL_GEN_PUT_LIT(p, "{\"scenario_id\":");
        p = sl_gen_put_u64(p, h.scenario);
        *p++ = ',';
        size_t at = 0;
        p = put_params_json(p, &h, ev, &at, base);
        ev->id_off = at;
        ev->id_len = (size_t)(p - 1 - base) - at;
        SL_GEN_PUT_LIT(p, ",\"timestamp\":");
        p = sl_gen_put_ts(p, ev);
        *p++ = '}';
        break;
    }
    }
    sl_gen_end(out, p);
    if (ev->truth)
        put_truth(ev->truth, &h, ev);
}

static const sl_gen_kind_flag web_flags[] = {
    { "--scenarios", "IDS", "web: scenario ids to spread the traffic over (default 5)" },
    { "--members", "N", "web: members 100000..100000+N-1 (default 1000)" },
    { "--members-csv", "FILE", "web: write the members (member_id,age,gender) to FILE" },
    { 0 },
};

const sl_gen_kind sl_gen_kind_web = {
    .name = "web",
    .description = "seed-001 tracking hits: GET /{scenario_id}?e_c&e_a&e_n&url&...&memberId&h "
                   "(pixel GETs, NGINX lines or JSON)",
    .id_field = "uid",
    .wires = SL_GEN_WIRE_BIT(SL_GEN_WIRE_JSON) | SL_GEN_WIRE_BIT(SL_GEN_WIRE_PIXEL) |
             SL_GEN_WIRE_BIT(SL_GEN_WIRE_NGINX),
    .flags = web_flags,
    .init_with = web_init,
    .emit = web_emit,
    .destroy = web_destroy,
};
