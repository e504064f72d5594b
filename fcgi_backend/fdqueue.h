/*
 * A FIFO of file descriptors: a ring buffer that doubles when full.
 * Not thread-safe by itself; server.c keeps its queues under its lock.
 */
#ifndef WHARFD_FDQUEUE_H
#define WHARFD_FDQUEUE_H

#include <stddef.h>

struct wharfd_fdq {
    int *fds;
    size_t cap;  /* slots allocated */
    size_t head; /* index of the oldest */
    size_t len;  /* how many are queued */
};

/* Appends fd; -1 when out of memory (the queue is unchanged). */
int wharfd_fdq_push(struct wharfd_fdq *q, int fd);

/* Removes and returns the oldest fd, or -1 when empty. */
int wharfd_fdq_pop(struct wharfd_fdq *q);

/* Frees the buffer (the descriptors are the caller's to close first). */
void wharfd_fdq_free(struct wharfd_fdq *q);

#endif
