#include "jsonw.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
jsonw_reserve(struct wharfd_jsonw *w, size_t more)
{
    size_t cap;
    char *bigger;

    if (w->oom) {
        return -1;
    }
    if (w->len + more + 1 <= w->cap) {
        return 0;
    }
    cap = w->cap ? w->cap : 4096;
    while (cap < w->len + more + 1) {
        cap *= 2;
    }
    bigger = realloc(w->p, cap);
    if (bigger == NULL) {
        w->oom = 1;
        return -1;
    }
    w->p = bigger;
    w->cap = cap;
    return 0;
}

void
wharfd_jsonw_raw(struct wharfd_jsonw *w, const char *s, size_t n)
{
    if (jsonw_reserve(w, n) == 0) {
        memcpy(w->p + w->len, s, n);
        w->len += n;
        w->p[w->len] = '\0';
    }
}

void
wharfd_jsonw_lit(struct wharfd_jsonw *w, const char *s)
{
    wharfd_jsonw_raw(w, s, strlen(s));
}

/*
 * What a byte becomes inside a JSON string: 0 itself, 'u' \u00XX, else
 * the letter after a backslash. One table lookup per byte, and one
 * reservation per string (the worst case, 6 bytes a byte), so the loop
 * writes straight into the buffer: this function and the one below were
 * half of a list request's instructions when they went through
 * wharfd_jsonw_raw a piece at a time (callgrind, bench/ingest/inproc).
 */
static const unsigned char jsonw_esc[256] = {
    ['\b'] = 'u', ['\f'] = 'u', [0] = 'u',   [1] = 'u',     [2] = 'u',
    [3] = 'u',    [4] = 'u',    [5] = 'u',   [6] = 'u',     [7] = 'u',
    [11] = 'u',   [14] = 'u',   [15] = 'u',  [16] = 'u',    [17] = 'u',
    [18] = 'u',   [19] = 'u',   [20] = 'u',  [21] = 'u',    [22] = 'u',
    [23] = 'u',   [24] = 'u',   [25] = 'u',  [26] = 'u',    [27] = 'u',
    [28] = 'u',   [29] = 'u',   [30] = 'u',  [31] = 'u',    ['\n'] = 'n',
    ['\r'] = 'r', ['\t'] = 't', ['"'] = '"', ['\\'] = '\\',
};

/* Nonzero when one of the 8 bytes of x needs escaping (< 0x20, '"' or
 * '\\'): the classic "has a zero byte" test, on x itself for < 0x20 and on
 * x xor the quote and backslash patterns. Lets plain text (nearly all of
 * it) go 8 bytes a step and out with one memcpy per run. */
static inline uint64_t
jsonw_special8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');

    return ((x - ones * 0x20) | (q - ones) | (b - ones)) & ~x & highs;
}

/* Writes s as a JSON string at o, which has room for 6 * n + 2 bytes;
 * returns the end. */
static char *
jsonw_put_str(char *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, run;
    unsigned char c, e;
    uint64_t x;

    *o++ = '"';
    while (i < n) {
        run = i;
        while (i + 8 <= n) {
            memcpy(&x, s + i, 8);
            if (jsonw_special8(x)) {
                break;
            }
            i += 8;
        }
        while (i < n && jsonw_esc[(unsigned char) s[i]] == 0) {
            i++;
        }
        memcpy(o, s + run, i - run);
        o += i - run;
        if (i == n) {
            break;
        }
        c = (unsigned char) s[i++];
        e = jsonw_esc[c];
        if (e == 'u') {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        } else {
            o[0] = '\\';
            o[1] = (char) e;
            o += 2;
        }
    }
    *o++ = '"';
    return o;
}

/* Room for s as a JSON string: every byte may become \u00XX. */
static size_t
jsonw_str_room(size_t n)
{
    return n > ((size_t) -1 - 8) / 6 ? (size_t) -1 / 2 : 6 * n + 2;
}

void
wharfd_jsonw_str(struct wharfd_jsonw *w, const char *s, size_t n)
{
    if (jsonw_reserve(w, jsonw_str_room(n)) != 0) {
        w->oom = 1;
        return;
    }
    w->len = (size_t) (jsonw_put_str(w->p + w->len, s, n) - w->p);
    w->p[w->len] = '\0';
}

/* Writes v in decimal at o (room for 20 bytes); returns the end. */
static char *
jsonw_put_int(char *o, long long v)
{
    char buf[24], *e = buf + sizeof(buf), *d = e;
    unsigned long long u =
        v < 0 ? 0ULL - (unsigned long long) v : (unsigned long long) v;

    do {
        *--d = (char) ('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) {
        *--d = '-';
    }
    memcpy(o, d, (size_t) (e - d));
    return o + (e - d);
}

void
wharfd_jsonw_int(struct wharfd_jsonw *w, long long v)
{
    if (jsonw_reserve(w, 24) == 0) {
        w->len = (size_t) (jsonw_put_int(w->p + w->len, v) - w->p);
        w->p[w->len] = '\0';
    }
}

/* One reservation for the whole row (its worst case), then every piece
 * is written straight into the buffer. */
void
wharfd_jsonw_row(struct wharfd_jsonw *w, const struct wharfd_col *cols, int n)
{
    size_t room = 2, nlen;
    char *o;
    int i, k;

    for (i = 0; i < n; i++) {
        room += strlen(cols[i].name) + 3 + 48;
        if (cols[i].type == WHARFD_COL_JSON) {
            room += cols[i].len;
        } else if (cols[i].type == WHARFD_COL_TEXT) {
            room += jsonw_str_room(cols[i].len);
        }
    }
    if (jsonw_reserve(w, room) != 0) {
        return;
    }
    o = w->p + w->len;
    *o++ = '{';
    for (i = 0; i < n; i++) {
        if (i > 0) {
            *o++ = ',';
        }
        /* Names are wharfd's own camelCase constants: nothing to escape. */
        nlen = strlen(cols[i].name);
        *o++ = '"';
        memcpy(o, cols[i].name, nlen);
        o += nlen;
        *o++ = '"';
        *o++ = ':';
        switch (cols[i].type) {
        case WHARFD_COL_INT:
            o = jsonw_put_int(o, cols[i].i);
            break;
        case WHARFD_COL_REAL:
            /* As wharfd_row_json: 50.0 is 50. */
            if (cols[i].d == floor(cols[i].d) && fabs(cols[i].d) < 1e15) {
                o = jsonw_put_int(o, (long long) cols[i].d);
            } else {
                k = snprintf(o, 40, "%.17g", cols[i].d);
                o += k;
            }
            break;
        case WHARFD_COL_JSON:
            memcpy(o, cols[i].s, cols[i].len);
            o += cols[i].len;
            break;
        case WHARFD_COL_TEXT:
            o = jsonw_put_str(o, cols[i].s, cols[i].len);
            break;
        default:
            memcpy(o, "null", 4);
            o += 4;
        }
    }
    *o++ = '}';
    *o = '\0';
    w->len = (size_t) (o - w->p);
}

void
wharfd_jsonw_free(struct wharfd_jsonw *w)
{
    free(w->p);
    memset(w, 0, sizeof(*w));
}
