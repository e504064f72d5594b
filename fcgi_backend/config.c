/*
 * Settings of wharfd: one table (wharfd_options, below) read by the
 * config file, the command line and --help alike (common/opts.h), so all
 * accept the same keys with the same checks and messages.
 */
#include "errbuf.h"
#include "config.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "duration.h"
#include "recent.h"
#include "log.h"
#include "opts.h"

int
wharfd_listen_parse(struct wharfd_listen *out, const char *s, char *err,
                    size_t errlen)
{
    struct in_addr ia;
    unsigned long port;
    const char *colon;
    size_t hostlen;

    memset(out, 0, sizeof(*out));
    if (strlen(s) >= sizeof(out->text)) {
        return wharf_fail(err, errlen, "--listen %s: too long", s);
    }
    strcpy(out->text, s);

    if (strncmp(s, "unix:", 5) == 0) {
        s += 5;
        /* sun_path must hold the path and its NUL; libfcgi would exit()
         * on a longer one, so it is refused here with a message. */
        if (*s == '\0' || strlen(s) >= sizeof(out->path)) {
            return wharf_fail(
                err, errlen,
                "--listen unix:%s: the socket path must be 1 to %zu "
                "bytes long",
                s, sizeof(out->path) - 1);
        }
        out->kind = WHARFD_LISTEN_UNIX;
        strcpy(out->path, s);
        return 0;
    }

    colon = strrchr(s, ':');
    hostlen = colon ? (size_t) (colon - s) : 0;
    if (colon == NULL || hostlen == 0 || hostlen >= sizeof(out->host)) {
        return wharf_fail(err, errlen,
                          "--listen %s: expected unix:/path or "
                          "IPV4:PORT (e.g. 127.0.0.1:9000)",
                          s);
    }
    memcpy(out->host, s, hostlen);
    out->host[hostlen] = '\0';
    /* An address literal only: libfcgi resolves names with
     * gethostbyname and exits when that fails. */
    if (inet_pton(AF_INET, out->host, &ia) != 1) {
        return wharf_fail(err, errlen,
                          "--listen %s: '%s' is not an IPv4 address", s,
                          out->host);
    }
    if (wharf_opt_parse_ulong(colon + 1, 10, &port) != 0 || port == 0
        || port > 65535) {
        return wharf_fail(err, errlen, "--listen %s: port must be 1..65535", s);
    }
    out->kind = WHARFD_LISTEN_TCP;
    out->port = (unsigned) port;
    return 0;
}

/*
 * --retention-worker NAME:KEY=VALUE[,KEY=VALUE...]. A later one for the
 * same worker replaces the earlier one whole (so the command line's
 * replaces the config file's).
 */
static int
set_retention_worker(const struct wharf_opt *opt, void *conf,
                     const struct wharf_opt_arg *a)
{
    struct wharfd_config *cfg = conf;
    const char *val = a->val;
    char *err = a->err;
    size_t errlen = a->errlen;
    struct wharfd_retention_worker w;
    const char *colon = strchr(val, ':'), *p, *end, *eq;
    char key[32], value[32];
    unsigned long n;
    long long *slot;
    size_t i, len;

    (void) opt;

    memset(&w, 0, sizeof(w));
    w.max_logs = w.log_age = w.error_age = -1;
    if (colon == NULL || colon[1] == '\0') {
        return wharf_fail(err, errlen,
                          "--retention-worker %s: expected "
                          "NAME:KEY=VALUE[,KEY=VALUE...] (keys max-logs, "
                          "log-age, error-age)",
                          val);
    }
    len = (size_t) (colon - val);
    if (!wharf_name_valid(val, len)) {
        return wharf_fail(err, errlen,
                          "--retention-worker %s: '%.*s' is not "
                          "a worker name (1 to %d of a-z, 0-9 and '-', not "
                          "starting with '-')",
                          val, (int) len, val, WHARF_NAME_MAX);
    }
    memcpy(w.name, val, len);
    for (p = colon + 1;; p = end + 1) {
        end = strchr(p, ',');
        if (end == NULL) {
            end = p + strlen(p);
        }
        eq = memchr(p, '=', (size_t) (end - p));
        if (eq == NULL || eq == p) {
            return wharf_fail(err, errlen,
                              "--retention-worker %s: '%.*s' is "
                              "not KEY=VALUE (keys max-logs, log-age, "
                              "error-age)",
                              val, (int) (end - p), p);
        }
        if ((size_t) (end - eq - 1) >= sizeof(value)) {
            return wharf_fail(err, errlen,
                              "--retention-worker %s: the value "
                              "of '%.*s' is too long",
                              val, (int) (eq - p), p);
        }
        /* a key longer than the buffer is unknown anyway */
        snprintf(key, sizeof(key), "%.*s", (int) (eq - p), p);
        snprintf(value, sizeof(value), "%.*s", (int) (end - eq - 1), eq + 1);
        if (strcmp(key, "max-logs") == 0) {
            slot = &w.max_logs;
        } else if (strcmp(key, "log-age") == 0) {
            slot = &w.log_age;
        } else if (strcmp(key, "error-age") == 0) {
            slot = &w.error_age;
        } else {
            return wharf_fail(err, errlen,
                              "--retention-worker %s: unknown key "
                              "'%s' (max-logs, log-age, error-age)",
                              val, key);
        }
        if (*slot != -1) {
            return wharf_fail(err, errlen,
                              "--retention-worker %s: '%s' given "
                              "twice",
                              val, key);
        }
        if (slot == &w.max_logs) {
            if (wharf_opt_parse_ulong(value, 10, &n) != 0
                || n > (unsigned long) LLONG_MAX) {
                return wharf_fail(err, errlen,
                                  "--retention-worker %s: "
                                  "max-logs '%s': must be a number (0: no "
                                  "limit)",
                                  val, value);
            }
            *slot = (long long) n;
        } else if (wharf_duration_parse(value, WHARFD_RETENTION_AGE_MAX, slot)
                   != 0) {
            return wharf_fail(err, errlen,
                              "--retention-worker %s: %s '%s': "
                              "must be seconds or Ns, Nm, Nh, Nd, at most "
                              "36500d (0: kept)",
                              val, key, value);
        }
        if (*end == '\0') {
            break;
        }
    }
    for (i = 0; i < cfg->nretention_workers; i++) {
        if (strcmp(cfg->retention_workers[i].name, w.name) == 0) {
            cfg->retention_workers[i] = w;
            return 0;
        }
    }
    if (cfg->nretention_workers == WHARFD_RETENTION_WORKERS_MAX) {
        return wharf_fail(err, errlen,
                          "--retention-worker %s: at most %d "
                          "workers may have their own retention",
                          val, WHARFD_RETENTION_WORKERS_MAX);
    }
    cfg->retention_workers[cfg->nretention_workers++] = w;
    return 0;
}

/* --listen: a FastCGI address. */
static int
set_listen(const struct wharf_opt *opt, void *conf,
           const struct wharf_opt_arg *a)
{
    struct wharfd_config *cfg = conf;

    (void) opt;
    if (wharfd_listen_parse(&cfg->listen, a->val, a->err, a->errlen) != 0) {
        return -1;
    }
    cfg->has_listen = 1;
    return 0;
}

/* --ws-listen: the feed's address, TCP only. */
static int
set_ws_listen(const struct wharf_opt *opt, void *conf,
              const struct wharf_opt_arg *a)
{
    struct wharfd_config *cfg = conf;

    if (wharfd_listen_parse(&cfg->ws_listen, a->val, a->err, a->errlen) != 0) {
        return -1;
    }
    if (cfg->ws_listen.kind != WHARFD_LISTEN_TCP) {
        return wharf_opt_fail(opt, a, "{flag} {val}: must be IPV4:PORT");
    }
    cfg->has_ws_listen = 1;
    return 0;
}

/* --public-key, repeatable; the command line's list replaces the file's. */
static int
set_public_key(const struct wharf_opt *opt, void *conf,
               const struct wharf_opt_arg *a)
{
    struct wharfd_config *cfg = conf;

    if (a->from == WHARF_OPT_FROM_CLI && !cfg->public_keys_cli) {
        cfg->public_keys_cli = 1;
        cfg->npublic_keys = 0;
    }
    if (*a->val == '\0' || strlen(a->val) >= sizeof(cfg->public_keys[0])) {
        return wharf_opt_fail(opt, a, "{flag} '{val}': empty or too long");
    }
    if (cfg->npublic_keys == WHARFD_PUBLIC_KEYS_MAX) {
        return wharf_fail(a->err, a->errlen,
                          "%s %s: at most %d paths (a folder holds several "
                          "keys)",
                          a->src, a->val, WHARFD_PUBLIC_KEYS_MAX);
    }
    strcpy(cfg->public_keys[cfg->npublic_keys++], a->val);
    return 0;
}

/* --gateway: a base URL, kept without its trailing '/'. */
static int
set_gateway(const struct wharf_opt *opt, void *conf,
            const struct wharf_opt_arg *a)
{
    struct wharfd_config *cfg = conf;
    size_t n = strlen(a->val);

    if ((strncmp(a->val, "http://", 7) != 0
         && strncmp(a->val, "https://", 8) != 0)
        || n >= sizeof(cfg->gateway)) {
        return wharf_opt_fail(opt, a,
                              "{flag} {val}: must be an http:// or https:// "
                              "URL");
    }
    memcpy(cfg->gateway, a->val, n + 1);
    if (cfg->gateway[n - 1] == '/') {
        cfg->gateway[n - 1] = '\0';
    }
    return 0;
}

/* --control-timeout: 1..max; 0 is refused with a message of its own. */
static int
set_control_timeout(const struct wharf_opt *opt, void *conf,
                    const struct wharf_opt_arg *a)
{
    unsigned long n;

    if (wharf_opt_parse_ulong(a->val, 10, &n) != 0 || n > opt->max) {
        return wharf_opt_fail(opt, a, "{flag} {val}: must be 0..{max}");
    }
    if (n < opt->min) {
        return wharf_opt_fail(opt, a, "{flag}: must be >= {min}");
    }
    *(unsigned *) ((char *) conf + opt->offset) = (unsigned) n;
    return 0;
}

static const struct wharf_opt_enum auth_values[] = {
    { "on", 0 },
    { "off", 1 },
    { NULL, 0 },
};

/* A field, checked against the type its setter writes; a string field
 * (a char array: its size is the row's max). */
#define CONF(type, field) WHARF_OPT_FIELD(struct wharfd_config, type, field)
#define CONF_STR(field)   offsetof(struct wharfd_config, field)
#define SIZE_OF(field)    sizeof(((struct wharfd_config *) 0)->field)
#define BYTES_BAD         "{flag} {val}: must be a number of bytes from {min} to {max}"
#define DAYS_MAX          36500

/*
 * Every option, in --help's order. Columns: name (flag and config key),
 * environment variable, the value's name, setter, field, bounds, the
 * message of a value out of bounds (NULL: the setter's), default, help,
 * setter data, flags.
 */
const struct wharf_opt wharfd_options[] = {
    { "listen", NULL, "ADDR", set_listen, 0, 0, 0, NULL, NULL,
      "FastCGI address: unix:/path/to.sock or IPV4:PORT (an IPv4 literal)",
      NULL, WHARF_OPT_REQUIRED },
    { "db", NULL, "PATH", wharf_opt_set_string, CONF_STR(db), 1, SIZE_OF(db),
      NULL, NULL, "SQLite database file, created if missing", NULL,
      WHARF_OPT_REQUIRED },
    { "threads", NULL, "N", wharf_opt_set_unsigned, CONF(unsigned, threads), 1,
      WHARFD_THREADS_MAX, "{flag} {val}: must be a number from {min} to {max}",
      WHARF_OPT_STR(WHARFD_THREADS_DEFAULT), "request threads", NULL, 0 },
    { "log-level", NULL, "LEVEL", wharf_opt_set_log_level, CONF(int, log_level),
      0, 0, NULL, "info", "debug, info, warn or error", NULL, 0 },
    { "body-limit", NULL, "BYTES", wharf_opt_set_size, CONF(size_t, body_limit),
      1, WHARFD_BODY_LIMIT_MAX, BYTES_BAD,
      WHARF_OPT_STR(WHARFD_BODY_LIMIT_DEFAULT), "largest request body", NULL,
      0 },
    { "socket-mode", NULL, "MODE", wharf_opt_set_octal,
      CONF(unsigned, socket_mode), 0, 0777,
      "{flag} {val}: must be octal permissions such as 0660",
      WHARF_OPT_STR(WHARFD_SOCKET_MODE_DEFAULT),
      "octal permissions of a unix listen socket", NULL, 0 },
    { "public-key", NULL, "PATH", set_public_key, 0, 0, 0, NULL, NULL,
      "ES256 public key (a PEM file, or a folder of *.pem) that verifies "
      "bearer tokens; every key given is trusted (key rotation); at "
      "most " WHARF_OPT_STR(
          WHARFD_PUBLIC_KEYS_MAX) " paths, the command line's "
                                  "replacing the config file's",
      NULL, WHARF_OPT_REPEAT },
    { "auth", NULL, "on|off", wharf_opt_set_enum, CONF(int, auth_off), 0, 0,
      "{flag} {val}: must be on or off", "on",
      "off: no token needed, everyone is an operator (development only)",
      auth_values, 0 },
    { "batch-max", NULL, "N", wharf_opt_set_size, CONF(size_t, batch_max), 1,
      WHARFD_BATCH_MAX_MAX, NULL, WHARF_OPT_STR(WHARFD_BATCH_MAX_DEFAULT),
      "most logs/errors per storeLogs/storeErrors call", NULL, 0 },
    { "message-max", NULL, "BYTES", wharf_opt_set_size,
      CONF(size_t, message_max), 1, WHARFD_BODY_LIMIT_MAX, NULL,
      WHARF_OPT_STR(WHARFD_MESSAGE_MAX_DEFAULT), "largest log/error message",
      NULL, 0 },
    { "log-days", NULL, "N", wharf_opt_set_unsigned, CONF(unsigned, log_days),
      0, DAYS_MAX, NULL, WHARF_OPT_STR(WHARFD_RETENTION_DAYS_DEFAULT),
      "delete logs received more than N days ago (0 keeps)", NULL, 0 },
    { "error-days", NULL, "N", wharf_opt_set_unsigned,
      CONF(unsigned, error_days), 0, DAYS_MAX, NULL,
      WHARF_OPT_STR(WHARFD_RETENTION_DAYS_DEFAULT),
      "delete errors not seen for N days (0 keeps)", NULL, 0 },
    { "max-logs", NULL, "N", wharf_opt_set_ulong, CONF(unsigned long, max_logs),
      0, ULONG_MAX, "{flag} {val}: must be a number", "0",
      "keep at most the newest N logs per worker (0: no limit)", NULL, 0 },
    { "retention-interval", NULL, "S", wharf_opt_set_unsigned,
      CONF(unsigned, retention_interval), 0, DAYS_MAX, NULL,
      WHARF_OPT_STR(WHARFD_RETENTION_INTERVAL_DEFAULT),
      "seconds between retention runs (0: off)", NULL, 0 },
    { "retention-worker", NULL, "NAME:KEY=VALUE[,KEY=VALUE...]",
      set_retention_worker, 0, 0, 0, NULL, NULL,
      "the worker NAME's own retention: max-logs=N, log-age=AGE, "
      "error-age=AGE; AGE is seconds or Ns, Nm, Nh, Nd; 0 keeps (no limit)",
      NULL, WHARF_OPT_REPEAT },
    { "gateway", NULL, "URL", set_gateway, 0, 0, 0, NULL,
      WHARFD_GATEWAY_DEFAULT, "the gateway that process control goes through",
      NULL, 0 },
    { "control-timeout", NULL, "S", set_control_timeout,
      CONF(unsigned, control_timeout), 1, DAYS_MAX, NULL,
      WHARF_OPT_STR(WHARFD_CONTROL_TIMEOUT_DEFAULT),
      "seconds to wait for the gateway and agent", NULL, 0 },
    { "name", NULL, "NAME", wharf_opt_set_string, CONF_STR(name), 1,
      SIZE_OF(name), "{flag} '{val}': empty or over 127 bytes", NULL,
      "this wharfd's name in the wharfd label of its /metrics (default: "
      "HOST:LISTEN)",
      NULL, 0 },
    { "ws-listen", NULL, "ADDR", set_ws_listen, 0, 0, 0, NULL, NULL,
      "live feed WebSocket listener, IPV4:PORT", NULL, 0 },
    { "feed-queue", NULL, "N", wharf_opt_set_unsigned,
      CONF(unsigned, feed_queue), 1, 1000000, NULL,
      WHARF_OPT_STR(WHARFD_FEED_QUEUE_DEFAULT),
      "messages queued per feed client before it is lagged", NULL, 0 },
    { "recent-rows", NULL, "N", wharf_opt_set_unsigned,
      CONF(unsigned, recent_rows), 0, WHARFD_RECENT_ROWS_MAX, NULL,
      WHARF_OPT_STR(WHARFD_RECENT_ROWS_DEFAULT),
      "newest logs kept in memory for each worker read lately, which "
      "answer its latest-N reads without the database (SQLite; 0: off)",
      NULL, 0 },
    { "recent-memory", NULL, "BYTES", wharf_opt_set_size,
      CONF(size_t, recent_memory), 65536, WHARFD_MEMORY_LIMIT_MAX, BYTES_BAD,
      WHARF_OPT_STR(WHARFD_RECENT_MEMORY_DEFAULT),
      "most memory the recent logs hold, the least recently read "
      "workers' going first",
      NULL, 0 },
    { "recent-idle", NULL, "S", wharf_opt_set_unsigned,
      CONF(unsigned, recent_idle), 1, DAYS_MAX, NULL,
      WHARF_OPT_STR(WHARFD_RECENT_IDLE_DEFAULT),
      "seconds after its last read that a worker's recent logs are "
      "dropped (at its next write)",
      NULL, 0 },
    { "ws-origins", NULL, "LIST", wharf_opt_set_string, CONF_STR(ws_origins), 0,
      SIZE_OF(ws_origins), "{flag}: too long", NULL,
      "Origins allowed on the feed, comma-separated (none: the host the "
      "browser addressed; a request without Origin is always allowed)",
      NULL, 0 },
    { "rpc-batch-max", NULL, "N", wharf_opt_set_size,
      CONF(size_t, rpc_batch_max), 1, WHARFD_RPC_BATCH_MAX_MAX, NULL,
      WHARF_OPT_STR(WHARFD_RPC_BATCH_MAX_DEFAULT),
      "most calls in one JSON-RPC batch", NULL, 0 },
    { "answer-max", NULL, "BYTES", wharf_opt_set_size, CONF(size_t, answer_max),
      65536, WHARFD_MEMORY_LIMIT_MAX, BYTES_BAD,
      WHARF_OPT_STR(WHARFD_ANSWER_MAX_DEFAULT), "largest /rpc answer", NULL,
      0 },
    { "request-memory-max", NULL, "BYTES", wharf_opt_set_size,
      CONF(size_t, request_memory_max), 65536, WHARFD_MEMORY_LIMIT_MAX,
      BYTES_BAD, WHARF_OPT_STR(WHARFD_REQUEST_MEMORY_MAX_DEFAULT),
      "memory one request may hold: body, parsed calls, answer", NULL, 0 },
    { "memory-budget", NULL, "BYTES", wharf_opt_set_size,
      CONF(size_t, memory_budget), 65536, WHARFD_MEMORY_LIMIT_MAX, BYTES_BAD,
      WHARF_OPT_STR(WHARFD_MEMORY_BUDGET_DEFAULT),
      "memory all requests may hold at once", NULL, 0 },
    { "config", NULL, "FILE", NULL, 0, 0, 0, NULL, NULL,
      "read 'key = value' lines first; the command line wins", NULL,
      WHARF_OPT_CLI | WHARF_OPT_CONFIG },
    { "help", NULL, NULL, wharf_opt_set_flag, CONF(int, action), 0,
      WHARFD_PRINT_HELP, NULL, NULL, "this text", NULL,
      WHARF_OPT_CLI | WHARF_OPT_SWITCH | WHARF_OPT_STOP },
    { "version", NULL, NULL, wharf_opt_set_flag, CONF(int, action), 0,
      WHARFD_PRINT_VERSION, NULL, NULL, "the version", NULL,
      WHARF_OPT_CLI | WHARF_OPT_SWITCH | WHARF_OPT_STOP },
    { NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 },
};

void
wharfd_config_usage(FILE *out)
{
    fputs("usage: wharfd --listen ADDR --db PATH [options]\n"
          "\n"
          "FastCGI backend of the wharf orchestrator (JSON-RPC, REST, "
          "storage).\n"
          "Each option is also a config file key (--config), but --config,\n"
          "--help and --version.\n"
          "\n",
          out);
    wharf_opts_help(wharfd_options, out);
}

int
wharfd_config_load(struct wharfd_config *cfg, int argc, char **argv, char *err,
                   size_t errlen)
{
    int stopped;

    memset(cfg, 0, sizeof(*cfg));
    if (wharf_opts_load(wharfd_options, cfg, argc, argv, NULL, NULL, &stopped,
                        err, errlen)
        != 0) {
        return -1;
    }
    if (stopped) {
        return 0; /* --help, --version */
    }
    /* a request of the largest body must be able to run at all */
    if (cfg->request_memory_max <= cfg->body_limit) {
        return wharf_fail(err, errlen,
                          "--request-memory-max %zu must be more than "
                          "--body-limit %zu (a request holds its body, and "
                          "its parsed calls beside it)",
                          cfg->request_memory_max, cfg->body_limit);
    }
    if (cfg->memory_budget < cfg->request_memory_max) {
        return wharf_fail(err, errlen,
                          "--memory-budget %zu must be at least "
                          "--request-memory-max %zu",
                          cfg->memory_budget, cfg->request_memory_max);
    }
    return 0;
}
