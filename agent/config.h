/*
 * The agent's settings: command-line flags, each with an environment
 * variable as fallback (a flag wins over its variable, which is then not
 * read at all).
 *
 * One table, agent_options (config.c), in the shape of nginx's
 * ngx_command_t (common/opts.h): a row names the flag, its variable, what
 * --help calls its value, a setter (common/opts.c's *_slot functions, or
 * the agent's own beside the table), the offset of its field in struct
 * agent_config, its bounds, its message, its default and its help. The
 * parser, --help and (checked by tests/unit/test_agent_config.c)
 * docs/agent.md's options table all come from it.
 *
 * The exceptions, by design: the ingest token comes from WHARF_TOKEN or a
 * file (--token-file), never from the command line, which every user sees
 * (--token is refused); "-- CMD ARGS..." ends the flags and is an instance
 * running CMD ARGS; -h is --help.
 *
 * Flags are written "--flag VALUE" or "--flag=VALUE". ADDR's HOST is an IPv4
 * address, a bracketed IPv6 address ("[::1]:8080"), "localhost", or empty /
 * "*" for every IPv4 interface; PORT is 0..65535 (0: the kernel picks one).
 *
 * Parsing is pure (no I/O, no globals) so that it can be unit-tested.
 */
#ifndef AGENT_CONFIG_H
#define AGENT_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "name.h"
#include "opts.h"
#include "version.h"

#define AGENT_VERSION WHARF_VERSION

#define AGENT_DEFAULT_KILL_TIMEOUT_MS 2000u
#define AGENT_MAX_KILL_TIMEOUT_MS     600000u
#define AGENT_CONTAINER_MAX           255
/* Longest numeric address text, "ffff:...:255.255.255.255" plus NUL. */
#define AGENT_HOST_MAX 64
/* Longest terminal command, in bytes. */
#define AGENT_TERMINAL_CMD_MAX         4096
#define AGENT_FLUSH_TIMEOUT_DEFAULT_MS 5000u
/* --public-key paths at most (each may be a folder of keys). */
#define AGENT_PUBLIC_KEYS_MAX 16
/* Orchestrator URLs at most (--orchestrator, all of them together): the
 * gateways an agent fails over between (ship_urls.h). */
#define AGENT_ORCHESTRATORS_MAX 8
/* Longest orchestrator URL, in bytes. */
#define AGENT_ORCHESTRATOR_URL_MAX 2048
#define AGENT_FAILBACK_DEFAULT_MS  30000u
#define AGENT_FAILBACK_MIN_MS      100u
#define AGENT_FAILBACK_MAX_MS      86400000u

/* A piece of argv or the environment: one URL of a comma-separated list. */
struct agent_strref {
    const char *p;
    size_t len;
};

struct agent_config {
    char worker[WHARF_NAME_MAX + 1];
    char container[AGENT_CONTAINER_MAX + 1]; /* "" when not given */
    /* Numeric address to bind ("" = every interface), and whether it is
     * IPv6. listen_text is ADDR as the agent prints it, without the port. */
    char listen_host[AGENT_HOST_MAX];
    char listen_text[AGENT_HOST_MAX + 2];
    int listen_ipv6;
    int listen_port;
    /* The command run in each terminal (before "exec " is prepended). Points
     * into argv or the environment, which outlive the agent's use of it. */
    const char *terminal_cmd;
    unsigned kill_timeout_ms;
    const char *orchestrator; /* the first value given, NULL when none */
    /* every orchestrator URL, in the order of preference */
    struct agent_strref orchestrators[AGENT_ORCHESTRATORS_MAX];
    unsigned norchestrators;
    unsigned failback_ms;
    const char *token;      /* NULL when not given; set from token_file
                                 by agent_auth_load_token() */
    const char *token_file; /* NULL when not given */
    int log_level;          /* enum wharf_log_level */
    const char *public_key; /* the first path, NULL when not given */
    /* every --public-key, in order (or WHARF_PUBLIC_KEY alone) */
    const char *public_keys[AGENT_PUBLIC_KEYS_MAX];
    int npublic_keys;
    int insecure_no_auth;
    const char *allowed_origins; /* NULL: same host only */
    const char *config_file;
    size_t buffer_bytes;
    int buffer_compress; /* LZ4 on the lines waiting in the buffer */
    size_t line_max;
    unsigned ship_timeout_ms;
    unsigned flush_timeout_ms;
    unsigned ship_inflight;  /* requests to the orchestrator at once */
    const char *instance_id; /* of the "--" command */
    unsigned app_port;       /* 0: none */
    int fatal_restart;
    char *const *cmd_argv; /* after "--", NULL-terminated; NULL: none */
    int cmd_argc;
    int show_help;
    int show_version;
};

/*
 * Fills cfg from argv (argc entries, argv[0] the program) and envp (a
 * NULL-terminated "NAME=value" array, normally environ). Returns 0 on
 * success (also when --help or --version was asked for: see show_help /
 * show_version), -1 with a message naming the problem in err otherwise.
 */
int agent_config_parse(struct agent_config *cfg, int argc, char *const argv[],
                       char *const envp[], char *err, size_t errlen);

/*
 * Parses ADDR ("HOST:PORT") into cfg's listen_* fields. Returns 0 or -1 with
 * a message in err.
 */
int agent_config_parse_listen(struct agent_config *cfg, const char *addr,
                              char *err, size_t errlen);

/* The options, ending with a row whose name is NULL. */
extern const struct wharf_opt agent_options[];

/* --help: usage, every option (from the table), the exceptions. */
void agent_config_help(FILE *out);

#endif
