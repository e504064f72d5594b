/*
 * What libwebsockets clients (terminal, logs tail -f) need to know about
 * --url, and the lws context they share.
 */
#ifndef CTL_WS_H
#define CTL_WS_H

#include "ctl.h"

/* Where --url points: host (IPv6 without brackets), port, TLS, the
 * authority for the Host header, and the base path without a trailing
 * '/' (a prefix the orchestrator may be mounted under). */
struct ctl_ws_target {
    char host[256];
    char authority[300];
    char base[1024];
    int port;
    int tls;
};

/* Parses c->args.url with libcurl's URL API. CTL_OK or CTL_USAGE. */
int ctl_ws_target(struct ctl *c, struct ctl_ws_target *t);

/* "Bearer <--token>" for the handshake's Authorization header into out
 * ("" without --token). CTL_OK, or CTL_USAGE for a token longer than
 * WHARF_TOKEN_MAX. */
int ctl_ws_authorization(struct ctl *c, char *out, size_t size);

struct lws;

/* In LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER (in, len as given to the
 * callback): adds "Authorization: <authorization>" unless it is empty.
 * Returns 0, or -1 when the header does not fit (fail the handshake). */
int ctl_ws_add_authorization(struct lws *wsi, const char *authorization,
                             void *in, size_t len);

#endif
