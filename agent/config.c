/* Flags and environment variables: see config.h. */
#include "errbuf.h"
#include "config.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lines.h"
#include "log.h"
#include "proc.h"
#include "ship.h"

const char agent_config_usage[] =
    "usage: wharf-agent --worker NAME --listen HOST:PORT [--container C]\n"
    "                   [--terminal-cmd CMD] [--kill-timeout-ms N]\n"
    "                   [--orchestrator URL[,URL...] ...] [--failback-ms N]\n"
    "                   [--token-file PATH]\n"
    "                   [--log-level debug|info|warn|error]\n"
    "                   [--public-key PEM|DIR ... | --insecure-no-auth]\n"
    "                   [--allowed-origins LIST] [--config FILE]\n"
    "                   [--buffer-bytes N] [--buffer-compress on|off]\n"
    "                   [--line-max N]\n"
    "                   [--ship-timeout-ms N] [--flush-timeout-ms N]\n"
    "                   [--ship-inflight N]\n"
    "                   [--instance-id ID] [--port N] [--fatal-restart "
    "on|off]\n"
    "                   [-- CMD ARGS...]\n"
    "Each flag may also be set by an environment variable: WHARF_WORKER,\n"
    "WHARF_LISTEN, WHARF_CONTAINER, WHARF_TERMINAL_CMD, "
    "WHARF_KILL_TIMEOUT_MS,\n"
    "WHARF_ORCHESTRATOR, WHARF_TOKEN_FILE, WHARF_LOG_LEVEL, WHARF_PUBLIC_KEY,\n"
    "WHARF_INSECURE_NO_AUTH=1, WHARF_ALLOWED_ORIGINS, WHARF_CONFIG,\n"
    "WHARF_BUFFER_BYTES, WHARF_LINE_MAX, WHARF_SHIP_TIMEOUT_MS,\n"
    "WHARF_FLUSH_TIMEOUT_MS, WHARF_SHIP_INFLIGHT, WHARF_INSTANCE_ID, "
    "WHARF_APP_PORT,\n"
    "WHARF_FATAL_RESTART, WHARF_BUFFER_COMPRESS, WHARF_FAILBACK_MS (a flag\n"
    "wins).\n"
    "Several orchestrators (--orchestrator repeated, or URLs separated by\n"
    "commas): the agent ships through the first that answers, fails over to\n"
    "the next when one fails, and tries the first again --failback-ms later.\n"
    "The ingest token comes from WHARF_TOKEN or a file (--token-file,\n"
    "WHARF_TOKEN_FILE), never from the command line, which every user sees.\n"
    "--buffer-bytes bounds the log lines kept while the orchestrator is away\n"
    "or slow (uncompressed bytes); --buffer-compress on (default) keeps them\n"
    "LZ4-compressed in memory.\n";

enum opt_id {
    OPT_WORKER,
    OPT_LISTEN,
    OPT_CONTAINER,
    OPT_TERMINAL_CMD,
    OPT_KILL_TIMEOUT,
    OPT_ORCHESTRATOR,
    OPT_TOKEN,
    OPT_TOKEN_FILE,
    OPT_LOG_LEVEL,
    OPT_PUBLIC_KEY,
    OPT_ALLOWED_ORIGINS,
    OPT_CONFIG,
    OPT_BUFFER_BYTES,
    OPT_LINE_MAX,
    OPT_SHIP_TIMEOUT,
    OPT_FLUSH_TIMEOUT,
    OPT_SHIP_INFLIGHT,
    OPT_INSTANCE_ID,
    OPT_APP_PORT,
    OPT_FATAL_RESTART,
    OPT_BUFFER_COMPRESS,
    OPT_FAILBACK,
    OPT_COUNT
};

static const struct {
    const char *flag;
    const char *env;
} opts[OPT_COUNT] = {
    [OPT_WORKER] = { "--worker", "WHARF_WORKER" },
    [OPT_LISTEN] = { "--listen", "WHARF_LISTEN" },
    [OPT_CONTAINER] = { "--container", "WHARF_CONTAINER" },
    [OPT_TERMINAL_CMD] = { "--terminal-cmd", "WHARF_TERMINAL_CMD" },
    [OPT_KILL_TIMEOUT] = { "--kill-timeout-ms", "WHARF_KILL_TIMEOUT_MS" },
    [OPT_ORCHESTRATOR] = { "--orchestrator", "WHARF_ORCHESTRATOR" },
    /* the environment only: --token is refused (agent_config_parse) */
    [OPT_TOKEN] = { "--token", "WHARF_TOKEN" },
    [OPT_TOKEN_FILE] = { "--token-file", "WHARF_TOKEN_FILE" },
    [OPT_LOG_LEVEL] = { "--log-level", "WHARF_LOG_LEVEL" },
    [OPT_PUBLIC_KEY] = { "--public-key", "WHARF_PUBLIC_KEY" },
    [OPT_ALLOWED_ORIGINS] = { "--allowed-origins", "WHARF_ALLOWED_ORIGINS" },
    [OPT_CONFIG] = { "--config", "WHARF_CONFIG" },
    [OPT_BUFFER_BYTES] = { "--buffer-bytes", "WHARF_BUFFER_BYTES" },
    [OPT_LINE_MAX] = { "--line-max", "WHARF_LINE_MAX" },
    [OPT_SHIP_TIMEOUT] = { "--ship-timeout-ms", "WHARF_SHIP_TIMEOUT_MS" },
    [OPT_FLUSH_TIMEOUT] = { "--flush-timeout-ms", "WHARF_FLUSH_TIMEOUT_MS" },
    [OPT_SHIP_INFLIGHT] = { "--ship-inflight", "WHARF_SHIP_INFLIGHT" },
    [OPT_INSTANCE_ID] = { "--instance-id", "WHARF_INSTANCE_ID" },
    [OPT_APP_PORT] = { "--port", "WHARF_APP_PORT" },
    [OPT_FATAL_RESTART] = { "--fatal-restart", "WHARF_FATAL_RESTART" },
    [OPT_BUFFER_COMPRESS] = { "--buffer-compress", "WHARF_BUFFER_COMPRESS" },
    [OPT_FAILBACK] = { "--failback-ms", "WHARF_FAILBACK_MS" },
};

static const char *
env_lookup(char *const envp[], const char *name)
{
    size_t n = strlen(name);

    for (; envp != NULL && *envp != NULL; envp++) {
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=') {
            return *envp + n + 1;
        }
    }
    return NULL;
}

/* Strict decimal: digits only, at most max. */
static int
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;

    if (*s == '\0') {
        return -1;
    }
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }
        v = v * 10 + (unsigned long) (*s - '0');
        if (v > max) {
            return -1;
        }
    }
    *out = v;
    return 0;
}

int
agent_config_parse_listen(struct agent_config *cfg, const char *addr, char *err,
                          size_t errlen)
{
    const char *colon, *host, *port;
    size_t hostlen;
    unsigned long p;
    unsigned char bin[16];
    char hostbuf[AGENT_HOST_MAX];

    if (addr[0] == '[') {
        /* [IPv6]:PORT */
        const char *close = strchr(addr, ']');

        if (close == NULL || close[1] != ':') {
            return wharf_fail(err, errlen, "--listen %s: expected [IPV6]:PORT",
                              addr);
        }
        host = addr + 1;
        hostlen = (size_t) (close - host);
        port = close + 2;
        cfg->listen_ipv6 = 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL) {
            return wharf_fail(err, errlen, "--listen %s: expected HOST:PORT",
                              addr);
        }
        host = addr;
        hostlen = (size_t) (colon - addr);
        port = colon + 1;
        cfg->listen_ipv6 = 0;
    }
    if (hostlen >= sizeof(hostbuf)) {
        return wharf_fail(err, errlen, "--listen %s: host too long", addr);
    }
    memcpy(hostbuf, host, hostlen);
    hostbuf[hostlen] = '\0';

    if (parse_uint(port, 65535, &p) != 0) {
        return wharf_fail(err, errlen, "--listen %s: port must be 0..65535",
                          addr);
    }
    cfg->listen_port = (int) p;

    if (cfg->listen_ipv6) {
        if (inet_pton(AF_INET6, hostbuf, bin) != 1) {
            return wharf_fail(err, errlen, "--listen %s: not an IPv6 address",
                              addr);
        }
        snprintf(cfg->listen_host, sizeof(cfg->listen_host), "%s", hostbuf);
        snprintf(cfg->listen_text, sizeof(cfg->listen_text), "[%s]", hostbuf);
        return 0;
    }
    if (hostbuf[0] == '\0' || strcmp(hostbuf, "*") == 0) {
        /* every interface: lws binds INADDR_ANY when given no iface */
        cfg->listen_host[0] = '\0';
        snprintf(cfg->listen_text, sizeof(cfg->listen_text), "0.0.0.0");
        return 0;
    }
    if (strcmp(hostbuf, "localhost") == 0) {
        snprintf(hostbuf, sizeof(hostbuf), "127.0.0.1");
    }
    if (inet_pton(AF_INET, hostbuf, bin) != 1) {
        return wharf_fail(err, errlen,
                          "--listen %s: host must be an IPv4 address, [IPv6], "
                          "localhost or *",
                          addr);
    }
    snprintf(cfg->listen_host, sizeof(cfg->listen_host), "%s", hostbuf);
    snprintf(cfg->listen_text, sizeof(cfg->listen_text), "%s", hostbuf);
    return 0;
}

static int
container_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > AGENT_CONTAINER_MAX) {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if ((unsigned char) *s < 0x21 || (unsigned char) *s > 0x7e) {
            return 0;
        }
    }
    return 1;
}

/* Adds the comma-separated orchestrator URLs of v (from src) to cfg. Each
 * must be an http:// or https:// URL, none empty nor given twice. */
static int
add_orchestrators(struct agent_config *cfg, const char *src, const char *v,
                  char *err, size_t errlen)
{
    const char *p = v;

    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t) (end - p) : strlen(p);
        unsigned k;

        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
            len--;
        }
        if (len == 0) {
            return wharf_fail(err, errlen, "%s \"%s\": an empty URL", src, v);
        }
        if (len > AGENT_ORCHESTRATOR_URL_MAX) {
            return wharf_fail(err, errlen, "%s: a URL longer than %d bytes",
                              src, AGENT_ORCHESTRATOR_URL_MAX);
        }
        if (!(len > 7 && strncmp(p, "http://", 7) == 0)
            && !(len > 8 && strncmp(p, "https://", 8) == 0)) {
            return wharf_fail(err, errlen,
                              "%s \"%.*s\": must be an http:// or https:// "
                              "URL",
                              src, (int) len, p);
        }
        for (k = 0; k < cfg->norchestrators; k++) {
            if (cfg->orchestrators[k].len == len
                && memcmp(cfg->orchestrators[k].p, p, len) == 0) {
                return wharf_fail(err, errlen, "%s \"%.*s\": given twice", src,
                                  (int) len, p);
            }
        }
        if (cfg->norchestrators == AGENT_ORCHESTRATORS_MAX) {
            return wharf_fail(err, errlen, "%s: at most %d orchestrator URLs",
                              src, AGENT_ORCHESTRATORS_MAX);
        }
        cfg->orchestrators[cfg->norchestrators].p = p;
        cfg->orchestrators[cfg->norchestrators].len = len;
        cfg->norchestrators++;
        if (end == NULL) {
            return 0;
        }
        p = end + 1;
    }
}

int
agent_config_parse(struct agent_config *cfg, int argc, char *const argv[],
                   char *const envp[], char *err, size_t errlen)
{
    const char *val[OPT_COUNT] = { 0 };
    const char *src[OPT_COUNT] = { 0 }; /* "--flag" or "VAR", for errors */
    unsigned long ul;
    int i, o, lvl;

    memset(cfg, 0, sizeof(*cfg));
    cfg->kill_timeout_ms = AGENT_DEFAULT_KILL_TIMEOUT_MS;
    cfg->log_level = WHARF_LOG_INFO;
    cfg->buffer_bytes = AGENT_SHIP_BUFFER_DEFAULT;
    cfg->line_max = AGENT_LINE_MAX_DEFAULT;
    cfg->ship_timeout_ms = AGENT_SHIP_TIMEOUT_DEFAULT_MS;
    cfg->flush_timeout_ms = AGENT_FLUSH_TIMEOUT_DEFAULT_MS;
    cfg->ship_inflight = AGENT_SHIP_INFLIGHT_DEFAULT;
    cfg->instance_id = "app";
    cfg->fatal_restart = 1;
    cfg->buffer_compress = 1;
    cfg->failback_ms = AGENT_FAILBACK_DEFAULT_MS;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *eq;
        size_t flen;

        if (strcmp(a, "--") == 0) {
            if (i + 1 >= argc) {
                return wharf_fail(err, errlen,
                                  "-- must be followed by a command");
            }
            cfg->cmd_argv = &argv[i + 1];
            cfg->cmd_argc = argc - i - 1;
            break;
        }
        if (strcmp(a, "--insecure-no-auth") == 0) {
            cfg->insecure_no_auth = 1;
            continue;
        }

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cfg->show_help = 1;
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            cfg->show_version = 1;
            return 0;
        }
        eq = strchr(a, '=');
        flen = eq != NULL ? (size_t) (eq - a) : strlen(a);
        for (o = 0; o < OPT_COUNT; o++) {
            if (strlen(opts[o].flag) == flen
                && strncmp(a, opts[o].flag, flen) == 0) {
                break;
            }
        }
        if (o == OPT_TOKEN) {
            return wharf_fail(err, errlen,
                              "--token is refused: a token on the command "
                              "line is visible to every user (ps, "
                              "/proc/PID/cmdline); give it in the environment "
                              "(WHARF_TOKEN) or in a file of mode 0600 "
                              "(--token-file PATH, or WHARF_TOKEN_FILE)");
        }
        if (o == OPT_COUNT) {
            if (strncmp(a, "-", 1) == 0) {
                return wharf_fail(err, errlen, "unknown flag %.*s", (int) flen,
                                  a);
            }
            return wharf_fail(err, errlen, "unexpected argument \"%s\"", a);
        }
        if (eq != NULL) {
            val[o] = eq + 1;
        } else if (i + 1 < argc) {
            val[o] = argv[++i];
        } else {
            return wharf_fail(err, errlen, "%s needs a value", opts[o].flag);
        }
        src[o] = opts[o].flag;
        if (o == OPT_PUBLIC_KEY) {
            /* repeatable: every key given is trusted */
            if (cfg->npublic_keys == AGENT_PUBLIC_KEYS_MAX) {
                return wharf_fail(err, errlen,
                                  "--public-key: at most %d paths (a folder "
                                  "holds several keys)",
                                  AGENT_PUBLIC_KEYS_MAX);
            }
            if (val[o][0] == '\0') {
                return wharf_fail(err, errlen, "--public-key: empty path");
            }
            cfg->public_keys[cfg->npublic_keys++] = val[o];
        }
        if (o == OPT_ORCHESTRATOR) {
            /* repeatable: every URL, in order of preference */
            if (cfg->orchestrator == NULL) {
                cfg->orchestrator = val[o];
            }
            if (add_orchestrators(cfg, opts[o].flag, val[o], err, errlen)
                != 0) {
                return -1;
            }
        }
    }
    for (o = 0; o < OPT_COUNT; o++) {
        if (val[o] == NULL) {
            val[o] = env_lookup(envp, opts[o].env);
            src[o] = opts[o].env;
        }
    }

    if (val[OPT_WORKER] == NULL) {
        return wharf_fail(err, errlen,
                          "--worker (or WHARF_WORKER) is required");
    }
    if (!wharf_name_valid(val[OPT_WORKER], strlen(val[OPT_WORKER]))) {
        return wharf_fail(err, errlen,
                          "%s \"%s\": not a valid worker name "
                          "(lower-case DNS label, 1..%d of a-z 0-9 -)",
                          src[OPT_WORKER], val[OPT_WORKER], WHARF_NAME_MAX);
    }
    snprintf(cfg->worker, sizeof(cfg->worker), "%s", val[OPT_WORKER]);

    if (val[OPT_LISTEN] == NULL) {
        return wharf_fail(err, errlen,
                          "--listen (or WHARF_LISTEN) is required");
    }
    if (agent_config_parse_listen(cfg, val[OPT_LISTEN], err, errlen) != 0) {
        return -1;
    }

    if (val[OPT_CONTAINER] != NULL) {
        if (!container_valid(val[OPT_CONTAINER])) {
            return wharf_fail(err, errlen,
                              "%s: container name must be 1..%d printable "
                              "characters without spaces",
                              src[OPT_CONTAINER], AGENT_CONTAINER_MAX);
        }
        snprintf(cfg->container, sizeof(cfg->container), "%s",
                 val[OPT_CONTAINER]);
    }

    if (val[OPT_TERMINAL_CMD] != NULL) {
        size_t n = strlen(val[OPT_TERMINAL_CMD]);

        if (n == 0 || n > AGENT_TERMINAL_CMD_MAX) {
            return wharf_fail(err, errlen, "%s: command must be 1..%d bytes",
                              src[OPT_TERMINAL_CMD], AGENT_TERMINAL_CMD_MAX);
        }
        cfg->terminal_cmd = val[OPT_TERMINAL_CMD];
    } else {
        const char *sh = env_lookup(envp, "SHELL");

        cfg->terminal_cmd =
            sh != NULL && sh[0] != '\0' && strlen(sh) <= AGENT_TERMINAL_CMD_MAX
            ? sh
            : "/bin/sh";
    }

    if (val[OPT_KILL_TIMEOUT] != NULL) {
        if (parse_uint(val[OPT_KILL_TIMEOUT], AGENT_MAX_KILL_TIMEOUT_MS, &ul)
            != 0) {
            return wharf_fail(err, errlen,
                              "%s \"%s\": must be 0..%u milliseconds",
                              src[OPT_KILL_TIMEOUT], val[OPT_KILL_TIMEOUT],
                              AGENT_MAX_KILL_TIMEOUT_MS);
        }
        cfg->kill_timeout_ms = (unsigned) ul;
    }

    if (cfg->orchestrator == NULL && val[OPT_ORCHESTRATOR] != NULL) {
        cfg->orchestrator = val[OPT_ORCHESTRATOR];
        if (add_orchestrators(cfg, src[OPT_ORCHESTRATOR], cfg->orchestrator,
                              err, errlen)
            != 0) {
            return -1;
        }
    }
    /* the file wins over WHARF_TOKEN (auth.c reads it): it was asked for
     * by name, the variable may be a leftover of the shell */
    cfg->token = val[OPT_TOKEN];
    cfg->token_file = val[OPT_TOKEN_FILE];
    if (cfg->token_file != NULL && cfg->token_file[0] == '\0') {
        return wharf_fail(err, errlen, "%s: must be a file name",
                          src[OPT_TOKEN_FILE]);
    }
    if (val[OPT_FAILBACK] != NULL) {
        if (parse_uint(val[OPT_FAILBACK], AGENT_FAILBACK_MAX_MS, &ul) != 0
            || ul < AGENT_FAILBACK_MIN_MS) {
            return wharf_fail(err, errlen, "%s \"%s\": must be %u..%u ms",
                              src[OPT_FAILBACK], val[OPT_FAILBACK],
                              AGENT_FAILBACK_MIN_MS, AGENT_FAILBACK_MAX_MS);
        }
        cfg->failback_ms = (unsigned) ul;
    }
    if (cfg->npublic_keys == 0 && val[OPT_PUBLIC_KEY] != NULL
        && val[OPT_PUBLIC_KEY][0] != '\0') {
        cfg->public_keys[cfg->npublic_keys++] = val[OPT_PUBLIC_KEY];
    }
    cfg->public_key = cfg->npublic_keys > 0 ? cfg->public_keys[0] : NULL;
    cfg->allowed_origins = val[OPT_ALLOWED_ORIGINS];
    cfg->config_file = val[OPT_CONFIG];
    if (!cfg->insecure_no_auth) {
        const char *v = env_lookup(envp, "WHARF_INSECURE_NO_AUTH");

        cfg->insecure_no_auth = v != NULL && strcmp(v, "1") == 0;
    }
    if (val[OPT_BUFFER_BYTES] != NULL) {
        if (parse_uint(val[OPT_BUFFER_BYTES], 1ul << 34, &ul) != 0
            || ul < AGENT_SHIP_BUFFER_MIN) {
            return wharf_fail(err, errlen, "%s \"%s\": must be %u..%lu bytes",
                              src[OPT_BUFFER_BYTES], val[OPT_BUFFER_BYTES],
                              AGENT_SHIP_BUFFER_MIN, 1ul << 34);
        }
        cfg->buffer_bytes = ul;
    }
    if (val[OPT_LINE_MAX] != NULL) {
        if (parse_uint(val[OPT_LINE_MAX], AGENT_LINE_MAX_MAX, &ul) != 0
            || ul < AGENT_LINE_MAX_MIN) {
            return wharf_fail(err, errlen, "%s \"%s\": must be %u..%u bytes",
                              src[OPT_LINE_MAX], val[OPT_LINE_MAX],
                              AGENT_LINE_MAX_MIN, AGENT_LINE_MAX_MAX);
        }
        cfg->line_max = ul;
    }
    if (val[OPT_SHIP_TIMEOUT] != NULL) {
        if (parse_uint(val[OPT_SHIP_TIMEOUT], 600000, &ul) != 0 || ul < 100) {
            return wharf_fail(err, errlen, "%s: must be 100..600000 ms",
                              src[OPT_SHIP_TIMEOUT]);
        }
        cfg->ship_timeout_ms = (unsigned) ul;
    }
    if (val[OPT_FLUSH_TIMEOUT] != NULL) {
        if (parse_uint(val[OPT_FLUSH_TIMEOUT], 600000, &ul) != 0) {
            return wharf_fail(err, errlen, "%s: must be 0..600000 ms",
                              src[OPT_FLUSH_TIMEOUT]);
        }
        cfg->flush_timeout_ms = (unsigned) ul;
    }
    if (val[OPT_SHIP_INFLIGHT] != NULL) {
        if (parse_uint(val[OPT_SHIP_INFLIGHT], AGENT_SHIP_INFLIGHT_MAX, &ul)
                != 0
            || ul < 1) {
            return wharf_fail(err, errlen, "%s \"%s\": must be 1..%u",
                              src[OPT_SHIP_INFLIGHT], val[OPT_SHIP_INFLIGHT],
                              AGENT_SHIP_INFLIGHT_MAX);
        }
        cfg->ship_inflight = (unsigned) ul;
    }
    if (val[OPT_INSTANCE_ID] != NULL) {
        if (!agent_instance_id_valid(val[OPT_INSTANCE_ID])) {
            return wharf_fail(err, errlen,
                              "%s \"%s\": must match "
                              "^[a-zA-Z0-9][a-zA-Z0-9_-]*$, at most %d bytes",
                              src[OPT_INSTANCE_ID], val[OPT_INSTANCE_ID],
                              AGENT_INSTANCE_ID_MAX);
        }
        cfg->instance_id = val[OPT_INSTANCE_ID];
    }
    if (val[OPT_APP_PORT] != NULL) {
        if (parse_uint(val[OPT_APP_PORT], 65535, &ul) != 0 || ul == 0) {
            return wharf_fail(err, errlen, "%s: must be 1..65535",
                              src[OPT_APP_PORT]);
        }
        cfg->app_port = (int) ul;
    }
    if (val[OPT_FATAL_RESTART] != NULL) {
        if (strcmp(val[OPT_FATAL_RESTART], "on") == 0) {
            cfg->fatal_restart = 1;
        } else if (strcmp(val[OPT_FATAL_RESTART], "off") == 0) {
            cfg->fatal_restart = 0;
        } else {
            return wharf_fail(err, errlen, "%s: must be on or off",
                              src[OPT_FATAL_RESTART]);
        }
    }

    if (val[OPT_BUFFER_COMPRESS] != NULL) {
        if (strcmp(val[OPT_BUFFER_COMPRESS], "on") == 0) {
            cfg->buffer_compress = 1;
        } else if (strcmp(val[OPT_BUFFER_COMPRESS], "off") == 0) {
            cfg->buffer_compress = 0;
        } else {
            return wharf_fail(err, errlen, "%s: must be on or off",
                              src[OPT_BUFFER_COMPRESS]);
        }
    }

    if (val[OPT_LOG_LEVEL] != NULL) {
        lvl = wharf_log_level_parse(val[OPT_LOG_LEVEL]);
        if (lvl < 0) {
            return wharf_fail(err, errlen,
                              "%s \"%s\": must be debug, info, warn or error",
                              src[OPT_LOG_LEVEL], val[OPT_LOG_LEVEL]);
        }
        cfg->log_level = lvl;
    }
    return 0;
}
