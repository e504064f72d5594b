/*
 * The FastCGI transport: a listen socket, one poller thread, N request
 * threads, and the translation between libfcgi requests and struct
 * wharfd_http_request/response (http.h).
 *
 * Connections (nginx keeps them open: conf/wharf.conf has
 * fastcgi_keep_conn on and an upstream keepalive pool):
 *
 *   poller thread       accepts, and watches every idle connection
 *        | a request arrives on one: queue "ready"
 *        v
 *   request threads     FCGX_Accept_r reads the request from that
 *                       connection, the router answers, FCGX_Finish_r ends
 *                       it; a connection nginx keeps goes back to the
 *                       poller ("returned"), another one is closed
 *
 * A request thread is thus busy only while a request is, never waiting
 * on an idle kept-alive connection: with libfcgi's plain model (each
 * thread looping on FCGX_Accept_r over the listen socket) a thread stays
 * on its kept-alive connection, and once nginx holds more connections
 * than there are threads, requests on the others wait in the backlog
 * until nginx gives up (measured: 504s with 2 threads and keepalive 8).
 * It works the same when nginx does not keep connections.
 */
#ifndef WHARFD_SERVER_H
#define WHARFD_SERVER_H

#include <pthread.h>
#include <sys/types.h>

#include "config.h"
#include "fdqueue.h"

struct wharfd;

struct wharfd_server {
    int listen_fd; /* -1 when closed */
    int wake_fd;   /* eventfd: wakes the poller; -1 if none */
    struct wharfd_listen addr;
    dev_t sock_dev; /* the unix socket file we created, to */
    ino_t sock_ino; /* unlink it only if it is still ours */

    pthread_t poller;
    int poller_started;
    pthread_t *threads;
    unsigned nthreads; /* started */

    /* Shared by the poller and the request threads, under lock. */
    pthread_mutex_t lock;
    pthread_cond_t ready_cond;  /* signalled when ready grows or on stop */
    struct wharfd_fdq ready;    /* connections with a request arriving */
    struct wharfd_fdq returned; /* kept-alive connections, idle again */
};

/* Opens the listen socket of wd->config. */
int wharfd_server_open(struct wharfd *wd);

/* Starts the poller and wd->config.threads request threads. */
int wharfd_server_start(struct wharfd *wd);

/* Stops accepting (new connections are refused at once), closes idle
 * connections, lets requests in progress or already arrived finish, and
 * joins the threads, waiting up to grace_s seconds. Returns -1 if some
 * thread was still busy then. */
int wharfd_server_stop(struct wharfd *wd, unsigned grace_s);

/* Closes the listen socket and removes a unix socket file. */
void wharfd_server_close(struct wharfd *wd);

#endif
