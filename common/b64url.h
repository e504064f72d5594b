/*
 * base64url without padding (RFC 4648 section 5), as JOSE uses it
 * (RFC 7515 section 2).
 *
 * Decoding is strict: only the 64 characters of the alphabet, no '=', no
 * white space, and the unused low bits of the last character must be zero.
 * So every byte string has exactly one encoding, and a token cannot be
 * respelled into another string that decodes the same (which would defeat
 * caches keyed by the token's text and make two tokens of one).
 */
#ifndef WHARF_B64URL_H
#define WHARF_B64URL_H

#include <stddef.h>

/* Characters the encoding of n bytes takes (without a NUL). */
#define WHARF_B64URL_LEN(n) (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))

/* Encodes n bytes into out, which holds WHARF_B64URL_LEN(n) + 1 bytes;
 * NUL-terminates it and returns the length. */
size_t wharf_b64url_encode(const unsigned char *in, size_t n, char *out);

/* Decodes n characters into out (room for n * 3 / 4 bytes). Returns the
 * number of bytes, or -1 when the text is not canonical base64url. */
long wharf_b64url_decode(const char *in, size_t n, unsigned char *out);

/* 1 when c is one of the 64 characters of the alphabet. */
int wharf_b64url_char(int c);

#endif
