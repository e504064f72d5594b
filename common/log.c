#include "log.h"

#include "isotime.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_program = "wharf";
static enum wharf_log_level log_min = WHARF_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
wharf_log_init(const char *program, enum wharf_log_level min_level)
{
    log_program = program;
    log_min = min_level;
}

int
wharf_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

void
wharf_now_iso8601(char *buf, unsigned long size)
{
    wharf_iso_ms(wharf_wall_ms(), buf, size);
}

void
wharf_log(enum wharf_log_level level, const char *fmt, ...)
{
    char line[2048], when[WHARF_TIME_LEN];
    va_list ap;
    int n;

    if (level < log_min) {
        return;
    }

    wharf_now_iso8601(when, sizeof(when));
    n = snprintf(line, sizeof(line), "%s %s[%d] %s: ", when, log_program,
                 (int) getpid(), level_names[level]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t) n, fmt, ap);
    va_end(ap);

    /* One write per line so lines of concurrent threads never interleave. */
    n = (int) strlen(line);
    if (n > (int) sizeof(line) - 2) {
        n = (int) sizeof(line) - 2;
    }
    line[n++] = '\n';
    (void) !write(STDERR_FILENO, line, (size_t) n);
}
