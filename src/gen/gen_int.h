/*
 * gen_int.h - what the generator's driver (run.c) and its targets
 * (sink_http.c, sink_fd.c) share; not for the rest of sluice.
 *
 * A target is a sink: a static struct of operations, opened once per
 * sender thread, each instance used by that thread only. send delivers one
 * batch once and says what happened; retrying, counting and --truth are
 * the driver's business, so every target gets them the same way.
 */
#ifndef SL_GEN_INT_H
#define SL_GEN_INT_H

#include "gen/gen.h"

/* One batch slot: events [first, first + n) framed for the target. */
typedef struct gen_batch {
    sl_buf body;
    uint64_t first;
    uint32_t n;
    uint32_t *id_off;        /* per event: its id's bytes in body */
    uint32_t *id_len;
    uint8_t *rejected;       /* per event: the target named it rejected */
    uint32_t delivered;      /* targets sending one event at a time: events [0, delivered)
                                are answered, a retry goes on from there */
    sl_buf truth;            /* kinds' own ground-truth lines (--truth), back to back */
    uint32_t *truth_off, *truth_len; /* per event; len 0 = write the id */
    struct gen_batch *next;  /* free list / ready queue link */
} gen_batch;

typedef enum {
    GEN_SEND_ACKED = 0,      /* kept; accepted/rejected say how many of each */
    GEN_SEND_RETRY,          /* not acknowledged: send it again later */
    GEN_SEND_REJECTED,       /* refused as a whole; retrying will not help */
    GEN_SEND_FATAL,          /* the target is gone (broken pipe, disk error) */
} gen_send_outcome;

typedef struct gen_send_result {
    gen_send_outcome outcome;
    uint64_t accepted;
    uint64_t rejected;       /* rejected events; those named are marked in the batch */
    int64_t retry_after_ms;  /* the target asked for this delay; -1 = none */
    char detail[256];        /* what went wrong, for RETRY, REJECTED, FATAL */
} gen_send_result;

typedef struct gen_sink gen_sink;

typedef struct gen_sink_ops {
    const char *name;
    /* How a batch's events are framed: "[" "," "]" or "" "\n" "\n"... */
    const char *open_text, *separator, *close_text;
    /* 0, or a negative code with a message in err. */
    int  (*open)(gen_sink **out, const sl_gen_options *o, char *err, size_t errlen);
    void (*send)(gen_sink *s, gen_batch *b, gen_send_result *r);
    void (*close)(gen_sink *s);  /* NULL-safe */
} gen_sink_ops;

extern const gen_sink_ops gen_sink_http;
extern const gen_sink_ops gen_sink_fd;
extern const gen_sink_ops gen_sink_pixel;

/* How many stop requests arrived (0 run, 1 stop producing, 2+ abandon). */
int gen_stop_level(void);

#endif
