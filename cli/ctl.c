/*
 * wharfctl: global options, command dispatch, library set-up.
 */
#include "ctl.h"

#include <stdlib.h>
#include <string.h>

static const char ctl_usage[] =
    "usage: wharfctl [--url URL] [--token T] [--format json|table|raw] COMMAND "
    "...\n"
    "\n"
    "Operator CLI of the wharf orchestrator.\n"
    "\n"
    "commands:\n"
    "  health [--worker NAME]       live health checks of the workers and "
    "wharfd\n"
    "  workers list|get NAME|seen   the gateway's registry; wharfd's "
    "heartbeats\n"
    "  workers watch-docker         register Docker's labelled containers, "
    "live\n"
    "  terminals                    every worker's terminal, health, sessions\n"
    "  terminal NAME                a shell in worker NAME, on this terminal\n"
    "  process list|status|start|stop|restart    supervised processes\n"
    "  errors list|stats|clear      de-duplicated errors from the workers\n"
    "  logs list|get|stats|clear|tail [-f]       the workers' log lines\n"
    "  keys init [--dir DIR]        make the orchestrator's ES256 key pair\n"
    "  token issue --sub --scope    mint an access token (offline)\n"
    "  rpc METHOD [PARAMS_JSON]     a raw JSON-RPC call\n"
    "  version                      wharfctl's version\n"
    "  help [COMMAND]               this text, or a command's\n"
    "\n"
    "global options (before or after the command):\n"
    "  --url URL       the orchestrator's nginx (default $WHARF_URL, else\n"
    "                  " CTL_DEFAULT_URL ")\n"
    "  --token T       bearer token (default $WHARF_TOKEN)\n"
    "  --format F      json (default, pretty-printed), table (aligned "
    "columns)\n"
    "                  or raw (the body as received)\n"
    "\n"
    "Every command takes --help. Exit status: 0 success, 1 failed operation,\n"
    "2 usage error (a value the server refuses as invalid included).\n";

struct ctl_command {
    const char *name;
    int (*run)(struct ctl *c, int argc, char **argv);
};

static const struct ctl_command commands[] = {
    { "health", ctl_cmd_health },     { "workers", ctl_cmd_workers },
    { "terminal", ctl_cmd_terminal }, { "terminals", ctl_cmd_terminals },
    { "process", ctl_cmd_process },   { "errors", ctl_cmd_errors },
    { "logs", ctl_cmd_logs },         { "keys", ctl_cmd_keys },
    { "token", ctl_cmd_token },       { "rpc", ctl_cmd_rpc },
    { "version", ctl_cmd_version },
};

static const struct ctl_command *
find_command(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

/* help [COMMAND]: the command's own --help. */
static int
ctl_help(struct ctl *c, int argc, char **argv)
{
    const struct ctl_command *cmd;
    char *help_argv[3];

    if (argc < 2) {
        fputs(ctl_usage, c->out);
        return CTL_OK;
    }
    cmd = find_command(argv[1]);
    if (cmd == NULL) {
        return ctl_error(c, CTL_USAGE, "help: unknown command '%s'", argv[1]);
    }
    help_argv[0] = argv[1];
    help_argv[1] = (char *) "--help";
    help_argv[2] = NULL;
    return cmd->run(c, 2, help_argv);
}

int
ctl_main(int argc, char **argv, FILE *out, FILE *err)
{
    const struct ctl_command *cmd;
    struct ctl c;
    int rc;

    memset(&c, 0, sizeof(c));
    c.out = out;
    c.err = err;

    rc = ctl_args_parse(&c.args, argc, argv, getenv("WHARF_URL"),
                        getenv("WHARF_TOKEN"), err);
    if (rc != CTL_OK) {
        return rc;
    }
    if (c.args.argc == 0) {
        fputs(ctl_usage, err);
        return CTL_USAGE;
    }
    if (strcmp(c.args.argv[0], "-h") == 0
        || strcmp(c.args.argv[0], "--help") == 0) {
        fputs(ctl_usage, out);
        return CTL_OK;
    }
    if (strcmp(c.args.argv[0], "--version") == 0) {
        c.args.argv[0] = (char *) "version";
    }
    if (strcmp(c.args.argv[0], "help") == 0) {
        return ctl_help(&c, c.args.argc, c.args.argv);
    }
    cmd = find_command(c.args.argv[0]);
    if (cmd == NULL) {
        return ctl_error(&c, CTL_USAGE, "%s '%s' (see wharfctl --help)",
                         c.args.argv[0][0] == '-' ? "unknown flag"
                                                  : "unknown command",
                         c.args.argv[0]);
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return ctl_error(&c, CTL_FAIL, "cannot initialise libcurl");
    }
    rc = cmd->run(&c, c.args.argc, c.args.argv);
    if (c.curl != NULL) {
        curl_easy_cleanup(c.curl);
    }
    curl_global_cleanup();
    fflush(out);
    return rc;
}
