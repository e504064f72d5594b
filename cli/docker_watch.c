/* The Docker watcher's model: see docker_watch.h. */
#include "docker_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

void
ctl_watch_init(struct ctl_watch *w)
{
    memset(w, 0, sizeof(*w));
}

static void
worker_free(struct ctl_watch_worker *wk)
{
    free(wk->applied);
    free(wk->refused);
    wk->applied = NULL;
    wk->refused = NULL;
}

void
ctl_watch_free(struct ctl_watch *w)
{
    size_t i;

    for (i = 0; i < w->nworkers; i++) {
        worker_free(&w->workers[i]);
    }
    free(w->workers);
    free(w->running);
    memset(w, 0, sizeof(*w));
}

static struct ctl_watch_worker *
worker_find(struct ctl_watch *w, const char *name)
{
    size_t i;

    for (i = 0; i < w->nworkers; i++) {
        if (strcmp(w->workers[i].name, name) == 0) {
            return &w->workers[i];
        }
    }
    return NULL;
}

/* The worker's entry, made when missing; NULL when out of memory. */
static struct ctl_watch_worker *
worker_get(struct ctl_watch *w, const char *name)
{
    struct ctl_watch_worker *wk = worker_find(w, name), *bigger;
    size_t cap;

    if (wk != NULL) {
        return wk;
    }
    if (w->nworkers == w->capworkers) {
        cap = w->capworkers ? w->capworkers * 2 : 16;
        bigger = realloc(w->workers, cap * sizeof(*bigger));
        if (bigger == NULL) {
            return NULL;
        }
        w->workers = bigger;
        w->capworkers = cap;
    }
    wk = &w->workers[w->nworkers++];
    memset(wk, 0, sizeof(*wk));
    snprintf(wk->name, sizeof(wk->name), "%s", name);
    return wk;
}

int
ctl_watch_running(struct ctl_watch *w, const struct ctl_docker_container *c)
{
    struct ctl_docker_container *bigger;
    size_t i, cap;

    if (c->error[0] != '\0' || c->worker[0] == '\0') {
        ctl_watch_gone(w, c->id); /* relabelled badly: no longer a worker */
        return 0;
    }
    if (worker_get(w, c->worker) == NULL) {
        return -1;
    }
    for (i = 0; i < w->nrunning; i++) {
        if (strcmp(w->running[i].id, c->id) == 0) {
            w->running[i] = *c;
            return 0;
        }
    }
    if (w->nrunning == w->caprunning) {
        cap = w->caprunning ? w->caprunning * 2 : 16;
        bigger = realloc(w->running, cap * sizeof(*bigger));
        if (bigger == NULL) {
            return -1;
        }
        w->running = bigger;
        w->caprunning = cap;
    }
    w->running[w->nrunning++] = *c;
    return 0;
}

void
ctl_watch_gone(struct ctl_watch *w, const char *id)
{
    size_t i;

    for (i = 0; i < w->nrunning; i++) {
        if (strcmp(w->running[i].id, id) == 0) {
            w->running[i] = w->running[--w->nrunning];
            return;
        }
    }
}

int
ctl_watch_is_running(const struct ctl_watch *w, const char *id)
{
    size_t i;

    for (i = 0; i < w->nrunning; i++) {
        if (strcmp(w->running[i].id, id) == 0) {
            return 1;
        }
    }
    return 0;
}

void
ctl_watch_clear_running(struct ctl_watch *w)
{
    w->nrunning = 0;
}

int
ctl_watch_own(struct ctl_watch *w, const char *name, const char *container)
{
    struct ctl_watch_worker *wk = worker_get(w, name);

    if (wk == NULL) {
        return -1;
    }
    if (!wk->owned || strcmp(wk->owned_container, container) != 0) {
        wk->owned = 1;
        snprintf(wk->owned_container, sizeof(wk->owned_container), "%s",
                 container);
        w->state_dirty = 1;
    }
    return 0;
}

const struct ctl_docker_container *
ctl_watch_target(const struct ctl_watch *w, const char *name)
{
    const struct ctl_docker_container *best = NULL, *c;
    size_t i;

    for (i = 0; i < w->nrunning; i++) {
        c = &w->running[i];
        if (strcmp(c->worker, name) != 0) {
            continue;
        }
        /* The last started wins; the id breaks a tie, so that the choice
         * never depends on the order the containers were seen in. */
        if (best == NULL || c->started > best->started
            || (c->started == best->started && strcmp(c->id, best->id) > 0)) {
            best = c;
        }
    }
    return best;
}

void
ctl_watch_forget_applied(struct ctl_watch *w, const char *name)
{
    size_t i;

    for (i = 0; i < w->nworkers; i++) {
        if (name == NULL || strcmp(w->workers[i].name, name) == 0) {
            free(w->workers[i].applied);
            w->workers[i].applied = NULL;
        }
    }
}

static int
same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

int
ctl_watch_next(struct ctl_watch *w, long long now_ms,
               struct ctl_watch_step *step)
{
    const struct ctl_docker_container *t;
    struct ctl_watch_worker *wk;
    char *body;
    size_t i;

    memset(step, 0, sizeof(*step));
    for (i = 0; i < w->nworkers; i++) {
        wk = &w->workers[i];
        t = ctl_watch_target(w, wk->name);
        if (t == NULL && !wk->owned) {
            /* No container asks for it and it is not ours: done with. */
            worker_free(wk);
            w->workers[i--] = w->workers[--w->nworkers];
            continue;
        }
        if (now_ms < wk->next_try_ms) {
            continue;
        }
        if (t == NULL) {
            step->action = CTL_WATCH_DELETE;
            snprintf(step->name, sizeof(step->name), "%s", wk->name);
            snprintf(step->container, sizeof(step->container), "%s",
                     wk->owned_container);
            return 1;
        }
        body = ctl_docker_put_body(t);
        if (body == NULL) {
            continue; /* out of memory: try on the next round */
        }
        if (same(body, wk->applied) || same(body, wk->refused)) {
            free(body);
            continue;
        }
        step->action = CTL_WATCH_PUT;
        snprintf(step->name, sizeof(step->name), "%s", wk->name);
        snprintf(step->container, sizeof(step->container), "%s", t->name);
        step->body = body;
        return 1;
    }
    return 0;
}

static void
backoff(struct ctl_watch_worker *wk, long long now_ms)
{
    if (wk->backoff_ms == 0) {
        wk->backoff_ms = CTL_WATCH_BACKOFF_MIN_MS;
    }
    wk->next_try_ms = now_ms + wk->backoff_ms;
    wk->backoff_ms *= 2;
    if (wk->backoff_ms > CTL_WATCH_BACKOFF_MAX_MS) {
        wk->backoff_ms = CTL_WATCH_BACKOFF_MAX_MS;
    }
}

void
ctl_watch_done(struct ctl_watch *w, struct ctl_watch_step *step,
               enum ctl_watch_result result, long long now_ms)
{
    struct ctl_watch_worker *wk = worker_find(w, step->name);
    char *body = step->body;

    step->body = NULL;
    if (wk == NULL) {
        free(body);
        return;
    }
    if (result == CTL_WATCH_RETRY) {
        free(body);
        backoff(wk, now_ms);
        return;
    }
    wk->backoff_ms = 0;
    wk->next_try_ms = 0;
    if (step->action == CTL_WATCH_PUT) {
        if (result == CTL_WATCH_OK) {
            free(wk->applied);
            free(wk->refused);
            wk->applied = body;
            wk->refused = NULL;
            if (!wk->owned
                || strcmp(wk->owned_container, step->container) != 0) {
                wk->owned = 1;
                snprintf(wk->owned_container, sizeof(wk->owned_container), "%s",
                         step->container);
                w->state_dirty = 1;
            }
        } else {
            free(wk->refused);
            wk->refused = body;
        }
        return;
    }
    free(body);
    /* DELETE: gone, or not ours to remove; either way no longer ours. */
    if (wk->owned) {
        wk->owned = 0;
        wk->owned_container[0] = '\0';
        w->state_dirty = 1;
    }
    free(wk->applied);
    wk->applied = NULL;
}

long long
ctl_watch_next_due(const struct ctl_watch *w)
{
    long long due = -1;
    size_t i;

    for (i = 0; i < w->nworkers; i++) {
        if (w->workers[i].next_try_ms > 0
            && (due < 0 || w->workers[i].next_try_ms < due)) {
            due = w->workers[i].next_try_ms;
        }
    }
    return due;
}

char *
ctl_watch_state_dump(const struct ctl_watch *w)
{
    json_t *root, *owned;
    char *s;
    size_t i;

    owned = json_object();
    root = json_pack("{s:o}", "owned", owned);
    if (root == NULL) {
        return NULL;
    }
    for (i = 0; i < w->nworkers; i++) {
        if (w->workers[i].owned) {
            json_object_set_new(owned, w->workers[i].name,
                                json_string(w->workers[i].owned_container));
        }
    }
    s = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(root);
    return s;
}

int
ctl_watch_state_load(struct ctl_watch *w, const char *text, size_t len,
                     const char **why)
{
    json_t *root, *owned, *v;
    const char *name;

    root = json_loadb(text, len, 0, NULL);
    owned = json_object_get(root, "owned");
    if (!json_is_object(owned)) {
        json_decref(root);
        *why = "not {\"owned\":{NAME:CONTAINER,...}}";
        return -1;
    }
    json_object_foreach (owned, name, v) {
        if (!wharf_name_valid(name, strlen(name)) || !json_is_string(v)
            || json_string_length(v) == 0
            || json_string_length(v) > CTL_DOCKER_CONTAINER_MAX) {
            continue;
        }
        if (ctl_watch_own(w, name, json_string_value(v)) != 0) {
            json_decref(root);
            *why = "out of memory";
            return -1;
        }
    }
    json_decref(root);
    w->state_dirty = 0; /* what was read needs no writing */
    return 0;
}
