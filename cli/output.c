#include "output.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define CTL_COLUMN_GAP 3
/* Significant digits of a printed real: a double's 17 show binary noise
 * (0.227 as 0.22700000000000001); 15 round-trip every decimal of up to 15
 * digits. */
#define CTL_REAL_DIGITS 15

void
ctl_print_json(struct ctl *c, json_t *value)
{
    json_dumpf(value, c->out,
               JSON_INDENT(2) | JSON_ENCODE_ANY
                   | JSON_REAL_PRECISION(CTL_REAL_DIGITS));
    fputc('\n', c->out);
}

/* A cell's text, malloc'd; control characters become spaces so that a
 * line stays a line. */
static char *
cell_text(json_t *v)
{
    char *s, *p;

    if (v == NULL || json_is_null(v)) {
        s = strdup("-");
    } else if (json_is_string(v)) {
        s = strdup(json_string_value(v));
    } else {
        s = json_dumps(v,
                       JSON_COMPACT | JSON_ENCODE_ANY
                           | JSON_REAL_PRECISION(CTL_REAL_DIGITS));
    }
    for (p = s; p && *p; p++) {
        if ((unsigned char) *p < 0x20 || *p == 0x7f) {
            *p = ' ';
        }
    }
    return s;
}

/* Display width of UTF-8 text: code points, not bytes. */
static size_t
text_width(const char *s)
{
    size_t w = 0;

    for (; *s; s++) {
        if (((unsigned char) *s & 0xc0) != 0x80) {
            w++;
        }
    }
    return w;
}

/* "containerName" / "schema_version" -> "CONTAINER_NAME" / "SCHEMA_VERSION" */
static char *
header_text(const char *key)
{
    char *h = malloc(strlen(key) * 2 + 1), *p = h;
    size_t i;

    if (h == NULL) {
        return NULL;
    }
    for (i = 0; key[i]; i++) {
        if (key[i] >= 'A' && key[i] <= 'Z' && i > 0 && key[i - 1] != '_') {
            *p++ = '_';
        }
        *p++ = (key[i] >= 'a' && key[i] <= 'z')
            ? (char) (key[i] - 32)
            : (key[i] == '-' ? '_' : key[i]);
    }
    *p = '\0';
    return h;
}

/* Prints a grid of ncols columns: row 0 is the header. Frees the cells. */
static void
print_grid(struct ctl *c, char **cells, size_t nrows, size_t ncols)
{
    size_t *width, r, k, w;

    width = calloc(ncols, sizeof(*width));
    for (r = 0; width == NULL && r < nrows * ncols; r++) {
        free(cells[r]); /* out of memory: print nothing */
    }
    if (width == NULL) {
        return;
    }
    for (r = 0; r < nrows; r++) {
        for (k = 0; k < ncols; k++) {
            w = cells[r * ncols + k] ? text_width(cells[r * ncols + k]) : 0;
            if (w > width[k]) {
                width[k] = w;
            }
        }
    }
    for (r = 0; r < nrows; r++) {
        for (k = 0; k < ncols; k++) {
            const char *s = cells[r * ncols + k] ? cells[r * ncols + k] : "";

            fputs(s, c->out);
            if (k + 1 < ncols) {
                fprintf(c->out, "%*s",
                        (int) (width[k] - text_width(s) + CTL_COLUMN_GAP), "");
            }
            free(cells[r * ncols + k]);
        }
        fputc('\n', c->out);
    }
    free(width);
}

/* Prints rows (an array of objects) under the given keys. */
static void
print_rows(struct ctl *c, json_t *rows, json_t *keys)
{
    size_t nrows = json_array_size(rows), ncols = json_array_size(keys), r, k;
    const char *key;
    char **cells;

    cells = calloc((nrows + 1) * ncols, sizeof(*cells));
    if (cells == NULL) {
        return;
    }
    for (k = 0; k < ncols; k++) {
        key = json_string_value(json_array_get(keys, k));
        cells[k] = header_text(key);
        for (r = 0; r < nrows; r++) {
            cells[(r + 1) * ncols + k] =
                cell_text(json_object_get(json_array_get(rows, r), key));
        }
    }
    print_grid(c, cells, nrows + 1, ncols);
    free(cells);
}

static int
all_scalars(json_t *obj)
{
    const char *key;
    json_t *v;

    json_object_foreach (obj, key, v) {
        (void) key;
        if (json_is_object(v) || json_is_array(v)) {
            return 0;
        }
    }
    return 1;
}

static void
add_key(json_t *keys, const char *key)
{
    size_t i;

    for (i = 0; i < json_array_size(keys); i++) {
        if (strcmp(json_string_value(json_array_get(keys, i)), key) == 0) {
            return;
        }
    }
    json_array_append_new(keys, json_string(key));
}

/*
 * Brings value into table shape: *rows an array of objects, *keys the
 * column keys (both new references). Returns -1 for a scalar, which is
 * no table.
 */
static int
table_shape(json_t *value, const char *const *columns, json_t **rows,
            json_t **keys)
{
    const char *key;
    json_t *v, *row;
    size_t i;

    /* {"workers":[...]}: a list result, shown as the list. */
    if (json_is_object(value) && json_object_size(value) == 1) {
        json_object_foreach (value, key, v) {
            if (json_is_array(v)) {
                return table_shape(v, columns, rows, keys);
            }
        }
    }

    if (json_is_array(value) && json_array_size(value) > 0
        && !json_is_object(json_array_get(value, 0))) {
        *rows = json_array();
        json_array_foreach (value, i, v) {
            json_array_append_new(*rows, json_pack("{s:O}", "value", v));
        }
        *keys = json_pack("[s]", "value");
        return 0;
    }

    if (json_is_object(value) && !all_scalars(value)) {
        *rows = json_array();
        json_object_foreach (value, key, v) {
            json_array_append_new(
                *rows, json_pack("{s:s,s:O}", "key", key, "value", v));
        }
        *keys = json_pack("[s,s]", "key", "value");
        return 0;
    }

    if (json_is_object(value)) {
        *rows = json_pack("[O]", value);
    } else if (json_is_array(value)) {
        *rows = json_incref(value);
    } else {
        return -1;
    }
    *keys = json_array();
    for (i = 0; columns != NULL && columns[i] != NULL; i++) {
        add_key(*keys, columns[i]);
    }
    if (columns == NULL) {
        json_array_foreach (*rows, i, row) {
            json_object_foreach (row, key, v) {
                add_key(*keys, key);
            }
        }
    }
    return 0;
}

void
ctl_print_table(struct ctl *c, json_t *value, const char *const *columns)
{
    json_t *rows, *keys;
    char *text;

    if (table_shape(value, columns, &rows, &keys) == 0) {
        if (json_array_size(keys) > 0) {
            print_rows(c, rows, keys);
        }
        json_decref(rows);
        json_decref(keys);
        return;
    }
    text = cell_text(value);
    if (text != NULL) {
        fprintf(c->out, "%s\n", text);
    }
    free(text);
}

json_t *
ctl_json_path(json_t *v, const char *path)
{
    char key[128];
    const char *dot;
    size_t n;

    while (v != NULL && *path != '\0') {
        dot = strchr(path, '.');
        n = dot ? (size_t) (dot - path) : strlen(path);
        if (n >= sizeof(key)) {
            return NULL;
        }
        memcpy(key, path, n);
        key[n] = '\0';
        v = json_object_get(v, key);
        path += n + (dot ? 1 : 0);
    }
    return v;
}

/* An array of scalars as "a,b,c"; anything else as cell_text does. */
static char *
column_text(json_t *v)
{
    size_t i, len = 0;
    json_t *e;
    char *s, *part;

    if (!json_is_array(v) || json_array_size(v) == 0) {
        return cell_text(v);
    }
    json_array_foreach (v, i, e) {
        if (json_is_object(e) || json_is_array(e)) {
            return cell_text(v);
        }
    }
    s = calloc(1, 1);
    json_array_foreach (v, i, e) {
        part = cell_text(e);
        if (s == NULL || part == NULL) {
            free(part);
            free(s);
            return NULL;
        }
        len += strlen(part) + 1;
        s = realloc(s, len + 1);
        if (s != NULL) {
            if (i > 0) {
                strcat(s, ",");
            }
            strcat(s, part);
        }
        free(part);
    }
    return s;
}

void
ctl_print_columns(struct ctl *c, json_t *rows, const struct ctl_column *cols)
{
    size_t nrows, ncols = 0, r, k;
    json_t *row;
    char **cells;

    while (cols[ncols].header != NULL) {
        ncols++;
    }
    nrows = json_is_array(rows) ? json_array_size(rows)
                                : (json_is_object(rows) ? 1 : 0);
    cells = calloc((nrows + 1) * ncols, sizeof(*cells));
    if (cells == NULL || ncols == 0) {
        free(cells);
        return;
    }
    for (k = 0; k < ncols; k++) {
        cells[k] = strdup(cols[k].header);
        for (r = 0; r < nrows; r++) {
            row = json_is_array(rows) ? json_array_get(rows, r) : rows;
            cells[(r + 1) * ncols + k] =
                column_text(ctl_json_path(row, cols[k].path));
        }
    }
    print_grid(c, cells, nrows + 1, ncols);
    free(cells);
}

void
ctl_output(struct ctl *c, json_t *value, const char *raw, size_t raw_len,
           const char *const *columns)
{
    switch (c->args.format) {
    case CTL_FORMAT_RAW:
        fwrite(raw, 1, raw_len, c->out);
        break;
    case CTL_FORMAT_JSON:
        ctl_print_json(c, value);
        break;
    case CTL_FORMAT_TABLE:
        ctl_print_table(c, value, columns);
        break;
    }
}
