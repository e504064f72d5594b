/*
 * Error messages into a caller's buffer.
 *
 * Pure parsers (flags, config files, protocol messages) do not log: they
 * describe the problem in a buffer the caller owns and return -1, and the
 * caller decides whether it becomes a log line, an HTTP error body or a CLI
 * message. This is that convention's one helper.
 */
#ifndef WHARF_ERRBUF_H
#define WHARF_ERRBUF_H

#include <stddef.h>

/* Formats into err (errlen bytes, NUL-terminated when errlen > 0) and
 * returns -1, so a parser can `return wharf_fail(err, errlen, ...);`. */
int wharf_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
