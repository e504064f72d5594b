/*
 * Error fingerprints for de-duplication, shared by the agent (which hashes
 * the errors it detects) and wharfd (which hashes those sent without one),
 * so both always agree.
 *
 * hash = lower-case hex sha256( cleaned(message) || String(level) ), the
 * peer's rule (docs/vibesdk-behavior.md section 3), where String(level)
 * is JavaScript's rendering of the number ("50", "55.5") and cleaning is,
 * in this order:
 *
 *   1. ISO times with milliseconds  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z
 *                                                        -> TIMESTAMP
 *   2. \b\d{13}\b (epoch milliseconds)                   -> UNIX_TIME
 *   3. (:\d+):(\d+)                                      -> :LINE:COL
 *   4. :\d{4,5}\b                                        -> :PORT
 *   5. \?v=[a-f0-9]+                                     -> ?v=HASH
 *   6. runs of whitespace (JavaScript's \s, Unicode included) -> one space,
 *      then trimmed
 *   7. cut to 500 UTF-16 code units (JavaScript string length)
 *
 * The one deliberate difference from the peer: rule 3 runs before rule 4,
 * so "App.tsx:1234:5" becomes "App.tsx:LINE:COL" instead of
 * "App.tsx:PORT:5" (the peer's quirk H6).
 *
 * Pure C; only OpenSSL's SHA-256. Thread-safe, no state.
 */
#ifndef WHARF_ERRHASH_H
#define WHARF_ERRHASH_H

#include <stddef.h>

/* Characters (UTF-16 code units) of the cleaned text that are hashed. */
#define WHARF_ERRHASH_CLEAN_MAX 500

/* Length of the hex digest, without its NUL. */
#define WHARF_ERRHASH_HEX_LEN 64

/*
 * Cleans len bytes of UTF-8 at msg (rules 1-7) into a malloc'd,
 * NUL-terminated string that the caller frees; NULL when out of memory.
 */
char *wharf_errhash_clean(const char *msg, size_t len);

/*
 * Writes the 64 hex digits and a NUL into out (at least
 * WHARF_ERRHASH_HEX_LEN + 1 bytes). Returns 0, or -1 when out of memory.
 */
int wharf_errhash(const char *msg, size_t len, double level, char *out);

/* JavaScript's String(number) for the finite numbers a level can be:
 * "50", "55.5", "-1", "1e+21". buf holds at least 32 bytes. */
void wharf_errhash_js_number(double v, char *buf, size_t size);

#endif
