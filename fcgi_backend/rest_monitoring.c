/*
 * REST routes under /api/monitoring/ (DESIGN.md "JSON-RPC"): the health
 * check now; the list and process routes come with the store issue.
 */
#include "router.h"

#include "migrate.h"
#include "wharfd.h"

/* 200 {"status":"ok","database":"ok","schema_version":1,"version":"0.1.0"}
 * or, when the database does not answer a trivial query, 503 with
 * "status":"error","database":"error". */
void
wharfd_rest_health(struct wharfd *wd, const struct wharfd_http_request *req,
                   struct wharfd_http_response *resp)
{
    int version, ok;

    (void) req;
    ok = wharfd_store_ping(wd->store, &version) == 0;
    if (!ok) {
        version = wharfd_schema_version_known();
    }
    (void) wharfd_http_json(resp, ok ? 200 : 503,
                            json_pack("{s:s,s:s,s:i,s:s}",
                                      "status", ok ? "ok" : "error",
                                      "database", ok ? "ok" : "error",
                                      "schema_version", version,
                                      "version", WHARFD_VERSION));
}
