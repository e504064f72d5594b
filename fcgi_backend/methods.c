/*
 * Method registry and params helpers shared by the methods_*.c files.
 */
#include "methods.h"

#include <stdint.h>
#include <string.h>

#include "name.h"

/* Every method table; the lookup walks them in order. */
static const struct wharfd_rpc_method *const method_tables[] = {
    wharfd_methods_workers,
};

const struct wharfd_rpc_method *
wharfd_methods_lookup(const char *name)
{
    const struct wharfd_rpc_method *m;
    size_t i, plen = sizeof(WHARFD_RPC_PREFIX) - 1;

    if (strncmp(name, WHARFD_RPC_PREFIX, plen) != 0) {
        return NULL;
    }
    name += plen;
    /* Some twenty methods in the end: a linear walk is cheaper than
     * anything that needs setting up. */
    for (i = 0; i < sizeof(method_tables) / sizeof(method_tables[0]); i++) {
        for (m = method_tables[i]; m->name != NULL; m++) {
            if (strcmp(m->name, name) == 0) {
                return m;
            }
        }
    }
    return NULL;
}

int
wharfd_params_object(json_t *params, json_t **obj,
                     struct wharfd_rpc_error *err)
{
    *obj = NULL;
    if (params == NULL || (json_is_array(params) && json_array_size(params) == 0)) {
        return 0;
    }
    if (!json_is_object(params)) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "params",
                                    "params must be an object of named "
                                    "members");
    }
    *obj = params;
    return 0;
}

int
wharfd_param_string(json_t *obj, const char *field, int required, size_t max,
                    const char **out, struct wharfd_rpc_error *err)
{
    json_t *v = obj ? json_object_get(obj, field) : NULL;
    size_t len;

    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (required) {
            return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                        "'%s' is required", field);
        }
        return 0;
    }
    if (!json_is_string(v)) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                    "'%s' must be a string", field);
    }
    len = json_string_length(v);
    if (len == 0) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                    "'%s' must not be empty", field);
    }
    if (len > max) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                    "'%s' must be at most %zu bytes long",
                                    field, max);
    }
    *out = json_string_value(v);
    return 0;
}

int
wharfd_param_worker(json_t *obj, const char *field, const char **out,
                    struct wharfd_rpc_error *err)
{
    /* Any length passes here so that the message below names the rule. */
    if (wharfd_param_string(obj, field, 1, SIZE_MAX, out, err) != 0) {
        return -1;
    }
    if (!wharf_name_valid(*out, strlen(*out))) {
        *out = NULL;
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                    "'%s' must be a worker name "
                                    "(^[a-z0-9][a-z0-9-]{0,62}$)", field);
    }
    return 0;
}
