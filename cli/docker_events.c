/* The Docker Engine API's answers, parsed: see docker_events.h. */
#include "docker_events.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- lines ------------------------------------------------------------------ */

int
ctl_linebuf_feed(struct ctl_linebuf *b, const char *p, size_t n)
{
    const char *nl;
    size_t need, cap, keep;
    char *bigger;

    while (b->skipping && n > 0) {
        /* The rest of an over-long line: drop up to its end. */
        nl = memchr(p, '\n', n);
        if (nl == NULL) {
            return 0;
        }
        b->skipping = 0;
        n -= (size_t) (nl + 1 - p);
        p = nl + 1;
    }
    if (b->start > 0) {
        /* Lines handed out are done with: move what is left down. */
        memmove(b->data, b->data + b->start, b->len - b->start);
        b->len -= b->start;
        b->start = 0;
    }
    need = b->len + n + 1;
    if (need > b->cap) {
        cap = b->cap ? b->cap : 4096;
        while (cap < need) {
            cap *= 2;
        }
        bigger = realloc(b->data, cap);
        if (bigger == NULL) {
            return -1;
        }
        b->data = bigger;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    /* The unfinished last line: past the limit, it is dropped whole (the
     * rest of it as it comes), never handed out in pieces. */
    nl = memrchr(b->data, '\n', b->len);
    keep = nl ? (size_t) (nl + 1 - b->data) : 0;
    if (b->len - keep > CTL_DOCKER_LINE_MAX) {
        b->len = keep;
        b->data[b->len] = '\0';
        b->skipping = 1;
        b->dropped++;
    }
    return 0;
}

char *
ctl_linebuf_next(struct ctl_linebuf *b, size_t *len)
{
    char *line, *nl;
    size_t n;

    for (;;) {
        if (b->data == NULL || b->start >= b->len) {
            return NULL;
        }
        line = b->data + b->start;
        nl = memchr(line, '\n', b->len - b->start);
        if (nl == NULL) {
            return NULL;
        }
        n = (size_t) (nl - line);
        b->start += n + 1;
        if (n > CTL_DOCKER_LINE_MAX) {
            b->dropped++;
            continue;
        }
        if (n > 0 && line[n - 1] == '\r') {
            n--;
        }
        line[n] = '\0';
        if (n == 0) {
            continue; /* keep-alive blank lines */
        }
        *len = n;
        return line;
    }
}

void
ctl_linebuf_reset(struct ctl_linebuf *b)
{
    b->len = 0;
    b->start = 0;
    b->skipping = 0;
}

void
ctl_linebuf_free(struct ctl_linebuf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* --- labels ------------------------------------------------------------------- */

static int
port_valid(const char *s)
{
    long v = 0;
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9' || i >= 5) {
            return 0;
        }
        v = v * 10 + (s[i] - '0');
    }
    return i > 0 && v >= 1 && v <= 65535;
}

int
ctl_docker_upstream_valid(const char *s)
{
    const char *colon, *p;
    size_t hostlen;

    if (strlen(s) > CTL_DOCKER_UPSTREAM_MAX) {
        return 0;
    }
    if (s[0] == '[') {
        p = strchr(s, ']');
        if (p == NULL || p == s + 1 || p[1] != ':') {
            return 0;
        }
        for (colon = s + 1; colon < p; colon++) {
            if (strchr("0123456789abcdefABCDEF:.", *colon) == NULL) {
                return 0;
            }
        }
        return port_valid(p + 2);
    }
    colon = strrchr(s, ':');
    if (colon == NULL || colon == s) {
        return 0;
    }
    hostlen = (size_t) (colon - s);
    if (hostlen > 253 || s[0] == '-' || s[0] == '.' || colon[-1] == '-'
        || colon[-1] == '.') {
        return 0;
    }
    for (p = s; p < colon; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.')) {
            return 0;
        }
    }
    return port_valid(colon + 1);
}

/* A container name as Docker makes them ([a-zA-Z0-9][a-zA-Z0-9_.-]*),
 * within the gateway's bound. */
static int
container_name_valid(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > CTL_DOCKER_CONTAINER_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char ch = s[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
              || (ch >= '0' && ch <= '9')
              || (i > 0 && (ch == '_' || ch == '.' || ch == '-')))) {
            return 0;
        }
    }
    return 1;
}

static const char *
label(json_t *labels, const char *key)
{
    json_t *v = json_object_get(labels, key);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

int
ctl_docker_from_labels(struct ctl_docker_container *c, const char *id,
                       const char *name, json_t *labels, long long started)
{
    const char *worker, *agent, *max;
    char *end;
    long v;

    memset(c, 0, sizeof(*c));
    c->max_sessions = -1;
    c->started = started;
    worker = label(labels, CTL_DOCKER_LABEL_WORKER);
    if (worker == NULL) {
        return 0;
    }
    snprintf(c->id, sizeof(c->id), "%s", id ? id : "");
    if (name != NULL && name[0] == '/') {
        name++; /* the list says "/NAME", events "NAME" */
    }
    snprintf(c->name, sizeof(c->name), "%s", name ? name : "");
    if (!wharf_name_valid(worker, strlen(worker))) {
        snprintf(c->error, sizeof(c->error),
                 "label " CTL_DOCKER_LABEL_WORKER "='%.64s' is not a worker "
                 "name (^[a-z0-9][a-z0-9-]{0,62}$)",
                 worker);
        return 1;
    }
    memcpy(c->worker, worker, strlen(worker) + 1);
    if (!container_name_valid(name ? name : "")) {
        snprintf(c->error, sizeof(c->error),
                 "the container's name is not one the gateway takes (at most "
                 "%d of [a-zA-Z0-9_.-])",
                 CTL_DOCKER_CONTAINER_MAX);
        return 1;
    }
    agent = label(labels, CTL_DOCKER_LABEL_AGENT);
    if (agent == NULL) {
        agent = CTL_DOCKER_AGENT_DEFAULT;
    }
    if (!ctl_docker_upstream_valid(agent)) {
        snprintf(c->error, sizeof(c->error),
                 "label " CTL_DOCKER_LABEL_AGENT "='%.80s' is not HOST:PORT",
                 agent);
        return 1;
    }
    memcpy(c->upstream, agent, strlen(agent) + 1);
    max = label(labels, CTL_DOCKER_LABEL_MAX_SESSIONS);
    if (max != NULL) {
        errno = 0;
        v = strtol(max, &end, 10);
        if (max[0] < '0' || max[0] > '9' || *end != '\0' || errno != 0
            || v > CTL_DOCKER_MAX_SESSIONS_MAX) {
            snprintf(c->error, sizeof(c->error),
                     "label " CTL_DOCKER_LABEL_MAX_SESSIONS "='%.20s' is not "
                     "a number from 0 to %ld",
                     max, CTL_DOCKER_MAX_SESSIONS_MAX);
            return 1;
        }
        c->max_sessions = v;
    }
    return 1;
}

char *
ctl_docker_put_body(const struct ctl_docker_container *c)
{
    json_t *o;
    char *s;

    o = json_pack("{s:s, s:s}", "upstream", c->upstream, "container", c->name);
    if (o == NULL) {
        return NULL;
    }
    if (c->max_sessions >= 0) {
        json_object_set_new(o, "max_sessions",
                            json_integer((json_int_t) c->max_sessions));
    }
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

/* --- events ------------------------------------------------------------------ */

int
ctl_docker_event_parse(const char *line, size_t len,
                       struct ctl_docker_container *c, const char **why)
{
    json_t *ev, *actor, *attrs;
    const char *type, *action, *id;
    long long started;
    int kind = CTL_DOCKER_EV_IGNORE;

    memset(c, 0, sizeof(*c));
    ev = json_loadb(line, len, 0, NULL);
    if (!json_is_object(ev)) {
        json_decref(ev);
        *why = "not a JSON object";
        return -1;
    }
    type = json_string_value(json_object_get(ev, "Type"));
    action = json_string_value(json_object_get(ev, "Action"));
    actor = json_object_get(ev, "Actor");
    id = json_string_value(json_object_get(actor, "ID"));
    attrs = json_object_get(actor, "Attributes");
    if (type == NULL || action == NULL) {
        json_decref(ev);
        *why = "an event without Type or Action";
        return -1;
    }
    if (strcmp(type, "container") != 0) {
        json_decref(ev);
        return CTL_DOCKER_EV_IGNORE;
    }
    if (id == NULL || strlen(id) == 0 || strlen(id) > CTL_DOCKER_ID_MAX
        || !json_is_object(attrs)) {
        json_decref(ev);
        *why = "a container event without Actor.ID or Actor.Attributes";
        return -1;
    }
    started = json_integer_value(json_object_get(ev, "timeNano"));
    if (strcmp(action, "start") == 0) {
        kind = CTL_DOCKER_EV_START;
    } else if (strcmp(action, "rename") == 0) {
        kind = CTL_DOCKER_EV_RENAME;
    } else if (strcmp(action, "die") == 0 || strcmp(action, "stop") == 0
               || strcmp(action, "destroy") == 0) {
        kind = CTL_DOCKER_EV_GONE;
    }
    if (kind != CTL_DOCKER_EV_IGNORE
        && !ctl_docker_from_labels(
            c, id, json_string_value(json_object_get(attrs, "name")), attrs,
            started)) {
        kind = CTL_DOCKER_EV_IGNORE; /* not a worker's container */
    }
    if (kind == CTL_DOCKER_EV_GONE) {
        /* Only the id counts: the container is gone whatever its labels. */
        c->error[0] = '\0';
    }
    json_decref(ev);
    return kind;
}

/* --- container lists ---------------------------------------------------------- */

int
ctl_docker_list_parse(const char *body, size_t len,
                      void (*fn)(void *arg,
                                 const struct ctl_docker_container *c,
                                 int running),
                      void *arg, const char **why)
{
    struct ctl_docker_container c;
    json_t *list, *item, *names;
    const char *id, *state, *name;
    size_t i;
    int n = 0;

    list = json_loadb(body, len, 0, NULL);
    if (!json_is_array(list)) {
        json_decref(list);
        *why = "not a JSON list";
        return -1;
    }
    json_array_foreach (list, i, item) {
        id = json_string_value(json_object_get(item, "Id"));
        state = json_string_value(json_object_get(item, "State"));
        names = json_object_get(item, "Names");
        name = json_string_value(json_array_get(names, 0));
        if (id == NULL || state == NULL) {
            json_decref(list);
            *why = "a container without Id or State";
            return -1;
        }
        if (ctl_docker_from_labels(
                &c, id, name, json_object_get(item, "Labels"),
                (long long) json_integer_value(json_object_get(item, "Created"))
                    * 1000000000LL)) {
            fn(arg, &c, strcmp(state, "running") == 0);
            n++;
        }
    }
    json_decref(list);
    return n;
}
