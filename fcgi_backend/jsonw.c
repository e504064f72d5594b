#include "jsonw.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* One reservation for the whole row (its worst case), then every piece
 * is written straight into the buffer. */
static void
jsonw_row(struct wharf_textbuf *w, const struct wharfd_col *cols, int n,
          const size_t *lens)
{
    size_t room = 2, nlen;
    char *o;
    int i, k;

    for (i = 0; i < n; i++) {
        room += (lens ? lens[i] : strlen(cols[i].name)) + 3 + 48;
        if (cols[i].type == WHARFD_COL_JSON) {
            room += cols[i].len;
        } else if (cols[i].type == WHARFD_COL_TEXT) {
            room += wharf_json_str_room(cols[i].len);
        }
    }
    o = wharf_textbuf_room(w, room);
    if (o == NULL) {
        return;
    }
    *o++ = '{';
    for (i = 0; i < n; i++) {
        if (i > 0) {
            *o++ = ',';
        }
        /* Names are wharfd's own camelCase constants: nothing to escape. */
        nlen = lens ? lens[i] : strlen(cols[i].name);
        *o++ = '"';
        memcpy(o, cols[i].name, nlen);
        o += nlen;
        *o++ = '"';
        *o++ = ':';
        switch (cols[i].type) {
        case WHARFD_COL_INT:
            o = wharf_json_put_int(o, cols[i].i);
            break;
        case WHARFD_COL_REAL:
            /* As wharfd_row_json: 50.0 is 50. */
            if (cols[i].d == floor(cols[i].d) && fabs(cols[i].d) < 1e15) {
                o = wharf_json_put_int(o, (long long) cols[i].d);
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
            o = wharf_json_put_str(o, cols[i].s, cols[i].len, 0);
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
wharfd_jsonw_row(struct wharf_textbuf *w, const struct wharfd_col *cols, int n)
{
    jsonw_row(w, cols, n, NULL);
}

void
wharfd_jsonw_row_named(struct wharf_textbuf *w, const struct wharfd_col *cols,
                       int n, struct wharfd_jsonw_names *names)
{
    int i;

    if (names->n == 0) {
        names->n = n > 0 && n <= WHARFD_JSONW_COLS ? n : -1;
        for (i = 0; names->n > 0 && i < n; i++) {
            names->len[i] = strlen(cols[i].name);
        }
    }
    jsonw_row(w, cols, n, names->n == n ? names->len : NULL);
}
