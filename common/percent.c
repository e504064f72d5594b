/* Percent-decoding: see percent.h. */
#include "percent.h"

int
wharf_hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

long
wharf_percent_decode(const char *s, size_t n, char *out, size_t outsize,
                     unsigned flags)
{
    size_t i, o = 0;
    char c;

    for (i = 0; i < n; i++) {
        c = s[i];
        if (c == '+' && (flags & WHARF_PERCENT_PLUS)) {
            c = ' ';
        } else if (c == '%' && i + 2 < n && wharf_hexval(s[i + 1]) >= 0
                   && wharf_hexval(s[i + 2]) >= 0) {
            c = (char) (wharf_hexval(s[i + 1]) * 16 + wharf_hexval(s[i + 2]));
            i += 2;
        }
        if (o + 1 >= outsize) {
            return -1;
        }
        out[o++] = c;
    }
    if (outsize == 0) {
        return -1;
    }
    out[o] = '\0';
    return (long) o;
}
