/*
 * HTTP requests and responses as the handlers see them, free of FastCGI:
 * server.c fills a wharfd_http_request from libfcgi and writes the
 * wharfd_http_response back, so handlers (and their unit tests) never
 * touch the transport.
 */
#ifndef WHARFD_HTTP_H
#define WHARFD_HTTP_H

#include <stddef.h>

#include <jansson.h>

struct wharfd_http_request {
    const char *method;        /* "GET", "POST", ... */
    const char *path;          /* path of REQUEST_URI, no query, raw */
    const char *query;         /* after '?', or "" */
    const char *content_type;  /* CONTENT_TYPE, or NULL when absent */
    const char *authorization; /* HTTP_AUTHORIZATION, or NULL */
    const char *body;          /* NUL-terminated copy, NULL when empty */
    size_t body_len;
    /* The body was longer than the limit; body is NULL then. The route
     * decides how to say so (REST and JSON-RPC answer differently). */
    int body_too_large;
    size_t body_limit;
};

struct wharfd_http_response {
    int status;
    const char *content_type; /* static string; NULL when no body */
    char *body;               /* malloc'd, owned; NULL for none */
    size_t body_len;
    const char *allow; /* "Allow:" header for 405, static */
    /* "WWW-Authenticate:" of a 400/401/403 about the token, "" for none
     * (RFC 6750 section 3). */
    char www_authenticate[384];
    unsigned retry_after; /* seconds, for a 503; 0: no header */
    /* A streamed body (no Content-Length): server.c writes the head,
     * then calls stream(stream_arg, out, out_arg), which writes the body
     * piece by piece through out, then stream_free(stream_arg). */
    int (*stream)(void *arg,
                  int (*out)(void *out_arg, const char *buf, size_t len),
                  void *out_arg);
    void *stream_arg;
    void (*stream_free)(void *arg);
};

/* Reason phrase of a status code ("OK", "Not Found", ...). */
const char *wharfd_http_reason(int status);

/* Sets resp to status with obj serialised as its JSON body. Takes the
 * reference to obj. Returns 0, or -1 when out of memory (resp then holds
 * a 500 without body). */
int wharfd_http_json(struct wharfd_http_response *resp, int status,
                     json_t *obj);

/* Sets resp to the REST error shape, status and
 * {"error":{"code":code,"message":...}}. */
void wharfd_http_error(struct wharfd_http_response *resp, int status,
                       const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The REST error body {"error":{"code":code,"message":message}} as
 * compact JSON text (malloc'd), or NULL when out of memory. For answers
 * written outside a wharfd_http_response (the live feed's handshakes). */
char *wharfd_http_error_body(const char *code, const char *message);

/* 1 when the media type of content_type is application/json (any
 * parameters, any case); 0 otherwise, NULL included. */
int wharfd_http_is_json(const char *content_type);

/* Frees the body and a stream not yet run. */
void wharfd_http_response_free(struct wharfd_http_response *resp);

#endif
