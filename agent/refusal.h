/*
 * What the shipper does with a storeLogs or storeErrors call the
 * orchestrator refused as invalid params (-32602): the pure parts.
 *
 * wharfd checks a call whole and stores nothing of it when one element is
 * wrong; its error names the element ("data": {"field": "logs[3].message",
 * "max": 65536}, docs/wharfd.md). A refused call never takes its
 * neighbours with it: ship.c splits it around the element named (in
 * halves when none is) and sends the parts again, so every other line is
 * stored; the offending element alone is sent once more with its text cut
 * to the limit and marked:
 *
 *     <the first bytes of the line> …[wharf: truncated, N bytes cut]
 *
 * (N: bytes of the line not stored; the whole stays within the limit, cut
 * between characters). Only if that is refused too is the line lost, and
 * counted (logs_dropped, reason "refused").
 *
 * Pure (no I/O): unit-tested in tests/unit/test_agent_misc.c.
 */
#ifndef AGENT_REFUSAL_H
#define AGENT_REFUSAL_H

#include <stddef.h>

#include <jansson.h>

/* The marker at the end of a truncated text; %zu: the bytes cut. */
#define AGENT_TRUNCATED_MARKER " \xe2\x80\xa6[wharf: truncated, %zu bytes cut]"
/* The limit a text is cut to when the refusal does not say its own. */
#define AGENT_TRUNCATE_DEFAULT 4096u

/*
 * Reads field ("logs[3].message") as an element of the array member
 * `array` of the params: *index gets 3, *member "message" (NULL when the
 * field names the element itself). Returns 0, or -1 when field names
 * something else (then splitting cannot help).
 */
int agent_refusal_field(const char *field, const char *array, size_t *index,
                        const char **member, size_t *member_len);

/*
 * The len bytes of UTF-8 at s, cut to at most max bytes including the
 * marker, as a new JSON string; *cut gets the bytes cut. NULL when s fits
 * already, max cannot hold the marker, or out of memory.
 */
json_t *agent_truncate_text(const char *s, size_t len, size_t max, size_t *cut);

#endif
