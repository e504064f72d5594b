/*
 * logs list|get --reset: read every line up to a mark, then clear up to
 * that mark only (logs_reset.c says how and why).
 */
#ifndef CTL_LOGS_RESET_H
#define CTL_LOGS_RESET_H

#include <jansson.h>

#include "ctl.h"

/* Reads every log of params' worker (and instanceId) in params' order,
 * up to the worker's newest id now (*mark, 0 when it has none), into one
 * pagination envelope (*envelope: {data, pagination}, a new reference). */
int ctl_logs_reset_read(struct ctl *c, json_t *params, json_t **envelope,
                        long long *mark);

/* clearLogs of params' worker (and instanceId) up to id mark; says on
 * stderr how many rows went. */
int ctl_logs_reset_clear(struct ctl *c, const char *what, json_t *params,
                         long long mark);

#endif
