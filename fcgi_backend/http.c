#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *
wharfd_http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 502:
        return "Bad Gateway";
    case 504:
        return "Gateway Timeout";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 426:
        return "Upgrade Required";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

int
wharfd_http_json(struct wharfd_http_response *resp, int status, json_t *obj)
{
    char *text;

    text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    free(resp->body);
    resp->body = text;
    if (text == NULL) {
        resp->status = 500;
        resp->content_type = NULL;
        resp->body_len = 0;
        return -1;
    }
    resp->status = status;
    resp->content_type = "application/json";
    resp->body_len = strlen(text);
    return 0;
}

void
wharfd_http_error(struct wharfd_http_response *resp, int status,
                  const char *code, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    size_t i;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    /* Messages may quote a client's path; keep them printable ASCII so
     * they are always valid JSON strings. */
    for (i = 0; message[i] != '\0'; i++) {
        if ((unsigned char) message[i] < 0x20
            || (unsigned char) message[i] > 0x7e) {
            message[i] = '?';
        }
    }
    (void) wharfd_http_json(
        resp, status,
        json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message));
}

char *
wharfd_http_error_body(const char *code, const char *message)
{
    json_t *obj =
        json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
    char *body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

    json_decref(obj);
    return body;
}

int
wharfd_http_is_json(const char *content_type)
{
    static const char json[] = "application/json";
    size_t n = sizeof(json) - 1;

    if (content_type == NULL) {
        return 0;
    }
    while (*content_type == ' ' || *content_type == '\t') {
        content_type++;
    }
    if (strncasecmp(content_type, json, n) != 0) {
        return 0;
    }
    return content_type[n] == '\0' || content_type[n] == ';'
        || content_type[n] == ' ' || content_type[n] == '\t';
}

void
wharfd_http_response_free(struct wharfd_http_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
    if (resp->stream_free != NULL) {
        resp->stream_free(resp->stream_arg);
    }
    resp->stream = NULL;
    resp->stream_free = NULL;
    resp->stream_arg = NULL;
}
