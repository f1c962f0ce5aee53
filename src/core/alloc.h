/*
 * alloc.h - the two allocators.
 *
 * sl_malloc and friends abort with a message on out-of-memory: ordinary code
 * does not handle it. sl_try_malloc returns NULL instead, for the places
 * where the pipeline should shed load (answer 503) rather than die, such as
 * buffering a request body.
 */
#ifndef SL_ALLOC_H
#define SL_ALLOC_H

#include <stddef.h>

void *sl_malloc(size_t n);
void *sl_calloc(size_t count, size_t n);
void *sl_realloc(void *p, size_t n);
char *sl_strdup(const char *s);
char *sl_strndup(const char *s, size_t n);

void *sl_try_malloc(size_t n);
void *sl_try_realloc(void *p, size_t n);

/* printf into a freshly allocated string; the caller frees it. */
char *sl_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
