/*
 * Durations as operators write them: whole seconds, or a number with a
 * unit s, m, h or d ("90", "90s", "15m", "12h", "7d"). One grammar for
 * the CLI (--since, token TTLs) and wharfd's configuration (retention
 * ages), so that the same text means the same everywhere.
 */
#ifndef WHARF_DURATION_H
#define WHARF_DURATION_H

/* Parses s into seconds, at most max. 0 is a duration ("0", "0d"); a
 * caller for which 0 means nothing refuses it itself. Returns 0, or -1
 * (empty, a sign, an unknown unit, trailing bytes, above max). */
int wharf_duration_parse(const char *s, long long max, long long *secs);

#endif
