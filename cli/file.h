/*
 * Files the CLI writes whole: the Docker watcher's state.
 */
#ifndef CTL_FILE_H
#define CTL_FILE_H

#include <stddef.h>

/* Writes text to path atomically: a temporary file beside it, flushed to
 * disk, then renamed over it. Returns 0, or -1 with errno set. */
int ctl_write_atomic(const char *path, const char *text, size_t len);

#endif
