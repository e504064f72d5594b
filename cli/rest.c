#include "rest.h"

#include <jansson.h>

#include "http.h"
#include "output.h"

int
ctl_rest_show(struct ctl *c, const char *what, const char *path,
              void (*table)(struct ctl *c, json_t *value))
{
    struct ctl_response resp;
    json_t *value;
    int rc, ok;

    rc = ctl_http(c, "GET", path, NULL, &resp);
    if (rc != CTL_OK) {
        return rc;
    }
    ok = resp.status >= 200 && resp.status <= 299;
    value = json_loadb(resp.body, resp.len, JSON_DECODE_ANY, NULL);

    if (c->args.format == CTL_FORMAT_RAW) {
        ctl_output(c, value, resp.body, resp.len, NULL);
    } else if (value != NULL
               && (ok || !json_is_object(json_object_get(value, "error")))) {
        if (table != NULL && c->args.format == CTL_FORMAT_TABLE) {
            table(c, value);
        } else {
            ctl_output(c, value, resp.body, resp.len, NULL);
        }
    } else if (ok) {
        rc = ctl_error(c, CTL_FAIL,
                       "%s: %s answered %ld but not with JSON "
                       "(use --format raw to see it)",
                       what, resp.url, resp.status);
    }
    if (!ok) {
        rc = ctl_http_status_error(c, what, &resp);
    }
    json_decref(value);
    ctl_response_free(&resp);
    return rc;
}
