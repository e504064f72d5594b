/*
 * wharfd's settings: defaults, then --config FILE, then the command line
 * (each later source overrides the earlier one), all read from one table
 * (config.c, common/opts.h), which --help and the table in docs/wharfd.md
 * come from (tests/unit/test_wharfd_config.c checks the docs against it).
 *
 * The file has one "key = value" a line, '#' starts a comment; the keys are
 * the long option names without the dashes (listen, db, threads,
 * log-level, body-limit, socket-mode). A bad value in either source is a
 * usage error: main exits 2 with a message naming the flag or file:line.
 *
 * A new option: a field below, a row in config.c's table (its setter, an
 * opts.h one or its own), a row in docs/wharfd.md's table.
 */
#ifndef WHARFD_CONFIG_H
#define WHARFD_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/un.h>

#include "name.h"
#include "opts.h"

/* Largest accepted request body. Kept in memory whole, once per busy
 * thread, so threads * limit bounds the memory used for bodies. 8 MiB
 * (a plain number: --help shows it as written). */
#define WHARFD_BODY_LIMIT_DEFAULT 8388608
#define WHARFD_BODY_LIMIT_MAX     (1UL << 30)

#define WHARFD_THREADS_DEFAULT 4
#define WHARFD_THREADS_MAX     256

/*
 * Mode of a unix listen socket. 0660, not 0666: until the auth issue lands
 * the socket is the only thing between local users and the monitoring
 * data, so only wharfd's user and group may connect. Give nginx's worker
 * user that group (or run wharfd with nginx's group); --socket-mode 0666
 * is there for development boxes that cannot.
 */
#define WHARFD_SOCKET_MODE_DEFAULT 0660

enum wharfd_listen_kind {
    WHARFD_LISTEN_UNIX,
    WHARFD_LISTEN_TCP
};

/* A parsed --listen: "unix:/path/to.sock" or "IPV4:PORT". */
struct wharfd_listen {
    enum wharfd_listen_kind kind;
    char path[sizeof(((struct sockaddr_un *) 0)->sun_path)];     /* unix */
    char host[16];                                               /* tcp */
    unsigned port;                                               /* tcp */
    char text[sizeof(((struct sockaddr_un *) 0)->sun_path) + 8]; /* as given */
};

enum wharfd_action {
    WHARFD_RUN = 0,
    WHARFD_PRINT_HELP,
    WHARFD_PRINT_VERSION
};

/* Largest logs/errors array of one storeLogs/storeErrors call. */
#define WHARFD_BATCH_MAX_DEFAULT 10000
#define WHARFD_BATCH_MAX_MAX     1000000

/* Largest message of a log or error, in bytes. */
#define WHARFD_MESSAGE_MAX_DEFAULT 65536

/* Retention defaults: 7 days of logs and errors; no count limit. */
#define WHARFD_RETENTION_DAYS_DEFAULT     7
#define WHARFD_RETENTION_INTERVAL_DEFAULT 60 /* seconds between runs */

/* Longest retention age, in seconds: 36500 days, as --log-days. */
#define WHARFD_RETENTION_AGE_MAX (36500LL * 86400)

/* Workers that may have retention values of their own
 * (--retention-worker, repeatable). */
#define WHARFD_RETENTION_WORKERS_MAX 256

/*
 * One --retention-worker NAME:KEY=VALUE[,KEY=VALUE...]: the values that
 * replace the global ones for the worker NAME (an exact worker name).
 * A key not given keeps the global value (-1 here).
 */
struct wharfd_retention_worker {
    char name[WHARF_NAME_MAX + 1];
    long long max_logs;  /* newest logs kept, 0: no limit */
    long long log_age;   /* seconds, 0: logs are kept */
    long long error_age; /* seconds, 0: errors are kept */
};

/* --public-key paths at most (each may be a folder of keys). */
#define WHARFD_PUBLIC_KEYS_MAX 16

/* How long process control waits for the gateway and agent. */
#define WHARFD_CONTROL_TIMEOUT_DEFAULT 10 /* seconds */

/* Messages queued per feed client before it is lagged. */
#define WHARFD_FEED_QUEUE_DEFAULT 1024

#define WHARFD_GATEWAY_DEFAULT "http://127.0.0.1:8080"

struct wharfd_config {
    int action; /* enum wharfd_action */
    struct wharfd_listen listen;
    int has_listen;
    char db[PATH_MAX];
    char name[128]; /* --name: the wharfd label of /metrics */
    unsigned threads;
    int log_level;        /* enum wharf_log_level */
    size_t body_limit;    /* bytes */
    unsigned socket_mode; /* permission bits of a unix socket */
    /* --public-key: PEM files or folders of them, in order given; the
     * command line's replace the config file's. */
    char public_keys[WHARFD_PUBLIC_KEYS_MAX][PATH_MAX];
    size_t npublic_keys;
    int public_keys_cli;         /* the list comes from the command line */
    int auth_off;                /* --auth off */
    size_t batch_max;            /* logs/errors per call */
    size_t message_max;          /* bytes of one message */
    unsigned log_days;           /* retention of logs, 0 = keep */
    unsigned error_days;         /* retention of errors, 0 = keep */
    unsigned long max_logs;      /* per worker, 0 = no limit */
    unsigned retention_interval; /* seconds; 0 = retention off */
    struct wharfd_retention_worker
        retention_workers[WHARFD_RETENTION_WORKERS_MAX];
    size_t nretention_workers; /* by name, in the order first given */
    char gateway[256];         /* base URL of the gateway (nginx) */
    unsigned control_timeout;  /* seconds */
    struct wharfd_listen ws_listen;
    int has_ws_listen;
    unsigned feed_queue; /* messages queued per feed client */
    /* the recent rows (recent.h) */
    unsigned recent_rows;  /* per worker; 0: off */
    size_t recent_memory;  /* bytes */
    unsigned recent_idle;  /* seconds */
    char ws_origins[1024]; /* allowed Origins, comma-separated */
    /* the memory budget (budget.h) */
    size_t rpc_batch_max;      /* calls in one JSON-RPC batch */
    size_t answer_max;         /* bytes of one /rpc answer */
    size_t request_memory_max; /* bytes one request holds at once */
    size_t memory_budget;      /* bytes all requests hold at once */
};

/* Fills cfg from defaults, the file named by --config (if any) and argv.
 * On failure writes a one-line reason into err and returns -1. */
int wharfd_config_load(struct wharfd_config *cfg, int argc, char **argv,
                       char *err, size_t errlen);

/* Parses a --listen value into out; -1 with a reason in err if malformed. */
int wharfd_listen_parse(struct wharfd_listen *out, const char *s, char *err,
                        size_t errlen);

/* Writes the --help text. */
void wharfd_config_usage(FILE *out);

/* The options, ending with a row whose name is NULL. */
extern const struct wharf_opt wharfd_options[];

#endif
