/*
 * What the Docker watcher (wharfctl workers watch-docker) reads from the
 * Docker Engine API, without I/O, so that it is unit-tested
 * (tests/unit/test_ctl_docker.c):
 *
 *   - the event stream (GET /events) is newline-delimited JSON: a line
 *     buffer cuts it into lines, whatever the chunks it came in;
 *   - an event is one of a container's start, its end (die, stop,
 *     destroy), or a rename; anything else is ignored;
 *   - a container list (GET /containers/json) gives the containers that
 *     run now;
 *   - a container's labels say what to register (docs/containers.md):
 *       wharf.worker=NAME         required: the worker's name
 *       wharf.agent=HOST:PORT     the agent's address (127.0.0.1:7681)
 *       wharf.max-sessions=N      optional, 0 (none) to 1000000
 *     and the container's name is the entry's container.
 */
#ifndef CTL_DOCKER_EVENTS_H
#define CTL_DOCKER_EVENTS_H

#include <stddef.h>

#include <jansson.h>

#include "name.h"

#define CTL_DOCKER_LABEL_WORKER       "wharf.worker"
#define CTL_DOCKER_LABEL_AGENT        "wharf.agent"
#define CTL_DOCKER_LABEL_MAX_SESSIONS "wharf.max-sessions"
#define CTL_DOCKER_AGENT_DEFAULT      "127.0.0.1:7681"

/* Bounds, as the gateway's (wharf_worker's container= and max_sessions=,
 * docs/DIRECTIVES.md); an upstream is a host name of at most 253 bytes,
 * or a bracketed IPv6 address, and a port. */
#define CTL_DOCKER_CONTAINER_MAX    255
#define CTL_DOCKER_UPSTREAM_MAX     (253 + 2 + 1 + 5)
#define CTL_DOCKER_MAX_SESSIONS_MAX 1000000L
/* A container id is 64 hex digits. */
#define CTL_DOCKER_ID_MAX 64
/* Longest event line kept: Docker's events are a few hundred bytes; a
 * container with huge labels could make one longer. Past this the line
 * is dropped whole (and counted), never cut. */
#define CTL_DOCKER_LINE_MAX (1024 * 1024)

/* --- lines ------------------------------------------------------------------ */

struct ctl_linebuf {
    char *data;
    size_t len;
    size_t cap;
    size_t start;   /* where the next line begins */
    int skipping;   /* inside a line longer than CTL_DOCKER_LINE_MAX */
    size_t dropped; /* such lines, so far */
};

/* Appends a chunk. Returns 0, or -1 when out of memory. */
int ctl_linebuf_feed(struct ctl_linebuf *b, const char *p, size_t n);

/* The next complete line (without its "\n" or "\r\n"), NUL-terminated in
 * place; NULL when none is complete yet. Valid until the next feed. */
char *ctl_linebuf_next(struct ctl_linebuf *b, size_t *len);

/* Forgets everything (a new stream). */
void ctl_linebuf_reset(struct ctl_linebuf *b);
void ctl_linebuf_free(struct ctl_linebuf *b);

/* --- what a labelled container asks for ---------------------------------- */

/* A running container that carries wharf.worker, and the registry entry
 * its labels ask for. error is "" when the labels are good; otherwise it
 * says which label is wrong and why, and nothing is registered. */
struct ctl_docker_container {
    char id[CTL_DOCKER_ID_MAX + 1];
    char name[CTL_DOCKER_CONTAINER_MAX + 1]; /* the entry's container */
    char worker[WHARF_NAME_MAX + 1];
    char upstream[CTL_DOCKER_UPSTREAM_MAX + 1];
    long max_sessions; /* -1: not given */
    long long started; /* ns since the epoch: the newest wins a name */
    char error[160];
};

/* Fills c from a container's name and its labels (an object of strings).
 * Returns 1 when the labels carry wharf.worker (c->error says whether they
 * are usable), 0 when the container is not a worker's. */
int ctl_docker_from_labels(struct ctl_docker_container *c, const char *id,
                           const char *name, json_t *labels, long long started);

/* Is s HOST:PORT ([IPv6]:PORT included), with a port from 1 to 65535? */
int ctl_docker_upstream_valid(const char *s);

/* The body of PUT /api/workers/NAME for c: {"upstream","container"} and
 * "max_sessions" when given. malloc'd; NULL when out of memory. */
char *ctl_docker_put_body(const struct ctl_docker_container *c);

/* --- events ------------------------------------------------------------------ */

enum ctl_docker_event_kind {
    CTL_DOCKER_EV_IGNORE = 0, /* not a container's, not ours, or no action */
    CTL_DOCKER_EV_START,      /* started: c is filled */
    CTL_DOCKER_EV_GONE,       /* died, stopped or destroyed: c->id is set */
    CTL_DOCKER_EV_RENAME      /* renamed: c is filled, with the new name */
};

/* Parses one line of GET /events. Returns the kind, or -1 for a line that
 * is not an event (why says what). */
int ctl_docker_event_parse(const char *line, size_t len,
                           struct ctl_docker_container *c, const char **why);

/* --- container lists ---------------------------------------------------------- */

/* Calls fn for every container of a GET /containers/json answer that
 * carries wharf.worker, with running = 1 when its State is "running".
 * Returns the number of such containers, or -1 when body is not a list
 * of containers (why says what). */
int ctl_docker_list_parse(const char *body, size_t len,
                          void (*fn)(void *arg,
                                     const struct ctl_docker_container *c,
                                     int running),
                          void *arg, const char **why);

#endif
