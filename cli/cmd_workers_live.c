/*
 * wharfctl workers add | set | remove: the gateway's live registry
 * (PUT and DELETE /api/workers/NAME, scope admin).
 *
 *   add NAME --upstream HOST:PORT [--container C] [--max-sessions N]
 *            [--terminal-path P] [--websocket-path P]
 *   set NAME [the same flags]    changes what the flags say, keeps the rest
 *   remove NAME
 *
 * add refuses a worker that exists (the registry's answer to a GET), so
 * that a typo does not replace another worker: set changes one. A PUT
 * replaces the whole entry, so set reads the worker first and sends what
 * it has with the flags' values over it.
 */
#include "ctl.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http.h"
#include "name.h"
#include "output.h"

/* The module's own bound of max_sessions (docs/DIRECTIVES.md). */
#define CTL_MAX_SESSIONS_MAX 1000000

static const char live_usage[] =
    "usage: wharfctl workers add NAME --upstream HOST:PORT [--container C]\n"
    "                        [--max-sessions N] [--terminal-path P]\n"
    "                        [--websocket-path P]\n"
    "       wharfctl workers set NAME [--upstream HOST:PORT] [--container C]\n"
    "                        [--max-sessions N] [--terminal-path P]\n"
    "                        [--websocket-path P]\n"
    "       wharfctl workers remove NAME\n"
    "\n"
    "  add      registers a live worker (PUT /api/workers/NAME): routed by\n"
    "           every nginx worker process at once, nothing reloaded, kept\n"
    "           across restarts (wharf_registry_state); refused if NAME\n"
    "           exists\n"
    "  set      changes a live worker: the flags given, the rest as it is\n"
    "  remove   removes a live worker (DELETE /api/workers/NAME): its\n"
    "           sessions end, wharfd forgets it\n"
    "\n"
    "  --upstream HOST:PORT  the agent's address: IPv4:port, [IPv6]:port\n"
    "                        or unix:/path (no host names)\n"
    "  --container C         the container's name (default NAME)\n"
    "  --max-sessions N      terminal and websocket sessions at most; 0: no\n"
    "                        limit (default)\n"
    "  --terminal-path P     the agent paths the health probes open\n"
    "  --websocket-path P    (default /terminal and /websocket)\n"
    "\n"
    "Needs a token with the \"admin\" scope and sub \"*\". A wharf_worker of\n"
    "the configuration cannot be changed here (409): edit its file and\n"
    "reload.\n";

static const struct ctl_column entry_columns[] = {
    { "NAME", "name" },
    { "SOURCE", "source" },
    { "CONTAINER", "container" },
    { "UPSTREAM", "upstream.servers" },
    { "MAX_SESSIONS", "max_sessions" },
    { NULL, NULL }
};

static const struct ctl_column removed_columns[] = {
    { "REMOVED", "removed" }, { "WHARFD", "wharfd.status" }, { NULL, NULL }
};

struct live_flags {
    const char *upstream, *container, *max_sessions, *paths[2];
};

/* Prints the answer; a non-2xx one is an error naming the reason. */
static int
live_answer(struct ctl *c, const char *what, struct ctl_response *resp,
            const struct ctl_column *cols)
{
    json_t *value;
    int rc = CTL_OK;

    if (resp->status < 200 || resp->status > 299) {
        return ctl_http_status_error(c, what, resp);
    }
    value = json_loadb(resp->body, resp->len, 0, NULL);
    if (c->args.format == CTL_FORMAT_TABLE && value != NULL) {
        ctl_print_columns(c, value, cols);
    } else if (value != NULL || c->args.format == CTL_FORMAT_RAW) {
        ctl_output(c, value, resp->body, resp->len, NULL);
    } else {
        rc = ctl_error(c, CTL_FAIL, "%s: %s answered %ld but not with JSON",
                       what, resp->url, resp->status);
    }
    json_decref(value);
    return rc;
}

/* The agent path of a route path "/api/workers/NAME/terminal". */
static const char *
agent_path(json_t *entry, const char *key, const char *name)
{
    const char *route;
    char seg[WHARF_NAME_MAX + 3];
    const char *p;

    route = json_string_value(ctl_json_path(entry, key));
    snprintf(seg, sizeof(seg), "/%s/", name);
    p = route ? strstr(route, seg) : NULL;
    return p ? p + strlen(seg) - 1 : NULL;
}

/* The body of a PUT: the flags over what the worker has (set), or alone. */
static int
live_body(struct ctl *c, const char *what, const char *name,
          const struct live_flags *f, json_t *current, json_t **body)
{
    static const char *const keys[2] = { "terminal_path", "websocket_path" };
    static const char *const routes[2] = { "paths.terminal",
                                           "paths.websocket" };
    const char *v;
    char *end;
    long long n;
    int i;

    *body = json_object();
    if (*body == NULL) {
        return ctl_error(c, CTL_FAIL, "out of memory");
    }
    if (current != NULL) {
        v = json_string_value(
            json_array_get(ctl_json_path(current, "upstream.servers"), 0));
        json_object_set_new(*body, "upstream", json_string(v ? v : ""));
        json_object_set(*body, "container",
                        json_object_get(current, "container"));
        json_object_set(*body, "max_sessions",
                        json_object_get(current, "max_sessions"));
        for (i = 0; i < 2; i++) {
            v = agent_path(current, routes[i], name);
            if (v != NULL) {
                json_object_set_new(*body, keys[i], json_string(v));
            }
        }
    }
    if (f->upstream != NULL) {
        json_object_set_new(*body, "upstream", json_string(f->upstream));
    }
    if (f->container != NULL) {
        json_object_set_new(*body, "container", json_string(f->container));
    }
    if (f->max_sessions != NULL) {
        n = strtoll(f->max_sessions, &end, 10);
        if (end == f->max_sessions || *end != '\0' || n < 0
            || n > CTL_MAX_SESSIONS_MAX) {
            json_decref(*body);
            return ctl_error(c, CTL_USAGE,
                             "%s: --max-sessions '%s': a whole number from 0 "
                             "(no limit) to %d",
                             what, f->max_sessions, CTL_MAX_SESSIONS_MAX);
        }
        json_object_set_new(*body, "max_sessions", json_integer(n));
    }
    for (i = 0; i < 2; i++) {
        if (f->paths[i] != NULL) {
            json_object_set_new(*body, keys[i], json_string(f->paths[i]));
        }
    }
    return CTL_OK;
}

/* add and set: PUT, after a GET that says whether NAME exists. */
static int
live_put(struct ctl *c, const char *sub, const char *name,
         const struct live_flags *f)
{
    struct ctl_response resp;
    json_t *current = NULL, *body;
    char what[32], path[128], *text;
    const char *v;
    int rc, exists;

    snprintf(what, sizeof(what), "workers %s", sub);
    snprintf(path, sizeof(path), "/api/workers/%s", name);

    if (strcmp(sub, "add") == 0 && f->upstream == NULL) {
        return ctl_error(c, CTL_USAGE,
                         "workers add: --upstream HOST:PORT is required (see "
                         "wharfctl workers --help)");
    }
    rc = ctl_http(c, "GET", path, NULL, &resp);
    if (rc != CTL_OK) {
        return rc;
    }
    exists = resp.status == 200;
    if (exists) {
        current = json_loadb(resp.body, resp.len, 0, NULL);
    } else if (resp.status != 404) {
        rc = ctl_http_status_error(c, what, &resp);
        ctl_response_free(&resp);
        return rc;
    }
    ctl_response_free(&resp);

    if (strcmp(sub, "add") == 0 && exists) {
        v = json_string_value(json_object_get(current, "source"));
        rc = ctl_error(c, CTL_FAIL,
                       "workers add: worker '%s' exists already (%s): "
                       "wharfctl workers set changes it",
                       name, v != NULL ? v : "?");
        json_decref(current);
        return rc;
    }
    if (strcmp(sub, "set") == 0 && !exists) {
        return ctl_error(c, CTL_FAIL,
                         "workers set: no worker '%s' (wharfctl workers "
                         "add registers one)",
                         name);
    }
    rc = live_body(c, what, name, f, current, &body);
    json_decref(current);
    if (rc != CTL_OK) {
        return rc;
    }
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL) {
        return ctl_error(c, CTL_FAIL, "out of memory");
    }
    rc = ctl_http(c, "PUT", path, text, &resp);
    free(text);
    if (rc != CTL_OK) {
        return rc;
    }
    rc = live_answer(c, what, &resp, entry_columns);
    ctl_response_free(&resp);
    return rc;
}

static int
live_remove(struct ctl *c, const char *name)
{
    struct ctl_response resp;
    char path[128];
    int rc;

    snprintf(path, sizeof(path), "/api/workers/%s", name);
    rc = ctl_http(c, "DELETE", path, NULL, &resp);
    if (rc != CTL_OK) {
        return rc;
    }
    rc = live_answer(c, "workers remove", &resp, removed_columns);
    ctl_response_free(&resp);
    return rc;
}

/* argv[0] is "add", "set" or "remove" (ctl_cmd_workers). */
int
ctl_workers_live(struct ctl *c, int argc, char **argv)
{
    struct live_flags f = { NULL, NULL, NULL, { NULL, NULL } };
    const struct ctl_flag flags[] = {
        { "--upstream", 1, &f.upstream, NULL },
        { "--container", 1, &f.container, NULL },
        { "--max-sessions", 1, &f.max_sessions, NULL },
        { "--terminal-path", 1, &f.paths[0], NULL },
        { "--websocket-path", 1, &f.paths[1], NULL },
        { NULL, 0, NULL, NULL },
    };
    const char *pos[1], *sub = argv[0];
    char what[32];
    int rc, npos, remove = strcmp(sub, "remove") == 0;

    snprintf(what, sizeof(what), "workers %s", sub);
    rc = ctl_flags_parse(c, what, argc, argv, remove ? NULL : flags, pos, &npos,
                         1);
    if (rc == CTL_HELP) {
        fputs(live_usage, c->out);
        return CTL_OK;
    }
    if (rc != CTL_OK) {
        return rc;
    }
    if (npos != 1) {
        return ctl_error(c, CTL_USAGE,
                         "%s: missing NAME (see wharfctl workers --help)",
                         what);
    }
    if (!wharf_name_valid(pos[0], strlen(pos[0]))) {
        return ctl_error(c, CTL_USAGE,
                         "%s: '%s' is not a worker name "
                         "(^[a-z0-9][a-z0-9-]{0,62}$)",
                         what, pos[0]);
    }
    if (remove) {
        return live_remove(c, pos[0]);
    }
    return live_put(c, sub, pos[0], &f);
}
