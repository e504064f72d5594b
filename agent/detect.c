/* Error detection: see detect.h. */
#include "detect.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* The peer's fatal patterns (PM:844-878). */
static const char *const fatal_patterns[] = {
    "fatal error",        "out of memory",     "maximum call stack",
    "segmentation fault", "EADDRINUSE",        "cannot find module",
    "module not found",   "failed to compile", NULL
};

const char *
agent_level_name(enum agent_level l)
{
    static const char *const names[] = { "debug", "info", "warn", "error",
                                         "output" };

    return names[l];
}

static int
add_pattern(struct agent_detect_patterns *p, const char *s)
{
    size_t n = strlen(s), i;

    if (p->n >= AGENT_DETECT_PATTERNS_MAX || n == 0
        || n > AGENT_DETECT_PATTERN_LEN_MAX) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        p->pat[p->n][i] = (char) tolower((unsigned char) s[i]);
    }
    p->pat[p->n][n] = '\0';
    p->len[p->n] = n;
    p->first[(unsigned char) p->pat[p->n][0]] = 1;
    p->n++;
    return 0;
}

void
agent_detect_init(struct agent_detect *d)
{
    int i;

    memset(d, 0, sizeof(*d));
    for (i = 0; fatal_patterns[i] != NULL; i++) {
        (void) add_pattern(&d->fatal, fatal_patterns[i]);
        (void) add_pattern(&d->plain, fatal_patterns[i]);
    }
}

int
agent_detect_add_plain(struct agent_detect *d, const char *pattern, int reset)
{
    if (reset) {
        memset(&d->plain, 0, sizeof(d->plain));
    }
    return add_pattern(&d->plain, pattern);
}

int
agent_detect_match(const struct agent_detect_patterns *p, const char *text,
                   size_t len)
{
    size_t i, k;
    unsigned j;

    if (p->n == 0) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) tolower((unsigned char) text[i]);

        if (!p->first[c]) {
            continue;
        }
        for (j = 0; j < p->n; j++) {
            if ((unsigned char) p->pat[j][0] != c || p->len[j] > len - i) {
                continue;
            }
            for (k = 1; k < p->len[j]; k++) {
                if (tolower((unsigned char) text[i + k])
                    != (unsigned char) p->pat[j][k]) {
                    break;
                }
            }
            if (k == p->len[j]) {
                return 1;
            }
        }
    }
    return 0;
}

static enum agent_level
pino_level(double v)
{
    if (v >= 50) {
        return AGENT_LEVEL_ERROR;
    }
    if (v >= 40) {
        return AGENT_LEVEL_WARN;
    }
    if (v >= 30) {
        return AGENT_LEVEL_INFO;
    }
    return AGENT_LEVEL_DEBUG;
}

/* A pino label as a number; -1 for an unknown label. */
static double
label_level(const char *s, size_t n)
{
    static const struct {
        const char *name;
        double v;
    } labels[] = {
        { "trace", 10 }, { "debug", 20 }, { "info", 30 },
        { "warn", 40 },  { "error", 50 }, { "fatal", 60 },
    };
    size_t i;

    for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        if (strlen(labels[i].name) == n
            && strncasecmp(labels[i].name, s, n) == 0) {
            return labels[i].v;
        }
    }
    return -1;
}

/* A whole string of n bytes as a decimal number (JavaScript's Number() of
 * a numeric string, for the forms pino levels take). */
static int
numeric_text(const char *s, size_t n, double *out)
{
    char buf[64], *end;

    while (n > 0 && isspace((unsigned char) *s)) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char) s[n - 1])) {
        n--;
    }
    if (n == 0 || n >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!(isdigit((unsigned char) buf[0]) || buf[0] == '-' || buf[0] == '+'
          || buf[0] == '.')) {
        return -1;
    }
    *out = strtod(buf, &end);
    return *end == '\0' ? 0 : -1;
}

/*
 * Quick look at the first "level" member. Returns 1 with *v set (a label
 * is turned into its number), 0 when there is none or it is neither a
 * number nor a string.
 */
static int
quick_level(const char *line, size_t len, double *v)
{
    const char *p = memmem(line, len, "\"level\"", 7), *end = line + len;
    const char *q;

    if (p == NULL) {
        return 0;
    }
    p += 7;
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    if (p >= end || *p != ':') {
        return 0;
    }
    p++;
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    if (p >= end) {
        return 0;
    }
    if (*p == '"') {
        p++;
        for (q = p; q < end && *q != '"' && *q != '\\'; q++) {
        }
        if (q >= end || *q != '"') {
            return 0;
        }
        if (numeric_text(p, (size_t) (q - p), v) == 0) {
            return 1;
        }
        *v = label_level(p, (size_t) (q - p));
        return *v >= 0;
    }
    for (q = p; q < end
         && (isdigit((unsigned char) *q) || *q == '.' || *q == '-' || *q == '+'
             || *q == 'e' || *q == 'E');
         q++) {
    }
    return q > p && numeric_text(p, (size_t) (q - p), v) == 0;
}

/* The full parse of a pino line that may be an error. */
static void
parse_pino(const struct agent_detect *d, const char *line, size_t len,
           struct agent_detect_result *r)
{
    json_t *doc = json_loadb(line, len, JSON_DECODE_ANY, NULL), *lv, *m, *t;
    double v;

    if (doc == NULL || !json_is_object(doc)) {
        json_decref(doc);
        return; /* E9c: not JSON, or not an object: plain output */
    }
    lv = json_object_get(doc, "level");
    if (json_is_number(lv)) {
        v = json_number_value(lv);
    } else if (json_is_string(lv)) {
        if (numeric_text(json_string_value(lv), json_string_length(lv), &v)
            != 0) {
            v = label_level(json_string_value(lv), json_string_length(lv));
        }
    } else {
        json_decref(doc);
        return;
    }
    r->doc = doc;
    if (v > 0) {
        r->level = pino_level(v);
    }
    if (!(v >= 50)) {
        return;
    }
    r->is_error = 1;
    r->err_level = v;
    m = json_object_get(doc, "msg");
    if (json_is_string(m)) {
        r->msg = json_string_value(m);
        r->msg_len = json_string_length(m);
    } else {
        r->msg = "Unknown error";
        r->msg_len = strlen(r->msg);
    }
    t = json_object_get(doc, "time");
    if (json_is_number(t) && json_number_value(t) >= 0
        && json_number_value(t) < 8.64e15) {
        r->time_ms = (int64_t) json_number_value(t);
    }
    r->fatal = v >= 60 || agent_detect_match(&d->fatal, r->msg, r->msg_len);
}

void
agent_detect_line(const struct agent_detect *d, const char *line, size_t len,
                  struct agent_detect_result *r)
{
    double v;

    memset(r, 0, sizeof(*r));
    r->level = AGENT_LEVEL_OUTPUT;
    r->time_ms = -1;
    if (len > 0 && line[0] == '{' && quick_level(line, len, &v)) {
        if (v >= 50) {
            parse_pino(d, line, len, r);
            if (r->doc != NULL) {
                return;
            }
        } else {
            if (v > 0) {
                r->level = pino_level(v);
            }
            return;
        }
    }
    if (agent_detect_match(&d->plain, line, len)) {
        r->is_error = 1;
        r->level = AGENT_LEVEL_ERROR;
        r->err_level = 50;
        r->msg = line;
        r->msg_len = len;
        r->fatal = agent_detect_match(&d->fatal, line, len);
    }
}

void
agent_detect_release(struct agent_detect_result *r)
{
    json_decref(r->doc);
    r->doc = NULL;
}
