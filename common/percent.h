/*
 * Percent-decoding (RFC 3986 section 2.1) of URL paths and query strings:
 * the one decoder of wharfd's router (a path segment) and its REST query
 * parser (a key or value, where '+' is a space, as HTML forms write it).
 * "%XX" with two hex digits (either case) is that byte; a '%' without
 * them stays as it is.
 */
#ifndef WHARF_PERCENT_H
#define WHARF_PERCENT_H

#include <stddef.h>

/* Flags of wharf_percent_decode. */
#define WHARF_PERCENT_PLUS 1 /* '+' is a space (a query string) */

/* The value of a hex digit, or -1. */
int wharf_hexval(int c);

/*
 * Decodes the n bytes at s into out (outsize bytes, NUL-terminated).
 * Returns the decoded length, which is more than strlen(out) when a %00
 * was decoded; -1 when it (and its NUL) does not fit in outsize.
 */
long wharf_percent_decode(const char *s, size_t n, char *out, size_t outsize,
                          unsigned flags);

#endif
