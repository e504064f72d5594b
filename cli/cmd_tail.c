/*
 * wharfctl logs tail [--worker W] [-i ID] [-n N] [-f]
 *
 * The last N log lines from the store (getLogs), oldest first; with -f, new
 * lines from wharfd's live feed (/ws/monitoring through nginx: JSON-RPC
 * `subscribe {worker?, instanceId?, kinds:["log"]}`, then one
 * {"kind":"log","row":{...}} per committed row; fcgi_backend/feed.h).
 *
 * Nothing is lost across the gaps, as far as the store can tell: each time
 * the subscription is (re)made, and whenever the feed says it dropped rows
 * ({"kind":"lagged"}), the store is asked for what came meanwhile (getLogs
 * since the newest timestamp printed, minus CTL_TAIL_SKEW_S for clocks
 * that disagree, and stored after the last N printed at the start: ids
 * are arrival order, so "afterId" leaves out the older lines that -n did
 * not ask for); rows already printed are recognised by their (worker,
 * instance, sequence), which the data model makes unique. A lost or refused
 * feed is retried with a growing pause; meanwhile the store is polled, so
 * lines keep coming from an orchestrator whose feed is down.
 *
 * Output is line by line: json one compact object per line (NDJSON), table
 * and raw "TIMESTAMP LEVEL WORKER/INSTANCE MESSAGE".
 */
#include "ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>

#include "name.h"
#include "rpc.h"
#include "token.h"
#include "ws.h"

#define CTL_TAIL_DEFAULT_N 20
#define CTL_TAIL_MAX_N     1000
/* Rows per page of a catch-up. */
#define CTL_TAIL_PAGE 1000
/* A catch-up looks this far before the newest timestamp printed. */
#define CTL_TAIL_SKEW_S 300
/* Keys of printed rows remembered for de-duplication. */
#define CTL_TAIL_SEEN_MAX 50000
/* Longest pause between two attempts after a failure. */
#define CTL_TAIL_BACKOFF_S 10
/* Largest feed message kept (a log message is at most 64 KiB by default,
 * JSON-escaped it can be six times that). */
#define CTL_TAIL_MSG_MAX (1024 * 1024)

static const char tail_usage[] =
    "usage: wharfctl logs tail [--worker W] [-i ID] [-n N] [-f]\n"
    "\n"
    "Prints the last N log lines (default 20, at most 1000), oldest first.\n"
    "With -f/--follow, keeps printing new lines as wharfd commits them, from\n"
    "its live feed (/ws/monitoring), until interrupted. A lost connection is\n"
    "retried with a growing pause (the store is polled meanwhile); when the\n"
    "feed is back, what was committed in between is fetched first, so no line\n"
    "is skipped and none is printed twice.\n"
    "\n"
    "Output: --format json one JSON object per line; table and raw one line\n"
    "per log: TIMESTAMP LEVEL WORKER/INSTANCE MESSAGE.\n";

struct tail {
    struct ctl *c;
    const char *worker, *instance;
    json_t *seen;    /* set of printed keys */
    json_t *order;   /* the same keys, oldest first */
    char newest[40]; /* newest timestamp printed */
    /* The highest id among the last N lines printed at the start: a
     * catch-up asks only for rows above it, so the lines that were
     * already stored then, older than those N, are never printed. */
    long long floor_id;

    /* One feed connection. */
    struct lws_context *cx;
    struct lws *ws;
    char authorization[WHARF_TOKEN_MAX + 32];
    char *msg; /* a text message being assembled */
    size_t msg_len;
    int msg_too_long;
    int want_subscribe;
    int subscribed;
    int done;
    int fatal; /* CTL_* status to stop with, or 0 */
    long http_status;
};

static void
print_row(struct tail *t, json_t *row)
{
    struct ctl *c = t->c;
    const char *ts, *level, *w, *i, *msg;
    char *line;

    if (c->args.format == CTL_FORMAT_JSON) {
        line = json_dumps(row, JSON_COMPACT | JSON_REAL_PRECISION(15));
        if (line != NULL) {
            fprintf(c->out, "%s\n", line);
        }
        free(line);
        return;
    }
    ts = json_string_value(json_object_get(row, "timestamp"));
    level = json_string_value(json_object_get(row, "level"));
    w = json_string_value(json_object_get(row, "workerName"));
    i = json_string_value(json_object_get(row, "instanceId"));
    msg = json_string_value(json_object_get(row, "message"));
    fprintf(c->out, "%s %-6s %s/%s %s\n", ts ? ts : "-", level ? level : "-",
            w ? w : "-", i ? i : "-", msg ? msg : "");
}

/* Prints row unless it was printed already; remembers it. */
static void
show(struct tail *t, json_t *row)
{
    char key[WHARF_NAME_MAX + 200];
    const char *ts = json_string_value(json_object_get(row, "timestamp"));

    snprintf(key, sizeof(key), "%s/%s/%" JSON_INTEGER_FORMAT,
             json_string_value(json_object_get(row, "workerName"))
                 ? json_string_value(json_object_get(row, "workerName"))
                 : "",
             json_string_value(json_object_get(row, "instanceId"))
                 ? json_string_value(json_object_get(row, "instanceId"))
                 : "",
             json_integer_value(json_object_get(row, "sequence")));
    if (json_object_get(t->seen, key) != NULL) {
        return;
    }
    json_object_set_new(t->seen, key, json_true());
    json_array_append_new(t->order, json_string(key));
    if (json_array_size(t->order) > CTL_TAIL_SEEN_MAX) {
        json_object_del(t->seen,
                        json_string_value(json_array_get(t->order, 0)));
        json_array_remove(t->order, 0);
    }
    if (ts != NULL && strcmp(ts, t->newest) > 0) {
        snprintf(t->newest, sizeof(t->newest), "%s", ts);
    }
    print_row(t, row);
}

/* "2026-11-27T10:00:00.000Z" minus CTL_TAIL_SKEW_S, as ISO text. */
static void
skewed(const char *ts, char *out, size_t size)
{
    struct tm tm;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    if (strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm) == NULL) {
        out[0] = '\0';
        return;
    }
    t = timegm(&tm) - CTL_TAIL_SKEW_S;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* getLogs; rows printed oldest first. last_n > 0: the newest last_n only
 * (the start); else everything since the newest printed (catch-up). */
static int
fetch(struct tail *t, long long last_n)
{
    struct ctl_response resp;
    json_t *params, *result, *data, *row;
    char since[40];
    long long offset = 0;
    size_t i;
    int rc, more;

    do {
        params = json_pack("{s:I,s:s}", "limit",
                           (json_int_t) (last_n > 0 ? last_n : CTL_TAIL_PAGE),
                           "order", last_n > 0 ? "desc" : "asc");
        if (t->worker)
            json_object_set_new(params, "worker", json_string(t->worker));
        if (t->instance)
            json_object_set_new(params, "instanceId", json_string(t->instance));
        if (last_n == 0 && t->newest[0]) {
            skewed(t->newest, since, sizeof(since));
            if (since[0])
                json_object_set_new(params, "since", json_string(since));
        }
        if (last_n == 0)
            json_object_set_new(params, "afterId", json_integer(t->floor_id));
        if (offset > 0)
            json_object_set_new(params, "offset", json_integer(offset));
        rc = ctl_rpc_call(t->c, "getLogs", params, &resp, &result);
        json_decref(params);
        if (rc != CTL_OK) {
            return rc;
        }
        data = json_object_get(result, "data");
        if (last_n > 0) {
            for (i = json_array_size(data); i > 0; i--) {
                row = json_array_get(data, i - 1);
                if (json_integer_value(json_object_get(row, "id"))
                    > t->floor_id) {
                    t->floor_id =
                        json_integer_value(json_object_get(row, "id"));
                }
                show(t, row);
            }
        } else {
            json_array_foreach (data, i, row) {
                show(t, row);
            }
        }
        more = last_n == 0
            && json_is_true(json_object_get(
                json_object_get(result, "pagination"), "hasMore"));
        offset += (long long) json_array_size(data);
        json_decref(result);
        ctl_response_free(&resp);
    } while (more);
    fflush(t->c->out);
    return CTL_OK;
}

/* One complete text message from the feed. */
static void
on_message(struct tail *t, const char *text, size_t len)
{
    json_t *m = json_loadb(text, len, 0, NULL), *err;
    const char *kind = json_string_value(json_object_get(m, "kind"));

    if (kind != NULL && strcmp(kind, "log") == 0) {
        show(t, json_object_get(m, "row"));
        fflush(t->c->out);
    } else if (kind != NULL && strcmp(kind, "lagged") == 0) {
        /* The feed dropped rows for us: the store has them. */
        if (fetch(t, 0) != CTL_OK) {
            t->done = 1;
        }
    } else if (json_object_get(m, "result") != NULL && !t->subscribed) {
        t->subscribed = 1;
        /* What was committed before the subscription took effect. */
        if (fetch(t, 0) != CTL_OK) {
            t->done = 1;
        }
    } else if (json_is_object(err = json_object_get(m, "error"))) {
        ctl_error(t->c, CTL_FAIL,
                  "logs tail: the live feed refused the "
                  "subscription: %" JSON_INTEGER_FORMAT " %s",
                  json_integer_value(json_object_get(err, "code")),
                  json_string_value(json_object_get(err, "message"))
                      ? json_string_value(json_object_get(err, "message"))
                      : "");
        t->fatal = CTL_FAIL;
        t->done = 1;
    }
    json_decref(m);
}

static int
feed_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
              void *in, size_t len)
{
    struct tail *t = lws_context_user(lws_get_context(wsi));
    unsigned char buf[LWS_PRE + 512];
    json_t *req;
    char *text;
    size_t n;

    (void) user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        if (ctl_ws_add_authorization(wsi, t->authorization, in, len) != 0) {
            return -1;
        }
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        t->want_subscribe = 1;
        lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!t->want_subscribe) {
            break;
        }
        t->want_subscribe = 0;
        req = wharf_jsonrpc_call(1, "subscribe",
                                 json_pack("{s:[s]}", "kinds", "log"));
        if (t->worker) {
            json_object_set_new(json_object_get(req, "params"), "worker",
                                json_string(t->worker));
        }
        if (t->instance) {
            json_object_set_new(json_object_get(req, "params"), "instanceId",
                                json_string(t->instance));
        }
        text = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        n = text ? strlen(text) : 0;
        if (text == NULL || n > sizeof(buf) - LWS_PRE) {
            free(text);
            return -1;
        }
        memcpy(buf + LWS_PRE, text, n);
        free(text);
        if (lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT) < (int) n) {
            return -1;
        }
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (lws_is_first_fragment(wsi)) {
            t->msg_len = 0;
            t->msg_too_long = 0;
        }
        if (t->msg_len + len > CTL_TAIL_MSG_MAX) {
            t->msg_too_long = 1;
        } else {
            memcpy(t->msg + t->msg_len, in, len);
            t->msg_len += len;
        }
        if (lws_is_final_fragment(wsi) && !t->msg_too_long) {
            on_message(t, t->msg, t->msg_len);
        }
        if (t->done) {
            return -1;
        }
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        t->http_status = lws_http_client_http_response(wsi);
        t->ws = NULL;
        t->done = 1;
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        t->ws = NULL;
        t->done = 1;
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols feed_protocols[] = {
    { "wharfctl-feed", feed_callback, 0, 65536, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

static const lws_retry_bo_t feed_keepalive = {
    .secs_since_valid_ping = 20,
    .secs_since_valid_hangup = 60,
};

/* One feed connection, until it ends. CTL_OK when it had subscribed (a
 * later loss is worth an immediate retry), CTL_FAIL when it never got that
 * far, or t->fatal. */
static int
follow_once(struct tail *t, const struct ctl_ws_target *target)
{
    struct lws_context_creation_info info;
    struct lws_client_connect_info ci;
    char path[1100];

    snprintf(path, sizeof(path), "%s/ws/monitoring", target->base);
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = feed_protocols;
    info.user = t;
    info.pt_serv_buf_size = WHARF_TOKEN_MAX + 8192;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.gid = (gid_t) -1;
    info.uid = (uid_t) -1;
    t->cx = lws_create_context(&info);
    if (t->cx == NULL) {
        return CTL_FAIL;
    }
    t->done = t->subscribed = t->want_subscribe = 0;
    t->http_status = 0;
    memset(&ci, 0, sizeof(ci));
    ci.context = t->cx;
    ci.address = target->host;
    ci.port = target->port;
    ci.path = path;
    ci.host = target->authority;
    ci.ssl_connection = target->tls ? LCCSCF_USE_SSL : 0;
    ci.retry_and_idle_policy = &feed_keepalive;
    ci.local_protocol_name = "wharfctl-feed";
    ci.pwsi = &t->ws;
    if (lws_client_connect_via_info(&ci) == NULL) {
        t->done = 1;
    }
    while (!t->done) {
        if (lws_service(t->cx, 0) < 0) {
            break;
        }
    }
    lws_context_destroy(t->cx);
    t->cx = NULL;
    if (t->fatal) {
        return t->fatal;
    }
    return t->subscribed ? CTL_OK : CTL_FAIL;
}

static void
pause_s(long s)
{
    struct timespec ts = { (time_t) s, 0 };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int
ctl_cmd_logs_tail(struct ctl *c, int argc, char **argv)
{
    const char *count = NULL, *pos[1];
    int follow = 0, rc, npos, failures = 0;
    struct tail t;
    const struct ctl_flag flags[] = { { "--worker", 1, &t.worker, NULL },
                                      { "-i", 1, &t.instance, NULL },
                                      { "--instance-id", 1, &t.instance, NULL },
                                      { "-n", 1, &count, NULL },
                                      { "--lines", 1, &count, NULL },
                                      { "-f", 0, NULL, &follow },
                                      { "--follow", 0, NULL, &follow },
                                      { NULL, 0, NULL, NULL } };
    struct ctl_ws_target target;
    long long n = CTL_TAIL_DEFAULT_N;
    long backoff;
    char *end;

    memset(&t, 0, sizeof(t));
    t.c = c;
    rc = ctl_flags_parse(c, "logs tail", argc, argv, flags, pos, &npos, 0);
    if (rc == CTL_HELP) {
        fputs(tail_usage, c->out);
        return CTL_OK;
    }
    if (rc != CTL_OK) {
        return rc;
    }
    if (count != NULL) {
        errno = 0;
        n = strtoll(count, &end, 10);
        if (errno || *end || end == count || n < 1 || n > CTL_TAIL_MAX_N) {
            return ctl_error(c, CTL_USAGE, "logs tail: -n %s: from 1 to %d",
                             count, CTL_TAIL_MAX_N);
        }
    }
    if (t.worker != NULL && !wharf_name_valid(t.worker, strlen(t.worker))) {
        return ctl_error(c, CTL_USAGE,
                         "logs tail: --worker '%s' is not a "
                         "worker name",
                         t.worker);
    }
    if (follow) {
        rc = ctl_ws_target(c, &target);
        if (rc != CTL_OK) {
            return rc;
        }
        rc = ctl_ws_authorization(c, t.authorization, sizeof(t.authorization));
        if (rc != CTL_OK) {
            return rc;
        }
    }
    t.seen = json_object();
    t.order = json_array();
    t.msg = malloc(CTL_TAIL_MSG_MAX);
    if (t.seen == NULL || t.order == NULL || t.msg == NULL) {
        rc = ctl_error(c, CTL_FAIL, "out of memory");
        goto out;
    }

    rc = fetch(&t, n);
    if (rc != CTL_OK || !follow) {
        goto out;
    }
    lws_set_log_level(0, NULL);
    for (;;) {
        rc = follow_once(&t, &target);
        if (t.fatal) {
            rc = t.fatal;
            break;
        }
        if (rc == CTL_OK) {
            /* It was up and went away: try again at once. */
            failures = 0;
            fprintf(c->err,
                    "wharfctl: logs tail: the live feed closed; "
                    "reconnecting\n");
            continue;
        }
        if (failures++ == 0) {
            fprintf(c->err,
                    "wharfctl: logs tail: no live feed at %s/ws/"
                    "monitoring (%s%ld); retrying, and reading the store "
                    "meanwhile (Ctrl-C stops)\n",
                    c->args.url, t.http_status ? "HTTP " : "connection failed ",
                    t.http_status);
        }
        backoff = failures > CTL_TAIL_BACKOFF_S ? CTL_TAIL_BACKOFF_S : failures;
        pause_s(backoff);
        /* Poll the store meanwhile; its failures are said by ctl_rpc_call. */
        fetch(&t, 0);
    }
out:
    free(t.msg);
    json_decref(t.seen);
    json_decref(t.order);
    return rc;
}
