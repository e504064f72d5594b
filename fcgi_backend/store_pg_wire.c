/*
 * PostgreSQL's binary formats as the engine uses them (store_pg.h):
 * statement parameters, one-dimensional arrays, values of a binary
 * result, and the NUL bytes of a message, which PostgreSQL text cannot
 * hold.
 */
#include "store_pg.h"

#include <endian.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- parameters -------------------------------------------------------------- */

void
wharfd_pgp_reset(struct wharfd_pgp *p)
{
    p->n = 0;
}

void
wharfd_pgp_bytes(struct wharfd_pgp *p, Oid type, const char *s, size_t n)
{
    int i = p->n++;

    p->types[i] = type;
    p->values[i] = s;
    p->lengths[i] = (int) n;
    p->formats[i] = 1;
}

void
wharfd_pgp_textn(struct wharfd_pgp *p, const char *s, size_t n)
{
    wharfd_pgp_bytes(p, WHARFD_PG_TEXT, s, n);
}

void
wharfd_pgp_text(struct wharfd_pgp *p, const char *s)
{
    wharfd_pgp_bytes(p, WHARFD_PG_TEXT, s, s ? strlen(s) : 0);
}

static void
put_be64(char *out, uint64_t v)
{
    v = htobe64(v);
    memcpy(out, &v, 8);
}

void
wharfd_pgp_int8(struct wharfd_pgp *p, long long v)
{
    put_be64(p->num[p->n], (uint64_t) v);
    wharfd_pgp_bytes(p, WHARFD_PG_INT8, p->num[p->n], 8);
}

void
wharfd_pgp_int8_or_null(struct wharfd_pgp *p, int has, long long v)
{
    if (has) {
        wharfd_pgp_int8(p, v);
    } else {
        wharfd_pgp_bytes(p, WHARFD_PG_INT8, NULL, 0);
    }
}

void
wharfd_pgp_float8(struct wharfd_pgp *p, double v)
{
    uint64_t u;

    memcpy(&u, &v, 8);
    put_be64(p->num[p->n], u);
    wharfd_pgp_bytes(p, WHARFD_PG_FLOAT8, p->num[p->n], 8);
}

/* --- arrays ------------------------------------------------------------------ */

/* The header: ndim 1, has-null flag, element type, size, lower bound 1. */
#define ARR_HEAD 20

static int
arr_grow(struct wharfd_pgarr *a, size_t more)
{
    size_t cap = a->cap ? a->cap : 4096;
    char *p;

    if (a->oom) {
        return -1;
    }
    if (a->len + more <= a->cap) {
        return 0;
    }
    while (cap < a->len + more) {
        cap *= 2;
    }
    p = realloc(a->p, cap);
    if (p == NULL) {
        a->oom = 1;
        return -1;
    }
    a->p = p;
    a->cap = cap;
    return 0;
}

static void
put_be32(char *out, uint32_t v)
{
    v = htobe32(v);
    memcpy(out, &v, 4);
}

void
wharfd_pgarr_start(struct wharfd_pgarr *a, Oid elem)
{
    a->len = 0;
    a->n = 0;
    a->has_null = 0;
    a->oom = 0;
    a->elem = elem;
    if (arr_grow(a, ARR_HEAD) == 0) {
        a->len = ARR_HEAD;
    }
}

void
wharfd_pgarr_text(struct wharfd_pgarr *a, const char *s, size_t n)
{
    if (s == NULL) {
        wharfd_pgarr_null(a);
        return;
    }
    if (arr_grow(a, 4 + n) == 0) {
        put_be32(a->p + a->len, (uint32_t) n);
        memcpy(a->p + a->len + 4, s, n);
        a->len += 4 + n;
    }
    a->n++;
}

void
wharfd_pgarr_null(struct wharfd_pgarr *a)
{
    if (arr_grow(a, 4) == 0) {
        put_be32(a->p + a->len, (uint32_t) -1);
        a->len += 4;
    }
    a->has_null = 1;
    a->n++;
}

void
wharfd_pgarr_int8(struct wharfd_pgarr *a, long long v)
{
    if (arr_grow(a, 12) == 0) {
        put_be32(a->p + a->len, 8);
        put_be64(a->p + a->len + 4, (uint64_t) v);
        a->len += 12;
    }
    a->n++;
}

void
wharfd_pgarr_end(struct wharfd_pgarr *a)
{
    if (a->oom || a->p == NULL) {
        a->len = 0;
        return;
    }
    put_be32(a->p, 1);
    put_be32(a->p + 4, (uint32_t) a->has_null);
    put_be32(a->p + 8, a->elem);
    put_be32(a->p + 12, (uint32_t) a->n);
    put_be32(a->p + 16, 1);
}

void
wharfd_pgarr_free(struct wharfd_pgarr *a)
{
    free(a->p);
    memset(a, 0, sizeof(*a));
}

/* --- results ------------------------------------------------------------------- */

static uint64_t
get_be64(const char *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return be64toh(v);
}

static uint32_t
get_be32(const char *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return be32toh(v);
}

long long
wharfd_pg_int8(const PGresult *r, int row, int col)
{
    const char *v = PQgetvalue(r, row, col);

    if (PQgetisnull(r, row, col)) {
        return 0;
    }
    switch (PQftype(r, col)) {
    case WHARFD_PG_INT4:
        return (int32_t) get_be32(v);
    case WHARFD_PG_BOOL:
        return v[0] != 0;
    default:
        return (long long) get_be64(v);
    }
}

double
wharfd_pg_float8(const PGresult *r, int row, int col)
{
    uint64_t u;
    double d;

    if (PQgetisnull(r, row, col)) {
        return 0;
    }
    u = get_be64(PQgetvalue(r, row, col));
    memcpy(&d, &u, 8);
    return d;
}

/* --- NUL bytes in messages --------------------------------------------------------- */

static const char replacement[3] = { (char) 0xef, (char) 0xbf, (char) 0xbd };

int
wharfd_pg_nul_encode(const char *msg, size_t len, char **out, size_t *out_len,
                     char **nuls)
{
    size_t i, n = 0, o = 0, k = 0, cap;
    char *text, *list;

    *out = *nuls = NULL;
    *out_len = 0;
    if (memchr(msg, '\0', len) == NULL) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        n += msg[i] == '\0';
    }
    text = malloc(len + 2 * n + 1);
    cap = 2 + n * 21;
    list = malloc(cap);
    if (text == NULL || list == NULL) {
        free(text);
        free(list);
        return -1;
    }
    k = (size_t) snprintf(list, cap, "{");
    for (i = 0; i < len; i++) {
        if (msg[i] != '\0') {
            text[o++] = msg[i];
            continue;
        }
        k += (size_t) snprintf(list + k, cap - k, "%s%zu", k > 1 ? "," : "", o);
        memcpy(text + o, replacement, 3);
        o += 3;
    }
    snprintf(list + k, cap - k, "}");
    text[o] = '\0';
    *out = text;
    *out_len = o;
    *nuls = list;
    return 0;
}

int
wharfd_pg_nul_decode(const char *text, size_t len, const char *nuls,
                     size_t nuls_len, char **buf, size_t *out_len)
{
    uint32_t ndim, n = 0, i;
    size_t from = 0, o = 0, at;
    const char *e;
    char *b;

    *buf = NULL;
    if (nuls_len < 12) {
        return -1;
    }
    ndim = get_be32(nuls);
    if (ndim == 1) {
        if (nuls_len < 20) {
            return -1;
        }
        n = get_be32(nuls + 12);
    }
    if ((size_t) 20 + (size_t) n * 8 > nuls_len && ndim == 1) {
        return -1;
    }
    b = malloc(len + 1);
    if (b == NULL) {
        return -1;
    }
    e = nuls + 20;
    for (i = 0; i < n; i++, e += 8) {
        if (get_be32(e) != 4) {
            break;
        }
        at = get_be32(e + 4);
        if (at < from || at + 3 > len
            || memcmp(text + at, replacement, 3) != 0) {
            break; /* not ours: give the text as it is */
        }
        memcpy(b + o, text + from, at - from);
        o += at - from;
        b[o++] = '\0';
        from = at + 3;
    }
    memcpy(b + o, text + from, len - from);
    o += len - from;
    b[o] = '\0';
    *buf = b;
    *out_len = o;
    return 0;
}
