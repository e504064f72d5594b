#include "http.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "textbuf.h"

/* What to tell the user for a transport failure. */
static const char *
http_hint(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        return "is the orchestrator's nginx running there? Set --url or "
               "WHARF_URL to its address";
    case CURLE_COULDNT_RESOLVE_HOST:
        return "check the host name in --url or WHARF_URL";
    case CURLE_OPERATION_TIMEDOUT:
        return "the server did not answer in time";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        return "check the server's TLS certificate";
    default:
        return "check --url or WHARF_URL";
    }
}

int
ctl_http(struct ctl *c, const char *method, const char *path, const char *body,
         struct ctl_response *resp)
{
    char errbuf[CURL_ERROR_SIZE], auth[4096];
    struct curl_slist *headers = NULL;
    /* the answer; past CTL_BODY_MAX, curl fails with a write error */
    struct wharf_textbuf buf = { .max = CTL_BODY_MAX };
    size_t baselen;
    CURLcode rc;

    memset(resp, 0, sizeof(*resp));
    baselen = strlen(c->args.url);
    while (baselen > 0 && c->args.url[baselen - 1] == '/') {
        baselen--; /* "http://h:8080/" + "/rpc" */
    }
    if (baselen + strlen(path) >= sizeof(resp->url)) {
        return ctl_error(c, CTL_USAGE, "URL too long: %s", c->args.url);
    }
    memcpy(resp->url, c->args.url, baselen);
    strcpy(resp->url + baselen, path); /* length checked above */

    if (c->curl == NULL && (c->curl = curl_easy_init()) == NULL) {
        return ctl_error(c, CTL_FAIL, "cannot initialise libcurl");
    }
    curl_easy_reset(c->curl);
    errbuf[0] = '\0';

    if (c->args.token != NULL) {
        if (strlen(c->args.token) + 32 > sizeof(auth)) {
            return ctl_error(c, CTL_USAGE, "--token: too long");
        }
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->args.token);
        headers = curl_slist_append(headers, auth);
    }
    headers = curl_slist_append(headers, "Accept: application/json");
    if (body != NULL) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t) strlen(body));
    }
    curl_easy_setopt(c->curl, CURLOPT_URL, resp->url);
    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "wharfctl/" CTL_VERSION);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, wharf_textbuf_collect);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT,
                     (long) CTL_CONNECT_TIMEOUT_S);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, (long) CTL_TOTAL_TIMEOUT_S);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    /* Only the orchestrator's own protocols; no redirects followed, so a
     * token is never sent anywhere else. */
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");

    rc = curl_easy_perform(c->curl);
    curl_slist_free_all(headers);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);

    if (rc != CURLE_OK) {
        int over = buf.over;

        wharf_textbuf_free(&buf);
        if (over) {
            return ctl_error(c, CTL_FAIL,
                             "%s %s: response larger than %lu "
                             "bytes",
                             method, resp->url, CTL_BODY_MAX);
        }
        return ctl_error(
            c, CTL_FAIL, "cannot reach %s (%s %s): %s; %s", c->args.url, method,
            path, errbuf[0] ? errbuf : curl_easy_strerror(rc), http_hint(rc));
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    if (buf.p == NULL) {
        WHARF_TEXTBUF_LIT(&buf, "");
        if (buf.p == NULL) {
            return ctl_error(c, CTL_FAIL, "out of memory");
        }
    }
    resp->body = wharf_textbuf_take(&buf, &resp->len);
    return CTL_OK;
}

void
ctl_response_free(struct ctl_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->len = 0;
}

void
ctl_auth_hint(struct ctl *c, long status)
{
    if (status == 401) {
        fprintf(c->err,
                "wharfctl: %s; pass one with --token or WHARF_TOKEN "
                "(wharfctl token issue mints one)\n",
                c->args.token ? "the token was refused" : "no token was given");
    } else if (status == 403) {
        fprintf(c->err,
                "wharfctl: the token lacks the scope or the worker "
                "this needs (see wharfctl token issue --help)\n");
    }
}

int
ctl_http_status_error(struct ctl *c, const char *what,
                      const struct ctl_response *resp)
{
    json_t *root, *msg;
    const char *nl;
    int n;

    root = json_loadb(resp->body, resp->len, 0, NULL);
    msg = json_object_get(json_object_get(root, "error"), "message");
    if (json_is_string(msg)) {
        ctl_error(c, CTL_FAIL, "%s: HTTP %ld from %s: %s", what, resp->status,
                  resp->url, json_string_value(msg));
    } else if (json_is_string(json_object_get(root, "status"))) {
        /* A health answer: its verdict, the body was printed already. */
        ctl_error(c, CTL_FAIL, "%s: HTTP %ld from %s: status %s", what,
                  resp->status, resp->url,
                  json_string_value(json_object_get(root, "status")));
    } else {
        /* Not ours: the first line of a text body; nothing of an HTML
         * page (nginx's own error pages). */
        nl = strchr(resp->body, '\n');
        n = nl ? (int) (nl - resp->body) : (int) resp->len;
        if (resp->body[0] == '<') {
            n = 0;
        }
        ctl_error(c, CTL_FAIL, "%s: HTTP %ld from %s%s%.*s", what, resp->status,
                  resp->url, n > 0 ? ": " : "", n > 200 ? 200 : n, resp->body);
    }
    json_decref(root);
    ctl_auth_hint(c, resp->status);
    /* 400: the request, made of the command line's values, was refused
     * as invalid: a usage error, like -32602 (rpc.c). */
    return resp->status == 400 ? CTL_USAGE : CTL_FAIL;
}
