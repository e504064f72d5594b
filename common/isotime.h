/*
 * Times as wharf stores and shows them: ISO-8601 UTC with milliseconds,
 * "2026-11-27T09:30:00.123Z" (what JavaScript's Date#toISOString writes,
 * so the peer's readers and the console parse them as they are). The one
 * formatter of the agent, wharfd and the logs.
 */
#ifndef WHARF_ISOTIME_H
#define WHARF_ISOTIME_H

#include <stddef.h>

/* Room for one, NUL included (years of 4 digits need 25). */
#define WHARF_ISO_MS_LEN 32

/* Milliseconds since the epoch, now (CLOCK_REALTIME). */
long long wharf_wall_ms(void);

/* ms milliseconds since the epoch as ISO-8601 with milliseconds into buf.
 * A time before 1970 is floored ("1969-12-31T23:59:59.999Z" for -1), not
 * cut toward zero. */
void wharf_iso_ms(long long ms, char *buf, size_t size);

#endif
