#include "jsonw.h"

#include <math.h>
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

void
wharfd_jsonw_str(struct wharfd_jsonw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, start;
    unsigned char c;
    char esc[6];

    wharfd_jsonw_raw(w, "\"", 1);
    for (i = start = 0; i < n; i++) {
        c = (unsigned char) s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        wharfd_jsonw_raw(w, s + start, i - start);
        start = i + 1;
        switch (c) {
        case '"':  wharfd_jsonw_raw(w, "\\\"", 2); break;
        case '\\': wharfd_jsonw_raw(w, "\\\\", 2); break;
        case '\n': wharfd_jsonw_raw(w, "\\n", 2); break;
        case '\r': wharfd_jsonw_raw(w, "\\r", 2); break;
        case '\t': wharfd_jsonw_raw(w, "\\t", 2); break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            wharfd_jsonw_raw(w, esc, 6);
        }
    }
    wharfd_jsonw_raw(w, s + start, n - start);
    wharfd_jsonw_raw(w, "\"", 1);
}

void
wharfd_jsonw_int(struct wharfd_jsonw *w, long long v)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%lld", v);

    wharfd_jsonw_raw(w, buf, (size_t) n);
}

void
wharfd_jsonw_row(struct wharfd_jsonw *w, const struct wharfd_col *cols, int n)
{
    char buf[40];
    int i, k;

    wharfd_jsonw_raw(w, "{", 1);
    for (i = 0; i < n; i++) {
        if (i > 0) {
            wharfd_jsonw_raw(w, ",", 1);
        }
        wharfd_jsonw_str(w, cols[i].name, strlen(cols[i].name));
        wharfd_jsonw_raw(w, ":", 1);
        switch (cols[i].type) {
        case WHARFD_COL_INT:
            wharfd_jsonw_int(w, cols[i].i);
            break;
        case WHARFD_COL_REAL:
            /* As wharfd_row_json: 50.0 is 50. */
            if (cols[i].d == floor(cols[i].d) && fabs(cols[i].d) < 1e15) {
                wharfd_jsonw_int(w, (long long) cols[i].d);
            } else {
                k = snprintf(buf, sizeof(buf), "%.17g", cols[i].d);
                wharfd_jsonw_raw(w, buf, (size_t) k);
            }
            break;
        case WHARFD_COL_JSON:
            wharfd_jsonw_raw(w, cols[i].s, cols[i].len);
            break;
        case WHARFD_COL_TEXT:
            wharfd_jsonw_str(w, cols[i].s, cols[i].len);
            break;
        default:
            wharfd_jsonw_raw(w, "null", 4);
        }
    }
    wharfd_jsonw_raw(w, "}", 1);
}

void
wharfd_jsonw_free(struct wharfd_jsonw *w)
{
    free(w->p);
    memset(w, 0, sizeof(*w));
}
