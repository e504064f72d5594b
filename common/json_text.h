/*
 * JSON text written straight into a buffer (textbuf.h): strings, escaped,
 * and integers. The one JSON text writer of wharf, for the paths where
 * building a jansson tree and dumping it costs too much: wharfd's REST
 * rows and NDJSON streams (building jansson objects for 100 rows of 13
 * members and serialising them cost ~77% of a list request's CPU: perf,
 * bench/query), the ingest fast path's answers, the agent's request
 * bodies. What they write is what jansson's JSON_COMPACT dump of the same
 * values is.
 *
 * Strings: '"', '\\' and bytes below 0x20 are escaped (\n \r \t by their
 * letter, the others \u00XX, as jansson does); plain text goes 8 bytes a
 * step. Text known to be valid UTF-8 (it entered through jansson or a
 * validated fast path) is copied as it is; other text is written with
 * WHARF_JSON_REPAIR, which replaces each invalid subpart by U+FFFD
 * (utf8.h), so the output is always valid JSON.
 */
#ifndef WHARF_JSON_TEXT_H
#define WHARF_JSON_TEXT_H

#include <stddef.h>

#include "textbuf.h"

/* Flags of a string. */
#define WHARF_JSON_REPAIR 1 /* the text may hold invalid UTF-8 */

/* Room a string of n bytes may take, quotes included: every byte may
 * become \u00XX. */
size_t wharf_json_str_room(size_t n);

/* Writes the n bytes at s escaped, without quotes, at o (room for
 * 6 * n bytes); returns the end. */
char *wharf_json_escape(char *o, const char *s, size_t n, unsigned flags);

/* The same between quotes (room: wharf_json_str_room(n)). */
char *wharf_json_put_str(char *o, const char *s, size_t n, unsigned flags);

/* Writes v in decimal at o (room for 20 bytes); returns the end. */
char *wharf_json_put_int(char *o, long long v);

/* Into a buffer. */
void wharf_json_str(struct wharf_textbuf *b, const char *s, size_t n,
                    unsigned flags);
void wharf_json_int(struct wharf_textbuf *b, long long v);

#endif
