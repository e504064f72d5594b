/*
 * Methods on the workers table: heartbeat (from agents), getWorkers (for
 * operators), removeWorker (from the gateway, when a live worker is
 * removed: DELETE /api/monitoring/workers/NAME).
 */
#include "methods.h"

#include <string.h>

#include "auth.h"
#include "log.h"
#include "wharfd.h"

/* Longest container name and agent version stored; longer is -32602. */
#define WHARFD_CONTAINER_MAX     255
#define WHARFD_AGENT_VERSION_MAX 64

/*
 * heartbeat {worker?, container?, agentVersion?} -> {ok, serverTime}.
 * The worker is the ingest token's (auth.h), never the payload's.
 */
static int
method_heartbeat(void *ctx, json_t *params, json_t **result,
                 struct wharfd_rpc_error *err)
{
    struct wharfd_call *call = ctx;
    struct wharfd *wd = call->wd;
    const char *worker, *container, *agent_version;
    char now[WHARF_TIME_LEN];
    json_t *obj;

    if (wharfd_params_object(params, &obj, err) != 0
        || wharfd_call_write_worker(call, obj, WHARF_SCOPE_INGEST, &worker, err)
            != 0
        || wharfd_params_check(obj, "heartbeat", err) != 0
        || wharfd_param_string(obj, "container", 0, WHARFD_CONTAINER_MAX,
                               &container, err)
            != 0
        || wharfd_param_string(obj, "agentVersion", 0, WHARFD_AGENT_VERSION_MAX,
                               &agent_version, err)
            != 0) {
        return -1;
    }

    wharf_now_iso8601(now, sizeof(now));
    if (wharfd_store_worker_heartbeat(wd->store, worker, container,
                                      agent_version, now)
        != 0) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INTERNAL_ERROR, NULL,
                                    "storing the heartbeat failed");
    }
    *result = json_pack("{s:b,s:s}", "ok", 1, "serverTime", now);
    return *result ? 0
                   : wharfd_rpc_set_error(err, WHARFD_RPC_INTERNAL_ERROR, NULL,
                                          "out of memory");
}

/* A stored row as the camelCase object of the API. */
static int
worker_to_json(void *arg, const struct wharfd_worker_row *row)
{
    json_t *list = arg, *obj;

    obj = json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:s?}", "name", row->name,
                    "containerName", row->container_name, "agentVersion",
                    row->agent_version, "firstSeen", row->first_seen,
                    "lastSeen", row->last_seen, "status", row->status);
    return json_array_append_new(list, obj); /* -1 when obj is NULL */
}

struct worker_filter {
    json_t *list;
    const char *only; /* a worker token sees its own row only */
};

static int
worker_filtered(void *arg, const struct wharfd_worker_row *row)
{
    struct worker_filter *f = arg;

    if (f->only != NULL && strcmp(f->only, row->name) != 0) {
        return 0;
    }
    return worker_to_json(f->list, row);
}

/* getWorkers {} -> {workers: [...]}, by name. */
static int
method_get_workers(void *ctx, json_t *params, json_t **result,
                   struct wharfd_rpc_error *err)
{
    struct wharfd_call *call = ctx;
    struct wharfd *wd = call->wd;
    struct worker_filter f;
    const char *worker;
    json_t *obj, *list;

    if (wharfd_params_object(params, &obj, err) != 0
        || wharfd_call_read_worker(call, obj, WHARF_SCOPE_READ, &worker, err)
            != 0
        || wharfd_params_check(obj, "getWorkers", err) != 0) {
        return -1;
    }
    list = json_array();
    f.list = list;
    f.only = worker;
    if (list == NULL
        || wharfd_store_workers_each(wd->store, worker_filtered, &f) != 0) {
        json_decref(list);
        return wharfd_rpc_set_error(err, WHARFD_RPC_INTERNAL_ERROR, NULL,
                                    "reading workers failed");
    }
    *result = json_pack("{s:o}", "workers", list);
    return *result ? 0
                   : wharfd_rpc_set_error(err, WHARFD_RPC_INTERNAL_ERROR, NULL,
                                          "out of memory");
}

/*
 * removeWorker {worker} -> {worker, removed}: forgets the worker (scope
 * admin). A worker's agent that still runs comes back with its next
 * heartbeat: its ingest token is still valid.
 */
static int
method_remove_worker(void *ctx, json_t *params, json_t **result,
                     struct wharfd_rpc_error *err)
{
    struct wharfd_call *call = ctx;
    const char *worker;
    json_t *obj;
    int removed;

    if (wharfd_params_object(params, &obj, err) != 0
        || wharfd_call_read_worker(call, obj, WHARF_SCOPE_ADMIN, &worker, err)
            != 0
        || wharfd_params_check(obj, "removeWorker", err) != 0) {
        return -1;
    }
    if (worker == NULL) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "worker",
                                    "'worker' is required");
    }
    if (wharfd_store_worker_remove(call->wd->store, worker, &removed) != 0) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INTERNAL_ERROR, NULL,
                                    "removing the worker failed");
    }
    *result = json_pack("{s:s,s:b}", "worker", worker, "removed", removed);
    return *result ? 0
                   : wharfd_rpc_set_error(err, WHARFD_RPC_INTERNAL_ERROR, NULL,
                                          "out of memory");
}

const struct wharfd_rpc_method wharfd_methods_workers[] = {
    { "heartbeat", method_heartbeat },
    { "getWorkers", method_get_workers },
    { "removeWorker", method_remove_worker },
    { NULL, NULL }
};
