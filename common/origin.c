/* WebSocket Origin checks: see origin.h. */
#include "origin.h"

#include <string.h>
#include <strings.h>

int
wharf_origin_same_host(const char *origin, const char *host)
{
    const char *h = strstr(origin, "://");

    if (h == NULL || host == NULL || host[0] == '\0') {
        return 0;
    }
    return strcasecmp(h + 3, host) == 0;
}

int
wharf_origin_in_list(const char *origin, const char *list)
{
    size_t n = strlen(origin);
    const char *p = list, *e;

    while (p != NULL && *p != '\0') {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        e = p + strcspn(p, ", ");
        if (n > 0 && (size_t) (e - p) == n && strncasecmp(p, origin, n) == 0) {
            return 1;
        }
        p = e;
    }
    return 0;
}

int
wharf_origin_allowed(const char *origin, const char *list, const char *host)
{
    if (origin == NULL || origin[0] == '\0') {
        return 1; /* not a browser page */
    }
    if (list != NULL && list[0] != '\0') {
        return wharf_origin_in_list(origin, list);
    }
    return wharf_origin_same_host(origin, host);
}
