/* ISO-8601 times with milliseconds: see isotime.h. */
#include "isotime.h"

#include <stdio.h>
#include <time.h>

long long
wharf_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
wharf_iso_ms(long long ms, char *buf, size_t size)
{
    long long sec = ms / 1000, rem = ms % 1000;
    struct tm tm;
    time_t t;

    if (rem < 0) {
        rem += 1000; /* floor, not trunc: -1 is .999 of the second before */
        sec--;
    }
    t = (time_t) sec;
    gmtime_r(&t, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int) rem);
}
