/* --url for the WebSocket clients (see ws.h). */
#include "ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <libwebsockets.h>

#include "token.h"

int
ctl_ws_target(struct ctl *c, struct ctl_ws_target *t)
{
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    CURLU *u = curl_url();
    size_t n;
    int rc = CTL_USAGE;

    if (u == NULL) {
        return ctl_error(c, CTL_FAIL, "out of memory");
    }
    if (curl_url_set(u, CURLUPART_URL, c->args.url, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)
            != CURLUE_OK
        || curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        ctl_error(c, CTL_USAGE, "--url %s: not a URL wharfctl can use",
                  c->args.url);
        goto out;
    }
    n = strlen(host);
    if (host[0] == '[' && n > 2) { /* [::1] -> ::1 for the socket */
        host[n - 1] = '\0';
        memmove(host, host + 1, n - 1);
    }
    n = strlen(path);
    while (n > 0 && path[n - 1] == '/') {
        path[--n] = '\0';
    }
    if (strlen(host) >= sizeof(t->host) || n >= sizeof(t->base)) {
        ctl_error(c, CTL_USAGE, "--url %s: too long", c->args.url);
        goto out;
    }
    strcpy(t->host, host);
    strcpy(t->base, path);
    t->port = atoi(port);
    t->tls = strcmp(scheme, "https") == 0;
    snprintf(t->authority, sizeof(t->authority),
             strchr(t->host, ':') ? "[%s]:%d" : "%s:%d", t->host, t->port);
    rc = CTL_OK;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    return rc;
}

int
ctl_ws_authorization(struct ctl *c, char *out, size_t size)
{
    out[0] = '\0';
    if (c->args.token == NULL) {
        return CTL_OK;
    }
    if (strlen(c->args.token) > WHARF_TOKEN_MAX) {
        return ctl_error(c, CTL_USAGE, "--token: longer than %d bytes",
                         WHARF_TOKEN_MAX);
    }
    snprintf(out, size, "Bearer %s", c->args.token);
    return CTL_OK;
}

int
ctl_ws_add_authorization(struct lws *wsi, const char *authorization, void *in,
                         size_t len)
{
    unsigned char **p = (unsigned char **) in, *end = *p + len;

    if (authorization[0] == '\0') {
        return 0;
    }
    return lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                        (const unsigned char *) authorization,
                                        (int) strlen(authorization), p, end)
        ? -1
        : 0;
}
