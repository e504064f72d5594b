/* Flags and environment variables from one table: see config.h. */
#include "errbuf.h"
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lines.h"
#include "log.h"
#include "opts.h"
#include "proc.h"
#include "ship.h"

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

    if (wharf_opt_parse_ulong(port, 10, &p) != 0 || p > 65535) {
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

/* --- the agent's own setters (common/opts.h has the general ones) --------- */

static int
set_worker(const struct wharf_opt *opt, void *conf,
           const struct wharf_opt_arg *a)
{
    struct agent_config *cfg = conf;

    (void) opt;
    if (!wharf_name_valid(a->val, strlen(a->val))) {
        return wharf_fail(a->err, a->errlen,
                          "%s \"%s\": not a valid worker name "
                          "(lower-case DNS label, 1..%d of a-z 0-9 -)",
                          a->src, a->val, WHARF_NAME_MAX);
    }
    snprintf(cfg->worker, sizeof(cfg->worker), "%s", a->val);
    return 0;
}

static int
set_listen(const struct wharf_opt *opt, void *conf,
           const struct wharf_opt_arg *a)
{
    (void) opt;
    return agent_config_parse_listen(conf, a->val, a->err, a->errlen);
}

static int
set_container(const struct wharf_opt *opt, void *conf,
              const struct wharf_opt_arg *a)
{
    struct agent_config *cfg = conf;
    size_t n = strlen(a->val), i;

    (void) opt;
    for (i = 0; i < n; i++) {
        if ((unsigned char) a->val[i] < 0x21
            || (unsigned char) a->val[i] > 0x7e) {
            break;
        }
    }
    if (n == 0 || n > AGENT_CONTAINER_MAX || i < n) {
        return wharf_fail(a->err, a->errlen,
                          "%s: container name must be 1..%d printable "
                          "characters without spaces",
                          a->src, AGENT_CONTAINER_MAX);
    }
    snprintf(cfg->container, sizeof(cfg->container), "%s", a->val);
    return 0;
}

/* A const char * field pointing at the value (argv and the environment
 * outlive the configuration), at least min bytes long and, when max is
 * not 0, at most max; else the row's message. */
static int
set_text(const struct wharf_opt *opt, void *conf, const struct wharf_opt_arg *a)
{
    size_t n = strlen(a->val);

    if (n < opt->min || (opt->max != 0 && n > opt->max)) {
        return wharf_opt_fail(opt, a, opt->bad);
    }
    *(const char **) ((char *) conf + opt->offset) = a->val;
    return 0;
}

/* --orchestrator (repeatable) and WHARF_ORCHESTRATOR: comma-separated
 * URLs, each http:// or https://, none empty nor given twice, at most
 * AGENT_ORCHESTRATORS_MAX in all, in the order of preference. */
static int
set_orchestrators(const struct wharf_opt *opt, void *conf,
                  const struct wharf_opt_arg *a)
{
    struct agent_config *cfg = conf;
    const char *p = a->val;

    (void) opt;
    if (cfg->orchestrator == NULL) {
        cfg->orchestrator = a->val;
    }
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
            return wharf_fail(a->err, a->errlen, "%s \"%s\": an empty URL",
                              a->src, a->val);
        }
        if (len > AGENT_ORCHESTRATOR_URL_MAX) {
            return wharf_fail(a->err, a->errlen,
                              "%s: a URL longer than %d bytes", a->src,
                              AGENT_ORCHESTRATOR_URL_MAX);
        }
        if (!(len > 7 && strncmp(p, "http://", 7) == 0)
            && !(len > 8 && strncmp(p, "https://", 8) == 0)) {
            return wharf_fail(a->err, a->errlen,
                              "%s \"%.*s\": must be an http:// or https:// "
                              "URL",
                              a->src, (int) len, p);
        }
        for (k = 0; k < cfg->norchestrators; k++) {
            if (cfg->orchestrators[k].len == len
                && memcmp(cfg->orchestrators[k].p, p, len) == 0) {
                return wharf_fail(a->err, a->errlen, "%s \"%.*s\": given twice",
                                  a->src, (int) len, p);
            }
        }
        if (cfg->norchestrators == AGENT_ORCHESTRATORS_MAX) {
            return wharf_fail(a->err, a->errlen,
                              "%s: at most %d orchestrator URLs", a->src,
                              AGENT_ORCHESTRATORS_MAX);
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

static int
set_instance_id(const struct wharf_opt *opt, void *conf,
                const struct wharf_opt_arg *a)
{
    if (!agent_instance_id_valid(a->val)) {
        return wharf_fail(a->err, a->errlen,
                          "%s \"%s\": must match "
                          "^[a-zA-Z0-9][a-zA-Z0-9_-]*$, at most %d bytes",
                          a->src, a->val, AGENT_INSTANCE_ID_MAX);
    }
    return set_text(opt, conf, a);
}

/* Every --public-key is trusted (key rotation); WHARF_PUBLIC_KEY, one
 * path, counts only without a flag, and when empty means none. */
static int
set_public_key(const struct wharf_opt *opt, void *conf,
               const struct wharf_opt_arg *a)
{
    struct agent_config *cfg = conf;

    (void) opt;
    if (a->from == WHARF_OPT_FROM_ENV && a->val[0] == '\0') {
        return 0;
    }
    if (cfg->npublic_keys == AGENT_PUBLIC_KEYS_MAX) {
        return wharf_fail(a->err, a->errlen,
                          "--public-key: at most %d paths (a folder "
                          "holds several keys)",
                          AGENT_PUBLIC_KEYS_MAX);
    }
    if (a->val[0] == '\0') {
        return wharf_fail(a->err, a->errlen, "--public-key: empty path");
    }
    cfg->public_keys[cfg->npublic_keys++] = a->val;
    return 0;
}

/* The flag turns it on; the variable only when it is "1". */
static int
set_insecure(const struct wharf_opt *opt, void *conf,
             const struct wharf_opt_arg *a)
{
    (void) opt;
    ((struct agent_config *) conf)->insecure_no_auth =
        a->val == NULL || strcmp(a->val, "1") == 0;
    return 0;
}

static const struct wharf_opt_enum on_off[] = {
    { "on", 1 },
    { "off", 0 },
    { NULL, 0 },
};

/* --- the table ------------------------------------------------------------ */

#define FIELD(type, f) WHARF_OPT_FIELD(struct agent_config, type, f)

#define ON_OFF_BAD "{flag}: must be on or off"

/*
 * Every option of the agent, in the order values are checked (whatever
 * their order on the command line, so that of several problems the same
 * one is reported first; the order the agent has always had) and --help
 * lists them. Read by agent_config_parse() and --help;
 * tests/unit/test_agent_config.c checks docs/agent.md's options table
 * against it. The ingest token is not here: it has no flag (see
 * agent_config_parse()).
 */
const struct wharf_opt agent_options[] = {
    { "worker", "WHARF_WORKER", "NAME", set_worker, 0, 0, 0, NULL, NULL,
      "the worker name (a DNS label); tokens must carry it as aud", NULL,
      WHARF_OPT_REQUIRED },
    { "listen", "WHARF_LISTEN", "ADDR", set_listen, 0, 0, 0, NULL, NULL,
      "HOST:PORT, [IPV6]:PORT or *:PORT (port 0: the kernel picks)", NULL,
      WHARF_OPT_REQUIRED },
    { "container", "WHARF_CONTAINER", "C", set_container, 0, 0, 0, NULL, NULL,
      "the container name, stored with every row", NULL, 0 },
    { "terminal-cmd", "WHARF_TERMINAL_CMD", "CMD", set_text,
      FIELD(const char *, terminal_cmd), 1, AGENT_TERMINAL_CMD_MAX,
      "{flag}: command must be {min}..{max} bytes", NULL,
      "the command each terminal runs, in bytes (none: $SHELL, else "
      "/bin/sh)",
      NULL, 0 },
    { "kill-timeout-ms", "WHARF_KILL_TIMEOUT_MS", "N", wharf_opt_set_unsigned,
      FIELD(unsigned, kill_timeout_ms), 0, AGENT_MAX_KILL_TIMEOUT_MS,
      "{flag} \"{val}\": must be {min}..{max} milliseconds", "2000",
      "terminals: SIGHUP to the session, then SIGKILL after this", NULL, 0 },
    { "token-file", "WHARF_TOKEN_FILE", "PATH", set_text,
      FIELD(const char *, token_file), 1, 0, "{flag}: must be a file name",
      NULL, "the ingest token from this file (wins over WHARF_TOKEN)", NULL,
      0 },
    { "orchestrator", "WHARF_ORCHESTRATOR", "URL", set_orchestrators, 0, 0, 0,
      NULL, NULL,
      "where to ship: POST URL/rpc (none: nothing is shipped); several "
      "gateways: repeat it, or URL,URL (the variable), the first preferred",
      NULL, WHARF_OPT_REPEAT },
    { "failback-ms", "WHARF_FAILBACK_MS", "N", wharf_opt_set_unsigned,
      FIELD(unsigned, failback_ms), AGENT_FAILBACK_MIN_MS,
      AGENT_FAILBACK_MAX_MS, "{flag} \"{val}\": must be {min}..{max} ms",
      "30000",
      "after a failover, when the first orchestrator is probed and taken "
      "back",
      NULL, 0 },
    { "public-key", "WHARF_PUBLIC_KEY", "PATH", set_public_key, 0, 0, 0, NULL,
      NULL,
      "the orchestrator's ES256 public key: a PEM file, or a folder of them; "
      "every key given is trusted (key rotation); needed unless "
      "--insecure-no-auth",
      NULL, WHARF_OPT_REPEAT },
    { "allowed-origins", "WHARF_ALLOWED_ORIGINS", "LIST", set_text,
      FIELD(const char *, allowed_origins), 0, 0, NULL, NULL,
      "comma-separated Origins allowed to open WebSockets (none: the same "
      "host)",
      NULL, 0 },
    { "config", "WHARF_CONFIG", "FILE", set_text,
      FIELD(const char *, config_file), 0, 0, NULL, NULL,
      "the JSON config file: processes, errorPatterns, fatalRestart", NULL, 0 },
    { "insecure-no-auth", "WHARF_INSECURE_NO_AUTH", NULL, set_insecure, 0, 0, 0,
      NULL, NULL,
      "development only: every route open (the variable when it is 1)", NULL,
      WHARF_OPT_SWITCH },
    { "buffer-bytes", "WHARF_BUFFER_BYTES", "N", wharf_opt_set_size,
      FIELD(size_t, buffer_bytes), AGENT_SHIP_BUFFER_MIN, 1ull << 34,
      "{flag} \"{val}\": must be {min}..{max} bytes", "16777216",
      "output kept while the orchestrator is away or slow (lines counted "
      "uncompressed)",
      NULL, 0 },
    { "line-max", "WHARF_LINE_MAX", "N", wharf_opt_set_size,
      FIELD(size_t, line_max), AGENT_LINE_MAX_MIN, AGENT_LINE_MAX_MAX,
      "{flag} \"{val}\": must be {min}..{max} bytes", "65536",
      "longest line kept whole", NULL, 0 },
    { "ship-timeout-ms", "WHARF_SHIP_TIMEOUT_MS", "N", wharf_opt_set_unsigned,
      FIELD(unsigned, ship_timeout_ms), 100, 600000,
      "{flag}: must be {min}..{max} ms", "10000",
      "one request to the orchestrator", NULL, 0 },
    { "flush-timeout-ms", "WHARF_FLUSH_TIMEOUT_MS", "N", wharf_opt_set_unsigned,
      FIELD(unsigned, flush_timeout_ms), 0, 600000,
      "{flag}: must be {min}..{max} ms", "5000",
      "at exit, how long to try to ship what is left", NULL, 0 },
    { "ship-inflight", "WHARF_SHIP_INFLIGHT", "N", wharf_opt_set_unsigned,
      FIELD(unsigned, ship_inflight), 1, AGENT_SHIP_INFLIGHT_MAX,
      "{flag} \"{val}\": must be {min}..{max}", "4",
      "requests to the orchestrator in flight at once", NULL, 0 },
    { "instance-id", "WHARF_INSTANCE_ID", "ID", set_instance_id,
      FIELD(const char *, instance_id), 0, 0, NULL, "app",
      "the instance id of -- CMD ARGS", NULL, 0 },
    { "port", "WHARF_APP_PORT", "N", wharf_opt_set_unsigned,
      FIELD(unsigned, app_port), 1, 65535, "{flag}: must be {min}..{max}", NULL,
      "the expected port of -- CMD ARGS (exported to it as PORT)", NULL, 0 },
    { "fatal-restart", "WHARF_FATAL_RESTART", "on|off", wharf_opt_set_enum,
      FIELD(int, fatal_restart), 0, 0, ON_OFF_BAD, "on",
      "the fatal-error rule (fatalRestart in the config file wins)", on_off,
      0 },
    { "buffer-compress", "WHARF_BUFFER_COMPRESS", "on|off", wharf_opt_set_enum,
      FIELD(int, buffer_compress), 0, 0, ON_OFF_BAD, "on",
      "keep the waiting lines LZ4-compressed in memory", on_off, 0 },
    { "log-level", "WHARF_LOG_LEVEL", "L", wharf_opt_set_log_level,
      FIELD(int, log_level), 0, 0,
      "{flag} \"{val}\": must be debug, info, warn or error", "info",
      "the agent's own log on stderr: debug, info, warn or error", NULL, 0 },
    { "help", NULL, NULL, wharf_opt_set_flag, FIELD(int, show_help), 0, 0, NULL,
      NULL, "this text (also -h)", NULL,
      WHARF_OPT_SWITCH | WHARF_OPT_STOP | WHARF_OPT_CLI },
    { "version", NULL, NULL, wharf_opt_set_flag, FIELD(int, show_version), 0, 0,
      NULL, NULL, "the version", NULL,
      WHARF_OPT_SWITCH | WHARF_OPT_STOP | WHARF_OPT_CLI },
    { NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 },
};

_Static_assert(sizeof(agent_options) / sizeof(agent_options[0])
                   <= WHARF_OPTS_MAX,
               "agent_config_parse() keeps a value per row");
_Static_assert(AGENT_DEFAULT_KILL_TIMEOUT_MS == 2000
                   && AGENT_LINE_MAX_DEFAULT == 65536
                   && AGENT_SHIP_BUFFER_DEFAULT == 16777216
                   && AGENT_SHIP_TIMEOUT_DEFAULT_MS == 10000
                   && AGENT_FLUSH_TIMEOUT_DEFAULT_MS == 5000
                   && AGENT_SHIP_INFLIGHT_DEFAULT == 4
                   && AGENT_FAILBACK_DEFAULT_MS == 30000,
               "the table's defaults are the constants'");

void
agent_config_help(FILE *out)
{
    fputs("usage: wharf-agent --worker NAME --listen ADDR\n"
          "                   [--public-key PATH | --insecure-no-auth] "
          "[OPTION...]\n"
          "                   [-- CMD ARGS...]\n"
          "Each option may also be set by its environment variable (a flag "
          "wins).\n\n",
          out);
    wharf_opts_help(agent_options, out);
    fprintf(out, "%-*sone more instance, running CMD ARGS, started at once\n",
            WHARF_OPTS_HELP_COL, "  -- CMD ARGS...");
    fputs(
        "\nThe ingest token comes from WHARF_TOKEN or a file (--token-file),\n"
        "never from the command line, which every user sees.\n",
        out);
}

/* --- parsing ---------------------------------------------------------------- */

static const char token_refused[] =
    "--token is refused: a token on the command line is visible to every "
    "user (ps, /proc/PID/cmdline); give it in the environment (WHARF_TOKEN) "
    "or in a file of mode 0600 (--token-file PATH, or WHARF_TOKEN_FILE)";

/* Runs opt's setter on val, from src. */
static int
apply(const struct wharf_opt *opt, struct agent_config *cfg, const char *val,
      const char *src, enum wharf_opt_source from, char *err, size_t errlen)
{
    struct wharf_opt_arg a = { val, src, from, err, errlen };

    return opt->set(opt, cfg, &a);
}

/*
 * The command line, then for each row without a flag its variable. Unlike
 * wharf_opts_load() (wharfd's: every source in turn, a later one
 * overriding), a flag here means its variable is not even read, a bad
 * variable included: the agent has always worked that way, and its
 * messages (unknown flag, needs a value, required) are its own.
 */
int
agent_config_parse(struct agent_config *cfg, int argc, char *const argv[],
                   char *const envp[], char *err, size_t errlen)
{
    const char *val[WHARF_OPTS_MAX] = { 0 };
    char src[WHARF_OPTS_MAX][48];
    const struct wharf_opt *opt;
    size_t k;
    int i;

    memset(cfg, 0, sizeof(*cfg));
    for (opt = agent_options; opt->name != NULL; opt++) {
        if (opt->dflt != NULL
            && apply(opt, cfg, opt->dflt, opt->name, WHARF_OPT_FROM_DEFAULT,
                     err, errlen)
                != 0) {
            return -1;
        }
    }

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
        if (strcmp(a, "-h") == 0) {
            a = "--help";
        }
        eq = strchr(a, '=');
        flen = eq != NULL ? (size_t) (eq - a) : strlen(a);
        if (flen == strlen("--token") && strncmp(a, "--token", flen) == 0) {
            return wharf_fail(err, errlen, "%s", token_refused);
        }
        opt = strncmp(a, "--", 2) == 0
            ? wharf_opts_find(agent_options, a + 2, flen - 2)
            : NULL;
        if (opt == NULL || ((opt->flags & WHARF_OPT_SWITCH) && eq != NULL)) {
            if (a[0] == '-') {
                return wharf_fail(err, errlen, "unknown flag %.*s", (int) flen,
                                  a);
            }
            return wharf_fail(err, errlen, "unexpected argument \"%s\"", a);
        }
        k = (size_t) (opt - agent_options);
        snprintf(src[k], sizeof(src[k]), "--%s", opt->name);
        if (opt->flags & WHARF_OPT_SWITCH) {
            if (apply(opt, cfg, NULL, src[k], WHARF_OPT_FROM_CLI, err, errlen)
                != 0) {
                return -1;
            }
            if (opt->flags & WHARF_OPT_STOP) {
                return 0;
            }
            val[k] = "";
            continue;
        }
        if (eq != NULL) {
            val[k] = eq + 1;
        } else if (i + 1 < argc) {
            val[k] = argv[++i];
        } else {
            return wharf_fail(err, errlen, "%s needs a value", src[k]);
        }
        if ((opt->flags & WHARF_OPT_REPEAT)
            && apply(opt, cfg, val[k], src[k], WHARF_OPT_FROM_CLI, err, errlen)
                != 0) {
            return -1;
        }
    }

    for (opt = agent_options; opt->name != NULL; opt++) {
        enum wharf_opt_source from = WHARF_OPT_FROM_CLI;

        k = (size_t) (opt - agent_options);
        if (val[k] == NULL && opt->env != NULL) {
            val[k] = wharf_opts_env(envp, opt->env);
            snprintf(src[k], sizeof(src[k]), "%s", opt->env);
            from = WHARF_OPT_FROM_ENV;
        }
        if (val[k] == NULL) {
            if (opt->flags & WHARF_OPT_REQUIRED) {
                return wharf_fail(err, errlen, "--%s (or %s) is required",
                                  opt->name, opt->env);
            }
            continue;
        }
        if (from == WHARF_OPT_FROM_CLI
            && (opt->flags & (WHARF_OPT_SWITCH | WHARF_OPT_REPEAT))) {
            continue; /* set while the command line was read */
        }
        if (apply(opt, cfg, val[k], src[k], from, err, errlen) != 0) {
            return -1;
        }
    }

    /* the file wins over WHARF_TOKEN (auth.c reads it): it was asked for
     * by name, the variable may be a leftover of the shell */
    cfg->token = wharf_opts_env(envp, "WHARF_TOKEN");
    cfg->public_key = cfg->npublic_keys > 0 ? cfg->public_keys[0] : NULL;
    if (cfg->terminal_cmd == NULL) {
        const char *sh = wharf_opts_env(envp, "SHELL");

        cfg->terminal_cmd =
            sh != NULL && sh[0] != '\0' && strlen(sh) <= AGENT_TERMINAL_CMD_MAX
            ? sh
            : "/bin/sh";
    }
    return 0;
}
