#include "fdqueue.h"

#include <stdlib.h>

#define WHARFD_FDQ_MIN 16

int
wharfd_fdq_push(struct wharfd_fdq *q, int fd)
{
    size_t cap, i;
    int *fds;

    if (q->len == q->cap) {
        /* Grow and unroll: the queued fds go to the front, in order. */
        cap = q->cap ? q->cap * 2 : WHARFD_FDQ_MIN;
        fds = malloc(cap * sizeof(*fds));
        if (fds == NULL) {
            return -1;
        }
        for (i = 0; i < q->len; i++) {
            fds[i] = q->fds[(q->head + i) % q->cap];
        }
        free(q->fds);
        q->fds = fds;
        q->cap = cap;
        q->head = 0;
    }
    q->fds[(q->head + q->len) % q->cap] = fd;
    q->len++;
    return 0;
}

int
wharfd_fdq_pop(struct wharfd_fdq *q)
{
    int fd;

    if (q->len == 0) {
        return -1;
    }
    fd = q->fds[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return fd;
}

void
wharfd_fdq_free(struct wharfd_fdq *q)
{
    free(q->fds);
    q->fds = NULL;
    q->cap = q->head = q->len = 0;
}
