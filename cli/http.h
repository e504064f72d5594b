/*
 * HTTP to the orchestrator, on libcurl.
 */
#ifndef CTL_HTTP_H
#define CTL_HTTP_H

#include <stddef.h>

#include "ctl.h"

/* Give up connecting after this long, and on the whole exchange after
 * the second. */
#define CTL_CONNECT_TIMEOUT_S 10
#define CTL_TOTAL_TIMEOUT_S   120

/* Largest response body kept; longer is a failure, not a crash. */
#define CTL_BODY_MAX (256UL * 1024 * 1024)

struct ctl_response {
    long status;
    char *body; /* NUL-terminated, never NULL on success */
    size_t len;
    char url[2048]; /* what was asked, for messages */
};

/*
 * Sends method to base URL + path (path starts with '/'), with body as
 * application/json when not NULL, and the bearer token when set. Any HTTP
 * status counts as success here; CTL_FAIL means no answer (message
 * printed: the URL, the reason, what to do).
 */
int ctl_http(struct ctl *c, const char *method, const char *path,
             const char *body, struct ctl_response *resp);

void ctl_response_free(struct ctl_response *resp);

/* Prints "what: HTTP status from url: detail" for a non-2xx answer,
 * taking the detail from a {"error":{"message"}} body when there is one.
 * Returns CTL_USAGE for a 400 (the values given were refused), else
 * CTL_FAIL. */
int ctl_http_status_error(struct ctl *c, const char *what,
                          const struct ctl_response *resp);

/* For a 401 or 403: a second line that says what to do about the token. */
void ctl_auth_hint(struct ctl *c, long status);

#endif
