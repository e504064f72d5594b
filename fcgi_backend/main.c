/*
 * wharfd entry point: configuration, start-up, signal wait, shutdown.
 * Exit status: 0 after a clean stop, 1 when start-up fails or requests
 * outlive the shutdown grace, 2 on a usage error.
 */
#include <signal.h>

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "log.h"
#include "wharfd.h"

/* How long SIGTERM waits for requests in progress. */
#define WHARFD_SHUTDOWN_GRACE_S 30

/* The store's publisher (store.h): what the writer committed goes to the
 * recent rows, then to the live feed. */
static void
published(void *arg, enum wharfd_kind kind, const void *rows)
{
    struct wharfd *wd = arg;

    wharfd_recent_publish(&wd->recent, kind, rows);
    wharfd_feed_publish(wd, kind, rows);
}

int
main(int argc, char **argv)
{
    struct wharfd wd;
    char err[PATH_MAX + 256], db[PATH_MAX];
    sigset_t sigs;
    int sig;

    memset(&wd, 0, sizeof(wd));
    wd.server.listen_fd = -1;
    atomic_init(&wd.stopping, 0);

    if (wharfd_config_load(&wd.config, argc, argv, err, sizeof(err)) != 0) {
        fprintf(stderr, "wharfd: %s\n", err);
        return 2;
    }
    if (wd.config.action == WHARFD_PRINT_HELP) {
        wharfd_config_usage(stdout);
        return 0;
    }
    if (wd.config.action == WHARFD_PRINT_VERSION) {
        printf("wharfd %s\n", WHARFD_VERSION);
        return 0;
    }
    wharf_log_init("wharfd", (enum wharf_log_level) wd.config.log_level);
    /* Before any thread and any JSON: jansson's allocator is counted. */
    wharfd_budget_init(wd.config.memory_budget);
    /* Before any thread: curl_global_init is not thread-safe. */
    curl_global_init(CURL_GLOBAL_DEFAULT);

    /* SIGTERM and SIGINT are blocked before any thread exists, so all
     * threads inherit the mask and only the sigwait below takes them (no
     * handler runs in a request thread; libfcgi's own SIGTERM handler
     * never fires). A write to a closed connection must fail with EPIPE,
     * not kill the process. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* The socket first: an address in use is found before a database is
     * created; connections wait in the backlog while migrations run. */
    if (wharfd_server_open(&wd) != 0) {
        wharfd_server_close(&wd);
        return 1;
    }
    if (wharfd_auth_init(&wd.auth, wd.config.public_keys,
                         wd.config.npublic_keys, wd.config.auth_off)
        != 0) {
        wharfd_server_close(&wd);
        return 1;
    }
    if (wd.config.auth_off) {
        wharf_warn("--auth off: every request is let in as an operator");
    }
    if (wharfd_store_open(&wd.store, wd.config.db) != 0) {
        wharfd_server_close(&wd);
        wharfd_auth_free(&wd.auth);
        return 1;
    }
    /* The recent rows rely on this wharfd writing alone: on PostgreSQL,
     * others write too (recent.h). */
    if (wharfd_recent_init(
            &wd.recent,
            wharfd_store_target_is_pg(wd.config.db) ? 0 : wd.config.recent_rows,
            wd.config.recent_memory, wd.config.recent_idle)
        != 0) {
        wharf_error("the recent rows: out of memory");
        wharfd_server_close(&wd);
        wharfd_store_close(wd.store);
        wharfd_auth_free(&wd.auth);
        return 1;
    }
    /* Before the first write: the server and retention start after. */
    wharfd_store_set_publisher(wd.store, published, wharfd_feed_listening, &wd);
    if (wharfd_feed_start(&wd) != 0 || wharfd_retention_start(&wd) != 0
        || wharfd_server_start(&wd) != 0) {
        wharfd_retention_stop(&wd);
        wharfd_feed_stop(&wd);
        wharfd_server_stop(&wd, WHARFD_SHUTDOWN_GRACE_S);
        wharfd_server_close(&wd);
        wharfd_store_close(wd.store);
        wharfd_recent_destroy(&wd.recent);
        wharfd_auth_free(&wd.auth);
        return 1;
    }

    /* Tests and scripts wait for this line. */
    if (wd.config.has_ws_listen) {
        wharf_info("live feed on %s", wd.config.ws_listen.text);
    }
    printf("wharfd listening on %s\n", wd.config.listen.text);
    fflush(stdout);
    /* a URL's password never reaches a log */
    wharf_info("listening on %s, %u threads, database %s (%s)",
               wd.config.listen.text, wd.config.threads,
               wharfd_store_target_safe(wd.config.db, db, sizeof(db)),
               wharfd_store_engine(wd.store));

    while (sigwait(&sigs, &sig) != 0) {
        /* EINTR cannot happen for sigwait; loop for form's sake. */
    }
    wharf_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");

    wharfd_retention_stop(&wd);
    if (wharfd_server_stop(&wd, WHARFD_SHUTDOWN_GRACE_S) != 0) {
        /* Threads still hold the store: leave it open. The WAL keeps the
         * file consistent; an unfinished request is simply lost. _exit,
         * not return: returning would pop `wd` from under the threads
         * still using it and run exit handlers (libraries' cleanup)
         * beside them (valgrind: invalid reads of `wd` after main). */
        fflush(stdout);
        _exit(1);
    }
    wharfd_server_close(&wd);
    wharfd_feed_stop(&wd);
    wharfd_store_close(wd.store);
    wharfd_recent_destroy(&wd.recent);
    wharfd_auth_free(&wd.auth);
    wharf_info("stopped");
    return 0;
}
