/*
 * UTF-8, strictly (RFC 3629, Unicode 15 table 3-7): no overlong forms, no
 * surrogates, nothing above U+10FFFF -- what jansson accepts, so what the
 * orchestrator stores.
 *
 * Invalid input is replaced the way the Unicode standard recommends and
 * WHATWG's decoder (every browser, Node's TextDecoder and Buffer) does:
 * each *maximal subpart* -- the longest prefix of a well-formed sequence,
 * or else one byte -- becomes one U+FFFD. So any reader that decodes the
 * original bytes with replacement gets exactly what wharf stored, and
 * cutting text between units (see wharf_utf8_next) never changes what the
 * pieces decode to.
 *
 * Pure (no I/O, no allocation): unit-tested in tests/unit/test_common_utf8.c.
 */
#ifndef WHARF_UTF8_H
#define WHARF_UTF8_H

#include <stddef.h>

/* U+FFFD REPLACEMENT CHARACTER, and its length in UTF-8. */
#define WHARF_UTF8_REPLACEMENT     "\xef\xbf\xbd"
#define WHARF_UTF8_REPLACEMENT_LEN 3

enum wharf_utf8_unit {
    WHARF_UTF8_VALID,   /* a whole character of *n bytes */
    WHARF_UTF8_INVALID, /* a maximal subpart of *n bytes: one U+FFFD */
    WHARF_UTF8_PARTIAL  /* the *n (= left) bytes begin a character that
                           the input ends inside: more bytes may complete
                           it; at the end of the text it is INVALID */
};

/*
 * The unit at s (left >= 1 bytes): a character, an invalid subpart or a
 * cut character. *n gets its length (1..4).
 */
enum wharf_utf8_unit wharf_utf8_next(const unsigned char *s, size_t left,
                                     size_t *n);

/* Writes the len bytes at s into out with every invalid subpart replaced
 * by U+FFFD (out holds 3 * len bytes); returns the bytes written. */
size_t wharf_utf8_replace(const unsigned char *s, size_t len, char *out);

/* How many leading bytes of s (len bytes) are valid UTF-8, whole
 * characters only. The common case (ASCII) goes 8 bytes at a time. */
size_t wharf_utf8_valid_prefix(const unsigned char *s, size_t len);

#endif
