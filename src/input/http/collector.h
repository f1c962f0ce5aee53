/*
 * collector.h - the HTTP collector on collector.listen (the data plane).
 *
 *   POST /api/collect[?topic=T]   JSON object, array of objects, or NDJSON,
 *                                 optionally Content-Encoding: gzip
 *   GET  /health
 *
 * An answer of 200 means every accepted event is in the log under the
 * configured durability; rejected events are in _dlq with their reason.
 * Statuses: 400 malformed body (with the byte offset), 401 bad token,
 * 404 undeclared ?topic=, 413 body or event count over the limits,
 * 415 unknown Content-Encoding, 503 + Retry-After when the log cannot
 * accept (backpressure, disk full).
 */
#ifndef SL_COLLECTOR_H
#define SL_COLLECTOR_H

#include "core/config.h"
#include "log/log.h"

typedef struct sl_collector sl_collector;

/*
 * Start listening. *cfg_ref is the live config (a reload swaps the pointer
 * atomically; retired configs must stay valid until the collector stops);
 * the log must outlive the collector.
 */
int  sl_collector_start(const sl_config *const *cfg_ref, sl_log *log, sl_collector **out);
int  sl_collector_port(const sl_collector *c);
/* Stop accepting connections; in-flight requests finish. */
void sl_collector_quiesce(sl_collector *c);
void sl_collector_stop(sl_collector *c); /* NULL-safe */

#endif
