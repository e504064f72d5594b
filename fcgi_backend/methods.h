/*
 * The JSON-RPC methods of ContainerMonitoringOps, one table per group of
 * the data model (methods_workers.c now; methods_logs.c, methods_errors.c,
 * ... with the store issue), found by name through wharfd_methods_lookup.
 * Adding a group = a new methods_*.c with its table, plus one line in
 * methods.c. Methods receive the struct wharfd * as ctx.
 */
#ifndef WHARFD_METHODS_H
#define WHARFD_METHODS_H

#include <stddef.h>

#include <jansson.h>

#include "rpc.h"

#define WHARFD_RPC_PREFIX "ContainerMonitoringOps."

/* Each table ends with a { NULL, NULL } row. */
extern const struct wharfd_rpc_method wharfd_methods_workers[];

/* The method of a full name ("ContainerMonitoringOps.heartbeat"), or
 * NULL. Matches wharfd_rpc_lookup_fn. */
const struct wharfd_rpc_method *wharfd_methods_lookup(const char *name);

/* --- params helpers: each fills err (-32602, naming the field) and
 * returns -1 when the value is wrong. ------------------------------------ */

/* The params as an object: NULL or [] give *obj = NULL (no members, which
 * the getters below accept); any other array is refused, methods take
 * named params only. */
int wharfd_params_object(json_t *params, json_t **obj,
                         struct wharfd_rpc_error *err);

/* A string member of 1..max bytes. Absent or null: *out = NULL, which is
 * an error only when required. */
int wharfd_param_string(json_t *obj, const char *field, int required,
                        size_t max, const char **out,
                        struct wharfd_rpc_error *err);

/* A required worker name (common/name.h's rule). */
int wharfd_param_worker(json_t *obj, const char *field, const char **out,
                        struct wharfd_rpc_error *err);

#endif
