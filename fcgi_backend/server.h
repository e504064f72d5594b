/*
 * The FastCGI transport: a listen socket, N request threads around one
 * epoll instance, and the translation between libfcgi requests and
 * struct wharfd_http_request/response (http.h).
 *
 * Connections (nginx keeps them open: conf/wharf.conf has
 * fastcgi_keep_conn on and an upstream keepalive pool). Every request
 * thread waits in epoll_wait on the one epoll instance, which holds:
 *
 *   each connection   EPOLLIN | EPOLLONESHOT: when a request arrives
 *                     on it, exactly one thread is woken and owns it;
 *                     the thread reads the request (FCGX_Accept_r),
 *                     the router answers, FCGX_Finish_r ends it; a
 *                     connection nginx keeps is re-armed
 *                     (EPOLL_CTL_MOD), another one is closed
 *   the listen socket one-shot too: one thread accepts what is pending,
 *                     registers each new connection, then re-arms it
 *                     (EPOLLEXCLUSIVE would not do: it picks among epoll
 *                     instances, and level-triggered, this one would
 *                     hand the socket to the next waiting thread while
 *                     the first still accepts); left unarmed at
 *                     WHARFD_MAX_CONNS until a connection closes
 *   pause_fd          a timerfd (one-shot): accepting resumes after a
 *                     pause when out of descriptors
 *   stop_fd           an eventfd, level-triggered: written once at stop,
 *                     it then wakes every thread, each in turn
 *
 * A request thread is thus busy only while a request is, never waiting
 * on an idle kept-alive connection: with libfcgi's plain model (each
 * thread looping on FCGX_Accept_r over the listen socket) a thread stays
 * on its kept-alive connection, and once nginx holds more connections
 * than there are threads, requests on the others wait in the backlog
 * until nginx gives up (measured: 504s with 2 threads and keepalive 8).
 * And no request is handed from one thread to another: the thread the
 * kernel wakes serves it (a former design had a poller thread watch the
 * idle connections and queue each request for the request threads: two
 * thread hand-offs per request, and futex contention on the queue's lock;
 * docs/BENCHMARKS.md "Query path, round two" has the figures). A stream
 * (NDJSON) keeps its thread until it ends; the other threads serve on.
 * It works the same when nginx does not keep connections.
 */
#ifndef WHARFD_SERVER_H
#define WHARFD_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

struct wharfd;

struct wharfd_server {
    int listen_fd; /* -1 when closed */
    int epoll_fd;  /* -1 when closed; likewise the next two */
    int stop_fd;
    int pause_fd;
    struct wharfd_listen addr;
    dev_t sock_dev; /* the unix socket file we created, to */
    ino_t sock_ino; /* unlink it only if it is still ours */

    pthread_t *threads;
    unsigned nthreads; /* started */

    /* What each descriptor number is to us (server.c: CONN_NONE, _IDLE,
     * _BUSY), indexed by fd, conn_cap of them (the descriptor limit at
     * start): the stop finds the idle connections here to close them, and
     * a thread takes a connection from IDLE to BUSY, so that a connection
     * closed by the stop is never served. */
    _Atomic unsigned char *conn;
    size_t conn_cap;
    atomic_int conn_top;   /* highest connection fd + 1 so far */
    atomic_uint conns;     /* connections open */
    atomic_int accept_off; /* listen socket left unarmed at the bound */
};

/* Opens the listen socket of wd->config, and the epoll instance. */
int wharfd_server_open(struct wharfd *wd);

/* Starts wd->config.threads request threads. */
int wharfd_server_start(struct wharfd *wd);

/* Stops accepting (new connections are refused at once), closes idle
 * connections, lets requests in progress or already taken by a thread
 * finish, and joins the threads, waiting up to grace_s seconds. Returns
 * -1 if some thread was still busy then. */
int wharfd_server_stop(struct wharfd *wd, unsigned grace_s);

/* Closes the listen socket and removes a unix socket file. */
void wharfd_server_close(struct wharfd *wd);

#endif
