/*
 * Printing results in the chosen --format.
 */
#ifndef CTL_OUTPUT_H
#define CTL_OUTPUT_H

#include <stddef.h>

#include <jansson.h>

#include "ctl.h"

/*
 * Prints value in c->args.format:
 *   json   pretty-printed, 2-space indent
 *   table  aligned columns (see ctl_print_table)
 *   raw    raw/raw_len, the body as received, byte for byte
 * columns: the keys to show, in order, for a table of objects (NULL:
 * every key, in order of first appearance).
 */
void ctl_output(struct ctl *c, json_t *value, const char *raw, size_t raw_len,
                const char *const *columns);

void ctl_print_json(struct ctl *c, json_t *value);

/*
 * Tables:
 *   object of one array      that array ({"workers":[...]})
 *   array of objects         one row each, a column per key
 *   object of scalars        one row, a column per key
 *   other object             KEY and VALUE columns
 *   array of scalars         one VALUE column
 *   scalar                   the value alone
 * Headers are the keys in upper snake case (containerName ->
 * CONTAINER_NAME); null or missing cells print "-"; nested values print as
 * compact JSON. Columns are separated by three spaces.
 */
void ctl_print_table(struct ctl *c, json_t *value, const char *const *columns);

/* A column picked by path: "health.terminal.status" walks nested objects.
 * An array of scalars prints comma-separated; other nested values as
 * compact JSON; null or missing as "-". */
struct ctl_column {
    const char *header;
    const char *path;
};

/* Prints rows (an array of objects, or one object: one row) under cols
 * (ended by a NULL header). The header line prints even with no rows. */
void ctl_print_columns(struct ctl *c, json_t *rows,
                       const struct ctl_column *cols);

/* The value at a dotted path inside v, or NULL. */
json_t *ctl_json_path(json_t *v, const char *path);

#endif
