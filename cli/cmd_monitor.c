/*
 * wharfctl process | errors | logs: wharfd's monitoring operations, over
 * JSON-RPC (POST /rpc, ContainerMonitoringOps.*; contract in docs/wharfd.md),
 * which carries the same operations as the REST routes with one error
 * convention.
 *
 * Each subcommand is one row of monitor_cmds[]: its method, the flags it
 * takes (each flag becomes one named param), what it requires, and its
 * table columns. Flags shared by all: --worker NAME, -i/--instance-id ID.
 */
#include "ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logs_reset.h"
#include "name.h"
#include "output.h"
#include "rpc.h"

/* Most flags a subcommand takes. */
#define MON_FLAGS_MAX 20

enum mon_kind {
    MON_STR,  /* a string param */
    MON_INT,  /* an integer >= 0 */
    MON_NUM,  /* a number */
    MON_LIST, /* "a,b" -> ["a","b"] */
    MON_BOOL, /* a flag without value -> true */
    MON_TIME  /* ISO-8601 as given, or a duration ago ("10m") */
};

struct mon_param {
    const char *flag;  /* "--limit" */
    const char *alias; /* "-i", or NULL */
    const char *param; /* "limit" */
    enum mon_kind kind;
};

#define P_WORKER                            \
    {                                       \
        "--worker", NULL, "worker", MON_STR \
    }
#define P_INSTANCE                                   \
    {                                                \
        "--instance-id", "-i", "instanceId", MON_STR \
    }
#define P_LIMIT                           \
    {                                     \
        "--limit", NULL, "limit", MON_INT \
    }
#define P_OFFSET                            \
    {                                       \
        "--offset", NULL, "offset", MON_INT \
    }
#define P_SINCE                            \
    {                                      \
        "--since", NULL, "since", MON_TIME \
    }
#define P_UNTIL                            \
    {                                      \
        "--until", NULL, "until", MON_TIME \
    }
#define P_END                     \
    {                             \
        NULL, NULL, NULL, MON_STR \
    }

enum mon_need {
    NEED_NONE = 0,
    NEED_INSTANCE = 1,
    NEED_WORKER = 2,
    NEED_CONFIRM = 4
};

struct mon_cmd {
    const char *group, *sub, *method;
    unsigned need;
    const char *clear; /* --reset: this method afterwards */
    const struct mon_param *params;
    const struct ctl_column *cols;
    const char *rows;  /* table rows at this path ("data"), or NULL */
    const char *extra; /* more params as JSON, or NULL */
};

static const struct mon_param p_process_list[] = {
    P_WORKER,
    { "--status", NULL, "status", MON_STR },
    { "--container", NULL, "container", MON_STR },
    P_LIMIT,
    P_OFFSET,
    { "--total", NULL, "total", MON_BOOL },
    P_END
};
static const struct mon_param p_process_one[] = { P_WORKER, P_INSTANCE, P_END };
static const struct mon_param p_process_ctl[] = {
    P_WORKER, P_INSTANCE, { "--force", NULL, "force", MON_BOOL }, P_END
};
static const struct mon_param p_errors_list[] = {
    P_WORKER,
    P_INSTANCE,
    P_LIMIT,
    P_OFFSET,
    P_SINCE,
    P_UNTIL,
    { "--min-level", NULL, "minLevel", MON_NUM },
    { "--max-level", NULL, "maxLevel", MON_NUM },
    { "--total", NULL, "total", MON_BOOL },
    { "--reset", NULL, NULL, MON_BOOL },
    P_END
};
static const struct mon_param p_stats[] = { P_WORKER, P_INSTANCE, P_END };
static const struct mon_param p_clear[] = {
    P_WORKER, P_INSTANCE, { "--confirm", NULL, "confirm", MON_BOOL }, P_END
};
static const struct mon_param p_logs_list[] = {
    P_WORKER,
    P_INSTANCE,
    P_LIMIT,
    P_OFFSET,
    P_SINCE,
    P_UNTIL,
    { "--levels", NULL, "levels", MON_LIST },
    { "--streams", NULL, "streams", MON_LIST },
    { "--order", NULL, "order", MON_STR },
    { "--total", NULL, "total", MON_BOOL },
    { "--reset", NULL, NULL, MON_BOOL },
    P_END
};

static const struct ctl_column c_process[] = { { "WORKER", "workerName" },
                                               { "INSTANCE", "instanceId" },
                                               { "STATUS", "status" },
                                               { "PID", "pid" },
                                               { "RESTARTS", "restartCount" },
                                               { "EXIT", "exitCode" },
                                               { "STARTED", "startTime" },
                                               { "COMMAND", "command" },
                                               { NULL, NULL } };
static const struct ctl_column c_errors[] = { { "LAST_SEEN", "lastSeen" },
                                              { "WORKER", "workerName" },
                                              { "INSTANCE", "instanceId" },
                                              { "LEVEL", "level" },
                                              { "COUNT", "occurrenceCount" },
                                              { "MESSAGE", "message" },
                                              { NULL, NULL } };
static const struct ctl_column c_logs[] = { { "TIMESTAMP", "timestamp" },
                                            { "WORKER", "workerName" },
                                            { "INSTANCE", "instanceId" },
                                            { "LEVEL", "level" },
                                            { "STREAM", "stream" },
                                            { "MESSAGE", "message" },
                                            { NULL, NULL } };

static const struct mon_cmd monitor_cmds[] = {
    { "process", "list", "getProcesses", NEED_NONE, NULL, p_process_list,
      c_process, "data", NULL },
    { "process", "status", "getProcessStatus", NEED_INSTANCE, NULL,
      p_process_one, c_process, NULL, NULL },
    { "process", "start", "startProcess", NEED_INSTANCE | NEED_WORKER, NULL,
      p_process_ctl, c_process, "process", NULL },
    { "process", "stop", "stopProcess", NEED_INSTANCE | NEED_WORKER, NULL,
      p_process_ctl, c_process, "process", NULL },
    { "process", "restart", "restartProcess", NEED_INSTANCE | NEED_WORKER, NULL,
      p_process_ctl, c_process, "process", NULL },
    { "errors", "list", "getErrors", NEED_NONE, "clearErrors", p_errors_list,
      c_errors, "data", NULL },
    { "errors", "stats", "getErrorSummary", NEED_NONE, NULL, p_stats, NULL,
      NULL, NULL },
    { "errors", "clear", "clearErrors", NEED_WORKER | NEED_CONFIRM, NULL,
      p_clear, NULL, NULL, NULL },
    { "logs", "list", "getLogs", NEED_NONE, "clearLogs", p_logs_list, c_logs,
      "data", NULL },
    { "logs", "get", "getLogs", NEED_INSTANCE, "clearLogs", p_logs_list, c_logs,
      "data", "{\"order\":\"asc\"}" },
    { "logs", "stats", "getLogStats", NEED_NONE, NULL, p_stats, NULL, NULL,
      NULL },
    { "logs", "clear", "clearLogs", NEED_WORKER | NEED_CONFIRM, NULL, p_clear,
      NULL, NULL, NULL },
};

static const char process_usage[] =
    "usage: wharfctl process list   [--worker W] [--status S] [--limit N] "
    "[--offset N]\n"
    "       wharfctl process status -i ID [--worker W]\n"
    "       wharfctl process start|stop|restart -i ID --worker W [--force]\n"
    "\n"
    "  list      the processes wharfd knows (getProcesses), by worker then\n"
    "            instance; --status starting|running|stopping|stopped|crashed\n"
    "  status    one process as last reported by its agent (getProcessStatus)\n"
    "  start, stop, restart\n"
    "            process control, relayed by wharfd to the worker's agent\n"
    "            (needs the \"control\" scope)\n"
    "\n"
    "  -i, --instance-id ID   the process instance\n"
    "  --worker W             the worker (required for control)\n"
    "\n"
    "Exit status 1 when the process is unknown or the agent refuses.\n";

static const char errors_usage[] =
    "usage: wharfctl errors list  [--worker W] [-i ID] [--since T] [--until "
    "T]\n"
    "                             [--min-level N] [--max-level N] [--limit N]\n"
    "                             [--offset N] [--reset]\n"
    "       wharfctl errors stats [--worker W] [-i ID]\n"
    "       wharfctl errors clear --worker W [-i ID] --confirm\n"
    "\n"
    "  list    de-duplicated errors, newest first (getErrors); --since and\n"
    "          --until filter on the last occurrence; --min-level/--max-level\n"
    "          on the pino level (50 error, 60 fatal); --reset clears what\n"
    "          was listed's worker (and instance) afterwards (needs --worker\n"
    "          and the \"admin\" scope)\n"
    "  stats   totals, unique and repeated errors, by level (getErrorSummary)\n"
    "  clear   deletes the worker's errors (scope \"admin\"); --confirm is\n"
    "          required\n"
    "\n"
    "T is ISO-8601 (2026-11-27T09:30:00Z) or a duration ago (90s, 15m, 2h, "
    "7d).\n";

static const char logs_usage[] =
    "usage: wharfctl logs list  [--worker W] [-i ID] [--levels L,L] [--streams "
    "S,S]\n"
    "                           [--since T] [--until T] [--limit N] [--offset "
    "N]\n"
    "                           [--order desc|asc] [--reset]\n"
    "       wharfctl logs get   -i ID [same filters]     (oldest first)\n"
    "       wharfctl logs stats [--worker W] [-i ID]\n"
    "       wharfctl logs clear --worker W [-i ID] --confirm\n"
    "       wharfctl logs tail  [--worker W] [-i ID] [-n N] [-f]\n"
    "\n"
    "  list    stored log lines, newest first (getLogs); levels: debug info\n"
    "          warn error output; streams: stdout stderr\n"
    "  get     one instance's lines in order\n"
    "  --reset (list, get) prints every line of the worker (and instance),\n"
    "          then clears exactly those; lines stored meanwhile are kept.\n"
    "          Needs --worker and the \"admin\" scope; takes no filter.\n"
    "  stats   counts by level and stream, oldest and newest (getLogStats)\n"
    "  clear   deletes the worker's logs (scope \"admin\"); --confirm "
    "required\n"
    "  tail    the last N lines (default 20), oldest first; -f follows the\n"
    "          live feed (see wharfctl logs tail --help)\n"
    "\n"
    "T is ISO-8601 (2026-11-27T09:30:00Z) or a duration ago (90s, 15m, 2h, "
    "7d).\n";

/* "10m" -> the ISO time ten minutes ago; anything else as given. */
static const char *
time_value(const char *v, char *buf, size_t size)
{
    long long secs;
    time_t t;
    struct tm tm;

    if (ctl_parse_duration(v, 100LL * 366 * 86400, &secs) != 0) {
        return v;
    }
    t = time(NULL) - (time_t) secs;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* Builds the params object from the flag values; CTL_USAGE on a bad value. */
static int
build_params(struct ctl *c, const struct mon_cmd *m, const char **values,
             const int *set, json_t *params)
{
    const struct mon_param *p;
    char what[40], tbuf[32], *end, *list, *tok, *save;
    json_t *arr;
    long long n;
    double d;
    int i;

    snprintf(what, sizeof(what), "%s %s", m->group, m->sub);
    for (i = 0, p = m->params; p->flag; p++, i++) {
        if (p->param == NULL) {
            continue;
        }
        if (p->kind == MON_BOOL) {
            if (set[i]) {
                json_object_set_new(params, p->param, json_true());
            }
            continue;
        }
        if (values[i] == NULL) {
            continue;
        }
        switch (p->kind) {
        case MON_STR:
            json_object_set_new(params, p->param, json_string(values[i]));
            break;
        case MON_TIME:
            json_object_set_new(
                params, p->param,
                json_string(time_value(values[i], tbuf, sizeof(tbuf))));
            break;
        case MON_INT:
            errno = 0;
            n = strtoll(values[i], &end, 10);
            if (errno || *end || end == values[i] || n < 0) {
                return ctl_error(c, CTL_USAGE,
                                 "%s: %s %s: not a whole number "
                                 ">= 0",
                                 what, p->flag, values[i]);
            }
            json_object_set_new(params, p->param, json_integer(n));
            break;
        case MON_NUM:
            errno = 0;
            d = strtod(values[i], &end);
            if (errno || *end || end == values[i]) {
                return ctl_error(c, CTL_USAGE, "%s: %s %s: not a number", what,
                                 p->flag, values[i]);
            }
            json_object_set_new(params, p->param, json_real(d));
            break;
        case MON_LIST:
            list = strdup(values[i]);
            arr = json_array();
            for (tok = strtok_r(list, ",", &save); tok;
                 tok = strtok_r(NULL, ",", &save)) {
                json_array_append_new(arr, json_string(tok));
            }
            free(list);
            if (json_array_size(arr) == 0) {
                json_decref(arr);
                return ctl_error(c, CTL_USAGE, "%s: %s is empty", what,
                                 p->flag);
            }
            json_object_set_new(params, p->param, arr);
            break;
        case MON_BOOL:
            break;
        }
    }
    return CTL_OK;
}

/* Prints an RPC result in the chosen format. */
static void
show(struct ctl *c, const struct mon_cmd *m, json_t *result,
     const struct ctl_response *resp)
{
    json_t *rows;

    if (c->args.format == CTL_FORMAT_TABLE && m->cols != NULL) {
        rows = m->rows ? json_object_get(result, m->rows) : result;
        ctl_print_columns(c, rows, m->cols);
        return;
    }
    ctl_output(c, result, resp->body, resp->len, NULL);
}

/* logs list|get --reset: every line printed, then exactly those cleared
 * (logs_reset.h). A filter would print fewer lines than the clear
 * deletes, so none is taken. */
static int
logs_reset(struct ctl *c, const struct mon_cmd *m, const char *what,
           json_t *params)
{
    static const char *const narrowing[][2] = {
        { "levels", "--levels" }, { "streams", "--streams" },
        { "since", "--since" },   { "until", "--until" },
        { "limit", "--limit" },   { "offset", "--offset" },
        { "total", "--total" },
    };
    struct ctl_response resp;
    json_t *envelope;
    long long mark;
    size_t i;
    int rc;

    for (i = 0; i < sizeof(narrowing) / sizeof(narrowing[0]); i++) {
        if (json_object_get(params, narrowing[i][0]) != NULL) {
            return ctl_error(c, CTL_USAGE,
                             "%s: --reset prints every line of the worker "
                             "(and instance) and clears exactly those; it "
                             "takes no %s",
                             what, narrowing[i][1]);
        }
    }
    rc = ctl_logs_reset_read(c, params, &envelope, &mark);
    if (rc != CTL_OK) {
        return rc;
    }
    memset(&resp, 0, sizeof(resp));
    resp.body = json_dumps(envelope, JSON_COMPACT);
    resp.len = resp.body ? strlen(resp.body) : 0;
    show(c, m, envelope, &resp);
    fflush(c->out);
    free(resp.body);
    json_decref(envelope);
    return ctl_logs_reset_clear(c, what, params, mark);
}

/* --- the table-driven subcommands ------------------------------------------ */

static int
run_cmd(struct ctl *c, const struct mon_cmd *m, int argc, char **argv,
        const char *usage)
{
    struct ctl_flag flags[MON_FLAGS_MAX];
    const char *values[MON_FLAGS_MAX], *pos[1], *worker, *instance;
    int set[MON_FLAGS_MAX], i, k = 0, rc, npos, reset = 0;
    struct ctl_response resp, resp2;
    json_t *params, *result, *result2, *clear;
    char what[40];

    snprintf(what, sizeof(what), "%s %s", m->group, m->sub);
    memset(values, 0, sizeof(values));
    memset(set, 0, sizeof(set));
    for (i = 0; m->params[i].flag; i++) {
        const struct mon_param *p = &m->params[i];

        flags[k++] = (struct ctl_flag){ p->flag, p->kind != MON_BOOL,
                                        &values[i], &set[i] };
        if (p->alias) {
            flags[k++] = (struct ctl_flag){ p->alias, p->kind != MON_BOOL,
                                            &values[i], &set[i] };
        }
    }
    flags[k] = (struct ctl_flag){ NULL, 0, NULL, NULL };

    rc = ctl_flags_parse(c, what, argc, argv, flags, pos, &npos, 0);
    if (rc == CTL_HELP) {
        fputs(usage, c->out);
        return CTL_OK;
    }
    if (rc != CTL_OK) {
        return rc;
    }
    params = json_object();
    if (m->extra) {
        json_t *x = json_loads(m->extra, 0, NULL);

        json_object_update(params, x);
        json_decref(x);
    }
    rc = build_params(c, m, values, set, params);
    if (rc != CTL_OK) {
        json_decref(params);
        return rc;
    }
    for (i = 0; m->params[i].flag; i++) {
        if (strcmp(m->params[i].flag, "--reset") == 0 && set[i]) {
            reset = 1;
        }
    }
    worker = json_string_value(json_object_get(params, "worker"));
    instance = json_string_value(json_object_get(params, "instanceId"));
    if (worker != NULL && !wharf_name_valid(worker, strlen(worker))) {
        rc = ctl_error(c, CTL_USAGE,
                       "%s: --worker '%s' is not a worker name "
                       "(^[a-z0-9][a-z0-9-]{0,62}$)",
                       what, worker);
    } else if ((m->need & NEED_INSTANCE) && instance == NULL) {
        rc = ctl_error(c, CTL_USAGE,
                       "%s: -i/--instance-id is required (see "
                       "wharfctl %s --help)",
                       what, m->group);
    } else if (((m->need & NEED_WORKER) || reset) && worker == NULL) {
        rc = ctl_error(c, CTL_USAGE,
                       "%s: --worker is required%s (see "
                       "wharfctl %s --help)",
                       what, reset ? " with --reset" : "", m->group);
    } else if ((m->need & NEED_CONFIRM)
               && !json_is_true(json_object_get(params, "confirm"))) {
        rc = ctl_error(c, CTL_USAGE,
                       "%s deletes %s's stored %s for good: add "
                       "--confirm to go ahead",
                       what, worker, m->group);
    }
    if (rc == CTL_OK && reset && strcmp(m->clear, "clearLogs") == 0) {
        rc = logs_reset(c, m, what, params);
        json_decref(params);
        return rc;
    }
    if (rc != CTL_OK) {
        json_decref(params);
        return rc;
    }

    rc = ctl_rpc_call(c, m->method, params, &resp, &result);
    if (rc != CTL_OK) {
        json_decref(params);
        return rc;
    }
    if (json_is_null(result) && m->cols != NULL && m->rows == NULL) {
        rc = ctl_error(c, CTL_FAIL,
                       "%s: no process '%s'%s%s is known to "
                       "wharfd%s",
                       what, instance, worker ? " in worker " : "",
                       worker ? worker : "",
                       worker ? ""
                              : " (instance ids "
                                "are per worker: pass --worker W)");
    } else {
        show(c, m, result, &resp);
    }
    json_decref(result);
    ctl_response_free(&resp);

    if (rc == CTL_OK && reset) {
        clear = json_pack("{s:s,s:b}", "worker", worker, "confirm", 1);
        if (instance) {
            json_object_set_new(clear, "instanceId", json_string(instance));
        }
        rc = ctl_rpc_call(c, m->clear, clear, &resp2, &result2);
        json_decref(clear);
        if (rc == CTL_OK) {
            fprintf(
                c->err,
                "wharfctl: %s: --reset cleared %" JSON_INTEGER_FORMAT " rows\n",
                what,
                json_integer_value(json_object_get(result2, "clearedCount")));
            json_decref(result2);
            ctl_response_free(&resp2);
        }
    }
    json_decref(params);
    return rc;
}

static int
group(struct ctl *c, const char *name, const char *usage, int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        return ctl_error(c, CTL_USAGE,
                         "%s: missing subcommand (see wharfctl "
                         "%s --help)",
                         name, name);
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(usage, c->out);
        return CTL_OK;
    }
    if (strcmp(name, "logs") == 0 && strcmp(argv[1], "tail") == 0) {
        return ctl_cmd_logs_tail(c, argc - 1, argv + 1);
    }
    for (i = 0; i < sizeof(monitor_cmds) / sizeof(monitor_cmds[0]); i++) {
        if (strcmp(monitor_cmds[i].group, name) == 0
            && strcmp(monitor_cmds[i].sub, argv[1]) == 0) {
            return run_cmd(c, &monitor_cmds[i], argc - 1, argv + 1, usage);
        }
    }
    return ctl_error(c, CTL_USAGE,
                     "%s: unknown subcommand '%s' (see wharfctl "
                     "%s --help)",
                     name, argv[1], name);
}

int
ctl_cmd_process(struct ctl *c, int argc, char **argv)
{
    return group(c, "process", process_usage, argc, argv);
}

int
ctl_cmd_errors(struct ctl *c, int argc, char **argv)
{
    return group(c, "errors", errors_usage, argc, argv);
}

int
ctl_cmd_logs(struct ctl *c, int argc, char **argv)
{
    return group(c, "logs", logs_usage, argc, argv);
}
