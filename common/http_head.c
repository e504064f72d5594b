/* Request heads: see http_head.h. */
#include "http_head.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 section 5.6.2 tchar */
static int
http_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

size_t
wharf_http_head_len(const char *buf, size_t len)
{
    size_t i;

    for (i = 3; i < len; i++) {
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n'
            && buf[i - 3] == '\r') {
            return i + 1;
        }
    }
    return 0;
}

/* The next CRLF-ended line of [p, end): its length, or -1 without CRLF
 * or with a bare CR or LF inside. */
static long
http_line(const char *p, const char *end)
{
    const char *q;

    for (q = p; q + 1 < end; q++) {
        if (q[0] == '\r' && q[1] == '\n') {
            return (long) (q - p);
        }
        if (q[0] == '\r' || q[0] == '\n') {
            return -1;
        }
    }
    return -1;
}

static int
http_request_line(const char *p, size_t n, struct wharf_http_head *h)
{
    const char *sp1 = memchr(p, ' ', n), *sp2;
    size_t i;

    if (sp1 == NULL || sp1 == p) {
        return -1;
    }
    sp2 = memchr(sp1 + 1, ' ', n - (size_t) (sp1 + 1 - p));
    if (sp2 == NULL || sp2 == sp1 + 1 || sp2 + 1 == p + n) {
        return -1;
    }
    h->method = p;
    h->method_len = (size_t) (sp1 - p);
    h->target = sp1 + 1;
    h->target_len = (size_t) (sp2 - sp1 - 1);
    h->version = sp2 + 1;
    h->version_len = n - (size_t) (sp2 + 1 - p);
    for (i = 0; i < h->method_len; i++) {
        if (!http_tchar((unsigned char) p[i])) {
            return -1;
        }
    }
    for (i = 0; i < h->target_len; i++) {
        if ((unsigned char) h->target[i] <= 0x20
            || (unsigned char) h->target[i] >= 0x7f) {
            return -1;
        }
    }
    return h->version_len == 8 && memcmp(h->version, "HTTP/1.", 7) == 0 ? 0
                                                                        : -1;
}

int
wharf_http_head_parse(const char *buf, size_t len, struct wharf_http_head *h)
{
    const char *p = buf, *end = buf + len, *colon, *v, *ve;
    struct wharf_http_field *f;
    long n;
    size_t i;

    memset(h, 0, sizeof(*h));
    n = http_line(p, end);
    if (n <= 0 || http_request_line(p, (size_t) n, h) != 0) {
        return -1;
    }
    p += n + 2;
    while ((n = http_line(p, end)) > 0) {
        if (h->nfields == WHARF_HTTP_FIELDS_MAX) {
            return -1;
        }
        colon = memchr(p, ':', (size_t) n);
        if (colon == NULL || colon == p) {
            return -1; /* no name; a leading space is obs-fold */
        }
        for (v = p; v < colon; v++) {
            if (!http_tchar((unsigned char) *v)) {
                return -1;
            }
        }
        v = colon + 1;
        ve = p + n;
        while (v < ve && (*v == ' ' || *v == '\t')) {
            v++;
        }
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
            ve--;
        }
        for (i = 0; v + i < ve; i++) {
            unsigned char c = (unsigned char) v[i];

            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                return -1;
            }
        }
        f = &h->field[h->nfields++];
        f->name = p;
        f->name_len = (size_t) (colon - p);
        f->value = v;
        f->value_len = (size_t) (ve - v);
        p += n + 2;
    }
    /* the empty line ends the head, and the head is all of buf */
    return n == 0 && p + 2 == end ? 0 : -1;
}

int
wharf_http_head_find(const struct wharf_http_head *h, const char *name,
                     const struct wharf_http_field **first)
{
    size_t i, n = strlen(name);
    int count = 0;

    *first = NULL;
    for (i = 0; i < h->nfields; i++) {
        if (h->field[i].name_len == n
            && strncasecmp(h->field[i].name, name, n) == 0) {
            if (count++ == 0) {
                *first = &h->field[i];
            }
        }
    }
    return count;
}
