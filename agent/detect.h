/*
 * What a captured line is: its log level, and whether it is an error (and a
 * fatal one), after docs/vibesdk-behavior.md section 2 with wharf's
 * deliberate differences:
 *
 *   - A line starting with '{' is pino JSON when it parses: an error iff
 *     its "level" is a number >= 50, a numeric string >= 50 (E4), or the
 *     label "error" (50) / "fatal" (60) (E5 differs on purpose). Message is
 *     "msg", else "Unknown error" (E6); "time" in epoch ms becomes the
 *     error's timestamp, anything else means "at receipt" (E7 differs:
 *     kept, not dropped).
 *   - Any other line (plain text, stdout or stderr) is an error, level 50,
 *     when it contains one of the configured patterns, case-insensitively
 *     (E9 differs; default patterns: the fatal patterns below).
 *   - Fatal (E10): level >= 60, or the message contains a fatal pattern.
 *
 * Hot path: a JSON line is only parsed (jansson) when a quick scan of its
 * first "level" member says it may be an error; other lines cost one scan.
 * The quick scan reads the first "level" key in the text, which for pino
 * output is the top-level one.
 *
 * Pure (no I/O): unit-tested in tests/unit/test_agent_detect.c.
 */
#ifndef AGENT_DETECT_H
#define AGENT_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Most plain-text error patterns, and the longest one, in bytes. */
#define AGENT_DETECT_PATTERNS_MAX    64
#define AGENT_DETECT_PATTERN_LEN_MAX 128

/* Log levels of stored lines (DESIGN.md "Data"). */
enum agent_level {
    AGENT_LEVEL_DEBUG,
    AGENT_LEVEL_INFO,
    AGENT_LEVEL_WARN,
    AGENT_LEVEL_ERROR,
    AGENT_LEVEL_OUTPUT
};

const char *agent_level_name(enum agent_level l);

struct agent_detect_patterns {
    unsigned n;
    char pat[AGENT_DETECT_PATTERNS_MAX][AGENT_DETECT_PATTERN_LEN_MAX + 1];
    size_t len[AGENT_DETECT_PATTERNS_MAX];
    unsigned char first[256]; /* a pattern starts with this (lower) byte */
};

struct agent_detect {
    struct agent_detect_patterns plain; /* plain-text error patterns */
    struct agent_detect_patterns fatal; /* the peer's fatal patterns */
};

struct agent_detect_result {
    enum agent_level level;
    int is_error;
    int fatal;
    double err_level; /* pino level of the error */
    const char *msg;  /* the error's message (into doc or the line) */
    size_t msg_len;
    int64_t time_ms; /* the line's own time, or -1: at receipt */
    json_t *doc;     /* parsed line, owned; NULL when not parsed */
};

/* Sets the peer's fatal patterns, and the plain patterns to the same. */
void agent_detect_init(struct agent_detect *d);

/* Adds a plain-text pattern (the first call replaces the defaults when
 * reset is set). Returns 0, or -1 when full or too long. */
int agent_detect_add_plain(struct agent_detect *d, const char *pattern,
                           int reset);

/* Classifies the (already trimmed) line. Release r afterwards. */
void agent_detect_line(const struct agent_detect *d, const char *line,
                       size_t len, struct agent_detect_result *r);

void agent_detect_release(struct agent_detect_result *r);

/* 1 when text contains one of the patterns, ignoring ASCII case. */
int agent_detect_match(const struct agent_detect_patterns *p, const char *text,
                       size_t len);

#endif
