/*
 * The columns and order of the list queries, and the SQL text builder,
 * once for both engines (store_shape.h).
 */
#include "store_shape.h"

#include <string.h>

static const char *const log_names[] = {
    "id",       "workerName", "containerName", "instanceId", "processId",
    "sequence", "timestamp",  "level",         "message",    "stream",
    "source",   "metadata",   "createdAt",
};

static const char *const error_names[] = {
    "workerName", "containerName", "instanceId", "processId", "errorHash",
    "timestamp",  "level",         "message",    "rawOutput", "occurrenceCount",
    "firstSeen",  "lastSeen",      "createdAt",
};

static const char *const event_names[] = {
    "id",        "workerName", "containerName", "instanceId",
    "processId", "type",       "payload",       "timestamp",
};

static const char *const process_names[] = {
    "workerName", "containerName", "instanceId", "processId", "command",
    "args",       "cwd",           "status",     "pid",       "restartCount",
    "startTime",  "endTime",       "exitCode",   "lastError", "env",
    "createdAt",  "updatedAt",
};

#define NAMES(a) a, (int) (sizeof(a) / sizeof(a[0]))

const struct wharfd_shape wharfd_shape_logs = { NAMES(log_names),
                                                1u << 11 }; /* metadata */
const struct wharfd_shape wharfd_shape_errors = { NAMES(error_names), 0 };
const struct wharfd_shape wharfd_shape_events = { NAMES(event_names),
                                                  1u << 6 }; /* payload */
const struct wharfd_shape wharfd_shape_processes = {
    NAMES(process_names), (1u << 5) | (1u << 14) /* args, env */
};

const struct wharfd_shape *
wharfd_shape_of(enum wharfd_kind kind)
{
    switch (kind) {
    case WHARFD_KIND_LOGS:
        return &wharfd_shape_logs;
    case WHARFD_KIND_ERRORS:
        return &wharfd_shape_errors;
    case WHARFD_KIND_EVENTS:
        return &wharfd_shape_events;
    default:
        return &wharfd_shape_processes;
    }
}

const char *
wharfd_shape_order(const struct wharfd_query *q)
{
    switch (q->kind) {
    case WHARFD_KIND_LOGS:
        if (q->worker && q->instance) {
            return q->asc ? " ORDER BY sequence ASC"
                          : " ORDER BY sequence DESC";
        }
        return q->asc ? " ORDER BY id ASC" : " ORDER BY id DESC";
    case WHARFD_KIND_ERRORS:
        return q->asc ? " ORDER BY last_seen ASC, id ASC"
                      : " ORDER BY last_seen DESC, id DESC";
    case WHARFD_KIND_EVENTS:
        return q->asc ? " ORDER BY id ASC" : " ORDER BY id DESC";
    default:
        return " ORDER BY worker_name, instance_id";
    }
}

void
wharfd_sqltext_add(struct wharfd_sqltext *b, const char *s)
{
    size_t n = strlen(s);

    if (b->len + n < sizeof(b->text)) {
        memcpy(b->text + b->len, s, n + 1);
        b->len += n;
    }
}

void
wharfd_sqltext_cond(struct wharfd_sqltext *b, const char *cond)
{
    wharfd_sqltext_add(b, b->where ? " AND " : " WHERE ");
    wharfd_sqltext_add(b, cond);
    b->where = 1;
}
