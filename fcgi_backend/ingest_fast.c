/*
 * storeLogs / storeErrors without a jansson tree (design and the rule
 * that keeps it exact: ingest_fast.h). Every "return -1" below means
 * "not the common shape, let the jansson path answer".
 */
#include "ingest_fast.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "errhash.h"
#include "jsonw.h"
#include "log.h"
#include "methods.h"
#include "utf8.h"
#include "wharfd.h"

/* Members of a flat metadata object the fast path copies (more: the
 * jansson path). */
#define FAST_META_KEYS 16

/* The words of the enums, as methods_ingest.c has them. */
/* The cursor, and one buffer for every decoded string of the body: a
 * decoded string is never longer than its JSON text, quotes included,
 * so len + 1 bytes hold them all with their NULs. */
struct fp {
    const unsigned char *p, *end;
    char *arena;
    size_t used;
};

/* A string member: s is NULL when absent or null. */
struct fstr {
    const char *s;
    size_t len;
};

static void
fp_ws(struct fp *f)
{
    while (
        f->p < f->end
        && (*f->p == ' ' || *f->p == '\t' || *f->p == '\n' || *f->p == '\r')) {
        f->p++;
    }
}

static int
fp_peek(struct fp *f)
{
    fp_ws(f);
    return f->p < f->end ? *f->p : -1;
}

static int
fp_eat(struct fp *f, char c)
{
    if (fp_peek(f) == (unsigned char) c) {
        f->p++;
        return 1;
    }
    return 0;
}

static int
fp_lit(struct fp *f, const char *w, size_t n)
{
    if ((size_t) (f->end - f->p) < n || memcmp(f->p, w, n) != 0) {
        return 0;
    }
    f->p += n;
    return 1;
}

static int
fp_hex4(const unsigned char *p, uint32_t *v)
{
    int i;

    *v = 0;
    for (i = 0; i < 4; i++) {
        *v <<= 4;
        if (p[i] >= '0' && p[i] <= '9') {
            *v |= p[i] - '0';
        } else if (p[i] >= 'a' && p[i] <= 'f') {
            *v |= p[i] - 'a' + 10;
        } else if (p[i] >= 'A' && p[i] <= 'F') {
            *v |= p[i] - 'A' + 10;
        } else {
            return -1;
        }
    }
    return 0;
}

/* A JSON string, decoded into the arena. \u0000 (refused by jansson
 * without JSON_ALLOW_NUL) and surrogate escapes go to the jansson path. */
static int
fp_str(struct fp *f, struct fstr *out)
{
    char *o, *start;
    const unsigned char *p;
    unsigned char c;
    uint32_t v;
    size_t n;

    if (fp_peek(f) != '"') {
        return -1;
    }
    p = f->p + 1;
    o = start = f->arena + f->used;
    for (;;) {
        /* The plain run first: printable ASCII but the quote and '\'. */
        while (p < f->end && (c = *p) >= 0x20 && c < 0x80 && c != '"'
               && c != '\\') {
            *o++ = (char) c;
            p++;
        }
        if (p >= f->end) {
            return -1;
        }
        c = *p;
        if (c == '"') {
            p++;
            break;
        }
        if (c < 0x20) {
            return -1;
        }
        if (c == '\\') {
            if (f->end - p < 2) {
                return -1;
            }
            switch (p[1]) {
            case '"':
                *o++ = '"';
                break;
            case '\\':
                *o++ = '\\';
                break;
            case '/':
                *o++ = '/';
                break;
            case 'b':
                *o++ = '\b';
                break;
            case 'f':
                *o++ = '\f';
                break;
            case 'n':
                *o++ = '\n';
                break;
            case 'r':
                *o++ = '\r';
                break;
            case 't':
                *o++ = '\t';
                break;
            case 'u':
                if (f->end - p < 6 || fp_hex4(p + 2, &v) != 0 || v == 0
                    || (v >= 0xD800 && v <= 0xDFFF)) {
                    return -1;
                }
                if (v < 0x80) {
                    *o++ = (char) v;
                } else if (v < 0x800) {
                    *o++ = (char) (0xC0 | (v >> 6));
                    *o++ = (char) (0x80 | (v & 0x3F));
                } else {
                    *o++ = (char) (0xE0 | (v >> 12));
                    *o++ = (char) (0x80 | ((v >> 6) & 0x3F));
                    *o++ = (char) (0x80 | (v & 0x3F));
                }
                p += 6;
                continue;
            default:
                return -1;
            }
            p += 2;
            continue;
        }
        /* a character jansson accepts (common/utf8.h: RFC 3629, no
         * overlong forms, no surrogates, nothing above U+10FFFF) */
        if (wharf_utf8_next(p, (size_t) (f->end - p), &n) != WHARF_UTF8_VALID) {
            return -1;
        }
        memcpy(o, p, n);
        o += n;
        p += n;
    }
    *o++ = '\0';
    out->s = start;
    out->len = (size_t) (o - start) - 1;
    f->used += (size_t) (o - start);
    f->p = p;
    return 0;
}

/* A JSON integer as jansson reads one into a json_int_t: canonical
 * digits, no fraction or exponent (a real goes to the jansson path, as
 * do -0 and more than 18 digits). txt/tlen: its text. */
static int
fp_int(struct fp *f, long long *v, const char **txt, size_t *tlen)
{
    const unsigned char *s;
    unsigned long long u = 0;
    int neg = 0, nd = 0;

    fp_ws(f);
    s = f->p;
    if (f->p < f->end && *f->p == '-') {
        neg = 1;
        f->p++;
    }
    if (f->p >= f->end || *f->p < '0' || *f->p > '9') {
        return -1;
    }
    if (*f->p == '0') {
        f->p++;
        if (neg) {
            return -1;
        }
    } else {
        while (f->p < f->end && *f->p >= '0' && *f->p <= '9') {
            if (++nd > 18) {
                return -1;
            }
            u = u * 10 + (unsigned) (*f->p++ - '0');
        }
    }
    if (f->p < f->end
        && (*f->p == '.' || *f->p == 'e' || *f->p == 'E'
            || (*f->p >= '0' && *f->p <= '9'))) {
        return -1;
    }
    *v = neg ? -(long long) u : (long long) u;
    if (txt != NULL) {
        *txt = (const char *) s;
        *tlen = (size_t) (f->p - s);
    }
    return 0;
}

/* A string member that may be null (then absent). */
static int
fp_str_or_null(struct fp *f, struct fstr *out)
{
    if (fp_peek(f) == 'n') {
        out->s = NULL;
        return fp_lit(f, "null", 4) ? 0 : -1;
    }
    return fp_str(f, out);
}

/* An optional string member as wharfd_param_string checks it: absent,
 * or 1..max bytes (a NUL cannot be in it: \u0000 was refused). */
static int
fp_len_ok(const struct fstr *v, size_t max)
{
    return v->s == NULL || (v->len >= 1 && v->len <= max);
}

/* The word of words equal to v (a static string), or NULL. */
static const char *
fp_word(const char *const *words, const struct fstr *v)
{
    size_t i;

    for (i = 0; words[i] != NULL; i++) {
        if (strlen(words[i]) == v->len && memcmp(words[i], v->s, v->len) == 0) {
            return words[i];
        }
    }
    return NULL;
}

/* Text that jansson's compact dump writes back byte for byte inside
 * quotes: printable ASCII without '"' and '\'. */
static int
fp_plain(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] > 0x7e
            || s[i] == '"' || s[i] == '\\') {
            return 0;
        }
    }
    return 1;
}

/* Keys of an object, the next one each call: 1 with *key set, 0 at the
 * end, -1 on anything else. *first starts at 1, after the '{'. */
static int
fp_next_key(struct fp *f, int *first, struct fstr *key)
{
    if (fp_eat(f, '}')) {
        return 0;
    }
    if (!*first && !fp_eat(f, ',')) {
        return -1;
    }
    *first = 0;
    if (fp_str(f, key) != 0 || !fp_eat(f, ':')) {
        return -1;
    }
    return 1;
}

static int
fp_key_is(const struct fstr *k, const char *name)
{
    return strlen(name) == k->len && memcmp(name, k->s, k->len) == 0;
}

/*
 * A flat metadata object whose compact jansson dump is its own text
 * without blanks: keys and string values plain (fp_plain), values
 * strings, integers, true, false or null, no repeated key. Writes that
 * dump (malloc'd) into *out; null leaves *out NULL.
 */
static int
fp_metadata(struct fp *f, char **out)
{
    struct fstr keys[FAST_META_KEYS], k, v;
    struct wharf_textbuf w;
    const char *t;
    size_t nk = 0, i, tl;
    long long iv;
    int first = 1, r, c;

    *out = NULL;
    if (fp_peek(f) == 'n') {
        return fp_lit(f, "null", 4) ? 0 : -1;
    }
    if (!fp_eat(f, '{')) {
        return -1;
    }
    memset(&w, 0, sizeof(w));
    wharf_textbuf_put(&w, "{", 1);
    while ((r = fp_next_key(f, &first, &k)) == 1) {
        if (nk == FAST_META_KEYS || !fp_plain(k.s, k.len)) {
            goto fail;
        }
        for (i = 0; i < nk; i++) {
            if (keys[i].len == k.len && memcmp(keys[i].s, k.s, k.len) == 0) {
                goto fail;
            }
        }
        keys[nk++] = k;
        if (nk > 1) {
            wharf_textbuf_put(&w, ",", 1);
        }
        wharf_json_str(&w, k.s, k.len, 0);
        wharf_textbuf_put(&w, ":", 1);
        c = fp_peek(f);
        if (c == '"') {
            if (fp_str(f, &v) != 0 || !fp_plain(v.s, v.len)) {
                goto fail;
            }
            wharf_json_str(&w, v.s, v.len, 0);
        } else if (c == 't' && fp_lit(f, "true", 4)) {
            wharf_textbuf_put(&w, "true", 4);
        } else if (c == 'f' && fp_lit(f, "false", 5)) {
            wharf_textbuf_put(&w, "false", 5);
        } else if (c == 'n' && fp_lit(f, "null", 4)) {
            wharf_textbuf_put(&w, "null", 4);
        } else if (fp_int(f, &iv, &t, &tl) == 0) {
            wharf_textbuf_put(&w, t, tl);
        } else {
            goto fail;
        }
    }
    if (r != 0) {
        goto fail;
    }
    wharf_textbuf_put(&w, "}", 1);
    if (w.oom) {
        goto fail;
    }
    *out = w.p;
    return 0;
fail:
    wharf_textbuf_free(&w);
    return -1;
}

/* The request being read. */
struct fast_req {
    struct wharfd *wd;
    char now[WHARF_TIME_LEN];
    int errors; /* storeErrors, else storeLogs */
    struct wharfd_log_in *logs;
    struct wharfd_error_in *errs;
    size_t n, cap;
};

static void *
fast_grow(struct fast_req *r, size_t size)
{
    void *bigger;
    size_t cap;

    if (r->n < r->cap) {
        return r->errors ? (void *) r->errs : (void *) r->logs;
    }
    if (r->n >= r->wd->config.batch_max) {
        return NULL; /* the jansson path says how many */
    }
    cap = r->cap ? r->cap * 2 : 64;
    bigger =
        realloc(r->errors ? (void *) r->errs : (void *) r->logs, cap * size);
    if (bigger == NULL) {
        return NULL;
    }
    memset((char *) bigger + r->cap * size, 0, (cap - r->cap) * size);
    if (r->errors) {
        r->errs = bigger;
    } else {
        r->logs = bigger;
    }
    r->cap = cap;
    return bigger;
}

/* One element of "logs", checked as parse_log (methods_ingest.c) does. */
static int
fast_log(struct fp *f, struct fast_req *r)
{
    enum {
        SEQ = 1,
        TS = 2,
        LEVEL = 4,
        MSG = 8,
        STREAM = 16,
        SOURCE = 32,
        PID = 64,
        META = 128
    };
    struct fstr k, ts = { 0 }, level = { 0 }, msg = { 0 }, stream = { 0 },
                   source = { 0 }, pid = { 0 };
    struct wharfd_log_in *l;
    unsigned seen = 0, bit;
    int first = 1, rc;
    long long seq = 0;

    if (fast_grow(r, sizeof(*r->logs)) == NULL || !fp_eat(f, '{')) {
        return -1;
    }
    l = &r->logs[r->n++]; /* freed with its metadata, stored or not */
    while ((rc = fp_next_key(f, &first, &k)) == 1) {
        if (fp_key_is(&k, "sequence")) {
            bit = SEQ;
            rc = fp_int(f, &seq, NULL, NULL);
        } else if (fp_key_is(&k, "timestamp")) {
            bit = TS;
            rc = fp_str_or_null(f, &ts);
        } else if (fp_key_is(&k, "level")) {
            bit = LEVEL;
            rc = fp_str_or_null(f, &level);
        } else if (fp_key_is(&k, "message")) {
            bit = MSG;
            rc = fp_str_or_null(f, &msg);
        } else if (fp_key_is(&k, "stream")) {
            bit = STREAM;
            rc = fp_str_or_null(f, &stream);
        } else if (fp_key_is(&k, "source")) {
            bit = SOURCE;
            rc = fp_str_or_null(f, &source);
        } else if (fp_key_is(&k, "processId")) {
            bit = PID;
            rc = fp_str_or_null(f, &pid);
        } else if (fp_key_is(&k, "metadata")) {
            bit = META;
            /* a repeat is refused before it is parsed: parsing it would
             * put a second copy over the first one's pointer (a leak
             * found by fuzz_wharfd_ingest_fast) */
            rc = (seen & META) ? -1 : fp_metadata(f, &l->metadata);
        } else {
            return -1;
        }
        if (rc != 0 || (seen & bit)) {
            return -1; /* a repeated member: jansson refuses it */
        }
        seen |= bit;
    }
    if (rc != 0 || !(seen & SEQ) || seq < 1 || level.s == NULL || msg.s == NULL
        || msg.len > r->wd->config.message_max || !fp_len_ok(&ts, 64)
        || !fp_len_ok(&source, WHARFD_NAME_FIELD_MAX)
        || !fp_len_ok(&pid, WHARFD_NAME_FIELD_MAX) || level.len > 64
        || !fp_len_ok(&stream, 64)) {
        return -1;
    }
    l->sequence = seq;
    l->level = fp_word(wharfd_log_levels, &level);
    l->stream = stream.s ? fp_word(wharfd_log_streams, &stream) : NULL;
    if (l->level == NULL || (stream.s != NULL && l->stream == NULL)) {
        return -1;
    }
    if (ts.s == NULL) {
        memcpy(l->timestamp, r->now, WHARFD_TS_LEN + 1);
    } else if (wharfd_time_normalize(ts.s, ts.len, l->timestamp) != 0) {
        return -1;
    }
    l->message = msg.s;
    l->message_len = msg.len;
    l->source = source.s;
    l->process_id = pid.s;
    return 0;
}

static int
fast_is_hex64(const struct fstr *h)
{
    size_t i;

    if (h->len != WHARF_ERRHASH_HEX_LEN) {
        return 0;
    }
    for (i = 0; i < h->len; i++) {
        if (!((h->s[i] >= '0' && h->s[i] <= '9')
              || (h->s[i] >= 'a' && h->s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

/* One element of "errors", checked as parse_error does. */
static int
fast_error(struct fp *f, struct fast_req *r)
{
    enum {
        LEVEL = 1,
        MSG = 2,
        TS = 4,
        RAW = 8,
        PID = 16,
        HASH = 32,
        SEQ = 64
    };
    struct fstr k, msg = { 0 }, ts = { 0 }, raw = { 0 }, pid = { 0 },
                   hash = { 0 };
    struct wharfd_error_in *e;
    unsigned seen = 0, bit;
    int first = 1, rc, has_level = 0, has_seq = 0;
    long long level = 0, seq = 0;

    if (fast_grow(r, sizeof(*r->errs)) == NULL || !fp_eat(f, '{')) {
        return -1;
    }
    e = &r->errs[r->n++];
    while ((rc = fp_next_key(f, &first, &k)) == 1) {
        if (fp_key_is(&k, "level")) {
            bit = LEVEL;
            if (fp_peek(f) == 'n') {
                rc = fp_lit(f, "null", 4) ? 0 : -1;
            } else {
                rc = fp_int(f, &level, NULL, NULL);
                has_level = rc == 0;
            }
        } else if (fp_key_is(&k, "message")) {
            bit = MSG;
            rc = fp_str_or_null(f, &msg);
        } else if (fp_key_is(&k, "timestamp")) {
            bit = TS;
            rc = fp_str_or_null(f, &ts);
        } else if (fp_key_is(&k, "rawOutput")) {
            bit = RAW;
            rc = fp_str_or_null(f, &raw);
        } else if (fp_key_is(&k, "processId")) {
            bit = PID;
            rc = fp_str_or_null(f, &pid);
        } else if (fp_key_is(&k, "errorHash")) {
            bit = HASH;
            rc = fp_str_or_null(f, &hash);
        } else if (fp_key_is(&k, "sequence")) {
            bit = SEQ;
            if (fp_peek(f) == 'n') {
                rc = fp_lit(f, "null", 4) ? 0 : -1;
            } else {
                rc = fp_int(f, &seq, NULL, NULL);
                has_seq = rc == 0;
            }
        } else {
            return -1;
        }
        if (rc != 0 || (seen & bit)) {
            return -1;
        }
        seen |= bit;
    }
    if (rc != 0 || !has_level || msg.s == NULL
        || msg.len > r->wd->config.message_max || !fp_len_ok(&ts, 64)
        || !fp_len_ok(&raw, r->wd->config.message_max)
        || !fp_len_ok(&pid, WHARFD_NAME_FIELD_MAX)
        || (hash.s != NULL && !fast_is_hex64(&hash)) || (has_seq && seq < 1)) {
        return -1;
    }
    e->level = (double) level;
    e->sequence = has_seq ? seq : 0;
    if (ts.s == NULL) {
        memcpy(e->timestamp, r->now, WHARFD_TS_LEN + 1);
    } else if (wharfd_time_normalize(ts.s, ts.len, e->timestamp) != 0) {
        return -1;
    }
    e->message = msg.s;
    e->message_len = msg.len;
    e->raw_output = raw.s;
    e->process_id = pid.s;
    if (hash.s != NULL) {
        memcpy(e->hash, hash.s, WHARF_ERRHASH_HEX_LEN + 1);
    } else if (wharf_errhash(msg.s, msg.len, e->level, e->hash) != 0) {
        return -1;
    }
    return 0;
}

/* The params object: the head members into head, the array into r. */
static int
fast_params(struct fp *f, struct fast_req *r, json_t *head, int *has_array)
{
    static const char *const names[] = { "worker", "container", "instanceId",
                                         "processId", NULL };
    struct fstr k, v;
    unsigned seen = 0;
    int first = 1, rc, efirst;
    size_t i;

    if (!fp_eat(f, '{')) {
        return -1;
    }
    while ((rc = fp_next_key(f, &first, &k)) == 1) {
        for (i = 0; names[i] != NULL && !fp_key_is(&k, names[i]); i++) {
        }
        if (names[i] != NULL) {
            if ((seen & (1u << i)) || fp_str_or_null(f, &v) != 0) {
                return -1;
            }
            seen |= 1u << i;
            if (v.s != NULL
                && json_object_set_new(head, names[i], json_stringn(v.s, v.len))
                    != 0) {
                return -1;
            }
            continue;
        }
        if (*has_array || !fp_key_is(&k, r->errors ? "errors" : "logs")
            || !fp_eat(f, '[')) {
            return -1;
        }
        *has_array = 1;
        efirst = 1;
        while (!fp_eat(f, ']')) {
            if ((!efirst && !fp_eat(f, ','))
                || (r->errors ? fast_error(f, r) : fast_log(f, r)) != 0) {
                return -1;
            }
            efirst = 0;
        }
    }
    return rc == 0 && *has_array ? 0 : -1;
}

/* Calls in one batch body the fast path takes (more: the jansson path). */
#define FAST_BATCH_MAX 64

/* One call of the body: its id (text as jansson would dump it), its
 * elements, its head members, then its outcome. */
struct fast_call {
    struct fast_req r;
    json_t *head;
    char id_buf[80];
    const char *id;
    size_t id_len;
    struct wharfd_log_batch lb;
    struct wharfd_error_batch eb;
    int store_rc;
};

static void
fast_call_free(struct fast_call *c)
{
    size_t i;

    for (i = 0; c->r.logs != NULL && i < c->r.n; i++) {
        free(c->r.logs[i].metadata);
    }
    free(c->r.logs);
    free(c->r.errs);
    json_decref(c->head);
}

/* One request object: envelope and params, into c (nothing checked
 * against the token yet, nothing written). */
static int
fast_call_parse(struct fp *f, struct wharfd *wd, struct fast_call *c)
{
    enum {
        RPC = 1,
        ID = 2,
        METHOD = 4,
        PARAMS = 8
    };
    static const char logs_m[] = WHARFD_RPC_PREFIX "storeLogs";
    static const char errors_m[] = WHARFD_RPC_PREFIX "storeErrors";
    struct fstr k, v, method = { 0 };
    unsigned seen = 0, bit;
    int first = 1, rc, ch, has_array = 0;
    long long iv;

    c->r.wd = wd;
    if (!fp_eat(f, '{')) {
        return -1;
    }
    /* jsonrpc, id and method, up to params. */
    while ((rc = fp_next_key(f, &first, &k)) == 1) {
        if (fp_key_is(&k, "params")) {
            break;
        }
        if (fp_key_is(&k, "jsonrpc")) {
            bit = RPC;
            if (fp_str(f, &v) != 0 || !fp_key_is(&v, "2.0")) {
                return -1;
            }
        } else if (fp_key_is(&k, "id")) {
            bit = ID;
            ch = fp_peek(f);
            if (ch == '"') {
                if (fp_str(f, &v) != 0 || v.len + 3 > sizeof(c->id_buf)
                    || !fp_plain(v.s, v.len)) {
                    return -1;
                }
                c->id_buf[0] = '"';
                memcpy(c->id_buf + 1, v.s, v.len);
                c->id_buf[v.len + 1] = '"';
                c->id = c->id_buf;
                c->id_len = v.len + 2;
            } else if (ch == 'n') {
                if (!fp_lit(f, "null", 4)) {
                    return -1;
                }
                c->id = "null";
                c->id_len = 4;
            } else if (fp_int(f, &iv, &c->id, &c->id_len) != 0) {
                return -1;
            }
        } else if (fp_key_is(&k, "method")) {
            bit = METHOD;
            if (fp_str(f, &method) != 0) {
                return -1;
            }
        } else {
            return -1;
        }
        if (seen & bit) {
            return -1; /* a repeated member: jansson refuses it */
        }
        seen |= bit;
    }
    /* The common shape (what the agent and the benches send) has the
     * method before params; params first, or none, is left to jansson. */
    if (rc != 1 || !(seen & METHOD)) {
        return -1;
    }
    if (fp_key_is(&method, logs_m)) {
        c->r.errors = 0;
    } else if (fp_key_is(&method, errors_m)) {
        c->r.errors = 1;
    } else {
        return -1;
    }
    wharf_now_iso8601(c->r.now, sizeof(c->r.now));
    c->head = json_object();
    if (c->head == NULL || fast_params(f, &c->r, c->head, &has_array) != 0) {
        return -1;
    }
    seen |= PARAMS;
    /* After params: jsonrpc, or an integer id. */
    while ((rc = fp_next_key(f, &first, &k)) == 1) {
        if (fp_key_is(&k, "jsonrpc")) {
            bit = RPC;
            if (fp_str(f, &v) != 0 || !fp_key_is(&v, "2.0")) {
                return -1;
            }
        } else if (fp_key_is(&k, "id")) {
            bit = ID;
            if (fp_int(f, &iv, &c->id, &c->id_len) != 0) {
                return -1;
            }
        } else {
            return -1;
        }
        if (seen & bit) {
            return -1;
        }
        seen |= bit;
    }
    /* No id: a notification, whose answer is none; jansson path. */
    return rc == 0 && seen == (RPC | ID | METHOD | PARAMS) ? 0 : -1;
}

/* The checks of the jansson path's store_logs / store_errors. */
static int
fast_call_check(struct wharfd_call *call, struct fast_call *c)
{
    struct wharfd_rpc_error err;

    memset(&err, 0, sizeof(err));
    if (!c->r.errors) {
        c->lb.logs = c->r.logs;
        c->lb.n = c->r.n;
        return wharfd_ingest_logs_check(call, c->head, &c->lb, &err);
    }
    c->eb.errors = c->r.errs;
    c->eb.n = c->r.n;
    return wharfd_ingest_errors_check(call, c->head, &c->eb, c->r.now, &err);
}

/* The call's answer, as jansson's compact dump of the jansson path's. */
static void
fast_call_answer(struct fast_call *c, struct wharf_textbuf *w)
{
    struct wharfd_rpc_error err;
    char message[384];
    long long stored = 0, duplicates = 0;
    size_t i;

    if (c->store_rc != 0) {
        /* As wharf_jsonrpc_error's object, written as text. */
        memset(&err, 0, sizeof(err));
        wharfd_store_failed(&err, c->store_rc,
                            c->r.errors ? "storing the errors failed"
                                        : "storing the logs failed");
        wharf_jsonrpc_error_message(WHARFD_RPC_INTERNAL_ERROR, err.message,
                                    message, sizeof(message));
        wharf_textbuf_str(w,
                          "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32603,"
                          "\"message\":");
        wharf_json_str(w, message, strlen(message), 0);
        wharf_textbuf_str(w, "},\"id\":");
        wharf_textbuf_put(w, c->id, c->id_len);
        wharf_textbuf_put(w, "}", 1);
        return;
    }
    wharf_textbuf_str(w, "{\"jsonrpc\":\"2.0\",\"result\":{\"stored\":");
    if (!c->r.errors) {
        wharf_json_int(w, c->lb.stored);
        wharf_textbuf_str(w, ",\"duplicates\":");
        wharf_json_int(w, c->lb.duplicates);
        wharf_textbuf_str(w, ",\"lastSequence\":");
        wharf_json_int(w, c->lb.last_sequence);
    } else {
        for (i = 0; i < c->r.n; i++) {
            stored += c->r.errs[i].stored;
            duplicates += c->r.errs[i].duplicate;
        }
        wharf_json_int(w, stored);
        wharf_textbuf_str(w, ",\"repeated\":");
        wharf_json_int(w, (long long) c->r.n - stored - duplicates);
        wharf_textbuf_str(w, ",\"duplicates\":");
        wharf_json_int(w, duplicates);
        wharf_textbuf_str(w, ",\"errors\":[");
        for (i = 0; i < c->r.n; i++) {
            wharf_textbuf_str(w,
                              i ? ",{\"errorHash\":\"" : "{\"errorHash\":\"");
            wharf_textbuf_put(w, c->r.errs[i].hash, WHARF_ERRHASH_HEX_LEN);
            wharf_textbuf_str(w, "\",\"occurrenceCount\":");
            wharf_json_int(w, c->r.errs[i].occurrence_count);
            if (c->r.errs[i].duplicate) {
                wharf_textbuf_str(w, ",\"duplicate\":true");
            }
            wharf_textbuf_put(w, "}", 1);
        }
        wharf_textbuf_put(w, "]", 1);
    }
    wharf_textbuf_str(w, "},\"id\":");
    wharf_textbuf_put(w, c->id, c->id_len);
    wharf_textbuf_put(w, "}", 1);
}

int
wharfd_ingest_fast(struct wharfd_call *call, const char *body, size_t len,
                   struct wharfd_rpc_reply *reply)
{
    struct fast_call *calls = NULL;
    struct wharf_textbuf w;
    size_t n = 0, i;
    int batch = 0, ok = 0;
    struct fp f;

    if (body == NULL || len == 0) {
        return 0;
    }
    memset(&f, 0, sizeof(f));
    f.p = (const unsigned char *) body;
    f.end = f.p + len;
    f.arena = malloc(len + 1);
    if (f.arena == NULL) {
        goto out;
    }

    /* 1. Read every call (a JSON-RPC batch is an array of them). */
    if (fp_peek(&f) == '[') {
        batch = 1;
        f.p++;
        if (fp_peek(&f) == ']') {
            goto out; /* an empty batch is -32600: jansson path */
        }
    }
    /* Room for one call unless it is a batch: a single call of any other
     * method (a getLogs) is given back after its first member, and
     * zeroing FAST_BATCH_MAX of them was 20,000 instructions of it. */
    calls = calloc(batch ? FAST_BATCH_MAX : 1, sizeof(*calls));
    if (calls == NULL) {
        goto out;
    }
    do {
        if (n == (batch ? FAST_BATCH_MAX : 1)
            || fast_call_parse(&f, call->wd, &calls[n++]) != 0) {
            goto out;
        }
    } while (batch && fp_eat(&f, ','));
    if (batch && !fp_eat(&f, ']')) {
        goto out;
    }
    fp_ws(&f);
    if (f.p != f.end) {
        goto out; /* trailing bytes: -32700 */
    }

    /* 2. Check every call against the token and the limits before any
     * write: any refusal, and the jansson path answers the whole body. */
    for (i = 0; i < n; i++) {
        if (fast_call_check(call, &calls[i]) != 0) {
            goto out;
        }
    }

    /* 3. Write them in order, one write (one group commit) per call, as
     * the jansson path does; from here on the answer is ours. */
    for (i = 0; i < n; i++) {
        calls[i].store_rc = calls[i].r.errors
            ? wharfd_store_errors(call->wd->store, &calls[i].eb)
            : wharfd_store_logs(call->wd->store, &calls[i].lb);
    }
    memset(&w, 0, sizeof(w));
    if (batch) {
        wharf_textbuf_put(&w, "[", 1);
    }
    for (i = 0; i < n; i++) {
        if (i > 0) {
            wharf_textbuf_put(&w, ",", 1);
        }
        fast_call_answer(&calls[i], &w);
    }
    if (batch) {
        wharf_textbuf_put(&w, "]", 1);
    }
    if (w.oom) {
        wharf_textbuf_free(&w);
        wharfd_rpc_reply_error(reply, 200, WHARFD_RPC_INTERNAL_ERROR,
                               "out of memory");
    } else {
        reply->status = 200;
        reply->body = w.p;
        reply->len = w.len;
    }
    ok = 1;

out:
    for (i = 0; calls != NULL && i < n; i++) {
        fast_call_free(&calls[i]);
    }
    free(calls);
    free(f.arena);
    return ok;
}
