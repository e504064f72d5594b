/*
 * JSON-RPC 2.0 client calls to POST /rpc (the envelope: common/jsonrpc.h).
 */
#ifndef CTL_RPC_H
#define CTL_RPC_H

#include <jansson.h>

#include "ctl.h"
#include "http.h"
#include "jsonrpc.h"

#define CTL_RPC_PREFIX WHARF_JSONRPC_PREFIX

/* JSON-RPC's "invalid params": the values given were refused. */
#define CTL_RPC_INVALID_PARAMS WHARF_JSONRPC_INVALID_PARAMS

/*
 * Calls method (a name without '.' gets CTL_RPC_PREFIX) with params
 * (object, array, or NULL for none; not taken). On CTL_OK, *result holds
 * the "result" (a new reference) and resp the raw answer, to be freed by
 * the caller. An HTTP error, an answer that is not JSON-RPC, or a
 * JSON-RPC error object is printed and gives CTL_FAIL; -32602 (invalid
 * params: the values came from the command line) gives CTL_USAGE.
 */
int ctl_rpc_call(struct ctl *c, const char *method, json_t *params,
                 struct ctl_response *resp, json_t **result);

#endif
