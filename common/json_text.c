/* JSON text: see json_text.h. */
#include "json_text.h"

#include <stdint.h>
#include <string.h>

#include "utf8.h"

/*
 * What a byte becomes inside a JSON string: 0 itself, 'u' \u00XX, else
 * the letter after a backslash. One table lookup per byte, and one
 * reservation per string (the worst case, 6 bytes a byte), so the loop
 * writes straight into the buffer: this and wharf_json_put_int were half
 * of a list request's instructions when they went through the buffer a
 * piece at a time (callgrind, bench/ingest/inproc).
 */
static const unsigned char json_esc[256] = {
    ['\b'] = 'u', ['\f'] = 'u', [0] = 'u',   [1] = 'u',     [2] = 'u',
    [3] = 'u',    [4] = 'u',    [5] = 'u',   [6] = 'u',     [7] = 'u',
    [11] = 'u',   [14] = 'u',   [15] = 'u',  [16] = 'u',    [17] = 'u',
    [18] = 'u',   [19] = 'u',   [20] = 'u',  [21] = 'u',    [22] = 'u',
    [23] = 'u',   [24] = 'u',   [25] = 'u',  [26] = 'u',    [27] = 'u',
    [28] = 'u',   [29] = 'u',   [30] = 'u',  [31] = 'u',    ['\n'] = 'n',
    ['\r'] = 'r', ['\t'] = 't', ['"'] = '"', ['\\'] = '\\',
};

/* Nonzero when one of the 8 bytes of x needs a look (< 0x20, '"', '\\',
 * and with high set any byte >= 0x80): the classic "has a zero byte"
 * test, on x itself for < 0x20 and on x xor the quote and backslash
 * patterns. Lets plain text (nearly all of it) go 8 bytes a step and out
 * with one memcpy per run. */
static inline uint64_t
json_special8(uint64_t x, uint64_t high)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');

    return (((x - ones * 0x20) | (q - ones) | (b - ones)) & ~x & highs)
        | (x & high);
}

size_t
wharf_json_str_room(size_t n)
{
    return n > ((size_t) -1 - 8) / 6 ? (size_t) -1 / 2 : 6 * n + 2;
}

char *
wharf_json_escape(char *o, const char *s, size_t n, unsigned flags)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *) s;
    const uint64_t high8 =
        (flags & WHARF_JSON_REPAIR) ? 0x8080808080808080ULL : 0;
    const unsigned char high = (flags & WHARF_JSON_REPAIR) ? 0x80 : 0;
    size_t i = 0, run, k;
    unsigned char c, e;
    uint64_t x;

    while (i < n) {
        run = i;
        while (i + 8 <= n) {
            memcpy(&x, s + i, 8);
            if (json_special8(x, high8)) {
                break;
            }
            i += 8;
        }
        while (i < n && json_esc[u[i]] == 0 && !(u[i] & high)) {
            i++;
        }
        memcpy(o, s + run, i - run);
        o += i - run;
        if (i == n) {
            break;
        }
        c = u[i];
        if (c & high) {
            /* valid characters are copied, each invalid subpart (or a
             * character cut by the end of the text) is one U+FFFD */
            if (wharf_utf8_next(u + i, n - i, &k) == WHARF_UTF8_VALID) {
                memcpy(o, s + i, k);
                o += k;
            } else {
                memcpy(o, WHARF_UTF8_REPLACEMENT, WHARF_UTF8_REPLACEMENT_LEN);
                o += WHARF_UTF8_REPLACEMENT_LEN;
            }
            i += k;
            continue;
        }
        i++;
        e = json_esc[c];
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
    return o;
}

char *
wharf_json_put_str(char *o, const char *s, size_t n, unsigned flags)
{
    *o++ = '"';
    o = wharf_json_escape(o, s, n, flags);
    *o++ = '"';
    return o;
}

char *
wharf_json_put_int(char *o, long long v)
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
wharf_json_str(struct wharf_textbuf *b, const char *s, size_t n, unsigned flags)
{
    char *at = wharf_textbuf_room(b, wharf_json_str_room(n));

    if (at != NULL) {
        b->len = (size_t) (wharf_json_put_str(at, s, n, flags) - b->p);
        b->p[b->len] = '\0';
    }
}

void
wharf_json_int(struct wharf_textbuf *b, long long v)
{
    char *at = wharf_textbuf_room(b, 24);

    if (at != NULL) {
        b->len = (size_t) (wharf_json_put_int(at, v) - b->p);
        b->p[b->len] = '\0';
    }
}
