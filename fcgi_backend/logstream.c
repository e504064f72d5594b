#include "logstream.h"

#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "jsonw.h"
#include "methods.h"
#include "wharfd.h"

static int
own(struct wharfd_logstream *s, int i, const char **field)
{
    if (*field == NULL) {
        return 0;
    }
    s->own[i] = strdup(*field);
    *field = s->own[i];
    return s->own[i] == NULL ? -1 : 0;
}

struct wharfd_logstream *
wharfd_logstream_new(struct wharfd *wd, const struct wharfd_query *q)
{
    struct wharfd_logstream *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        return NULL;
    }
    s->wd = wd;
    s->q = *q;
    if (own(s, 0, &s->q.worker) || own(s, 1, &s->q.container)
        || own(s, 2, &s->q.instance) || own(s, 3, &s->q.since)
        || own(s, 4, &s->q.until) || own(s, 5, &s->q.levels)
        || own(s, 6, &s->q.streams)) {
        wharfd_logstream_free(s);
        return NULL;
    }
    return s;
}

void
wharfd_logstream_free(void *arg)
{
    struct wharfd_logstream *s = arg;
    size_t i;

    if (s == NULL) {
        return;
    }
    for (i = 0; i < sizeof(s->own) / sizeof(s->own[0]); i++) {
        free(s->own[i]);
    }
    json_decref(s->rpc_id);
    free(s);
}

struct stream_state {
    int (*out)(void *, const char *, size_t);
    void *out_arg;
    long long count;
    int gone;
    struct wharf_textbuf w; /* one row's text, reused */
    struct wharfd_jsonw_names names;
};

static int
stream_row(void *arg, const struct wharfd_col *cols, int n)
{
    struct stream_state *st = arg;

    st->w.len = 0;
    wharfd_jsonw_row_named(&st->w, cols, n, &st->names);
    wharf_textbuf_put(&st->w, "\n", 1);
    if (st->w.oom) {
        return -1;
    }
    if (st->out(st->out_arg, st->w.p, st->w.len) != 0) {
        st->gone = 1; /* the client left: stop reading */
        return -1;
    }
    st->count++;
    return 0;
}

int
wharfd_logstream_run(void *arg,
                     int (*out)(void *out_arg, const char *buf, size_t len),
                     void *out_arg)
{
    struct wharfd_logstream *s = arg;
    struct stream_state st;
    long long total;
    int has_more, rc;
    json_t *end, *res;
    char *text;

    memset(&st, 0, sizeof(st));
    st.out = out;
    st.out_arg = out_arg;
    rc = wharfd_store_query(s->wd->store, &s->q, stream_row, &st, &total,
                            &has_more);
    wharf_textbuf_free(&st.w);
    if (st.gone) {
        return -1;
    }
    if (rc == 0) {
        res = json_pack("{s:b,s:I}", "done", 1, "count", (json_int_t) st.count);
    } else {
        res = json_pack("{s:b,s:I,s:s}", "done", 0, "count",
                        (json_int_t) st.count, "error",
                        "reading the logs failed");
    }
    if (s->rpc_id != NULL) {
        end = wharf_jsonrpc_result(s->rpc_id, res);
    } else {
        end = res;
    }
    text = end ? json_dumps(end, JSON_COMPACT) : NULL;
    json_decref(end);
    if (text == NULL) {
        return -1;
    }
    rc = out(out_arg, text, strlen(text)) == 0 && out(out_arg, "\n", 1) == 0
        ? 0
        : -1;
    free(text);
    return rc;
}

void
wharfd_logstream_respond(struct wharfd_http_response *resp,
                         struct wharfd_logstream **stream)
{
    resp->status = 200;
    resp->content_type = "application/x-ndjson";
    resp->stream = wharfd_logstream_run;
    resp->stream_arg = *stream;
    resp->stream_free = wharfd_logstream_free;
    *stream = NULL;
}
