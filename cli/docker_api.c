/* The Docker Engine API over its unix socket: see docker_api.h. */
#include "docker_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

struct get_buf {
    char *data;
    size_t len, cap;
    int too_large;
};

static size_t
get_collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct get_buf *b = arg;
    size_t n = size * nmemb, cap;
    char *bigger;

    if (b->len + n > CTL_DOCKER_BODY_MAX) {
        b->too_large = 1;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        cap = b->cap ? b->cap : 16384;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        bigger = realloc(b->data, cap);
        if (bigger == NULL) {
            return 0;
        }
        b->data = bigger;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static size_t
stream_collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct ctl_docker *d = arg;

    if (ctl_linebuf_feed(&d->lines, ptr, size * nmemb) != 0) {
        return 0; /* out of memory: the stream fails and is made again */
    }
    return size * nmemb;
}

/* The settings every request to the daemon shares. The host part of the
 * URL is a placeholder: the socket is what is connected to. */
static void
setup(struct ctl_docker *d, CURL *h, const char *path, char *url,
      size_t urlsize)
{
    snprintf(url, urlsize, "http://docker%s", path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, d->socket);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "wharfctl/" CTL_VERSION);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long) CTL_DOCKER_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
}

int
ctl_docker_init(struct ctl_docker *d, const char *socket)
{
    memset(d, 0, sizeof(*d));
    if (strlen(socket) > CTL_DOCKER_SOCKET_MAX) {
        return -1;
    }
    memcpy(d->socket, socket, strlen(socket) + 1);
    d->curl = curl_easy_init();
    d->multi = curl_multi_init();
    return d->curl != NULL && d->multi != NULL ? 0 : -1;
}

void
ctl_docker_free(struct ctl_docker *d)
{
    ctl_docker_stream_stop(d);
    if (d->multi != NULL) {
        curl_multi_cleanup(d->multi);
    }
    if (d->curl != NULL) {
        curl_easy_cleanup(d->curl);
    }
    ctl_linebuf_free(&d->lines);
    memset(d, 0, sizeof(*d));
}

int
ctl_docker_get(struct ctl_docker *d, const char *path, long *status,
               char **body, size_t *len, char *why, size_t whylen)
{
    struct get_buf b = { NULL, 0, 0, 0 };
    char url[4096];
    CURLcode rc;

    curl_easy_reset(d->curl);
    setup(d, d->curl, path, url, sizeof(url));
    d->curl_errbuf[0] = '\0';
    curl_easy_setopt(d->curl, CURLOPT_ERRORBUFFER, d->curl_errbuf);
    curl_easy_setopt(d->curl, CURLOPT_TIMEOUT, (long) CTL_DOCKER_TIMEOUT_S);
    curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, get_collect);
    curl_easy_setopt(d->curl, CURLOPT_WRITEDATA, &b);
    rc = curl_easy_perform(d->curl);
    if (rc != CURLE_OK) {
        free(b.data);
        snprintf(why, whylen, "GET %s on %s: %s", path, d->socket,
                 b.too_large             ? "answer too large"
                     : d->curl_errbuf[0] ? d->curl_errbuf
                                         : curl_easy_strerror(rc));
        return -1;
    }
    curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, status);
    if (b.data == NULL && (b.data = strdup("")) == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    *body = b.data;
    *len = b.len;
    return 0;
}

int
ctl_docker_stream_start(struct ctl_docker *d, const char *path)
{
    char url[4096];

    ctl_docker_stream_stop(d);
    ctl_linebuf_reset(&d->lines);
    d->stream_done = 0;
    d->stream_status = 0;
    d->stream_error[0] = '\0';
    d->curl_errbuf[0] = '\0';
    d->stream = curl_easy_init();
    if (d->stream == NULL) {
        return -1;
    }
    setup(d, d->stream, path, url, sizeof(url));
    curl_easy_setopt(d->stream, CURLOPT_ERRORBUFFER, d->curl_errbuf);
    curl_easy_setopt(d->stream, CURLOPT_WRITEFUNCTION, stream_collect);
    curl_easy_setopt(d->stream, CURLOPT_WRITEDATA, d);
    if (curl_multi_add_handle(d->multi, d->stream) != CURLM_OK) {
        curl_easy_cleanup(d->stream);
        d->stream = NULL;
        return -1;
    }
    return 0;
}

int
ctl_docker_stream_wait(struct ctl_docker *d, int wake_fd, int timeout_ms)
{
    struct curl_waitfd extra = { wake_fd, CURL_WAIT_POLLIN, 0 };
    CURLMsg *msg;
    int running, left;

    if (d->stream == NULL) {
        d->stream_done = 1;
        return 0;
    }
    /* Wait first, then read: the lines read are handled by the caller
     * before the next wait. libcurl's own timers cut the wait short (a
     * handle just added is started at once). */
    if (curl_multi_poll(d->multi, &extra, wake_fd >= 0 ? 1 : 0, timeout_ms,
                        NULL)
            != CURLM_OK
        || curl_multi_perform(d->multi, &running) != CURLM_OK) {
        return -1;
    }
    if (d->stream_status == 0) {
        curl_easy_getinfo(d->stream, CURLINFO_RESPONSE_CODE, &d->stream_status);
    }
    while ((msg = curl_multi_info_read(d->multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == d->stream) {
            curl_easy_getinfo(d->stream, CURLINFO_RESPONSE_CODE,
                              &d->stream_status);
            snprintf(d->stream_error, sizeof(d->stream_error), "%s",
                     msg->data.result != CURLE_OK
                         ? (d->curl_errbuf[0]
                                ? d->curl_errbuf
                                : curl_easy_strerror(msg->data.result))
                         : "the daemon ended the stream");
            d->stream_done = 1;
        }
    }
    return 0;
}

void
ctl_docker_stream_stop(struct ctl_docker *d)
{
    if (d->stream != NULL) {
        curl_multi_remove_handle(d->multi, d->stream);
        curl_easy_cleanup(d->stream);
        d->stream = NULL;
    }
}

const char *
ctl_docker_host_socket(const char *docker_host, const char **why)
{
    if (strncmp(docker_host, "unix://", 7) == 0 && docker_host[7] == '/') {
        if (strlen(docker_host + 7) > CTL_DOCKER_SOCKET_MAX) {
            *why = "the socket's path is too long";
            return NULL;
        }
        return docker_host + 7;
    }
    *why = "only unix:// sockets are supported (the Engine API over TCP "
           "gives root to whoever reaches it)";
    return NULL;
}
