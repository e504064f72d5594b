/*
 * wharfctl: the operator CLI over the orchestrator's REST and JSON-RPC.
 *
 *   wharfctl [--url URL] [--token T] [--format json|table|raw] COMMAND ...
 *
 * Global options may stand before or after the command (as kubectl's);
 * "--" ends option parsing. WHARF_URL and WHARF_TOKEN are the defaults of
 * --url and --token.
 *
 * Error convention of this part: every function that can fail returns an
 * exit status (enum ctl_status) after printing what went wrong, naming
 * the URL or the argument, to the context's err stream. Exit 0 success,
 * 1 a failed operation (HTTP or JSON-RPC error, server unreachable), 2 a
 * usage error (unknown command or flag, bad value).
 */
#ifndef CTL_H
#define CTL_H

#include <stdio.h>

#include <curl/curl.h>

#include "version.h"

#define CTL_VERSION     WHARF_VERSION
#define CTL_DEFAULT_URL "http://127.0.0.1:8080"

enum ctl_status {
    CTL_OK = 0,
    CTL_FAIL = 1,
    CTL_USAGE = 2,
    CTL_HELP = -1 /* internal: --help was asked, print and exit 0 */
};

enum ctl_format {
    CTL_FORMAT_JSON = 0, /* the default: pretty-printed JSON */
    CTL_FORMAT_TABLE,    /* aligned columns */
    CTL_FORMAT_RAW       /* the response body as received */
};

/* The command line with the global options taken out. */
struct ctl_args {
    const char *url;
    const char *token; /* NULL: no Authorization header */
    enum ctl_format format;
    int argc; /* the command and its own arguments */
    char **argv;
};

/* The program's one context, passed to every command. */
struct ctl {
    struct ctl_args args;
    FILE *out;  /* results */
    FILE *err;  /* messages */
    CURL *curl; /* made on first use, reused */
};

/* Runs wharfctl; returns the exit status. main.c only calls this, so
 * unit tests can run whole command lines with their own streams. */
int ctl_main(int argc, char **argv, FILE *out, FILE *err);

/* Parses the global options of argv (argv[0] is the program), from
 * env_url/env_token defaults (NULL when unset). The remaining arguments
 * are moved to the front of argv[1..] and described by a->argc/argv.
 * Returns CTL_OK or CTL_USAGE (message on err). */
int ctl_args_parse(struct ctl_args *a, int argc, char **argv,
                   const char *env_url, const char *env_token, FILE *err);

/* One flag of a command. A flag with a value sets *value; one without
 * sets *set to 1. */
struct ctl_flag {
    const char *name; /* "--worker" */
    int takes_value;
    const char **value;
    int *set;
};

/*
 * Parses a command's arguments (argv[0] is the command's name, e.g.
 * "health" or "workers list"): flags from flags[] (ended by a NULL name),
 * -h/--help, and up to max_pos positional arguments into pos[]. Returns
 * CTL_OK, CTL_HELP, or CTL_USAGE with a message naming the command.
 */
int ctl_flags_parse(struct ctl *c, const char *cmd, int argc, char **argv,
                    const struct ctl_flag *flags, const char **pos, int *npos,
                    int max_pos);

/* A duration: digits and an optional unit s, m, h or d ("90s", "15m",
 * "12h", "7d"; no unit: seconds), from 1 s to max seconds. 0, or -1 when
 * s is not one. */
int ctl_parse_duration(const char *s, long long max, long long *secs);

/* Prints "wharfctl: " and the message to c->err; returns status. */
int ctl_error(struct ctl *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Commands (cmd_*.c): argv[0] is the command's name. */
int ctl_cmd_health(struct ctl *c, int argc, char **argv);
int ctl_cmd_workers(struct ctl *c, int argc, char **argv);
/* workers add | set | remove (cmd_workers_live.c): argv[0] is the verb */
int ctl_workers_live(struct ctl *c, int argc, char **argv);
int ctl_cmd_workers_watch_docker(struct ctl *c, int argc, char **argv);
int ctl_cmd_rpc(struct ctl *c, int argc, char **argv);
int ctl_cmd_version(struct ctl *c, int argc, char **argv);
int ctl_cmd_terminal(struct ctl *c, int argc, char **argv);
int ctl_cmd_terminals(struct ctl *c, int argc, char **argv);
int ctl_cmd_process(struct ctl *c, int argc, char **argv);
int ctl_cmd_errors(struct ctl *c, int argc, char **argv);
int ctl_cmd_logs(struct ctl *c, int argc, char **argv);
int ctl_cmd_logs_tail(struct ctl *c, int argc, char **argv);
int ctl_cmd_keys(struct ctl *c, int argc, char **argv);
int ctl_cmd_token(struct ctl *c, int argc, char **argv);

#endif
