/*
 * kind_logs.c - `sluice gen logs`: seed 004's system logs.
 *
 *   {"timestamp":"2024-01-15T10:30:00.123Z","level":"INFO",
 *    "service":"api-gateway","host":"worker-1",
 *    "message":"Request processed successfully",
 *    "metadata":{"request_id":"req-42-0","response_time_ms":45,
 *                "status_code":200,"endpoint":"/api/users","method":"GET"}}
 *
 * About 250 bytes each. Levels follow a production-like mix (INFO 70%,
 * WARN 15%, ERROR 10%, DEBUG 5%) so that seed 004's alert rule
 * `error_rate > 5%` fires on this data; the status code always agrees with
 * the level (INFO/DEBUG 2xx-3xx, WARN 4xx, ERROR 5xx) and the message with
 * the status, so scenario filters over either give the same answer.
 * request_id is `req-<seed>-<index>`: unique within a run and reproducible,
 * which is what the end-to-end tests compare against --truth.
 *
 * Every choice is drawn from the per-event random generator: an event is a
 * pure function of (seed, index) and this kind needs no state.
 */
#include "gen/kind.h"

#define V(s) { (s), sizeof(s) - 1 }

typedef enum { GET, POST, PUT, DELETE } method_kind;

static const sl_view method_names[] = { V("GET"), V("POST"), V("PUT"), V("DELETE") };

typedef struct endpoint {
    method_kind method;
    sl_view path;
} endpoint;

typedef struct service {
    sl_view name;
    const endpoint *endpoints;
    unsigned n_endpoints;
} service;

static const endpoint gateway_eps[] = {
    { GET, V("/api/users") },      { GET, V("/api/products") },
    { POST, V("/api/orders") },    { GET, V("/api/orders") },
    { GET, V("/api/search") },
};
static const endpoint user_eps[] = {
    { GET, V("/api/users") },           { GET, V("/api/users/profile") },
    { POST, V("/api/users/login") },    { PUT, V("/api/users/profile") },
    { POST, V("/api/users/register") },
};
static const endpoint order_eps[] = {
    { POST, V("/api/orders") },      { GET, V("/api/orders") },
    { GET, V("/api/orders/status") }, { DELETE, V("/api/orders") },
};
static const endpoint payment_eps[] = {
    { POST, V("/api/payments") },        { GET, V("/api/payments/status") },
    { POST, V("/api/payments/refund") },
};
static const endpoint inventory_eps[] = {
    { GET, V("/api/inventory") },       { PUT, V("/api/inventory/stock") },
    { GET, V("/api/products") },        { DELETE, V("/api/inventory/reservations") },
};
static const endpoint notification_eps[] = {
    { POST, V("/api/notifications/email") }, { POST, V("/api/notifications/push") },
    { GET, V("/api/notifications") },
};

#define SERVICE(name, eps) { V(name), eps, SL_ARRAY_LEN(eps) }
static const service services[] = {
    SERVICE("api-gateway", gateway_eps),
    SERVICE("user-service", user_eps),
    SERVICE("order-service", order_eps),
    SERVICE("payment-service", payment_eps),
    SERVICE("inventory-service", inventory_eps),
    SERVICE("notification-service", notification_eps),
};
/* The gateway sees every request; the services behind it share the rest. */
static const uint16_t service_cum[] = { 25, 40, 55, 70, 85, 100 };

static const sl_view hosts[] = { V("worker-1"), V("worker-2"), V("worker-3") };

typedef enum { INFO, WARN, ERROR, DEBUG } level;
static const sl_view level_names[] = { V("INFO"), V("WARN"), V("ERROR"), V("DEBUG") };
static const uint16_t level_cum[] = { 70, 85, 95, 100 };

typedef struct outcome {
    uint16_t status;
    sl_view message;
} outcome;

typedef struct outcome_set {
    const outcome *v;
    unsigned n;
} outcome_set;

#define SET(a) { a, SL_ARRAY_LEN(a) }

/* INFO outcomes depend on the method: a GET is not "created". */
static const outcome info_get[] = {
    { 200, V("Request processed successfully") }, { 200, V("Response served from cache") },
    { 200, V("Query returned results") },         { 304, V("Resource not modified") },
};
static const outcome info_post[] = {
    { 201, V("Resource created successfully") },  { 200, V("Request processed successfully") },
    { 202, V("Request accepted for processing") },
};
static const outcome info_put[] = {
    { 200, V("Resource updated successfully") }, { 204, V("Resource updated, no content returned") },
};
static const outcome info_delete[] = {
    { 204, V("Resource deleted successfully") }, { 200, V("Request processed successfully") },
};
static const outcome_set info_by_method[] = {
    SET(info_get), SET(info_post), SET(info_put), SET(info_delete),
};
static const outcome debug_outcomes[] = {
    { 200, V("Cache lookup completed") },         { 200, V("Database query executed") },
    { 200, V("Request payload validated") },      { 200, V("Connection acquired from pool") },
};
static const outcome warn_outcomes[] = {
    { 400, V("Invalid request parameters") },     { 401, V("Authentication token expired") },
    { 403, V("Permission denied for resource") }, { 404, V("Resource not found") },
    { 409, V("Conflicting update detected") },    { 429, V("Rate limit exceeded") },
};
static const outcome error_outcomes[] = {
    { 500, V("Internal server error") },          { 500, V("Database connection failed") },
    { 502, V("Bad gateway from upstream service") },
    { 503, V("Service temporarily unavailable") }, { 504, V("Upstream request timed out") },
};

static const outcome *pick_outcome(sl_gen_rng *rng, level lv, method_kind m)
{
    outcome_set set;
    switch (lv) {
    case INFO:  set = info_by_method[m]; break;
    case DEBUG: set = (outcome_set)SET(debug_outcomes); break;
    case WARN:  set = (outcome_set)SET(warn_outcomes); break;
    case ERROR:
    default:    set = (outcome_set)SET(error_outcomes); break;
    }
    return &set.v[sl_gen_rng_below(rng, set.n)];
}

/* Latency in ms, shaped by what happened: triangular sums give a bulge in
 * the middle instead of a flat spread, and timeouts sit near 30 s. */
static uint32_t pick_response_ms(sl_gen_rng *rng, level lv, unsigned status)
{
    if (status == 504)
        return 30000 + sl_gen_rng_below(rng, 1000);
    if (status == 304)
        return 1 + sl_gen_rng_below(rng, 10);
    switch (lv) {
    case DEBUG: return 1 + sl_gen_rng_below(rng, 25) + sl_gen_rng_below(rng, 25);
    case INFO:  return 5 + sl_gen_rng_below(rng, 150) + sl_gen_rng_below(rng, 150);
    case WARN:  return 10 + sl_gen_rng_below(rng, 400) + sl_gen_rng_below(rng, 400);
    case ERROR:
    default:    return 100 + sl_gen_rng_below(rng, 2500) + sl_gen_rng_below(rng, 2500);
    }
}

static void logs_emit(void *state, sl_gen_rng *rng, sl_gen_event *ev, sl_buf *out)
{
    SL_UNUSED(state);
    level lv = (level)sl_gen_rng_pick(rng, level_cum, SL_ARRAY_LEN(level_cum));
    const service *svc = &services[sl_gen_rng_pick(rng, service_cum, SL_ARRAY_LEN(service_cum))];
    const endpoint *ep = &svc->endpoints[sl_gen_rng_below(rng, svc->n_endpoints)];
    sl_view host = hosts[sl_gen_rng_below(rng, SL_ARRAY_LEN(hosts))];
    const outcome *oc = pick_outcome(rng, lv, ep->method);
    uint32_t ms = pick_response_ms(rng, lv, oc->status);

    char *start = sl_gen_begin(out, 512);
    char *p = start;
    SL_GEN_PUT_LIT(p, "{\"timestamp\":");
    p = sl_gen_put_ts(p, ev);
    SL_GEN_PUT_LIT(p, ",\"level\":\"");
    p = sl_gen_put_view(p, level_names[lv]);
    SL_GEN_PUT_LIT(p, "\",\"service\":\"");
    p = sl_gen_put_view(p, svc->name);
    SL_GEN_PUT_LIT(p, "\",\"host\":\"");
    p = sl_gen_put_view(p, host);
    SL_GEN_PUT_LIT(p, "\",\"message\":\"");
    p = sl_gen_put_view(p, oc->message);
    SL_GEN_PUT_LIT(p, "\",\"metadata\":{\"request_id\":\"");
    char *id = p;
    SL_GEN_PUT_LIT(p, "req-");
    p = sl_gen_put_u64(p, ev->seed);
    *p++ = '-';
    p = sl_gen_put_u64(p, ev->index);
    ev->id_off = (size_t)(id - out->data);
    ev->id_len = (size_t)(p - id);
    SL_GEN_PUT_LIT(p, "\",\"response_time_ms\":");
    p = sl_gen_put_u64(p, ms);
    SL_GEN_PUT_LIT(p, ",\"status_code\":");
    p = sl_gen_put_u64(p, oc->status);
    SL_GEN_PUT_LIT(p, ",\"endpoint\":\"");
    p = sl_gen_put_view(p, ep->path);
    SL_GEN_PUT_LIT(p, "\",\"method\":\"");
    p = sl_gen_put_view(p, method_names[ep->method]);
    SL_GEN_PUT_LIT(p, "\"}}");
    sl_gen_end(out, p);
}

const sl_gen_kind sl_gen_kind_logs = {
    .name = "logs",
    .description = "seed-004 system logs: level, service, host, message, metadata.request_id ...",
    .id_field = "metadata.request_id",
    .emit = logs_emit,
};
