/*
 * wharfctl logs list|get --reset: prints every stored line of the worker
 * (and instance), then clears exactly the lines it printed. Lines that
 * arrive while it reads, or while a slow reader (| less) holds the
 * output, are kept.
 *
 * How: the mark is the newest id of the worker when the command starts
 * (getLogs {worker, order: desc, limit: 1}; without an instance the order
 * is the id, which is arrival order). Every row with an id up to the mark
 * was committed before it, so the set {id <= mark} of the worker (and
 * instance) is fixed: the pages read it whole, and clearLogs {untilId:
 * mark} deletes only it. A row stored later gets a higher id and stays.
 *
 * The pages walk that set by key, never by offset: retention deleting the
 * oldest rows while we read would shift offsets and skip rows that the
 * clear would then delete unseen. The key is the order's own column:
 * sequence with an instance (afterSequence / untilSequence), id without
 * (afterId / untilId).
 */
#include "logs_reset.h"

#include <stdint.h>
#include <string.h>

#include "rpc.h"

/* Rows per page. */
#define CTL_RESET_PAGE 1000

/* The newest id of the worker, or 0 when it has no log. */
static int
reset_mark(struct ctl *c, const char *worker, long long *mark)
{
    struct ctl_response resp;
    json_t *params, *result;
    int rc;

    *mark = 0;
    params = json_pack("{s:s,s:s,s:i}", "worker", worker, "order", "desc",
                       "limit", 1);
    rc = ctl_rpc_call(c, "getLogs", params, &resp, &result);
    json_decref(params);
    if (rc != CTL_OK) {
        return rc;
    }
    *mark = json_integer_value(json_object_get(
        json_array_get(json_object_get(result, "data"), 0), "id"));
    json_decref(result);
    ctl_response_free(&resp);
    return CTL_OK;
}

int
ctl_logs_reset_read(struct ctl *c, json_t *params, json_t **envelope,
                    long long *mark)
{
    struct ctl_response resp;
    const char *worker = json_string_value(json_object_get(params, "worker"));
    const char *order = json_string_value(json_object_get(params, "order"));
    int by_seq = json_object_get(params, "instanceId") != NULL;
    int asc = order != NULL && strcmp(order, "asc") == 0;
    json_t *rows, *page, *result, *data, *last;
    long long n, cursor;
    int rc, more;

    *envelope = NULL;
    rc = reset_mark(c, worker, mark);
    if (rc != CTL_OK) {
        return rc;
    }
    rows = json_array();
    more = *mark > 0;
    page = json_deep_copy(params);
    json_object_set_new(page, "untilId", json_integer(*mark));
    json_object_set_new(page, "limit", json_integer(CTL_RESET_PAGE));
    /* the key of the last row read: it moves on with every page (asc up,
     * desc down), or the answers are not pages of one set */
    cursor = asc ? -1 : INT64_MAX;
    while (more) {
        rc = ctl_rpc_call(c, "getLogs", page, &resp, &result);
        if (rc != CTL_OK) {
            json_decref(page);
            json_decref(rows);
            return rc;
        }
        data = json_object_get(result, "data");
        json_array_extend(rows, data);
        more = json_is_true(
            json_object_get(json_object_get(result, "pagination"), "hasMore"));
        last = json_array_get(data, json_array_size(data) - 1);
        n = json_integer_value(
            json_object_get(last, by_seq ? "sequence" : "id"));
        json_decref(result);
        ctl_response_free(&resp);
        if (last == NULL) {
            more = 0;
        } else if (asc ? n <= cursor : n >= cursor) {
            json_decref(page);
            json_decref(rows);
            return ctl_error(c, CTL_FAIL,
                             "logs --reset: %s answered a page that does "
                             "not follow the one before; nothing cleared",
                             c->args.url);
        } else {
            cursor = n;
            if (by_seq) {
                json_object_set_new(page,
                                    asc ? "afterSequence" : "untilSequence",
                                    json_integer(asc ? n : n - 1));
            } else {
                json_object_set_new(page, asc ? "afterId" : "untilId",
                                    json_integer(asc ? n : n - 1));
            }
        }
    }
    json_decref(page);
    n = (long long) json_array_size(rows);
    *envelope = json_pack("{s:o,s:{s:I,s:i,s:I,s:b}}", "data", rows,
                          "pagination", "limit", (json_int_t) n, "offset", 0,
                          "total", (json_int_t) n, "hasMore", 0);
    return *envelope ? CTL_OK : ctl_error(c, CTL_FAIL, "out of memory");
}

int
ctl_logs_reset_clear(struct ctl *c, const char *what, json_t *params,
                     long long mark)
{
    struct ctl_response resp;
    json_t *clear, *result;
    const char *instance =
        json_string_value(json_object_get(params, "instanceId"));
    int rc;

    if (mark <= 0) {
        fprintf(c->err, "wharfctl: %s: --reset cleared 0 rows\n", what);
        return CTL_OK;
    }
    clear =
        json_pack("{s:O,s:b,s:I}", "worker", json_object_get(params, "worker"),
                  "confirm", 1, "untilId", (json_int_t) mark);
    if (instance != NULL) {
        json_object_set_new(clear, "instanceId", json_string(instance));
    }
    rc = ctl_rpc_call(c, "clearLogs", clear, &resp, &result);
    json_decref(clear);
    if (rc != CTL_OK) {
        return rc;
    }
    fprintf(c->err,
            "wharfctl: %s: --reset cleared %" JSON_INTEGER_FORMAT
            " rows (every one printed; lines stored since are kept)\n",
            what, json_integer_value(json_object_get(result, "clearedCount")));
    json_decref(result);
    ctl_response_free(&resp);
    return CTL_OK;
}
