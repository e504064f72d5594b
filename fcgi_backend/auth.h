/*
 * Authentication and authorisation of requests: the seam only.
 */
#ifndef WHARFD_AUTH_H
#define WHARFD_AUTH_H

#include "http.h"

struct wharfd;

/* Called by the router for every request before its handler. Returns 0
 * to let it through; -1 answers 401. Currently allows everything.
 * TODO(auth issue): verify the ES256 bearer token (DESIGN.md "Auth") and
 * pass its subject and scopes on to the handlers. */
int wharfd_auth_check(struct wharfd *wd, const struct wharfd_http_request *req);

#endif
