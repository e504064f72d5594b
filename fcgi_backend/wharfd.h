/*
 * wharfd: the orchestrator's FastCGI backend.
 *
 * This header holds the program's one context struct. Everything wharfd
 * keeps between requests lives here, reached through the pointer every
 * thread is given; there is no other global mutable state of ours (libfcgi
 * keeps a few globals of its own, set up once by FCGX_Init).
 *
 * Life cycle (main.c):
 *   1. config      parsed from --config FILE, then the command line
 *   2. server      listen socket opened (before the database, so that
 *                  an address in use is found before a file is created)
 *   3. store       database opened, migrations applied; then the N
 *                  request threads start (server.h)
 *   4. "wharfd listening on ADDR" on stdout
 *   5. SIGTERM/SIGINT: stop accepting, let in-flight requests finish,
 *      join the threads, close the store, exit 0
 *
 * Error convention of this part: functions return 0 on success and -1 on
 * failure. The failure has been logged, or, where a caller has to turn it
 * into an answer (configuration, JSON-RPC errors), described in an
 * out-parameter.
 */
#ifndef WHARFD_H
#define WHARFD_H

#include <stdatomic.h>

#include "auth.h"
#include "version.h"
#include "config.h"
#include "feed.h"
#include "recent.h"
#include "retention.h"
#include "server.h"
#include "store.h"

#define WHARFD_VERSION WHARF_VERSION

struct wharfd {
    /* Settled before any thread starts, read-only afterwards. */
    struct wharfd_config config;

    /* Public key and verified-token cache. Thread-safe (auth.h). */
    struct wharfd_auth auth;

    /* The database. Thread-safe on its own (see store.h). */
    struct wharfd_store *store;

    /* The newest logs of the workers read lately (recent.h); off on
     * PostgreSQL. Thread-safe on its own. */
    struct wharfd_recent recent;

    /* The live feed's listener and clients (feed.h). */
    struct wharfd_feed feed;

    /* Deletes old rows in small steps (retention.h). */
    struct wharfd_retention retention;

    /* Listen socket, epoll instance and request threads. */
    struct wharfd_server server;

    /* Set once, by wharfd_server_stop when SIGTERM or SIGINT arrives;
     * the request threads read it (server.c). */
    atomic_int stopping;
};

#endif
