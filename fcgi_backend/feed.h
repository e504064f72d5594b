/*
 * The live feed, /ws/monitoring: a libwebsockets listener (--ws-listen,
 * IPV4:PORT; nginx proxies the upgrade to it) on its own thread.
 *
 * A client authenticates like any request, with exactly one credential:
 * Authorization: Bearer, ?access_token=, or (browsers) the subprotocol
 * "wharf.bearer.<JWT>" offered beside "wharf-monitoring" (common/bearer.h;
 * the answer selects "wharf-monitoring", never the token). It needs the
 * read scope, and is refused when it sends an Origin that is not in
 * --ws-origins. feed_door.h checks all that before the handshake, and
 * answers refusals in JSON. The client then speaks JSON-RPC 2.0 text
 * frames:
 *
 *   subscribe {worker?, container?, instanceId?, kinds?: ["log", "error",
 *              "process", "event"]}     -> {"subscribed": true}
 *     (a worker's token is confined to its worker, as for reads; kinds
 *     default to all four; a new subscribe replaces the filter)
 *   startProcess / stopProcess / restartProcess {worker, instanceId,
 *              force?}                 -> the agent's answer (control scope),
 *     run on a thread of their own so the feed never waits for an agent
 *
 * and receives, for each committed row matching its filter,
 *   {"kind":"log"|"error"|"process"|"event","row":{...camelCase row...}}
 *
 * Each client has a queue of at most --feed-queue messages. The writer
 * thread only appends to queues (never waits on a client); when a queue is
 * full the message is dropped and counted, and the client's next message
 * is {"kind":"lagged","missed":N}. A slow reader thus loses messages but
 * never slows ingestion.
 */
#ifndef WHARFD_FEED_H
#define WHARFD_FEED_H

#include <pthread.h>
#include <stdatomic.h>

#include "store.h"

#define WHARFD_FEED_QUEUE_DEFAULT 1024
/* Largest frame a client may send. */
#define WHARFD_FEED_IN_MAX 65536
/* Control requests running at once per feed. */
#define WHARFD_FEED_CONTROL_MAX 16

struct wharfd;
struct lws_context;
struct feed_client;
struct feed_waiting;

struct wharfd_feed {
    struct lws_context *ctx;
    pthread_t thread;
    int started;
    atomic_int stop;
    atomic_int nclients;   /* subscribed clients: 0 = publish is free */
    atomic_int controls;   /* control threads running */
    atomic_ullong dropped; /* messages dropped for full queues */
    pthread_mutex_t lock;  /* guards the client list and queues */
    struct feed_client *clients;
    unsigned long long next_id;
    /* feed thread only (feed_door.c) */
    int listen_fd;
    struct feed_waiting *waiting; /* admitted, handshake to come */
};

/* Opens the listener and starts its thread (no-op without --ws-listen). */
int wharfd_feed_start(struct wharfd *wd);

/* Stops the thread, closes every client. */
void wharfd_feed_stop(struct wharfd *wd);

/* The writer thread, after each commit (store.h's wharfd_publish_fn,
 * through main.c's publisher): queues the rows for the subscribed
 * clients. It does not block; with nobody subscribed it costs one atomic
 * load. */
void wharfd_feed_publish(struct wharfd *wd, enum wharfd_kind kind,
                         const void *rows);

/* Whether a client subscribes (any thread; arg is the struct wharfd):
 * the store's wharfd_listening_fn. */
int wharfd_feed_listening(void *arg);

/* For /api/monitoring/metrics: subscribed clients, those of them lagged
 * now (messages dropped since the last one they got), and messages
 * dropped for full queues since start. */
void wharfd_feed_counts(struct wharfd *wd, unsigned *subscribers,
                        unsigned *lagged, unsigned long long *dropped);

#endif
