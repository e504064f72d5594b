/* Durations: see duration.h. */
#include "duration.h"

int
wharf_duration_parse(const char *s, long long max, long long *secs)
{
    unsigned long long n = 0;
    long long unit;
    const char *p = s;

    if (*p < '0' || *p > '9' || max < 0) {
        return -1;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (unsigned) (*p - '0');
        if (n > (unsigned long long) max) {
            return -1;
        }
    }
    switch (*p) {
    case '\0':
        unit = 1;
        break;
    case 's':
        unit = 1;
        p++;
        break;
    case 'm':
        unit = 60;
        p++;
        break;
    case 'h':
        unit = 3600;
        p++;
        break;
    case 'd':
        unit = 86400;
        p++;
        break;
    default:
        return -1;
    }
    if (*p != '\0' || n > (unsigned long long) (max / unit)) {
        return -1;
    }
    *secs = (long long) n * unit;
    return 0;
}
