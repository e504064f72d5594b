/*
 * An HTTP/1.1 request head (RFC 9112 sections 3 and 5), read whole by a
 * server before it hands the connection to libwebsockets, so that it can
 * check and take the credentials itself (see fcgi_backend/feed.c: the
 * libwebsockets of Debian 12, 4.1.6, drops a handshake whose
 * Sec-WebSocket-Protocol list is longer than 127 bytes, as one with a
 * token in it is, and one whose headers pass its 4 KiB, without an
 * answer).
 *
 * Strict on purpose: lines end with CRLF, no line folding (obs-fold), a
 * field name is a token followed directly by ':', no NUL or other control
 * byte but HTAB in a value. Anything else is malformed (400).
 */
#ifndef WHARF_HTTP_HEAD_H
#define WHARF_HTTP_HEAD_H

#include <stddef.h>

/* Header fields kept at most; a head with more is malformed. */
#define WHARF_HTTP_FIELDS_MAX 100

struct wharf_http_field {
    const char *name;
    size_t name_len;
    const char *value; /* without the white space around it */
    size_t value_len;
};

struct wharf_http_head {
    const char *method;
    size_t method_len;
    const char *target; /* request-target: path and query as sent */
    size_t target_len;
    const char *version;
    size_t version_len;
    struct wharf_http_field field[WHARF_HTTP_FIELDS_MAX];
    size_t nfields;
};

/* The length of the head at the start of buf, up to and including the
 * empty line; 0 when it has not all arrived. */
size_t wharf_http_head_len(const char *buf, size_t len);

/* Parses a complete head (len from wharf_http_head_len); the pointers
 * point into buf. 0, or -1 when malformed. */
int wharf_http_head_parse(const char *buf, size_t len,
                          struct wharf_http_head *h);

/* How many fields are named name (any case); the first is *first. */
int wharf_http_head_find(const struct wharf_http_head *h, const char *name,
                         const struct wharf_http_field **first);

#endif
