/*
 * The Docker Engine API over its unix socket, on libcurl
 * (CURLOPT_UNIX_SOCKET_PATH): one-shot GETs, and the event stream
 * (GET /events, which never ends) on a multi handle, so that the watcher
 * waits on it, on its retry timers and on a signal at once.
 *
 * Paths carry no API version: the daemon answers in its own, and every
 * field the watcher reads (Id, Names, State, Labels, Created; Type,
 * Action, Actor, timeNano) has been there since API 1.22 (Docker 1.10).
 */
#ifndef CTL_DOCKER_API_H
#define CTL_DOCKER_API_H

#include <stddef.h>

#include <curl/curl.h>

#include "docker_events.h"

/* sun_path's size on Linux. */
#define CTL_DOCKER_SOCKET_MAX     107
#define CTL_DOCKER_SOCKET_DEFAULT "/var/run/docker.sock"
/* One-shot requests: connect, then the whole answer. */
#define CTL_DOCKER_TIMEOUT_S 10
/* Largest one-shot answer kept (a list of thousands of containers). */
#define CTL_DOCKER_BODY_MAX (64UL * 1024 * 1024)

struct ctl_docker {
    char socket[CTL_DOCKER_SOCKET_MAX + 1];
    CURL *curl; /* one-shot requests, reused */
    CURLM *multi;
    CURL *stream; /* GET /events while it runs */
    struct ctl_linebuf lines;
    int stream_done;
    long stream_status;
    char stream_error[CURL_ERROR_SIZE + 64];
    char curl_errbuf[CURL_ERROR_SIZE];
};

/* Returns 0, or -1 when libcurl cannot be set up. */
int ctl_docker_init(struct ctl_docker *d, const char *socket);
void ctl_docker_free(struct ctl_docker *d);

/* GET path: *status and the body (malloc'd, NUL-terminated). Returns 0,
 * or -1 with why (size whylen) saying what failed. */
int ctl_docker_get(struct ctl_docker *d, const char *path, long *status,
                   char **body, size_t *len, char *why, size_t whylen);

/* Starts GET path as a stream whose lines go to d->lines. */
int ctl_docker_stream_start(struct ctl_docker *d, const char *path);

/* Moves the stream on, then waits at most timeout_ms for more data or
 * for wake_fd to be readable. d->stream_done is set when the stream has
 * ended, with d->stream_error saying why. Returns 0, -1 on a libcurl
 * failure. */
int ctl_docker_stream_wait(struct ctl_docker *d, int wake_fd, int timeout_ms);

void ctl_docker_stream_stop(struct ctl_docker *d);

/* The socket of DOCKER_HOST's value (unix://PATH), or NULL when it names
 * something else (why says what). */
const char *ctl_docker_host_socket(const char *docker_host, const char **why);

#endif
