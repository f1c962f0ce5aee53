/*
 * registry.c - the table of generator kinds, and a stream of events of one.
 *
 * To add a kind: write src/gen/kind_NAME.c defining
 * `const sl_gen_kind sl_gen_kind_NAME` (see kind.h) and add X(NAME) below.
 * `sluice gen --help` lists the kinds in this order.
 */
#include "gen/gen.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define SL_GEN_KINDS(X) \
    X(logs)             \
    X(events)           \
    X(web)

#define DECLARE(name) extern const sl_gen_kind sl_gen_kind_##name;
SL_GEN_KINDS(DECLARE)
#undef DECLARE

#define ENTRY(name) &sl_gen_kind_##name,
static const sl_gen_kind *const kinds[] = { SL_GEN_KINDS(ENTRY) NULL };
#undef ENTRY

const sl_gen_kind *const *sl_gen_kind_list(void)
{
    return kinds;
}

const sl_gen_kind *sl_gen_kind_find(const char *name)
{
    for (size_t i = 0; kinds[i]; i++)
        if (strcmp(kinds[i]->name, name) == 0)
            return kinds[i];
    return NULL;
}

int sl_gen_source_init(sl_gen_source *s, const sl_gen_kind *kind, uint64_t seed,
                       sl_gen_ts_format ts_format)
{
    char err[256];
    return sl_gen_source_init_with(s, kind, seed, ts_format, NULL, err, sizeof err);
}

int sl_gen_source_init_with(sl_gen_source *s, const sl_gen_kind *kind, uint64_t seed,
                            sl_gen_ts_format ts_format, const char *const *opts, char *err,
                            size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->seed = seed;
    s->ts_format = ts_format;
    if (kind->init_with)
        return kind->init_with(&s->state, seed, opts, err, errlen);
    if (opts && opts[0]) {
        snprintf(err, errlen, "kind %s takes no option --%s", kind->name, opts[0]);
        return -EINVAL;
    }
    return kind->init ? kind->init(&s->state, seed) : 0;
}

uint64_t sl_gen_source_emit(sl_gen_source *s, int64_t ts_us, sl_buf *out, sl_gen_event *ev)
{
    sl_gen_rng rng;
    ev->seed = s->seed;
    ev->index = s->next_index++;
    ev->ts_us = ts_us;
    ev->ts_format = s->ts_format;
    ev->wire = s->wire;
    ev->truth = s->truth;
    ev->id_off = ev->id_len = 0;
    sl_gen_rng_seed(&rng, s->seed, ev->index);
    s->kind->emit(s->state, &rng, ev, out);
    return ev->index;
}

void sl_gen_source_free(sl_gen_source *s)
{
    if (s->kind && s->kind->destroy && s->state)
        s->kind->destroy(s->state);
    s->state = NULL;
}
