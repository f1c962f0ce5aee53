/*
 * kind_events.c - `sluice gen events`: seed 004's user-activity events.
 *
 *   {"event_id":"evt-42-0","timestamp":"2024-01-15T10:30:05.456Z",
 *    "user_id":"user_12345","session_id":"sess_k3v9x0qa","event_type":"CLICK",
 *    "event_data":{"page":"/products/123","element":"add_to_cart_button",
 *                  "position":{"x":450,"y":320}},
 *    "device":{"type":"mobile","os":"iOS","browser":"Safari"}}
 *
 * Users come from a pool of 10,000 (user_10000 .. user_19999) with a skew
 * toward the low numbers, as real traffic has heavy users; the collector
 * keys events.activity by user_id, so the skew also exercises uneven
 * partitions. A user's device is a function of (seed, user), so one user
 * does not hop between an iPhone and a Linux desktop, and a session id is
 * a function of (seed, user, a coarse slice of the index), so a session
 * spans many events and then rotates. The page, element and click position
 * follow the event type and the device's viewport.
 *
 * event_id is `evt-<seed>-<index>`, unique within a run and reproducible.
 * Everything else is drawn from the per-event generator or hashed from the
 * seed: no state.
 */
#include "gen/kind.h"

#define V(s) { (s), sizeof(s) - 1 }

#define USER_POOL      10000
#define USER_FIRST     10000
/* Events per session slice: at 1,000 events/s a session lasts ~2 minutes. */
#define SESSION_EVENTS 100000

typedef enum { VIEW, CLICK, SEARCH, ADD_TO_CART, PURCHASE, LOGIN, LOGOUT } event_type;
static const sl_view type_names[] = {
    V("VIEW"), V("CLICK"), V("SEARCH"), V("ADD_TO_CART"), V("PURCHASE"), V("LOGIN"), V("LOGOUT"),
};
/* A browsing funnel: many views and clicks, fewer carts, fewer purchases. */
static const uint16_t type_cum[] = { 35, 65, 75, 85, 90, 95, 100 };

static const sl_view categories[] = {
    V("electronics"), V("books"), V("fashion"), V("home"), V("sports"), V("beauty"), V("toys"),
};
static const sl_view landing_pages[] = { V("/"), V("/home"), V("/deals"), V("/cart") };

static const sl_view view_elements[] = { V("main_content"), V("product_image"), V("page_body") };
static const sl_view click_elements[] = {
    V("product_card"), V("nav_menu"), V("banner"), V("recommendation_item"),
    V("filter_dropdown"), V("pagination_next"), V("wishlist_button"),
};
static const sl_view search_elements[] = { V("search_box"), V("search_button") };
static const sl_view cart_elements[] = { V("add_to_cart_button") };
static const sl_view purchase_elements[] = { V("place_order_button"), V("buy_now_button") };
static const sl_view login_elements[] = { V("login_button"), V("social_login_google") };
static const sl_view logout_elements[] = { V("logout_button") };

typedef struct element_set {
    const sl_view *v;
    unsigned n;
} element_set;
#define SET(a) { a, SL_ARRAY_LEN(a) }
static const element_set elements_by_type[] = {
    SET(view_elements),     SET(click_elements), SET(search_elements), SET(cart_elements),
    SET(purchase_elements), SET(login_elements), SET(logout_elements),
};

typedef struct device {
    sl_view type, os, browser;
    uint16_t width, height;   /* viewport, for click positions */
} device;

/* Each row is one plausible (type, os, browser); a user's row is chosen by
 * weight from a hash of (seed, user). */
static const device devices[] = {
    { V("mobile"),  V("iOS"),     V("Safari"),           390,  844 },
    { V("mobile"),  V("iOS"),     V("Chrome"),           390,  844 },
    { V("mobile"),  V("Android"), V("Chrome"),           412,  915 },
    { V("mobile"),  V("Android"), V("Samsung Internet"), 412,  915 },
    { V("desktop"), V("Windows"), V("Chrome"),           1920, 1080 },
    { V("desktop"), V("Windows"), V("Edge"),             1920, 1080 },
    { V("desktop"), V("macOS"),   V("Safari"),           1440, 900 },
    { V("desktop"), V("macOS"),   V("Chrome"),           1440, 900 },
    { V("desktop"), V("Linux"),   V("Firefox"),          1920, 1080 },
    { V("tablet"),  V("iPadOS"),  V("Safari"),           820,  1180 },
    { V("tablet"),  V("Android"), V("Chrome"),           800,  1280 },
};
static const uint16_t device_cum[] = { 22, 27, 48, 55, 72, 79, 84, 88, 90, 96, 100 };

static const char base36[] = "0123456789abcdefghijklmnopqrstuvwxyz";

/* A page fitting the event type. */
static char *put_page(char *p, sl_gen_rng *rng, event_type t)
{
    unsigned r = sl_gen_rng_below(rng, 100);
    switch (t) {
    case SEARCH:   SL_GEN_PUT_LIT(p, "/search"); return p;
    case PURCHASE: SL_GEN_PUT_LIT(p, "/checkout"); return p;
    case LOGIN:    SL_GEN_PUT_LIT(p, "/login"); return p;
    case LOGOUT:   SL_GEN_PUT_LIT(p, "/account"); return p;
    case ADD_TO_CART: r = 0; break; /* always a product page */
    default: break;
    }
    if (r < 55) {
        SL_GEN_PUT_LIT(p, "/products/");
        return sl_gen_put_u64(p, 100 + sl_gen_rng_below(rng, 900));
    }
    if (r < 80) {
        SL_GEN_PUT_LIT(p, "/category/");
        return sl_gen_put_view(p, categories[sl_gen_rng_below(rng, SL_ARRAY_LEN(categories))]);
    }
    return sl_gen_put_view(p, landing_pages[sl_gen_rng_below(rng, SL_ARRAY_LEN(landing_pages))]);
}

static void events_emit(void *state, sl_gen_rng *rng, sl_gen_event *ev, sl_buf *out)
{
    SL_UNUSED(state);
    /* The product of two uniforms leans toward small numbers: heavy users. */
    uint64_t a = sl_gen_rng_below(rng, USER_POOL), b = sl_gen_rng_below(rng, USER_POOL);
    uint32_t user = (uint32_t)(a * b / USER_POOL);
    uint64_t user_hash = sl_gen_mix64(ev->seed ^ (0xd1b54a32d192ed03ULL * (user + 1)));
    const device *dev = &devices[sl_gen_rng_pick(
        &(sl_gen_rng){ user_hash }, device_cum, SL_ARRAY_LEN(device_cum))];
    uint64_t session = sl_gen_mix64(user_hash + ev->index / SESSION_EVENTS);
    event_type t = (event_type)sl_gen_rng_pick(rng, type_cum, SL_ARRAY_LEN(type_cum));
    const element_set *els = &elements_by_type[t];

    char *p = sl_gen_begin(out, 512);
    SL_GEN_PUT_LIT(p, "{\"event_id\":\"");
    char *id = p;
    SL_GEN_PUT_LIT(p, "evt-");
    p = sl_gen_put_u64(p, ev->seed);
    *p++ = '-';
    p = sl_gen_put_u64(p, ev->index);
    ev->id_off = (size_t)(id - out->data);
    ev->id_len = (size_t)(p - id);
    SL_GEN_PUT_LIT(p, "\",\"timestamp\":");
    p = sl_gen_put_ts(p, ev);
    SL_GEN_PUT_LIT(p, ",\"user_id\":\"user_");
    p = sl_gen_put_fixed(p, USER_FIRST + user, 5);
    SL_GEN_PUT_LIT(p, "\",\"session_id\":\"sess_");
    for (int i = 0; i < 8; i++, session >>= 6)
        *p++ = base36[(session & 63) % 36];
    SL_GEN_PUT_LIT(p, "\",\"event_type\":\"");
    p = sl_gen_put_view(p, type_names[t]);
    SL_GEN_PUT_LIT(p, "\",\"event_data\":{\"page\":\"");
    p = put_page(p, rng, t);
    SL_GEN_PUT_LIT(p, "\",\"element\":\"");
    p = sl_gen_put_view(p, els->v[sl_gen_rng_below(rng, els->n)]);
    SL_GEN_PUT_LIT(p, "\",\"position\":{\"x\":");
    p = sl_gen_put_u64(p, sl_gen_rng_below(rng, dev->width));
    SL_GEN_PUT_LIT(p, ",\"y\":");
    p = sl_gen_put_u64(p, sl_gen_rng_below(rng, dev->height));
    SL_GEN_PUT_LIT(p, "}},\"device\":{\"type\":\"");
    p = sl_gen_put_view(p, dev->type);
    SL_GEN_PUT_LIT(p, "\",\"os\":\"");
    p = sl_gen_put_view(p, dev->os);
    SL_GEN_PUT_LIT(p, "\",\"browser\":\"");
    p = sl_gen_put_view(p, dev->browser);
    SL_GEN_PUT_LIT(p, "\"}}");
    sl_gen_end(out, p);
}

const sl_gen_kind sl_gen_kind_events = {
    .name = "events",
    .description = "seed-004 user activity events: event_type, user_id, session_id, event_data, device ...",
    .id_field = "event_id",
    .emit = events_emit,
};
