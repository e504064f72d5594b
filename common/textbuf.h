/*
 * A growing text buffer: the one of every part (wharfd's answers and
 * rows, the agent's request bodies, error hashing's passes, HTTP bodies
 * read with curl). Always NUL-terminated once anything is in it.
 *
 * Running out of memory (or of room, for a fixed or bounded buffer) sets
 * oom (or over) and leaves the text as it was: writers go on without
 * checking each step, and the caller checks once at the end.
 *
 *   struct wharf_textbuf b = { 0 };          malloc'd, grows
 *   b.realloc_fn / b.free_fn                 another allocator (wharfd
 *                                            counts a request's memory)
 *   b.p = buf; b.cap = sizeof(buf);          the caller's, never grows:
 *   b.fixed = 1;                             full sets oom
 *   b.max = N;                               at most N bytes of text:
 *                                            more sets over
 */
#ifndef WHARF_TEXTBUF_H
#define WHARF_TEXTBUF_H

#include <stddef.h>

/* The first allocation of a growing buffer; it doubles from there. */
#define WHARF_TEXTBUF_FIRST 256

struct wharf_textbuf {
    char *p;
    size_t len; /* bytes of text, without the NUL */
    size_t cap; /* bytes at p */
    size_t max; /* most bytes of text; 0: no limit */
    int oom;    /* an allocation failed, or a fixed buffer is full */
    int over;   /* a write would have passed max */
    int fixed;  /* p is the caller's: never reallocated nor freed */
    void *(*realloc_fn)(void *p, size_t n); /* NULL: realloc */
    void (*free_fn)(void *p);               /* NULL: free */
};

/*
 * The end of the text, with room for more bytes and a NUL after them, or
 * NULL (oom or over set). A writer that fills it moves len itself and
 * writes the NUL.
 */
char *wharf_textbuf_room(struct wharf_textbuf *b, size_t more);

void wharf_textbuf_put(struct wharf_textbuf *b, const char *s, size_t n);
void wharf_textbuf_str(struct wharf_textbuf *b, const char *s);
void wharf_textbuf_printf(struct wharf_textbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A string literal, its length known at compile time. */
#define WHARF_TEXTBUF_LIT(b, s) wharf_textbuf_put((b), (s), sizeof(s) - 1)

/* One byte: the common step of a byte-by-byte writer, without the checks
 * of wharf_textbuf_put while there is room. */
static inline void
wharf_textbuf_putc(struct wharf_textbuf *b, char c)
{
    if (b->len + 2 <= b->cap && b->max == 0) {
        b->p[b->len++] = c;
        b->p[b->len] = '\0';
    } else {
        wharf_textbuf_put(b, &c, 1);
    }
}

/* For curl's CURLOPT_WRITEFUNCTION with the buffer as CURLOPT_WRITEDATA:
 * appends the bytes; 0 (curl then fails the transfer) when out of memory
 * or past max. */
size_t wharf_textbuf_collect(char *data, size_t size, size_t n, void *buf);

/* Hands the text over (the caller frees it, with free_fn if set); the
 * buffer is empty again. */
char *wharf_textbuf_take(struct wharf_textbuf *b, size_t *len);

/* Frees a growing buffer's memory; empties the buffer, keeping its
 * settings (fixed, max, allocator). */
void wharf_textbuf_free(struct wharf_textbuf *b);

#endif
