/*
 * A JSON text writer for rows on the hot read paths (REST lists, NDJSON
 * streams). Building jansson objects for 100 rows of 13 members and
 * serialising them cost ~77% of a list request's CPU (perf, bench/query:
 * jansson's per-member hashtable and many small mallocs); writing the text
 * directly into one growing buffer does the same in a fraction.
 *
 * Text columns are valid UTF-8 (they entered through jansson or the
 * ingest fast path, which refuse anything else); they are escaped as JSON
 * strings, 8 bytes a step where nothing needs escaping. JSON columns were
 * serialised by jansson (or are their byte-identical copy, ingest_fast.c)
 * and are copied as they are. Column names are wharfd's own camelCase
 * constants and are written without escaping. A row is written with one
 * reservation of its worst-case size.
 */
#ifndef WHARFD_JSONW_H
#define WHARFD_JSONW_H

#include <stddef.h>

#include "store.h"

struct wharfd_jsonw {
    char *p;
    size_t len, cap;
    int oom;
};

void wharfd_jsonw_raw(struct wharfd_jsonw *w, const char *s, size_t n);
void wharfd_jsonw_lit(struct wharfd_jsonw *w, const char *s);
void wharfd_jsonw_str(struct wharfd_jsonw *w, const char *s, size_t n);
void wharfd_jsonw_int(struct wharfd_jsonw *w, long long v);
/* One row as an object, like wharfd_row_json. */
void wharfd_jsonw_row(struct wharfd_jsonw *w, const struct wharfd_col *cols,
                      int n);
void wharfd_jsonw_free(struct wharfd_jsonw *w);

#endif
