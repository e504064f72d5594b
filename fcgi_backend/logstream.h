/*
 * getLogs as a stream: application/x-ndjson, one row per line as it is
 * read from the database, then a final line; memory does not grow with
 * the number of rows (one row's JSON at a time, libfcgi's output buffer,
 * and nginx with fastcgi_buffering off passes it on).
 *
 * Final line: for JSON-RPC {"jsonrpc":"2.0","result":{"done":true,
 * "count":N},"id":ID}; for REST {"done":true,"count":N}. A database
 * failure mid-way ends the stream with an "error" member instead.
 */
#ifndef WHARFD_LOGSTREAM_H
#define WHARFD_LOGSTREAM_H

#include <stddef.h>

#include <jansson.h>

#include "store.h"

struct wharfd;

struct wharfd_logstream {
    struct wharfd *wd;
    struct wharfd_query q; /* its strings point into own[] */
    char *own[8];
    json_t *rpc_id; /* NULL: REST; else the request's id */
};

/* A stream of q with its strings copied; NULL when out of memory. */
struct wharfd_logstream *wharfd_logstream_new(struct wharfd *wd,
                                              const struct wharfd_query *q);

struct wharfd_http_response;

/* Makes *stream the body of resp (200, application/x-ndjson), which
 * frees it once written; *stream is NULL after. */
void wharfd_logstream_respond(struct wharfd_http_response *resp,
                              struct wharfd_logstream **stream);

/* Matches wharfd_http_response.stream and .stream_free. */
int wharfd_logstream_run(void *arg,
                         int (*out)(void *out_arg, const char *buf, size_t len),
                         void *out_arg);
void wharfd_logstream_free(void *arg);

#endif
