/*
 * The JSON-RPC methods of ContainerMonitoringOps, one table per group
 * (methods_workers.c, methods_ingest.c, methods_read.c, methods_admin.c),
 * found by name through wharfd_methods_lookup. Adding a group = a new
 * methods_*.c with its table, plus one line in methods.c. Methods receive
 * the request's struct wharfd_call * (auth.h) as ctx; the REST routes call
 * the very same functions (rest_monitoring.c).
 */
#ifndef WHARFD_METHODS_H
#define WHARFD_METHODS_H

#include <stddef.h>

#include <jansson.h>

#include "rpc.h"
#include "store.h"

struct wharfd_call;

#define WHARFD_RPC_PREFIX WHARF_JSONRPC_PREFIX

/* instanceId: the peer's rule, ^[a-zA-Z0-9][a-zA-Z0-9_-]*$, <= 64. */
#define WHARFD_INSTANCE_MAX 64
/* Container names, process ids, sources, event types and the like. */
#define WHARFD_NAME_FIELD_MAX 255
/* List pages. */
#define WHARFD_LIMIT_DEFAULT 100
#define WHARFD_LIMIT_MAX     1000

/* Each table ends with a { NULL, NULL } row. */
extern const struct wharfd_rpc_method wharfd_methods_workers[];
extern const struct wharfd_rpc_method wharfd_methods_ingest[];
extern const struct wharfd_rpc_method wharfd_methods_read[];
extern const struct wharfd_rpc_method wharfd_methods_admin[];

/* The method of a full name ("ContainerMonitoringOps.heartbeat"), or
 * NULL. Matches wharfd_rpc_lookup_fn. */
const struct wharfd_rpc_method *wharfd_methods_lookup(const char *name);

/* --- params helpers: each fills err (-32602, naming the field) and
 * returns -1 when the value is wrong. Absent and null are the same. ---- */

/* The params as an object: NULL or [] give *obj = NULL (no members, which
 * the getters below accept); any other array is refused, methods take
 * named params only. */
int wharfd_params_object(json_t *params, json_t **obj,
                         struct wharfd_rpc_error *err);

/* -32602 naming the first member of obj (in the body's order) that is
 * not one of the NULL-terminated names: a mistyped filter ("levle") is
 * refused rather than ignored, which would answer unfiltered data. Each
 * method calls it after its token check, so a caller without the scope
 * learns nothing of the params. `where` prefixes the field for an element
 * of an array ("logs[3]"), or is NULL. */
int wharfd_params_known(json_t *obj, const char *const *names,
                        const char *where, struct wharfd_rpc_error *err);

/* The params table (methods_params.c): each method's members, by name
 * without the prefix; the feed's "subscribe" too. Ends with NULL. */
struct wharfd_method_params {
    const char *method;
    const char *const *names; /* NULL-terminated */
};
extern const struct wharfd_method_params wharfd_method_params[];

/* The members of a storeLogs / storeErrors element. */
extern const char *const wharfd_log_members[];
extern const char *const wharfd_error_members[];

/* The names of method's params (an empty list for a method not in the
 * table, so that its every member is refused and the gap shows). */
const char *const *wharfd_params_of(const char *method);

/* wharfd_params_known with the table's list of method. */
int wharfd_params_check(json_t *obj, const char *method,
                        struct wharfd_rpc_error *err);

/* A string member of 1..max bytes. Absent or null: *out = NULL, which is
 * an error only when required. */
int wharfd_param_string(json_t *obj, const char *field, int required,
                        size_t max, const char **out,
                        struct wharfd_rpc_error *err);

/* A required worker name (common/name.h's rule). */
int wharfd_param_worker(json_t *obj, const char *field, const char **out,
                        struct wharfd_rpc_error *err);

/* An instance id (WHARFD_INSTANCE_MAX, the peer's characters). */
int wharfd_param_instance(json_t *obj, const char *field, int required,
                          const char **out, struct wharfd_rpc_error *err);

/* An integer within [min, max]; *present says whether it was given. */
int wharfd_param_int(json_t *obj, const char *field, long long min,
                     long long max, long long *out, int *present,
                     struct wharfd_rpc_error *err);

/* A number (integer or real). */
int wharfd_param_number(json_t *obj, const char *field, double *out,
                        int *present, struct wharfd_rpc_error *err);

/* A boolean; absent gives dflt. */
int wharfd_param_bool(json_t *obj, const char *field, int dflt, int *out,
                      struct wharfd_rpc_error *err);

/* An ISO-8601 UTC time, normalised to YYYY-MM-DDTHH:MM:SS.mmmZ into out
 * (WHARFD_TS_LEN + 1 bytes); *present = 0 when absent. */
int wharfd_param_time(json_t *obj, const char *field, char *out, int *present,
                      struct wharfd_rpc_error *err);

/* The time rule of wharfd_param_time on len bytes at s: writes the stored
 * form (25 bytes with the NUL) into out and returns 0, or returns -1. */
int wharfd_time_normalize(const char *s, size_t len, char *out);

/* The checks of storeLogs / storeErrors once their elements are parsed
 * (methods_ingest.c), for the fast path (ingest_fast.c): head holds the
 * call's worker, container, instanceId and processId members; b->logs /
 * b->errors and b->n are set, the rest of b is filled here, ready for
 * wharfd_store_logs / _errors. Nothing is written. Returns 0, or -1 with
 * err set. */
int wharfd_ingest_logs_check(struct wharfd_call *call, json_t *head,
                             struct wharfd_log_batch *b,
                             struct wharfd_rpc_error *err);
int wharfd_ingest_errors_check(struct wharfd_call *call, json_t *head,
                               struct wharfd_error_batch *b, const char *now,
                               struct wharfd_rpc_error *err);

/* One of the NULL-terminated list of words. */
int wharfd_param_enum(json_t *obj, const char *field, int required,
                      const char *const *words, const char **out,
                      struct wharfd_rpc_error *err);

/* Any JSON value serialised into malloc'd text (NULL when absent). */
int wharfd_param_json_text(json_t *obj, const char *field, char **out,
                           struct wharfd_rpc_error *err);

/* limit, offset, order, total into q. */
int wharfd_params_page(json_t *obj, struct wharfd_query *q,
                       struct wharfd_rpc_error *err);

/* A row as a JSON object (JSON columns parsed back); NULL when OOM. */
json_t *wharfd_row_json(const struct wharfd_col *cols, int n);

/* {"data":..., "pagination":{limit, offset, total, hasMore}}. Takes the
 * reference to data. */
json_t *wharfd_page_json(json_t *data, const struct wharfd_query *q,
                         long long total, int has_more);

/* A -32603 for a store failure. */
int wharfd_internal(struct wharfd_rpc_error *err, const char *what);

/* A -32603 for a write the store refused (rc: what wharfd_store_* gave):
 * "WHAT: database or disk is full" when that was the cause
 * (WHARFD_STORE_FULL), so the caller and the agent's log see why; the
 * write stored nothing and may be retried once space is back. */
int wharfd_store_failed(struct wharfd_rpc_error *err, int rc, const char *what);

/* The words the schema's CHECK constraints allow (schema/0001_init.sql),
 * NULL-terminated: one list for the params checks of every method and
 * for the fast ingest path, so they cannot disagree. */
extern const char *const wharfd_log_levels[];
extern const char *const wharfd_log_streams[];
extern const char *const wharfd_process_states[];

#endif
