/*
 * Small files the CLI reads whole: keys, the Docker watcher's state.
 */
#ifndef CTL_FILE_H
#define CTL_FILE_H

#include <stddef.h>

/* Largest key file read; a P-256 PEM key is ~250 bytes. */
#define CTL_KEY_FILE_MAX 16384

/* Reads the whole file at path, at most max bytes (EFBIG beyond). Returns
 * a malloc'd, NUL-terminated copy and its length, or NULL with *err set
 * to an errno value. */
char *ctl_read_small(const char *path, size_t max, size_t *len, int *err);

/* Writes text to path atomically: a temporary file beside it, flushed to
 * disk, then renamed over it. Returns 0, or -1 with errno set. */
int ctl_write_atomic(const char *path, const char *text, size_t len);

#endif
