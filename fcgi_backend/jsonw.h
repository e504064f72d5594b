/*
 * A row as a JSON object, written as text (common/json_text.h) on the
 * hot read paths (REST lists, NDJSON streams): like wharfd_row_json
 * (store.h), without building a jansson tree.
 *
 * Text columns are valid UTF-8 (they entered through jansson or the
 * ingest fast path, which refuse anything else) and are escaped as JSON
 * strings. JSON columns were serialised by jansson (or are their
 * byte-identical copy, ingest_fast.c) and are copied as they are. Column
 * names are wharfd's own camelCase constants and are written without
 * escaping. A row is written with one reservation of its worst-case size.
 */
#ifndef WHARFD_JSONW_H
#define WHARFD_JSONW_H

#include <stddef.h>

#include "json_text.h"
#include "store.h"
#include "textbuf.h"

/* wharfd's former name of the text buffer (common/textbuf.h), which its
 * unit tests still use. */
#define wharfd_jsonw      wharf_textbuf
#define wharfd_jsonw_free wharf_textbuf_free

/* One row as an object, like wharfd_row_json. */
void wharfd_jsonw_row(struct wharf_textbuf *w, const struct wharfd_col *cols,
                      int n);

/* Columns whose name lengths wharfd_jsonw_names keeps. */
#define WHARFD_JSONW_COLS 20

/* The lengths of a query's column names, taken from its first row: every
 * row of one wharfd_store_query has the same names, so a list writes them
 * without a strlen per column and row (3.5% of a latest-100 request's
 * instructions). */
struct wharfd_jsonw_names {
    int n; /* 0 until set; -1 when the row has too many columns */
    size_t len[WHARFD_JSONW_COLS];
};

/* wharfd_jsonw_row, with the name lengths of names (set from cols on the
 * first call). */
void wharfd_jsonw_row_named(struct wharf_textbuf *w,
                            const struct wharfd_col *cols, int n,
                            struct wharfd_jsonw_names *names);

#endif
