/*
 * tail_pos.c - the tail input's position file: which files it follows and
 * how far their lines are durably in the log, like Fluentd's pos_file.
 *
 * It is rewritten whole each time (a temporary file, fsync, rename, fsync
 * of the directory), so a crash leaves either the old or the new file and
 * never a mixture; the trailer's CRC catches anything else (an edit by
 * hand, a damaged disk) and the input refuses to guess: a corrupt position
 * file stops the input with a message instead of re-reading or skipping.
 * Text, so an operator can read it with cat.
 */
#include "input/tail/tail.h"

#include "core/alloc.h"
#include "core/crc32c.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define POS_MAGIC "sluice-tail-pos 1\n"

/*
 * The format, one line per followed file between a magic line and a
 * trailer. Numbers are lowercase hex of fixed width; fields are separated
 * by one TAB; the path has '%', TAB, newline and other control bytes as
 * %XX so that every entry is one line.
 *
 *   sluice-tail-pos 1\n                                   magic, version
 *   /var/log/nginx/access.log\t<dev>\t<ino>\t<offset>\t<pending>\t<fplen>\t<fpcrc>\n
 *   /var/log/nginx/access.log.1\t...\n                    (a rotated file being drained)
 *   end <count> <crc>\n                                   trailer
 *
 *   field     width  meaning
 *   -------   -----  -------------------------------------------------------
 *   path        -    where the file was last seen (a renamed file is found
 *                    again by inode in the same directory)
 *   dev        16    st_dev  } the file's identity: a path may change,
 *   ino        16    st_ino  } (dev, inode) does not
 *   offset     16    every line before this byte is durably in the log
 *   pending    16    0, or the end of a batch that was being appended when
 *                    the file was written: the next start re-reads exactly
 *                    [offset, pending) so the log recognises it
 *   fplen       4    how many of the file's first bytes the fingerprint covers
 *   fpcrc       8    CRC-32C of those bytes: a file truncated and rewritten
 *                    (copytruncate) or a reused inode does not match
 *   count       -    decimal number of entries
 *   crc         8    CRC-32C of every byte before the trailer line
 *
 * Example (TABs shown as spaces), a file of 472,988 bytes read to its end:
 *
 *   sluice-tail-pos 1
 *   /tmp/ex/nginx/access.log 000000000000fe00 0000000000a7c084 000000000007379c 0000000000000000 0100 4a18dba8
 *   end 1 ead490a9
 */
void tail_pos_encode(const tail_pos_entry *e, size_t n, sl_buf *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = out->len;
    sl_buf_append_str(out, POS_MAGIC);
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)e[i].path; *p; p++) {
            if (*p < 0x20 || *p == 0x7f || *p == '%') {
                char esc[3] = { '%', hex[*p >> 4], hex[*p & 15] };
                sl_buf_append(out, esc, 3);
            } else {
                sl_buf_append_char(out, (char)*p);
            }
        }
        sl_buf_printf(out, "\t%016" PRIx64 "\t%016" PRIx64 "\t%016" PRIx64 "\t%016" PRIx64
                           "\t%04" PRIx32 "\t%08" PRIx32 "\n",
                      e[i].dev, e[i].ino, (uint64_t)e[i].offset,
                      (uint64_t)(e[i].pending > e[i].offset ? e[i].pending : 0), e[i].fp_len,
                      e[i].fp_crc);
    }
    uint32_t crc = sl_crc32c(0, out->data + start, out->len - start);
    sl_buf_printf(out, "end %zu %08" PRIx32 "\n", n, crc);
}

static int hexdigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Exactly `width` lowercase hex digits. */
static bool take_hex(const char **p, const char *end, int width, uint64_t *out)
{
    if (end - *p < width)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < width; i++) {
        int d = hexdigit((*p)[i]);
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *p += width;
    *out = v;
    return true;
}

__attribute__((format(printf, 4, 5)))
static int corrupt(char *err, size_t errlen, int line, const char *fmt, ...)
{
    if (err && errlen) {
        int k = snprintf(err, errlen, "line %d: ", line);
        va_list ap;
        va_start(ap, fmt);
        if (k >= 0 && (size_t)k < errlen)
            vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return SL_ERR_CORRUPT;
}

/* One entry line [p, end) (without its newline). */
static int decode_entry(const char *p, const char *end, tail_pos_entry *e, char *err,
                        size_t errlen, int lineno)
{
    const char *tab = memchr(p, '\t', (size_t)(end - p));
    if (!tab || tab == p)
        return corrupt(err, errlen, lineno, "expected a path and a TAB");
    sl_buf path = SL_BUF_INIT;
    for (const char *q = p; q < tab; q++) {
        if (*q == '%') {
            int a = q + 2 < tab ? hexdigit(q[1]) : -1, b = q + 2 < tab ? hexdigit(q[2]) : -1;
            if (a < 0 || b < 0) {
                sl_buf_free(&path);
                return corrupt(err, errlen, lineno, "broken %%-escape in the path");
            }
            sl_buf_append_char(&path, (char)(a * 16 + b));
            q += 2;
        } else {
            sl_buf_append_char(&path, *q);
        }
    }
    const char *q = tab;
    uint64_t f[6];
    static const int widths[6] = { 16, 16, 16, 16, 4, 8 };
    static const char *const names[6] = { "dev", "inode", "offset", "pending", "fingerprint length",
                                           "fingerprint" };
    for (int i = 0; i < 6; i++) {
        if (q >= end || *q != '\t' || (q++, !take_hex(&q, end, widths[i], &f[i]))) {
            sl_buf_free(&path);
            return corrupt(err, errlen, lineno, "expected %d hex digits for the %s", widths[i],
                           names[i]);
        }
    }
    if (q != end) {
        sl_buf_free(&path);
        return corrupt(err, errlen, lineno, "unexpected text after the fingerprint");
    }
    if (f[2] > INT64_MAX || f[3] > INT64_MAX || f[4] > TAIL_HEAD_MAX ||
        (f[3] != 0 && f[3] <= f[2])) {
        sl_buf_free(&path);
        return corrupt(err, errlen, lineno, "impossible offsets or fingerprint length");
    }
    e->path = path.data ? sl_buf_steal(&path) : sl_strdup("");
    e->dev = f[0];
    e->ino = f[1];
    e->offset = (int64_t)f[2];
    e->pending = (int64_t)f[3];
    e->fp_len = (uint32_t)f[4];
    e->fp_crc = (uint32_t)f[5];
    return 0;
}

int tail_pos_decode(const char *text, size_t len, tail_pos_entry **out, size_t *n, char *err,
                    size_t errlen)
{
    *out = NULL;
    *n = 0;
    size_t mlen = strlen(POS_MAGIC);
    if (len < mlen || memcmp(text, POS_MAGIC, mlen) != 0)
        return corrupt(err, errlen, 1, "not a sluice position file (expected '%.*s')",
                       (int)mlen - 1, POS_MAGIC);
    tail_pos_entry *v = NULL;
    size_t count = 0;
    const char *p = text + mlen, *end = text + len;
    int lineno = 2, rc = 0;
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            rc = corrupt(err, errlen, lineno, "the file ends without its 'end' line (cut short?)");
            goto fail;
        }
        if (nl - p >= 4 && memcmp(p, "end ", 4) == 0) {
            unsigned long long k;
            unsigned crc;
            char tail[64];
            size_t tl = SL_MIN((size_t)(nl - p), sizeof tail - 1);
            memcpy(tail, p, tl);
            tail[tl] = '\0';
            int used = 0;
            if (sscanf(tail, "end %llu %8x%n", &k, &crc, &used) != 2 || (size_t)used != tl) {
                rc = corrupt(err, errlen, lineno, "malformed 'end' line");
                goto fail;
            }
            if (k != count) {
                rc = corrupt(err, errlen, lineno, "the 'end' line counts %llu entries, found %zu",
                             k, count);
                goto fail;
            }
            uint32_t want = sl_crc32c(0, text, (size_t)(p - text));
            if (crc != want) {
                rc = corrupt(err, errlen, lineno, "checksum mismatch (the file was changed or "
                                                  "damaged)");
                goto fail;
            }
            if (nl + 1 != end) {
                rc = corrupt(err, errlen, lineno + 1, "text after the 'end' line");
                goto fail;
            }
            break;
        }
        v = sl_realloc(v, (count + 1) * sizeof *v);
        rc = decode_entry(p, nl, &v[count], err, errlen, lineno);
        if (rc < 0)
            goto fail;
        count++;
        p = nl + 1;
        lineno++;
    }
    *out = v;
    *n = count;
    return 0;
fail:
    tail_pos_free(v, count);
    return rc;
}

void tail_pos_free(tail_pos_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].path);
    free(e);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int tail_pos_write(const char *path, const tail_pos_entry *e, size_t n)
{
    sl_buf text = SL_BUF_INIT;
    tail_pos_encode(e, n, &text);
    char *tmp = sl_asprintf("%s.tmp", path);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    rc = write_all(fd, text.data, text.len);
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc == 0) {
        /* The rename is only durable once the directory is synced. */
        char *dir_copy = sl_strdup(path);
        int dfd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        free(dir_copy);
        if (dfd < 0 || fsync(dfd) < 0)
            rc = -errno;
        if (dfd >= 0)
            close(dfd);
    }
    if (rc < 0)
        unlink(tmp);
out:
    free(tmp);
    sl_buf_free(&text);
    return rc;
}

int tail_pos_read(const char *path, tail_pos_entry **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    sl_buf text = SL_BUF_INIT;
    char chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            close(fd);
            sl_buf_free(&text);
            return e;
        }
        if (r == 0)
            break;
        sl_buf_append(&text, chunk, (size_t)r);
    }
    close(fd);
    int rc = tail_pos_decode(text.data ? text.data : "", text.len, out, n, err, errlen);
    sl_buf_free(&text);
    return rc;
}
