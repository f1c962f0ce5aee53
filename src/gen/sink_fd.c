/*
 * sink_fd.c - the file and stdout targets (`--to file:PATH`, `--to -`).
 *
 * Batches become NDJSON lines, one write(2) per batch. A file is opened
 * with O_APPEND so that several generators may feed one file a tailer
 * watches, and a batch is acknowledged once write has taken all its bytes
 * (the page cache; this is a test feed, not a durable store). A failed
 * write, EPIPE from `sluice gen ... | head` included, is fatal: nothing
 * downstream is listening, so the run stops instead of retrying.
 */
#include "gen/gen_int.h"

#include "core/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct gen_sink {
    int fd;
    bool owned;   /* we opened it (a file), not stdout */
};

static int fd_open(gen_sink **out, const sl_gen_options *o, char *err, size_t errlen)
{
    gen_sink *s = sl_calloc(1, sizeof *s);
    if (o->target == SL_GEN_TO_FILE) {
        s->fd = open(o->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (s->fd < 0) {
            int e = errno;
            snprintf(err, errlen, "cannot open %s: %s", o->path, strerror(e));
            free(s);
            return -e;
        }
        s->owned = true;
    } else {
        s->fd = STDOUT_FILENO;
    }
    *out = s;
    return 0;
}

static void fd_send(gen_sink *s, gen_batch *b, gen_send_result *r)
{
    const char *p = b->body.data;
    size_t left = b->body.len;
    while (left > 0) {
        ssize_t w = write(s->fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            r->outcome = GEN_SEND_FATAL;
            snprintf(r->detail, sizeof r->detail, "write failed: %s", strerror(errno));
            return;
        }
        p += w;
        left -= (size_t)w;
    }
    r->outcome = GEN_SEND_ACKED;
    r->accepted = b->n;
    r->rejected = 0;
}

static void fd_close(gen_sink *s)
{
    if (!s)
        return;
    if (s->owned)
        close(s->fd);
    free(s);
}

const gen_sink_ops gen_sink_fd = {
    .name = "fd",
    .open_text = "",
    .separator = "\n",
    .close_text = "\n",
    .open = fd_open,
    .send = fd_send,
    .close = fd_close,
};
