/*
 * What both engines' reads share (store_sqlite_query.c, store_pg_query.c):
 * the JSON name of each column a list query selects, in the order both
 * select them; which of those hold JSON text; the order a list walks; the
 * text builder their SQL is assembled with. The WHERE clauses stay with
 * each engine: the dialects differ (instr against strpos, ?N against $N
 * bound in order), and so does how a value is bound.
 */
#ifndef WHARFD_STORE_SHAPE_H
#define WHARFD_STORE_SHAPE_H

#include <stddef.h>

#include "store.h"

/* The columns of one kind's list query. SELECT lists name the columns in
 * this order (an engine may add its own between them, as PostgreSQL's
 * message_nuls, which it skips when reading a row). */
struct wharfd_shape {
    const char *const *names; /* JSON names, n of them */
    int n;
    unsigned json_cols; /* bit i: column i holds JSON text */
};

extern const struct wharfd_shape wharfd_shape_logs, wharfd_shape_errors,
    wharfd_shape_events, wharfd_shape_processes;

/* The shape of q's kind. */
const struct wharfd_shape *wharfd_shape_of(enum wharfd_kind kind);

/* container_processes' columns, in wharfd_shape_processes' order. */
#define WHARFD_PROCESS_COLS                                                \
    "worker_name, container_name, instance_id, process_id, command, args," \
    " cwd, status, pid, restart_count, start_time, end_time, exit_code,"   \
    " last_error, env, created_at, updated_at"

/* The ORDER BY of a list query: logs of one (worker, instance) walk their
 * sequence, other logs and events their id, errors their last sighting,
 * processes their names. Each is an index walk, never a sort. */
const char *wharfd_shape_order(const struct wharfd_query *q);

/* A statement's text, assembled from constant fragments. */
#define WHARFD_SQL_MAX 2048
struct wharfd_sqltext {
    char text[WHARFD_SQL_MAX];
    size_t len;
    int where; /* a condition is written: the next one is " AND " */
};

/* Appends s (the fragments are constants and their sum fits; the check
 * keeps a future edit from overflowing). */
void wharfd_sqltext_add(struct wharfd_sqltext *b, const char *s);
/* Appends " WHERE " or " AND ", then cond. */
void wharfd_sqltext_cond(struct wharfd_sqltext *b, const char *cond);

#endif
