/*
 * Error fingerprints (see errhash.h for the rules). Each cleaning rule is
 * one pass over the text, in the rules' order, written out by hand: the
 * rules are JavaScript regular expressions (\b, \d, \s with Unicode
 * spaces) that POSIX regex cannot express as they are.
 */
#include "errhash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <openssl/evp.h>

#include "textbuf.h"

/* The output buffer of one pass (textbuf.h): a growing one, or, on the
 * fixed path, the caller's (on the stack, sized for the worst case),
 * where running out of room sets oom instead of growing, which sends the
 * caller to the growing path. */
#define EH_LIT(b, s) WHARF_TEXTBUF_LIT((b), (s))

/* One byte: the common case of every pass (the buffers are sized for the
 * input up front). */
static inline void
eh_put1(struct wharf_textbuf *b, const unsigned char *c)
{
    wharf_textbuf_putc(b, (char) *c);
}

static int
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* JavaScript's \w without the u flag: ASCII letters, digits, '_'. */
static int
is_word(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || c == '_';
}

/* Rule 1: \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z at s[0..23]. */
static int
match_iso_ms(const unsigned char *s, size_t left)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    size_t i;

    if (left < sizeof(shape) - 1) {
        return 0;
    }
    for (i = 0; i < sizeof(shape) - 1; i++) {
        if (shape[i] == 'd' ? !is_digit(s[i])
                            : s[i] != (unsigned char) shape[i]) {
            return 0;
        }
    }
    return 1;
}

static void
pass_timestamp(const unsigned char *s, size_t n, struct wharf_textbuf *o)
{
    size_t i = 0;

    while (i < n) {
        if (match_iso_ms(s + i, n - i)) {
            EH_LIT(o, "TIMESTAMP");
            i += 24;
        } else {
            eh_put1(o, s + i);
            i++;
        }
    }
}

/* Rule 2: \b\d{13}\b, i.e. a maximal run of word characters that is
 * exactly 13 digits. */
static void
pass_unix_time(const unsigned char *s, size_t n, struct wharf_textbuf *o)
{
    size_t i = 0, j, k;
    int digits;

    while (i < n) {
        if (!is_word(s[i])) {
            eh_put1(o, s + i);
            i++;
            continue;
        }
        for (j = i, digits = 1; j < n && is_word(s[j]); j++) {
            digits &= is_digit(s[j]);
        }
        k = j - i;
        if (digits && k == 13) {
            EH_LIT(o, "UNIX_TIME");
        } else {
            wharf_textbuf_put(o, (const char *) s + i, k);
        }
        i = j;
    }
}

/* Rule 3: (:\d+):(\d+) -> :LINE:COL. */
static void
pass_line_col(const unsigned char *s, size_t n, struct wharf_textbuf *o)
{
    size_t i = 0, j, k;

    while (i < n) {
        if (s[i] == ':') {
            for (j = i + 1; j < n && is_digit(s[j]); j++) {
            }
            if (j > i + 1 && j < n && s[j] == ':') {
                for (k = j + 1; k < n && is_digit(s[k]); k++) {
                }
                if (k > j + 1) {
                    EH_LIT(o, ":LINE:COL");
                    i = k;
                    continue;
                }
            }
        }
        eh_put1(o, s + i);
        i++;
    }
}

/* Rule 4: :\d{4,5}\b -> :PORT. Greedy \d{4,5} then a word boundary: the
 * run of digits after ':' is 4 or 5 long and not followed by a word
 * character (a longer run matches neither length). */
static void
pass_port(const unsigned char *s, size_t n, struct wharf_textbuf *o)
{
    size_t i = 0, j, k;

    while (i < n) {
        if (s[i] == ':') {
            for (j = i + 1; j < n && is_digit(s[j]); j++) {
            }
            k = j - i - 1;
            if ((k == 4 || k == 5) && (j == n || !is_word(s[j]))) {
                EH_LIT(o, ":PORT");
                i = j;
                continue;
            }
        }
        eh_put1(o, s + i);
        i++;
    }
}

/* Rule 5: \?v=[a-f0-9]+ -> ?v=HASH. */
static void
pass_version(const unsigned char *s, size_t n, struct wharf_textbuf *o)
{
    size_t i = 0, j;

    while (i < n) {
        if (n - i > 3 && s[i] == '?' && s[i + 1] == 'v' && s[i + 2] == '=') {
            for (j = i + 3;
                 j < n && (is_digit(s[j]) || (s[j] >= 'a' && s[j] <= 'f'));
                 j++) {
            }
            if (j > i + 3) {
                EH_LIT(o, "?v=HASH");
                i = j;
                continue;
            }
        }
        eh_put1(o, s + i);
        i++;
    }
}

/* Length in bytes of a JavaScript \s character at s, or 0. */
static size_t
space_len(const unsigned char *s, size_t left)
{
    if (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r')) {
        return 1;
    }
    if (left >= 2 && s[0] == 0xC2 && s[1] == 0xA0) {
        return 2; /* U+00A0 */
    }
    if (left < 3) {
        return 0;
    }
    if ((s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80) /* U+1680 */
        || (s[0] == 0xE2 && s[1] == 0x80
            && ((s[2] >= 0x80 && s[2] <= 0x8A)             /* U+2000..U+200A */
                || s[2] == 0xA8 || s[2] == 0xA9            /* U+2028, U+2029 */
                || s[2] == 0xAF))                          /* U+202F */
        || (s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F)  /* U+205F */
        || (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80)  /* U+3000 */
        || (s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)) /* U+FEFF */
    {
        return 3;
    }
    return 0;
}

/* Rule 6: \s+ -> ' ', then trim; and rule 7: the first 500 UTF-16 code
 * units. A cut inside a surrogate pair leaves a lone surrogate in
 * JavaScript, which its UTF-8 encoder writes as U+FFFD. */
static void
pass_space_cut(const unsigned char *s, size_t n, struct wharf_textbuf *o)
{
    size_t i = 0, w, units = 0, seq;
    int pending = 0; /* a space run waits for a non-space after it */

    while (i < n && units < WHARF_ERRHASH_CLEAN_MAX) {
        w = space_len(s + i, n - i);
        if (w > 0) {
            pending = o->len > 0;
            i += w;
            continue;
        }
        if (pending) {
            EH_LIT(o, " ");
            units++;
            pending = 0;
            if (units == WHARF_ERRHASH_CLEAN_MAX) {
                break;
            }
        }
        seq = s[i] >= 0xF0 ? 4 : s[i] >= 0xE0 ? 3 : s[i] >= 0xC0 ? 2 : 1;
        if (seq > n - i) {
            seq = 1;
        }
        if (seq == 4) {
            if (units + 2 > WHARF_ERRHASH_CLEAN_MAX) {
                EH_LIT(o, "\xEF\xBF\xBD");
                units++;
                break;
            }
            units += 2;
        } else {
            units++;
        }
        if (seq == 1) {
            eh_put1(o, s + i); /* ASCII: the common byte */
        } else {
            wharf_textbuf_put(o, (const char *) s + i, seq);
        }
        i += seq;
    }
}

typedef void (*eh_pass_fn)(const unsigned char *, size_t,
                           struct wharf_textbuf *);

/* The passes in the rules' order. */
static const eh_pass_fn eh_passes[] = {
    pass_timestamp, pass_unix_time, pass_line_col,
    pass_port,      pass_version,   pass_space_cut,
};

/*
 * 1 when pass p would copy s unchanged, found without running it: every
 * pass but the last only ever changes text at a byte it needs (rule 1 a
 * '-', rules 3 and 4 a ':', rule 5 a '?'); rule 2 and the last always
 * run. Most messages have no ISO time or query string, so this skips
 * passes (callgrind: the passes were most of a hash's instructions).
 */
static int
eh_pass_is_identity(size_t p, const char *s, size_t n)
{
    switch (p) {
    case 0:
        return memchr(s, '-', n) == NULL;
    case 2:
    case 3:
        return memchr(s, ':', n) == NULL;
    case 4:
        return memchr(s, '?', n) == NULL;
    default:
        return 0;
    }
}

/*
 * The growing path: a malloc'd buffer per pass, as large as each needs.
 * Returns the cleaned text (malloc'd) or NULL when out of memory.
 */
static char *
eh_clean_alloc(const char *msg, size_t len)
{
    struct wharf_textbuf in = { 0 }, out;
    size_t p;

    wharf_textbuf_put(&in, msg, len);
    if (in.p == NULL) {
        EH_LIT(&in, "");
    }
    for (p = 0; p < sizeof(eh_passes) / sizeof(eh_passes[0]) && !in.oom; p++) {
        if (eh_pass_is_identity(p, in.p, in.len)) {
            continue;
        }
        /* Replacements can grow the text ("a:1:2" -> "a:LINE:COL"), at
         * most 5x for the shortest match; reserve the input's size plus a
         * margin, eh_put grows beyond when needed. */
        memset(&out, 0, sizeof(out));
        if (wharf_textbuf_room(&out, in.len + 63) != NULL) {
            out.p[0] = '\0';
        }
        eh_passes[p]((const unsigned char *) in.p, in.len, &out);
        free(in.p);
        in = out;
    }
    if (in.oom) {
        free(in.p);
        return NULL;
    }
    return in.p;
}

/*
 * The fixed path: the passes ping-pong between two caller buffers of cap
 * bytes each (no allocation). Returns the buffer holding the cleaned text
 * (NUL-terminated, its length in *n), or NULL when a pass ran out of
 * room (the caller then takes the growing path, which gives the same
 * text: the passes are the same functions).
 */
static char *
eh_clean_fixed(const char *msg, size_t len, char *a, char *b, size_t cap,
               size_t *n)
{
    struct wharf_textbuf out;
    char *in = a, *other = b, *t;
    size_t in_len = len, p;

    if (len + 1 > cap) {
        return NULL;
    }
    memcpy(a, msg, len);
    a[len] = '\0';
    for (p = 0; p < sizeof(eh_passes) / sizeof(eh_passes[0]); p++) {
        if (eh_pass_is_identity(p, in, in_len)) {
            continue;
        }
        memset(&out, 0, sizeof(out));
        out.p = other;
        out.cap = cap;
        out.fixed = 1;
        out.p[0] = '\0';
        eh_passes[p]((const unsigned char *) in, in_len, &out);
        if (out.oom) {
            return NULL;
        }
        t = in;
        in = other;
        other = t;
        in_len = out.len;
    }
    *n = in_len;
    return in;
}

/* Stack room for the fixed path: messages up to ~1 KiB (nearly all) are
 * cleaned without touching the heap. */
#define EH_STACK_CAP 4096

char *
wharf_errhash_clean(const char *msg, size_t len)
{
    char a[EH_STACK_CAP], b[EH_STACK_CAP], *r, *copy;
    size_t n;

    r = eh_clean_fixed(msg, len, a, b, sizeof(a), &n);
    if (r == NULL) {
        return eh_clean_alloc(msg, len);
    }
    copy = malloc(n + 1);
    if (copy != NULL) {
        memcpy(copy, r, n + 1);
    }
    return copy;
}

void
wharf_errhash_js_number(double v, char *buf, size_t size)
{
    char tmp[40], digits[24], *e;
    int prec, exp10, k = 0, nd, i;
    size_t pos = 0;

    if (isnan(v)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, v > 0 ? "Infinity" : "-Infinity");
        return;
    }
    if (v == 0) {
        snprintf(buf, size, "0"); /* -0 too */
        return;
    }
    if (v == (double) (long long) v && v > -1e15 && v < 1e15) {
        snprintf(buf, size, "%lld", (long long) v); /* 50, the usual */
        return;
    }
    /* The shortest digits that read back as v (what JavaScript prints). */
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v) {
            break;
        }
    }
    if (v < 0 && pos + 1 < size) {
        buf[pos++] = '-';
    }
    for (i = (v < 0); tmp[i] != 'e'; i++) {
        if (tmp[i] != '.') {
            digits[k++] = tmp[i];
        }
    }
    while (k > 1 && digits[k - 1] == '0') {
        k--;
    }
    digits[k] = '\0';
    e = strchr(tmp, 'e');
    exp10 = atoi(e + 1);
    nd = exp10 + 1; /* ECMA-262 Number::toString's n */

    if (k <= nd && nd <= 21) {
        snprintf(buf + pos, size - pos, "%s%0*d", digits, nd - k, 0);
        if (nd == k) {
            snprintf(buf + pos, size - pos, "%s", digits);
        }
    } else if (0 < nd && nd <= 21) {
        snprintf(buf + pos, size - pos, "%.*s.%s", nd, digits, digits + nd);
    } else if (-6 < nd && nd <= 0) {
        snprintf(buf + pos, size - pos, "0.%0*d%s", -nd, 0, digits);
        if (nd == 0) {
            snprintf(buf + pos, size - pos, "0.%s", digits);
        }
    } else if (k == 1) {
        snprintf(buf + pos, size - pos, "%se%c%d", digits,
                 nd - 1 >= 0 ? '+' : '-', abs(nd - 1));
    } else {
        snprintf(buf + pos, size - pos, "%c.%se%c%d", digits[0], digits + 1,
                 nd - 1 >= 0 ? '+' : '-', abs(nd - 1));
    }
}

/*
 * SHA-256 fetched once per process: EVP_sha256() makes every EVP_Digest
 * look the algorithm up in OpenSSL 3's provider tables again (callgrind:
 * 5,700 instructions a digest of a short message, 3,400 with the fetched
 * one). Written once under pthread_once, read-only afterwards; kept for
 * the life of the process (still reachable, never leaked per call).
 */
static pthread_once_t eh_sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *eh_sha256_md;

static void
eh_sha256_fetch(void)
{
    eh_sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int
wharf_errhash(const char *msg, size_t len, double level, char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    char a[EH_STACK_CAP], b[EH_STACK_CAP], lvl[40], *clean, *heap = NULL;
    unsigned int mdlen = 0, i;
    size_t n, ln;
    int ok;

    wharf_errhash_js_number(level, lvl, sizeof(lvl));
    ln = strlen(lvl);
    /* The level goes right after the cleaned text, in the same buffer:
     * keep its room free in the fixed path. */
    clean = eh_clean_fixed(msg, len, a, b, sizeof(a) - sizeof(lvl), &n);
    if (clean == NULL) {
        heap = eh_clean_alloc(msg, len);
        if (heap == NULL) {
            return -1;
        }
        n = strlen(heap);
        clean = realloc(heap, n + ln + 1);
        if (clean == NULL) {
            free(heap);
            return -1;
        }
        heap = clean;
    }
    /* As ever: the cleaned text ends at its first NUL (a C string). */
    n = strnlen(clean, n);
    memcpy(clean + n, lvl, ln + 1);
    pthread_once(&eh_sha256_once, eh_sha256_fetch);
    ok = EVP_Digest(clean, n + ln, md, &mdlen,
                    eh_sha256_md ? eh_sha256_md : EVP_sha256(), NULL)
        == 1;
    free(heap);
    if (!ok) {
        return -1;
    }
    for (i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * mdlen] = '\0';
    return 0;
}
