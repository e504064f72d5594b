/*
 * Logging for wharf's daemons and CLI: one line per event on stderr,
 * "2026-11-27T09:30:00.123Z wharfd[123] warn: message".
 *
 * The program name and the minimum level are process-wide settings made
 * once at start-up (wharf_log_init) before any thread starts; after that
 * they are only read, so no locking is needed.
 */
#ifndef WHARF_LOG_H
#define WHARF_LOG_H

enum wharf_log_level {
    WHARF_LOG_DEBUG = 0,
    WHARF_LOG_INFO,
    WHARF_LOG_WARN,
    WHARF_LOG_ERROR
};

void wharf_log_init(const char *program, enum wharf_log_level min_level);

/* Parses "debug", "info", "warn" or "error"; returns -1 for anything else. */
int wharf_log_level_parse(const char *s);

void wharf_log(enum wharf_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define wharf_debug(...) wharf_log(WHARF_LOG_DEBUG, __VA_ARGS__)
#define wharf_info(...)  wharf_log(WHARF_LOG_INFO, __VA_ARGS__)
#define wharf_warn(...)  wharf_log(WHARF_LOG_WARN, __VA_ARGS__)
#define wharf_error(...) wharf_log(WHARF_LOG_ERROR, __VA_ARGS__)

/* Writes an ISO-8601 UTC time with milliseconds ("...T09:30:00.123Z") of
 * the current time into buf (at least WHARF_TIME_LEN bytes). */
#define WHARF_TIME_LEN 32
void wharf_now_iso8601(char *buf, unsigned long size);

#endif
