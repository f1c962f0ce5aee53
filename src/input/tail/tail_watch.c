/*
 * tail_watch.c - which files the tail input follows, and what happened to
 * them: new files, rotation by rename, copytruncate, files that vanished.
 *
 * A file is known by its identity (device, inode), never by its name: NGINX
 * writes access.log, logrotate renames it to access.log.1 and NGINX opens
 * a new access.log. The tailer keeps reading the old inode through its open
 * descriptor until it has stopped growing for rotate_wait (NGINX may write
 * to it until it reopens its logs), while the new access.log is followed
 * from its first byte. After a restart, a file the position file knows is
 * looked for at its path and, if another file is there now, by inode in
 * the same directory: a rotation that happened while sluice was down
 * loses nothing either.
 *
 * copytruncate keeps the inode and cuts the file to zero. It is noticed
 * when the file is shorter than what was read, or when its first bytes
 * (the fingerprint, up to 256) no longer match. The lines written between
 * the tailer's last read and the truncation exist only in the copy, so the
 * directory is searched for a file whose first bytes match the
 * fingerprint and which is at least as long as what was read: the rest is
 * read from there, then the truncated file from 0. Without such a copy
 * those lines are lost, and a warning says so (logrotate's own caveat).
 *
 * Globs should name the live files (access.log), not their rotated names
 * (access.log.*): a renamed file is still followed by inode, and a glob that
 * matched the copies of copytruncate would read them as new files.
 */
#include "input/tail/tail.h"

#include "core/alloc.h"
#include "core/crc32c.h"
#include "core/logging.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

tail_file *tail_file_new(const char *path, int fd, uint64_t dev, uint64_t ino, int64_t offset)
{
    tail_file *f = sl_calloc(1, sizeof *f);
    f->path = sl_strdup(path);
    f->fd = fd;
    f->dev = dev;
    f->ino = ino;
    f->committed = f->issued = f->pending = offset;
    f->quiet_since_us = sl_mono_us();
    return f;
}

void tail_file_free(tail_file *f)
{
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    free(f->buf);
    free(f->path);
    free(f);
}

/* Read up to n of the file's first bytes; the count read, or -errno. */
static ssize_t read_head(int fd, char *out, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, out + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

void tail_watch_grow_head(tail_file *f)
{
    if (f->head_len >= TAIL_HEAD_MAX || f->fd < 0)
        return;
    char tmp[TAIL_HEAD_MAX];
    ssize_t r = read_head(f->fd, tmp, TAIL_HEAD_MAX);
    if (r <= (ssize_t)f->head_len || memcmp(tmp, f->head, f->head_len) != 0)
        return; /* not longer, or changed: tail_watch_check deals with that */
    memcpy(f->head, tmp, (size_t)r);
    f->head_len = (uint32_t)r;
}

static tail_file *find_identity(tail_input *t, uint64_t dev, uint64_t ino)
{
    for (tail_file *f = t->files; f; f = f->next)
        if (!f->gone && f->dev == dev && f->ino == ino)
            return f;
    return NULL;
}

static void add_file(tail_input *t, tail_file *f)
{
    f->next = t->files;
    t->files = f;
    t->nfiles++;
    t->pos_dirty = true;
}

/* Open path and check it is the regular file (dev, ino) when given. */
static int open_file(const char *path, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        int e = errno ? -errno : -EINVAL;
        close(fd);
        return e;
    }
    return fd;
}

/* The file with inode ino in path's directory; its path (caller frees) or NULL. */
static char *find_inode_in_dir(const char *path, uint64_t dev, uint64_t ino)
{
    char *copy = sl_strdup(path);
    char *dir = sl_strdup(dirname(copy));
    free(copy);
    DIR *d = opendir(dir);
    char *found = NULL;
    if (d) {
        for (struct dirent *e; !found && (e = readdir(d)) != NULL;) {
            if ((uint64_t)e->d_ino != ino)
                continue;
            char *p = sl_asprintf("%s/%s", dir, e->d_name);
            struct stat st;
            if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_dev == dev &&
                (uint64_t)st.st_ino == ino)
                found = p;
            else
                free(p);
        }
        closedir(d);
    }
    free(dir);
    return found;
}

/*
 * A copy of a truncated file: in path's directory, named like it with
 * something appended (access.log.1, access.log-20250618), another inode, at
 * least min_size bytes, starting with the fingerprint. Returns its fd (and
 * *copy_path, *st) or -1.
 */
static int find_copy(const char *path, uint64_t ino, int64_t min_size, const char *head,
                     uint32_t head_len, uint32_t head_crc, bool by_crc, char **copy_path,
                     struct stat *st)
{
    if (head_len == 0)
        return -1;
    char *c1 = sl_strdup(path), *c2 = sl_strdup(path);
    char *dir = sl_strdup(dirname(c1)), *base = sl_strdup(basename(c2));
    free(c1);
    free(c2);
    size_t blen = strlen(base);
    int fd = -1;
    DIR *d = opendir(dir);
    if (d) {
        for (struct dirent *e; fd < 0 && (e = readdir(d)) != NULL;) {
            if (strncmp(e->d_name, base, blen) != 0 || e->d_name[blen] == '\0' ||
                (uint64_t)e->d_ino == ino)
                continue;
            char *p = sl_asprintf("%s/%s", dir, e->d_name);
            int cfd = open_file(p, st);
            char tmp[TAIL_HEAD_MAX];
            bool match = false;
            if (cfd >= 0 && st->st_size >= min_size &&
                read_head(cfd, tmp, head_len) == (ssize_t)head_len)
                match = by_crc ? sl_crc32c(0, tmp, head_len) == head_crc
                               : memcmp(tmp, head, head_len) == 0;
            if (match) {
                fd = cfd;
                *copy_path = p;
            } else {
                if (cfd >= 0)
                    close(cfd);
                free(p);
            }
        }
        closedir(d);
    }
    free(dir);
    free(base);
    return fd;
}

/* Start following a file that appeared at path, from offset. */
static tail_file *start_file(tail_input *t, const char *path, int fd, const struct stat *st,
                             int64_t offset)
{
    tail_file *f = tail_file_new(path, fd, (uint64_t)st->st_dev, (uint64_t)st->st_ino, offset);
    ssize_t r = read_head(fd, f->head, TAIL_HEAD_MAX);
    f->head_len = r > 0 ? (uint32_t)r : 0;
    add_file(t, f);
    SL_INFO(t->tag, "following %s (inode %" PRIu64 ") from byte %" PRId64, path, f->ino, offset);
    return f;
}

/* Turn f into its copy (fd, path) after copytruncate: its buffered bytes,
   positions and batches in flight all hold for the copy, byte for byte. */
static void morph_into_copy(tail_input *t, tail_file *f, int fd, char *copy_path,
                            const struct stat *st)
{
    SL_INFO(t->tag, "%s was truncated (copytruncate); reading its rest from the copy %s",
            f->path, copy_path);
    close(f->fd);
    f->fd = fd;
    free(f->path);
    f->path = copy_path;
    f->dev = (uint64_t)st->st_dev;
    f->ino = (uint64_t)st->st_ino;
    f->rotated = true;
    f->at_eof = false;
    f->quiet_since_us = sl_mono_us();
    t->pos_dirty = true;
}

/* ---- restoring the position file's files --------------------------------- */

static void restore_entry(tail_input *t, const tail_pos_entry *e)
{
    struct stat st;
    char *path = NULL;
    int fd = open_file(e->path, &st);
    if (fd >= 0 && ((uint64_t)st.st_ino != e->ino || (uint64_t)st.st_dev != e->dev)) {
        close(fd);
        fd = -1;
    }
    bool rotated = false;
    if (fd >= 0) {
        path = sl_strdup(e->path);
    } else {
        path = find_inode_in_dir(e->path, e->dev, e->ino);
        if (path && (fd = open_file(path, &st)) >= 0) {
            rotated = true;
            SL_INFO(t->tag, "%s was rotated while sluice was down; reading the rest of it "
                            "from %s", e->path, path);
        }
    }
    if (fd < 0) {
        SL_WARN(t->tag, "%s (inode %" PRIu64 ") is gone; lines after byte %" PRId64
                        " that were not read before the stop are lost", e->path, e->ino,
                e->offset);
        free(path);
        t->pos_dirty = true;
        return;
    }
    /* Same inode: is it still the same file, and not cut short? */
    char head[TAIL_HEAD_MAX];
    ssize_t hl = read_head(fd, head, e->fp_len);
    bool same = hl == (ssize_t)e->fp_len && sl_crc32c(0, head, e->fp_len) == e->fp_crc &&
                st.st_size >= e->offset;
    if (!same) {
        char *copy_path = NULL;
        struct stat cst;
        int cfd = find_copy(path, e->ino, e->offset, NULL, e->fp_len, e->fp_crc, true,
                            &copy_path, &cst);
        if (cfd >= 0) {
            SL_INFO(t->tag, "%s was truncated while sluice was down (copytruncate); reading "
                            "its rest from the copy %s", path, copy_path);
            tail_file *c = start_file(t, copy_path, cfd, &cst, e->offset);
            c->rotated = true;
            if (e->pending > e->offset && cst.st_size >= e->pending) {
                c->pending = e->pending;
                c->must_cut_at_pending = true;
            }
            free(copy_path);
        } else {
            SL_WARN(t->tag, "%s was truncated or replaced while sluice was down; reading it "
                            "from the start (lines written after byte %" PRId64 " of the old "
                            "content and before the truncation are lost)", path, e->offset);
        }
        if (!rotated) {
            start_file(t, path, fd, &st, 0);
            tail_note_rotation(t, true);
        } else {
            close(fd);
        }
        free(path);
        return;
    }
    tail_file *f = start_file(t, path, fd, &st, e->offset);
    f->rotated = rotated;
    if (e->pending > e->offset) {
        if (st.st_size >= e->pending) {
            f->pending = e->pending;
            f->must_cut_at_pending = true;
        }
    }
    free(path);
}

/* ---- scanning ------------------------------------------------------------- */

int tail_watch_scan(tail_input *t, bool first)
{
    if (first) {
        for (size_t i = 0; i < t->nrestored; i++)
            restore_entry(t, &t->restored[i]);
        tail_pos_free(t->restored, t->nrestored);
        t->restored = NULL;
        t->nrestored = 0;
    }
    for (tail_file *f = t->files; f; f = f->next)
        f->seen = false;
    for (size_t g = 0; t->paths[g]; g++) {
        glob_t gl;
        int rc = glob(t->paths[g], 0, NULL, &gl);
        if (rc == GLOB_NOMATCH)
            continue;
        if (rc != 0) {
            SL_WARN(t->tag, "cannot expand %s", t->paths[g]);
            continue;
        }
        for (size_t i = 0; i < gl.gl_pathc; i++) {
            const char *path = gl.gl_pathv[i];
            struct stat st;
            if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                continue;
            tail_file *f = find_identity(t, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
            if (f) {
                f->seen = true;
                if (strcmp(f->path, path) != 0 || f->rotated) {
                    /* Renamed to a name the globs also match: still the same file. */
                    free(f->path);
                    f->path = sl_strdup(path);
                    f->rotated = false;
                    t->pos_dirty = true;
                }
                continue;
            }
            int fd = open_file(path, &st);
            if (fd < 0)
                continue;
            /* A file already there at the very first start, with no position
               file: read_from_head decides. Anything else is new: all of it. */
            int64_t offset = first && !t->pos_existed && !t->o.read_from_head ? st.st_size : 0;
            tail_file *nf = start_file(t, path, fd, &st, offset);
            nf->seen = true;
        }
        globfree(&gl);
    }
    /* Followed files no glob shows any more (renamed away, removed): drain. */
    for (tail_file *f = t->files; f; f = f->next) {
        if (f->seen || f->rotated || f->gone)
            continue;
        struct stat st;
        bool moved = stat(f->path, &st) < 0 || (uint64_t)st.st_ino != f->ino ||
                     (uint64_t)st.st_dev != f->dev;
        if (moved) {
            SL_INFO(t->tag, "%s was rotated or removed; reading inode %" PRIu64 " to its end",
                    f->path, f->ino);
            tail_note_rotation(t, false);
        }
        f->rotated = true;
        f->quiet_since_us = sl_mono_us();
        t->pos_dirty = true;
    }
    return 0;
}

/* ---- truncation ------------------------------------------------------------ */

bool tail_watch_check(tail_input *t, tail_file *f)
{
    if (f->fd < 0 || f->paused)
        return false;
    struct stat st;
    if (fstat(f->fd, &st) < 0)
        return false;
    int64_t read_to = f->skipping ? f->long_start + f->long_len + (int64_t)(f->len - f->line_end)
                                  : f->issued + (int64_t)f->len;
    bool truncated = st.st_size < read_to;
    if (!truncated && f->head_len > 0) {
        char tmp[TAIL_HEAD_MAX];
        ssize_t r = read_head(f->fd, tmp, f->head_len);
        truncated = r != (ssize_t)f->head_len || memcmp(tmp, f->head, f->head_len) != 0;
    }
    if (!truncated)
        return false;

    tail_note_rotation(t, true);
    char *copy_path = NULL;
    struct stat cst;
    int cfd = find_copy(f->path, f->ino, read_to, f->head, f->head_len, 0, false, &copy_path,
                        &cst);
    if (cfd >= 0) {
        /* The copy continues f; a new f follows the truncated file from 0. */
        char *orig = sl_strdup(f->path);
        bool was_rotated = f->rotated;
        morph_into_copy(t, f, cfd, copy_path, &cst);
        if (!was_rotated) {
            struct stat st2;
            int fd = open_file(orig, &st2);
            if (fd >= 0)
                start_file(t, orig, fd, &st2, 0);
        }
        free(orig);
        return true;
    }
    SL_WARN(t->tag, "%s was truncated (copytruncate?) and no copy of it was found; lines "
                    "written after byte %" PRId64 " and before the truncation are lost; "
                    "reading it again from the start", f->path, read_to);
    f->paused = true;
    return true;
}
