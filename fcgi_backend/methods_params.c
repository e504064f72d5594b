/*
 * The params each method takes, in one table (docs/wharfd.md "Params"
 * mirrors it). A member not listed is refused with -32602 naming it
 * (wharfd_params_known), never ignored: a mistyped filter ("levle",
 * "instanceID") would otherwise answer unfiltered data, and a mistyped
 * optional member of a write would be lost without a word.
 *
 * Every list holds exactly the members the method reads. What the
 * clients send was checked against them: the agent (agent/ship.c,
 * agent/proc.c: heartbeat, storeLogs, storeErrors, upsertProcess,
 * recordEvent, getLastSequence), wharfctl (cli/), the tests, bench/,
 * tests/soak and the docs' examples.
 */
#include "methods.h"

#include <string.h>

#define HEAD "worker", "container", "instanceId", "processId"
#define PAGE "limit", "offset", "order", "total"
#define READ "worker", "container", "instanceId", "since", "until", PAGE
#define LOG_MEMBERS \
    "sequence", "timestamp", "level", "message", "stream", "source", "metadata"
#define ERROR_MEMBERS \
    "level", "message", "timestamp", "rawOutput", "errorHash", "sequence"

static const char *const heartbeat[] = { "worker", "container", "agentVersion",
                                         NULL };
static const char *const worker_only[] = { "worker", NULL };
static const char *const store_logs[] = { HEAD, "logs", NULL };
static const char *const store_log[] = { HEAD, LOG_MEMBERS, NULL };
static const char *const store_errors[] = { HEAD, "errors", NULL };
static const char *const store_error[] = { HEAD, ERROR_MEMBERS, NULL };
static const char *const upsert_process[] = {
    HEAD,        "command",      "args",      "cwd",     "status",
    "pid",       "restartCount", "startTime", "endTime", "exitCode",
    "lastError", "env",          NULL
};
static const char *const record_event[] = { HEAD, "type", "payload",
                                            "timestamp", NULL };
static const char *const instance[] = { "worker", "instanceId", NULL };
static const char *const get_logs[] = {
    READ,      "levels", "streams", "afterSequence", "untilSequence", "afterId",
    "untilId", "stream", NULL
};
static const char *const get_errors[] = { READ, "minLevel", "maxLevel", NULL };
static const char *const get_events[] = { READ, "type", NULL };
static const char *const get_processes[] = { READ, "status", NULL };
static const char *const clear_errors[] = { "worker", "instanceId", "confirm",
                                            NULL };
static const char *const clear_logs[] = { "worker", "instanceId", "confirm",
                                          "untilId", NULL };
static const char *const control[] = { "worker", "instanceId", "force", NULL };
static const char *const subscribe[] = { "worker", "container", "instanceId",
                                         "kinds", NULL };

const char *const wharfd_log_members[] = { LOG_MEMBERS, "processId", NULL };
const char *const wharfd_error_members[] = { ERROR_MEMBERS, "processId", NULL };

/* Two a line, which clang-format undoes for an odd count. */
/* clang-format off */
const struct wharfd_method_params wharfd_method_params[] = {
    { "heartbeat", heartbeat },          { "getWorkers", worker_only },
    { "removeWorker", worker_only },
    { "storeLogs", store_logs },         { "storeLog", store_log },
    { "storeErrors", store_errors },     { "storeError", store_error },
    { "upsertProcess", upsert_process }, { "recordEvent", record_event },
    { "getLastSequence", instance },     { "getLogs", get_logs },
    { "getLogStats", instance },         { "getErrors", get_errors },
    { "getErrorSummary", instance },     { "getEvents", get_events },
    { "getProcesses", get_processes },   { "getProcess", instance },
    { "getProcessStatus", instance },    { "clearErrors", clear_errors },
    { "clearLogs", clear_logs },         { "startProcess", control },
    { "stopProcess", control },          { "restartProcess", control },
    { "subscribe", subscribe },          { NULL, NULL },
};
/* clang-format on */

const char *const *
wharfd_params_of(const char *method)
{
    static const char *const none[] = { NULL };
    const struct wharfd_method_params *p;

    for (p = wharfd_method_params; p->method != NULL; p++) {
        if (strcmp(p->method, method) == 0) {
            return p->names;
        }
    }
    return none; /* a method missing here takes nothing: tests see it */
}

int
wharfd_params_check(json_t *obj, const char *method,
                    struct wharfd_rpc_error *err)
{
    return wharfd_params_known(obj, wharfd_params_of(method), NULL, err);
}
