/*
 * Settings of wharfd: one setter (config_set) shared by the config file
 * and the command line, so both accept the same keys with the same checks.
 */
#include "errbuf.h"
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "duration.h"
#include "log.h"

const char wharfd_usage[] =
    "usage: wharfd --listen ADDR --db PATH [options]\n"
    "\n"
    "FastCGI backend of the wharf orchestrator (JSON-RPC, REST, storage).\n"
    "\n"
    "  --listen ADDR       unix:/path/to.sock or 127.0.0.1:PORT (an IPv4 "
    "literal)\n"
    "  --db PATH           SQLite database file, created if missing\n"
    "  --threads N         request threads (default 4, 1..256)\n"
    "  --log-level L       debug, info, warn or error (default info)\n"
    "  --body-limit BYTES  largest request body (default 8388608)\n"
    "  --socket-mode MODE  octal permissions of a unix socket (default 0660)\n"
    "  --public-key PATH   ES256 public key (PEM file, or a folder of *.pem)\n"
    "                      that verifies bearer tokens; repeatable: every\n"
    "                      key given is trusted (key rotation)\n"
    "  --auth on|off       off: no token needed, everyone is an operator\n"
    "                      (development only; default on)\n"
    "  --batch-max N       most logs/errors per storeLogs/storeErrors (10000)\n"
    "  --message-max BYTES largest log/error message (65536)\n"
    "  --log-days N        delete logs older than N days (7; 0 keeps)\n"
    "  --error-days N      delete errors not seen for N days (7; 0 keeps)\n"
    "  --max-logs N        keep at most N logs per worker (0: no limit)\n"
    "  --retention-interval S  seconds between retention runs (60; 0 off)\n"
    "  --retention-worker NAME:KEY=VALUE[,KEY=VALUE...]\n"
    "                      the worker NAME's own retention (repeatable):\n"
    "                      max-logs=N, log-age=AGE, error-age=AGE; AGE is\n"
    "                      seconds or Ns, Nm, Nh, Nd; 0 keeps (no limit)\n"
    "  --gateway URL       the gateway for process control\n"
    "                      (default http://127.0.0.1:8080)\n"
    "  --control-timeout S seconds to wait for an agent (default 10)\n"
    "  --ws-listen ADDR    live feed WebSocket listener, IPV4:PORT\n"
    "  --feed-queue N      messages queued per feed client (1024)\n"
    "  --ws-origins LIST   Origins allowed on the feed, comma-separated\n"
    "                      (default: the host the browser addressed; a\n"
    "                      request without Origin is always allowed)\n"
    "  --rpc-batch-max N   most calls in one JSON-RPC batch (1000)\n"
    "  --answer-max BYTES  largest /rpc answer (33554432)\n"
    "  --request-memory-max BYTES  memory one request may hold: body,\n"
    "                      parsed calls, answer (67108864)\n"
    "  --memory-budget BYTES  memory all requests may hold at once\n"
    "                      (268435456)\n"
    "  --config FILE       read 'key = value' lines first; the command line "
    "wins\n"
    "  --help, --version\n";

/* Strict unsigned parse: digits only (in the given base), no overflow. */
static int
parse_ulong(const char *s, int base, unsigned long *out)
{
    char *end;

    if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ') {
        return -1;
    }
    errno = 0;
    *out = strtoul(s, &end, base);
    return (errno != 0 || *end != '\0') ? -1 : 0;
}

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
    if (parse_ulong(colon + 1, 10, &port) != 0 || port == 0 || port > 65535) {
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
config_retention_worker(struct wharfd_config *cfg, const char *val, char *err,
                        size_t errlen)
{
    struct wharfd_retention_worker w;
    const char *colon = strchr(val, ':'), *p, *end, *eq;
    char key[32], value[32];
    unsigned long n;
    long long *slot;
    size_t i, len;

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
            if (parse_ulong(value, 10, &n) != 0
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

/* Applies one setting; key is the long option name without dashes. */
static int
config_set(struct wharfd_config *cfg, const char *key, const char *val,
           char *err, size_t errlen)
{
    unsigned long n;
    int level;

    if (strcmp(key, "listen") == 0) {
        if (wharfd_listen_parse(&cfg->listen, val, err, errlen) != 0) {
            return -1;
        }
        cfg->has_listen = 1;

    } else if (strcmp(key, "db") == 0) {
        if (*val == '\0' || strlen(val) >= sizeof(cfg->db)) {
            return wharf_fail(err, errlen, "--db '%s': empty or too long", val);
        }
        strcpy(cfg->db, val);

    } else if (strcmp(key, "threads") == 0) {
        if (parse_ulong(val, 10, &n) != 0 || n < 1 || n > WHARFD_THREADS_MAX) {
            return wharf_fail(err, errlen,
                              "--threads %s: must be a number "
                              "from 1 to %d",
                              val, WHARFD_THREADS_MAX);
        }
        cfg->threads = (unsigned) n;

    } else if (strcmp(key, "log-level") == 0) {
        level = wharf_log_level_parse(val);
        if (level < 0) {
            return wharf_fail(err, errlen,
                              "--log-level %s: must be debug, info, "
                              "warn or error",
                              val);
        }
        cfg->log_level = level;

    } else if (strcmp(key, "body-limit") == 0) {
        if (parse_ulong(val, 10, &n) != 0 || n < 1
            || n > WHARFD_BODY_LIMIT_MAX) {
            return wharf_fail(err, errlen,
                              "--body-limit %s: must be a number of "
                              "bytes from 1 to %lu",
                              val, WHARFD_BODY_LIMIT_MAX);
        }
        cfg->body_limit = n;

    } else if (strcmp(key, "socket-mode") == 0) {
        if (parse_ulong(val, 8, &n) != 0 || n > 0777) {
            return wharf_fail(err, errlen,
                              "--socket-mode %s: must be octal "
                              "permissions such as 0660",
                              val);
        }
        cfg->socket_mode = (unsigned) n;

    } else if (strcmp(key, "public-key") == 0) {
        if (*val == '\0' || strlen(val) >= sizeof(cfg->public_keys[0])) {
            return wharf_fail(err, errlen,
                              "--public-key '%s': empty or too long", val);
        }
        if (cfg->npublic_keys == WHARFD_PUBLIC_KEYS_MAX) {
            return wharf_fail(err, errlen,
                              "--public-key %s: at most %d paths (a "
                              "folder holds several keys)",
                              val, WHARFD_PUBLIC_KEYS_MAX);
        }
        strcpy(cfg->public_keys[cfg->npublic_keys++], val);

    } else if (strcmp(key, "auth") == 0) {
        if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0) {
            return wharf_fail(err, errlen, "--auth %s: must be on or off", val);
        }
        cfg->auth_off = strcmp(val, "off") == 0;

    } else if (strcmp(key, "batch-max") == 0) {
        if (parse_ulong(val, 10, &n) != 0 || n < 1
            || n > WHARFD_BATCH_MAX_MAX) {
            return wharf_fail(err, errlen, "--batch-max %s: must be 1..%d", val,
                              WHARFD_BATCH_MAX_MAX);
        }
        cfg->batch_max = n;

    } else if (strcmp(key, "message-max") == 0) {
        if (parse_ulong(val, 10, &n) != 0 || n < 1
            || n > WHARFD_BODY_LIMIT_MAX) {
            return wharf_fail(err, errlen, "--message-max %s: must be 1..%lu",
                              val, WHARFD_BODY_LIMIT_MAX);
        }
        cfg->message_max = n;

    } else if (strcmp(key, "log-days") == 0 || strcmp(key, "error-days") == 0
               || strcmp(key, "retention-interval") == 0
               || strcmp(key, "control-timeout") == 0) {
        if (parse_ulong(val, 10, &n) != 0 || n > 36500) {
            return wharf_fail(err, errlen, "--%s %s: must be 0..36500", key,
                              val);
        }
        if (key[0] == 'l') {
            cfg->log_days = (unsigned) n;
        } else if (key[0] == 'e') {
            cfg->error_days = (unsigned) n;
        } else if (key[0] == 'r') {
            cfg->retention_interval = (unsigned) n;
        } else {
            if (n == 0) {
                return wharf_fail(err, errlen,
                                  "--control-timeout: must be >= 1");
            }
            cfg->control_timeout = (unsigned) n;
        }

    } else if (strcmp(key, "max-logs") == 0) {
        if (parse_ulong(val, 10, &n) != 0) {
            return wharf_fail(err, errlen, "--max-logs %s: must be a number",
                              val);
        }
        cfg->max_logs = n;

    } else if (strcmp(key, "retention-worker") == 0) {
        return config_retention_worker(cfg, val, err, errlen);

    } else if (strcmp(key, "gateway") == 0) {
        if ((strncmp(val, "http://", 7) != 0
             && strncmp(val, "https://", 8) != 0)
            || strlen(val) >= sizeof(cfg->gateway)) {
            return wharf_fail(err, errlen,
                              "--gateway %s: must be an http:// or "
                              "https:// URL",
                              val);
        }
        strcpy(cfg->gateway, val);
        if (cfg->gateway[strlen(cfg->gateway) - 1] == '/') {
            cfg->gateway[strlen(cfg->gateway) - 1] = '\0';
        }

    } else if (strcmp(key, "feed-queue") == 0) {
        if (parse_ulong(val, 10, &n) != 0 || n < 1 || n > 1000000) {
            return wharf_fail(err, errlen,
                              "--feed-queue %s: must be 1..1000000", val);
        }
        cfg->feed_queue = (unsigned) n;

    } else if (strcmp(key, "ws-origins") == 0) {
        if (strlen(val) >= sizeof(cfg->ws_origins)) {
            return wharf_fail(err, errlen, "--ws-origins: too long");
        }
        strcpy(cfg->ws_origins, val);

    } else if (strcmp(key, "rpc-batch-max") == 0) {
        if (parse_ulong(val, 10, &n) != 0 || n < 1
            || n > WHARFD_RPC_BATCH_MAX_MAX) {
            return wharf_fail(err, errlen, "--rpc-batch-max %s: must be 1..%d",
                              val, WHARFD_RPC_BATCH_MAX_MAX);
        }
        cfg->rpc_batch_max = n;

    } else if (strcmp(key, "answer-max") == 0
               || strcmp(key, "request-memory-max") == 0
               || strcmp(key, "memory-budget") == 0) {
        if (parse_ulong(val, 10, &n) != 0 || n < 65536
            || n > WHARFD_MEMORY_LIMIT_MAX) {
            return wharf_fail(err, errlen,
                              "--%s %s: must be a number of bytes from 65536 "
                              "to %lu",
                              key, val, WHARFD_MEMORY_LIMIT_MAX);
        }
        if (key[0] == 'a') {
            cfg->answer_max = n;
        } else if (key[0] == 'r') {
            cfg->request_memory_max = n;
        } else {
            cfg->memory_budget = n;
        }

    } else if (strcmp(key, "ws-listen") == 0) {
        if (wharfd_listen_parse(&cfg->ws_listen, val, err, errlen) != 0) {
            return -1;
        }
        if (cfg->ws_listen.kind != WHARFD_LISTEN_TCP) {
            return wharf_fail(err, errlen, "--ws-listen %s: must be IPV4:PORT",
                              val);
        }
        cfg->has_ws_listen = 1;

    } else {
        return wharf_fail(err, errlen, "unknown setting '%s'", key);
    }
    return 0;
}

static char *
trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    end = s + strlen(s);
    while (end > s
           && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'
               || end[-1] == '\r')) {
        *--end = '\0';
    }
    return s;
}

static int
config_file(struct wharfd_config *cfg, const char *path, char *err,
            size_t errlen)
{
    char line[PATH_MAX + 64], why[512], *key, *val, *eq;
    unsigned lineno = 0;
    FILE *f;
    int rc = 0;

    f = fopen(path, "r");
    if (f == NULL) {
        return wharf_fail(err, errlen, "--config %s: %s", path,
                          strerror(errno));
    }
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        key = trim(line);
        if (*key == '\0' || *key == '#') {
            continue;
        }
        eq = strchr(key, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "%s:%u: expected 'key = value'", path,
                     lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        val = trim(eq + 1);
        key = trim(key);
        if (config_set(cfg, key, val, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

int
wharfd_config_load(struct wharfd_config *cfg, int argc, char **argv, char *err,
                   size_t errlen)
{
    static const struct option opts[] = {
        { "listen", required_argument, NULL, 'l' },
        { "db", required_argument, NULL, 'd' },
        { "threads", required_argument, NULL, 't' },
        { "log-level", required_argument, NULL, 'L' },
        { "body-limit", required_argument, NULL, 'b' },
        { "socket-mode", required_argument, NULL, 'm' },
        { "public-key", required_argument, NULL, 'p' },
        { "auth", required_argument, NULL, 'a' },
        { "batch-max", required_argument, NULL, 'B' },
        { "message-max", required_argument, NULL, 'M' },
        { "log-days", required_argument, NULL, 'D' },
        { "error-days", required_argument, NULL, 'E' },
        { "max-logs", required_argument, NULL, 'N' },
        { "retention-interval", required_argument, NULL, 'R' },
        { "retention-worker", required_argument, NULL, 'W' },
        { "gateway", required_argument, NULL, 'g' },
        { "control-timeout", required_argument, NULL, 'T' },
        { "ws-listen", required_argument, NULL, 'w' },
        { "feed-queue", required_argument, NULL, 'Q' },
        { "ws-origins", required_argument, NULL, 'O' },
        { "rpc-batch-max", required_argument, NULL, 'K' },
        { "answer-max", required_argument, NULL, 'A' },
        { "request-memory-max", required_argument, NULL, 'X' },
        { "memory-budget", required_argument, NULL, 'G' },
        { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    const char *config_path = NULL;
    int c, i, idx;

    memset(cfg, 0, sizeof(*cfg));
    cfg->threads = WHARFD_THREADS_DEFAULT;
    cfg->log_level = WHARF_LOG_INFO;
    cfg->body_limit = WHARFD_BODY_LIMIT_DEFAULT;
    cfg->socket_mode = WHARFD_SOCKET_MODE_DEFAULT;
    cfg->batch_max = WHARFD_BATCH_MAX_DEFAULT;
    cfg->message_max = WHARFD_MESSAGE_MAX_DEFAULT;
    cfg->log_days = WHARFD_RETENTION_DAYS_DEFAULT;
    cfg->error_days = WHARFD_RETENTION_DAYS_DEFAULT;
    cfg->retention_interval = WHARFD_RETENTION_INTERVAL_DEFAULT;
    cfg->control_timeout = WHARFD_CONTROL_TIMEOUT_DEFAULT;
    cfg->feed_queue = 1024;
    strcpy(cfg->gateway, "http://127.0.0.1:8080");
    cfg->rpc_batch_max = WHARFD_RPC_BATCH_MAX_DEFAULT;
    cfg->answer_max = WHARFD_ANSWER_MAX_DEFAULT;
    cfg->request_memory_max = WHARFD_REQUEST_MEMORY_MAX_DEFAULT;
    cfg->memory_budget = WHARFD_MEMORY_BUDGET_DEFAULT;

    /* The file comes first whatever its place on the command line, so
     * that every flag overrides it. */
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_path = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            config_path = argv[i] + 9;
        }
    }
    if (config_path != NULL
        && config_file(cfg, config_path, err, errlen) != 0) {
        return -1;
    }

    optind = 0; /* GNU: full re-initialisation, for repeated calls */
    opterr = 0; /* our own messages, on err */
    while ((c = getopt_long(argc, argv, ":h", opts, &idx)) != -1) {
        switch (c) {
        case 'h':
            cfg->action = WHARFD_PRINT_HELP;
            return 0;
        case 'V':
            cfg->action = WHARFD_PRINT_VERSION;
            return 0;
        case 'c':
            break;
        case ':':
            return wharf_fail(err, errlen, "%s: missing value",
                              argv[optind - 1]);
        case '?':
            return wharf_fail(err, errlen, "unknown option '%s' (see --help)",
                              argv[optind - 1]);
        default:
            /* the command line's keys replace the file's, not add */
            if (c == 'p' && !cfg->public_keys_cli) {
                cfg->public_keys_cli = 1;
                cfg->npublic_keys = 0;
            }
            if (config_set(cfg, opts[idx].name, optarg, err, errlen) != 0) {
                return -1;
            }
        }
    }
    if (optind < argc) {
        return wharf_fail(err, errlen, "unexpected argument '%s' (see --help)",
                          argv[optind]);
    }
    if (!cfg->has_listen) {
        return wharf_fail(err, errlen, "--listen is required (see --help)");
    }
    if (cfg->db[0] == '\0') {
        return wharf_fail(err, errlen, "--db is required (see --help)");
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
