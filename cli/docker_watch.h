/*
 * The Docker watcher's model (wharfctl workers watch-docker), without I/O,
 * so that every decision is unit-tested (tests/unit/test_ctl_docker.c).
 *
 * Docker is the source of truth, as for Traefik's provider: the registry
 * must hold, for every worker name that a running labelled container
 * carries, the entry that container's labels ask for; and must not hold
 * an entry the watcher made once its container is gone. The model keeps:
 *
 *   - the running labelled containers (from the list and the events);
 *   - per worker name: whether the watcher owns the registry entry (it
 *     made it, and with which container), what it last made the entry
 *     (so that an unchanged container costs nothing), what the gateway
 *     refused for good (not asked again until the labels change), and
 *     when to try again after a failure (exponential backoff).
 *
 * Ownership. The watcher removes only entries it owns: entries it put
 * itself, remembered across its own restarts in its state file
 * ({"owned":{"NAME":"CONTAINER",...}}), and, at start, the entries whose
 * container is a labelled container Docker still knows but that is not
 * running (it can only have come from a watcher). Before a DELETE the
 * entry is read back: it goes only if it is still a live entry with that
 * container; an entry an operator changed since, or a static one, is let
 * go (no longer owned) and kept.
 *
 * Several running containers with the same wharf.worker: the one started
 * last wins; when it stops, the next one takes the name over.
 */
#ifndef CTL_DOCKER_WATCH_H
#define CTL_DOCKER_WATCH_H

#include <stddef.h>

#include "docker_events.h"

/* Backoff after a failed registry call: doubled from MIN to MAX. */
#define CTL_WATCH_BACKOFF_MIN_MS 250
#define CTL_WATCH_BACKOFF_MAX_MS 15000

struct ctl_watch_worker {
    char name[WHARF_NAME_MAX + 1];
    int owned;
    char owned_container[CTL_DOCKER_CONTAINER_MAX + 1];
    char *applied; /* body last put; NULL: unknown, must be put */
    char *refused; /* body refused for good */
    long long next_try_ms;
    long backoff_ms;
};

struct ctl_watch {
    struct ctl_docker_container *running;
    size_t nrunning, caprunning;
    struct ctl_watch_worker *workers;
    size_t nworkers, capworkers;
    int state_dirty; /* ownership changed: write the state file */
};

enum ctl_watch_action {
    CTL_WATCH_NONE = 0,
    CTL_WATCH_PUT,   /* PUT /api/workers/NAME with body */
    CTL_WATCH_DELETE /* read NAME back; DELETE it if still container's */
};

struct ctl_watch_step {
    enum ctl_watch_action action;
    char name[WHARF_NAME_MAX + 1];
    char container[CTL_DOCKER_CONTAINER_MAX + 1];
    char *body; /* PUT: malloc'd, freed by ctl_watch_done */
};

enum ctl_watch_result {
    CTL_WATCH_OK,       /* done: put, deleted, or already absent */
    CTL_WATCH_REFUSED,  /* PUT refused for good (400, 409, 413) */
    CTL_WATCH_NOT_OURS, /* DELETE: the entry is not the one we made */
    CTL_WATCH_RETRY     /* transient: back off and try again */
};

void ctl_watch_init(struct ctl_watch *w);
void ctl_watch_free(struct ctl_watch *w);

/* A container runs (start event, or the list): added, or replaced by id.
 * One whose labels are wrong (c->error) is not kept. Returns 0, -1 when
 * out of memory. */
int ctl_watch_running(struct ctl_watch *w,
                      const struct ctl_docker_container *c);

/* The container with this id no longer runs. */
void ctl_watch_gone(struct ctl_watch *w, const char *id);

/* Is the container with this id running (as far as the model knows)? */
int ctl_watch_is_running(const struct ctl_watch *w, const char *id);

/* Forget every running container (before a fresh list). */
void ctl_watch_clear_running(struct ctl_watch *w);

/* The entry NAME is ours, made for container. Returns 0, -1 (memory). */
int ctl_watch_own(struct ctl_watch *w, const char *name, const char *container);

/* The running container NAME should be registered for, or NULL. */
const struct ctl_docker_container *ctl_watch_target(const struct ctl_watch *w,
                                                    const char *name);

/* Forget what was last put for every name, so that the next steps put
 * every running container's entry again (after the gateway lost it). */
void ctl_watch_forget_applied(struct ctl_watch *w, const char *name);

/* The next registry call due at now_ms, in step; 0 when none is due.
 * Names with nothing left to do are dropped. */
int ctl_watch_next(struct ctl_watch *w, long long now_ms,
                   struct ctl_watch_step *step);

/* What came of step. Frees step->body. */
void ctl_watch_done(struct ctl_watch *w, struct ctl_watch_step *step,
                    enum ctl_watch_result result, long long now_ms);

/* When the next retry falls due (ms), or -1 when nothing waits. */
long long ctl_watch_next_due(const struct ctl_watch *w);

/* The state file's text: {"owned":{"NAME":"CONTAINER",...}} (malloc'd). */
char *ctl_watch_state_dump(const struct ctl_watch *w);

/* Takes ownership from a state file's text. Returns 0, or -1 when it is
 * not one (why says what); a bad name in it is skipped. */
int ctl_watch_state_load(struct ctl_watch *w, const char *text, size_t len,
                         const char **why);

#endif
