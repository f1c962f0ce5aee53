/* test_metrics.c - the Prometheus registry and its text rendering. */
#include "core/metrics.h"

#include <criterion/criterion.h>

Test(metrics, counters_gauges_histograms_render)
{
    sl_metric_family *c = sl_metrics_family("t_events_total", "Events.", SL_COUNTER, "topic,reason");
    sl_metric_family *g = sl_metrics_family("t_lag", "Lag.", SL_GAUGE, "group");
    sl_metric_family *h = sl_metrics_family("t_latency_seconds", "Latency.", SL_HISTOGRAM, "");
    sl_counter_add(sl_metric_get2(c, "logs.raw", "bad \"json\""), 3);
    sl_counter_add(sl_metric_get2(c, "logs.raw", "bad \"json\""), 2);
    sl_gauge_set(sl_metric_get1(g, "lake"), 42.5);
    sl_histogram_observe(sl_metric_get0(h), 0.0003);
    sl_histogram_observe(sl_metric_get0(h), 20);

    cr_assert_eq(sl_metrics_family("t_events_total", "x", SL_COUNTER, "topic,reason"), c);
    cr_assert_eq(sl_metric_value(sl_metric_get2(c, "logs.raw", "bad \"json\"")), 5);

    sl_buf out = SL_BUF_INIT;
    sl_metrics_render(&out);
    cr_assert(strstr(out.data, "# TYPE t_events_total counter\n"));
    cr_assert(strstr(out.data, "t_events_total{topic=\"logs.raw\",reason=\"bad \\\"json\\\"\"} 5\n"));
    cr_assert(strstr(out.data, "t_lag{group=\"lake\"} 42.5\n"));
    cr_assert(strstr(out.data, "t_latency_seconds_bucket{le=\"0.00025\"} 0\n"));
    cr_assert(strstr(out.data, "t_latency_seconds_bucket{le=\"0.0005\"} 1\n"));
    cr_assert(strstr(out.data, "t_latency_seconds_bucket{le=\"+Inf\"} 2\n"));
    cr_assert(strstr(out.data, "t_latency_seconds_count 2\n"));
    sl_buf_free(&out);
    sl_metrics_reset();
}

static int hook_calls;
static void hook(void *arg)
{
    hook_calls++;
    sl_gauge_set(arg, 7);
}

Test(metrics, scrape_hooks_run_before_render)
{
    sl_metric_family *g = sl_metrics_family("t_end_offset", "End.", SL_GAUGE, "topic");
    sl_metric *m = sl_metric_get1(g, "a");
    sl_metrics_on_scrape(hook, m);
    sl_buf out = SL_BUF_INIT;
    sl_metrics_render(&out);
    cr_assert_eq(hook_calls, 1);
    cr_assert(strstr(out.data, "t_end_offset{topic=\"a\"} 7\n"));
    sl_metrics_remove_hook(hook, m);
    sl_buf_reset(&out);
    sl_metrics_render(&out);
    cr_assert_eq(hook_calls, 1);
    sl_buf_free(&out);
    sl_metrics_reset();
}
