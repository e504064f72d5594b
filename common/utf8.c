/* Strict UTF-8 and its replacement: see utf8.h. */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

enum wharf_utf8_unit
wharf_utf8_next(const unsigned char *s, size_t left, size_t *n)
{
    unsigned c = s[0], lo = 0x80, hi = 0xbf;
    size_t need, i;

    if (c < 0x80) {
        *n = 1;
        return WHARF_UTF8_VALID;
    }
    if (c < 0xc2 || c > 0xf4) {
        *n = 1; /* a continuation byte, an overlong lead, or beyond */
        return WHARF_UTF8_INVALID;
    }
    need = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    /* the second byte's range excludes overlongs, surrogates and what
     * lies above U+10FFFF (table 3-7) */
    if (c == 0xe0) {
        lo = 0xa0;
    } else if (c == 0xed) {
        hi = 0x9f;
    } else if (c == 0xf0) {
        lo = 0x90;
    } else if (c == 0xf4) {
        hi = 0x8f;
    }
    for (i = 1; i < need; i++) {
        if (i >= left) {
            *n = i;
            return WHARF_UTF8_PARTIAL;
        }
        if (s[i] < lo || s[i] > hi) {
            *n = i;
            return WHARF_UTF8_INVALID;
        }
        lo = 0x80;
        hi = 0xbf;
    }
    *n = need;
    return WHARF_UTF8_VALID;
}

size_t
wharf_utf8_valid_prefix(const unsigned char *s, size_t len)
{
    size_t i = 0, n;

    while (i < len) {
        uint64_t w;

        if (len - i >= 8) {
            memcpy(&w, s + i, 8);
            if ((w & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if (wharf_utf8_next(s + i, len - i, &n) != WHARF_UTF8_VALID) {
            return i;
        }
        i += n;
    }
    return i;
}

size_t
wharf_utf8_replace(const unsigned char *s, size_t len, char *out)
{
    size_t i = 0, o = 0, n;

    while (i < len) {
        if (wharf_utf8_next(s + i, len - i, &n) == WHARF_UTF8_VALID) {
            memcpy(out + o, s + i, n);
            o += n;
        } else {
            memcpy(out + o, WHARF_UTF8_REPLACEMENT, WHARF_UTF8_REPLACEMENT_LEN);
            o += WHARF_UTF8_REPLACEMENT_LEN;
        }
        i += n;
    }
    return o;
}
