/*
 * metrics.h - the process-wide Prometheus registry.
 *
 * A family has a name, help text, a type and fixed label names. A series is
 * one combination of label values; it is created on first use and lives
 * until exit, so hot-path callers look a series up once and keep the
 * pointer. Updates are lock-free atomics; only series creation and
 * rendering take the registry lock.
 *
 * Naming follows Prometheus conventions: counters end in _total, durations
 * are _seconds histograms, sizes are _bytes.
 */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include "core/buf.h"

#include <stdint.h>

typedef enum { SL_COUNTER, SL_GAUGE, SL_HISTOGRAM } sl_metric_type;

typedef struct sl_metric_family sl_metric_family;
typedef struct sl_metric sl_metric;

/*
 * Register (or find, if already registered with the same name) a family.
 * label_names is a comma-separated list ("topic,reason") or "" for none.
 * Histograms use buckets (seconds) from 50 µs to 10 s unless
 * sl_metrics_histogram_buckets overrides them. The registry owns it.
 */
sl_metric_family *sl_metrics_family(const char *name, const char *help, sl_metric_type type,
                                    const char *label_names);
void sl_metrics_histogram_buckets(sl_metric_family *f, const double *bounds, int n);

/* The series for these label values (exactly as many as label names). */
sl_metric *sl_metric_get(sl_metric_family *f, const char *const *label_values);
/* Shorthands for families with zero, one or two labels. */
sl_metric *sl_metric_get0(sl_metric_family *f);
sl_metric *sl_metric_get1(sl_metric_family *f, const char *v1);
sl_metric *sl_metric_get2(sl_metric_family *f, const char *v1, const char *v2);

void   sl_counter_add(sl_metric *m, uint64_t n);
void   sl_gauge_set(sl_metric *m, double v);
void   sl_gauge_add(sl_metric *m, double v);
double sl_metric_value(const sl_metric *m); /* counter or gauge value */
void   sl_histogram_observe(sl_metric *m, double v);
uint64_t sl_histogram_count(const sl_metric *m);

/*
 * Scrape hooks run (in registration order) before each render, to set
 * gauges that are cheaper to compute on demand (end offsets, lag).
 */
typedef void (*sl_metrics_hook)(void *arg);
void sl_metrics_on_scrape(sl_metrics_hook fn, void *arg);
void sl_metrics_remove_hook(sl_metrics_hook fn, void *arg);

/* Render every family in the Prometheus text exposition format 0.0.4. */
void sl_metrics_render(sl_buf *out);

/* Drop every family and hook (tests and process exit). */
void sl_metrics_reset(void);

#endif
