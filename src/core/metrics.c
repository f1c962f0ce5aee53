/*
 * metrics.c - the Prometheus registry (see metrics.h).
 *
 * Families live in a list in registration order; each family keeps its
 * series in a list too. Series counts are small (topics x partitions x
 * reasons), and lookups happen once per caller, so lists are enough.
 */
#include "core/metrics.h"
#include "core/alloc.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS  6
#define MAX_BUCKETS 24

struct sl_metric {
    struct sl_metric *next;
    sl_metric_family *family;
    char *label_values[MAX_LABELS];
    _Atomic uint64_t count;            /* counter value, histogram count */
    _Atomic uint64_t bits;             /* gauge value, histogram sum (double bits) */
    _Atomic uint64_t buckets[MAX_BUCKETS];
};

struct sl_metric_family {
    struct sl_metric_family *next;
    char *name;
    char *help;
    sl_metric_type type;
    int nlabels;
    char *label_names[MAX_LABELS];
    int nbuckets;
    double bounds[MAX_BUCKETS];
    sl_metric *series;
};

struct hook {
    struct hook *next;
    sl_metrics_hook fn;
    void *arg;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
/* Held for reading while a render runs the hooks, for writing while one is
   removed: once sl_metrics_remove_hook returns, its hook is not running and
   will not run again, so its owner may free what the hook reads. */
static pthread_rwlock_t hooks_running = PTHREAD_RWLOCK_INITIALIZER;
static sl_metric_family *families, **families_tail = &families;
static struct hook *hooks;

static const double default_bounds[] = { 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                         0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                         0.5,     1,      2.5,     5,      10 };

static double bits_to_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t double_to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

sl_metric_family *sl_metrics_family(const char *name, const char *help, sl_metric_type type,
                                    const char *label_names)
{
    pthread_mutex_lock(&registry_lock);
    for (sl_metric_family *f = families; f; f = f->next)
        if (strcmp(f->name, name) == 0) {
            pthread_mutex_unlock(&registry_lock);
            return f;
        }
    sl_metric_family *f = sl_calloc(1, sizeof *f);
    f->name = sl_strdup(name);
    f->help = sl_strdup(help);
    f->type = type;
    if (label_names && *label_names) {
        char *copy = sl_strdup(label_names), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok && f->nlabels < MAX_LABELS;
             tok = strtok_r(NULL, ",", &save))
            f->label_names[f->nlabels++] = sl_strdup(tok);
        free(copy);
    }
    f->nbuckets = (int)SL_ARRAY_LEN(default_bounds);
    memcpy(f->bounds, default_bounds, sizeof default_bounds);
    *families_tail = f;
    families_tail = &f->next;
    pthread_mutex_unlock(&registry_lock);
    return f;
}

void sl_metrics_histogram_buckets(sl_metric_family *f, const double *bounds, int n)
{
    pthread_mutex_lock(&registry_lock);
    f->nbuckets = n < MAX_BUCKETS ? n : MAX_BUCKETS;
    memcpy(f->bounds, bounds, (size_t)f->nbuckets * sizeof *bounds);
    pthread_mutex_unlock(&registry_lock);
}

sl_metric *sl_metric_get(sl_metric_family *f, const char *const *values)
{
    pthread_mutex_lock(&registry_lock);
    sl_metric **tail = &f->series;
    for (sl_metric *m = f->series; m; m = m->next) {
        int i = 0;
        while (i < f->nlabels && strcmp(m->label_values[i], values[i] ? values[i] : "") == 0)
            i++;
        if (i == f->nlabels) {
            pthread_mutex_unlock(&registry_lock);
            return m;
        }
        tail = &m->next;
    }
    sl_metric *m = sl_calloc(1, sizeof *m);
    m->family = f;
    for (int i = 0; i < f->nlabels; i++)
        m->label_values[i] = sl_strdup(values[i] ? values[i] : "");
    *tail = m;
    pthread_mutex_unlock(&registry_lock);
    return m;
}

sl_metric *sl_metric_get0(sl_metric_family *f)
{
    return sl_metric_get(f, NULL);
}

sl_metric *sl_metric_get1(sl_metric_family *f, const char *v1)
{
    const char *v[1] = { v1 };
    return sl_metric_get(f, v);
}

sl_metric *sl_metric_get2(sl_metric_family *f, const char *v1, const char *v2)
{
    const char *v[2] = { v1, v2 };
    return sl_metric_get(f, v);
}

void sl_counter_add(sl_metric *m, uint64_t n)
{
    atomic_fetch_add_explicit(&m->count, n, memory_order_relaxed);
}

void sl_gauge_set(sl_metric *m, double v)
{
    atomic_store_explicit(&m->bits, double_to_bits(v), memory_order_relaxed);
}

static void atomic_add_double(_Atomic uint64_t *bits, double v)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(bits, &old,
                                                  double_to_bits(bits_to_double(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void sl_gauge_add(sl_metric *m, double v)
{
    atomic_add_double(&m->bits, v);
}

double sl_metric_value(const sl_metric *m)
{
    if (m->family->type == SL_GAUGE)
        return bits_to_double(atomic_load_explicit(&m->bits, memory_order_relaxed));
    return (double)atomic_load_explicit(&m->count, memory_order_relaxed);
}

void sl_histogram_observe(sl_metric *m, double v)
{
    sl_metric_family *f = m->family;
    int i = 0;
    while (i < f->nbuckets && v > f->bounds[i])
        i++;
    if (i < f->nbuckets)
        atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
    atomic_add_double(&m->bits, v);
}

uint64_t sl_histogram_count(const sl_metric *m)
{
    return atomic_load_explicit(&m->count, memory_order_relaxed);
}

void sl_metrics_on_scrape(sl_metrics_hook fn, void *arg)
{
    struct hook *h = sl_calloc(1, sizeof *h);
    h->fn = fn;
    h->arg = arg;
    pthread_mutex_lock(&registry_lock);
    struct hook **tail = &hooks;
    while (*tail)
        tail = &(*tail)->next;
    *tail = h;
    pthread_mutex_unlock(&registry_lock);
}

void sl_metrics_remove_hook(sl_metrics_hook fn, void *arg)
{
    pthread_rwlock_wrlock(&hooks_running);
    pthread_mutex_lock(&registry_lock);
    for (struct hook **p = &hooks; *p; p = &(*p)->next)
        if ((*p)->fn == fn && (*p)->arg == arg) {
            struct hook *dead = *p;
            *p = dead->next;
            free(dead);
            break;
        }
    pthread_mutex_unlock(&registry_lock);
    pthread_rwlock_unlock(&hooks_running);
}

/* Label values are escaped as the exposition format requires. */
static void render_labels(sl_buf *out, const sl_metric *m, const char *extra_name,
                          const char *extra_value)
{
    const sl_metric_family *f = m->family;
    if (f->nlabels == 0 && !extra_name)
        return;
    sl_buf_append_char(out, '{');
    for (int i = 0; i < f->nlabels; i++) {
        if (i)
            sl_buf_append_char(out, ',');
        sl_buf_printf(out, "%s=\"", f->label_names[i]);
        for (const char *c = m->label_values[i]; *c; c++) {
            if (*c == '\\' || *c == '"')
                sl_buf_append_char(out, '\\');
            if (*c == '\n') {
                sl_buf_append_str(out, "\\n");
                continue;
            }
            sl_buf_append_char(out, *c);
        }
        sl_buf_append_char(out, '"');
    }
    if (extra_name)
        sl_buf_printf(out, "%s%s=\"%s\"", f->nlabels ? "," : "", extra_name, extra_value);
    sl_buf_append_char(out, '}');
}

static void render_double(sl_buf *out, double v)
{
    if (isinf(v))
        sl_buf_append_str(out, v > 0 ? "+Inf" : "-Inf");
    else if (isnan(v))
        sl_buf_append_str(out, "NaN");
    else if (v == (double)(int64_t)v && fabs(v) < 1e15)
        sl_buf_printf(out, "%lld", (long long)v);
    else
        sl_buf_printf(out, "%.17g", v);
}

void sl_metrics_render(sl_buf *out)
{
    /* Hooks may create series, so they run outside the registry lock. */
    pthread_rwlock_rdlock(&hooks_running);
    pthread_mutex_lock(&registry_lock);
    size_t nhooks = 0;
    for (struct hook *h = hooks; h; h = h->next)
        nhooks++;
    struct hook *copy = sl_calloc(nhooks ? nhooks : 1, sizeof *copy);
    size_t k = 0;
    for (struct hook *h = hooks; h; h = h->next)
        copy[k++] = *h;
    pthread_mutex_unlock(&registry_lock);
    for (size_t i = 0; i < nhooks; i++)
        copy[i].fn(copy[i].arg);
    pthread_rwlock_unlock(&hooks_running);
    free(copy);

    static const char *type_names[] = { "counter", "gauge", "histogram" };
    pthread_mutex_lock(&registry_lock);
    for (sl_metric_family *f = families; f; f = f->next) {
        if (!f->series && f->nlabels > 0)
            continue; /* nothing observed yet for a labelled family */
        sl_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                      type_names[f->type]);
        if (!f->series) {
            sl_buf_printf(out, "%s 0\n", f->name);
            continue;
        }
        for (sl_metric *m = f->series; m; m = m->next) {
            if (f->type == SL_COUNTER) {
                sl_buf_append_str(out, f->name);
                render_labels(out, m, NULL, NULL);
                sl_buf_printf(out, " %llu\n", (unsigned long long)atomic_load(&m->count));
            } else if (f->type == SL_GAUGE) {
                sl_buf_append_str(out, f->name);
                render_labels(out, m, NULL, NULL);
                sl_buf_append_char(out, ' ');
                render_double(out, bits_to_double(atomic_load(&m->bits)));
                sl_buf_append_char(out, '\n');
            } else {
                uint64_t cumulative = 0;
                char le[32];
                for (int i = 0; i < f->nbuckets; i++) {
                    cumulative += atomic_load(&m->buckets[i]);
                    snprintf(le, sizeof le, "%g", f->bounds[i]);
                    sl_buf_printf(out, "%s_bucket", f->name);
                    render_labels(out, m, "le", le);
                    sl_buf_printf(out, " %llu\n", (unsigned long long)cumulative);
                }
                uint64_t count = atomic_load(&m->count);
                sl_buf_printf(out, "%s_bucket", f->name);
                render_labels(out, m, "le", "+Inf");
                sl_buf_printf(out, " %llu\n%s_sum", (unsigned long long)count, f->name);
                render_labels(out, m, NULL, NULL);
                sl_buf_append_char(out, ' ');
                render_double(out, bits_to_double(atomic_load(&m->bits)));
                sl_buf_printf(out, "\n%s_count", f->name);
                render_labels(out, m, NULL, NULL);
                sl_buf_printf(out, " %llu\n", (unsigned long long)count);
            }
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

void sl_metrics_reset(void)
{
    pthread_mutex_lock(&registry_lock);
    while (families) {
        sl_metric_family *f = families;
        families = f->next;
        while (f->series) {
            sl_metric *m = f->series;
            f->series = m->next;
            for (int i = 0; i < f->nlabels; i++)
                free(m->label_values[i]);
            free(m);
        }
        for (int i = 0; i < f->nlabels; i++)
            free(f->label_names[i]);
        free(f->name);
        free(f->help);
        free(f);
    }
    families_tail = &families;
    while (hooks) {
        struct hook *h = hooks;
        hooks = h->next;
        free(h);
    }
    pthread_mutex_unlock(&registry_lock);
}
