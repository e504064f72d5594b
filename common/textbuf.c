/* A growing text buffer: see textbuf.h. */
#include "textbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
wharf_textbuf_room(struct wharf_textbuf *b, size_t more)
{
    size_t need, cap;
    char *bigger;

    if (b->oom || b->over) {
        return NULL;
    }
    if (more > SIZE_MAX / 2 - b->len
        || (b->max > 0 && b->len + more > b->max)) {
        b->over = b->max > 0;
        b->oom = !b->over;
        return NULL;
    }
    need = b->len + more + 1;
    if (need > b->cap) {
        if (b->fixed) {
            b->oom = 1;
            return NULL;
        }
        cap = b->cap ? b->cap : WHARF_TEXTBUF_FIRST;
        while (cap < need) {
            cap *= 2;
        }
        bigger = b->realloc_fn ? b->realloc_fn(b->p, cap) : realloc(b->p, cap);
        if (bigger == NULL) {
            b->oom = 1;
            return NULL;
        }
        b->p = bigger;
        b->cap = cap;
    }
    return b->p + b->len;
}

void
wharf_textbuf_put(struct wharf_textbuf *b, const char *s, size_t n)
{
    char *at = wharf_textbuf_room(b, n);

    if (at != NULL) {
        memcpy(at, s, n);
        b->len += n;
        b->p[b->len] = '\0';
    }
}

void
wharf_textbuf_str(struct wharf_textbuf *b, const char *s)
{
    wharf_textbuf_put(b, s, strlen(s));
}

void
wharf_textbuf_printf(struct wharf_textbuf *b, const char *fmt, ...)
{
    va_list ap;
    char *at;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || (at = wharf_textbuf_room(b, (size_t) n)) == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(at, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}

size_t
wharf_textbuf_collect(char *data, size_t size, size_t n, void *buf)
{
    struct wharf_textbuf *b = buf;

    wharf_textbuf_put(b, data, size * n);
    return b->oom || b->over ? 0 : size * n;
}

char *
wharf_textbuf_take(struct wharf_textbuf *b, size_t *len)
{
    char *p = b->p;

    if (len != NULL) {
        *len = b->len;
    }
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = b->over = 0;
    return p;
}

void
wharf_textbuf_free(struct wharf_textbuf *b)
{
    if (!b->fixed) {
        if (b->free_fn != NULL) {
            b->free_fn(b->p);
        } else {
            free(b->p);
        }
        b->p = NULL;
        b->cap = 0;
    }
    b->len = 0;
    b->oom = b->over = 0;
    if (b->p != NULL && b->cap > 0) {
        b->p[0] = '\0';
    }
}
