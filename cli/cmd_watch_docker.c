/*
 * wharfctl workers watch-docker: registers Docker containers labelled
 * wharf.worker=NAME in the gateway's live registry, and removes them when
 * they stop, as Traefik's Docker provider does: nothing written by hand.
 *
 * The decisions are docker_watch.c's (the model), the parsing
 * docker_events.c's, the socket docker_api.c's; this file is the loop:
 *
 *   connect: list the labelled containers (GET /containers/json), then
 *            follow GET /events from just before that list (since=), so
 *            that nothing that happens in between is missed;
 *   run:     apply each event to the model; make the registry calls that
 *            are due (PUT, or read back and DELETE), backing off per name
 *            when the gateway fails; every --resync, read the registry
 *            and put again what is missing or different there;
 *   lost:    when the event stream ends (dockerd restarts), connect again
 *            with backoff, and list again: what died meanwhile goes.
 *
 * SIGTERM or SIGINT ends it (exit 0); the registry is left as it is (the
 * containers still run), and the next start takes up from the state file.
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "docker_api.h"
#include "docker_watch.h"
#include "duration.h"
#include "file.h"
#include "http.h"
#include "keys_load.h"
#include "log.h"
#include "token.h"

/* The watcher's own tokens: read (to read an entry back) and admin (to
 * change it), for every worker; made again when less than RENEW is left. */
#define WATCH_TOKEN_TTL_S   900
#define WATCH_TOKEN_RENEW_S 300
/* Reconnecting to Docker: doubled from MIN to MAX. */
#define WATCH_DOCKER_BACKOFF_MIN_MS 100
#define WATCH_DOCKER_BACKOFF_MAX_MS 5000
/* Longest wait in the loop when nothing is due: how soon a lost stream
 * that libcurl has not noticed yet is looked at again. */
#define WATCH_TICK_MS        1000
#define WATCH_RESYNC_DEFAULT "30s"
#define WATCH_STATE_MAX      (16UL * 1024 * 1024)
/* A P-256 PEM key is ~250 bytes. */
#define WATCH_KEY_FILE_MAX 16384

/* Docker's filters: containers that carry the label, and the actions
 * that change what the registry should hold. */
#define WATCH_LIST_FILTER "{\"label\":[\"" CTL_DOCKER_LABEL_WORKER "\"]}"
#define WATCH_EVENT_FILTER                                            \
    "{\"type\":[\"container\"],\"label\":[\"" CTL_DOCKER_LABEL_WORKER \
    "\"],\"event\":[\"start\",\"die\",\"stop\",\"destroy\",\"rename\"]}"

static const char watch_usage[] =
    "usage: wharfctl workers watch-docker [--socket PATH] [--key FILE]\n"
    "                                     [--state FILE] [--resync D] "
    "[--once]\n"
    "                                     [--log-level L]\n"
    "\n"
    "Follows Docker's events and keeps the gateway's live registry in step\n"
    "with the running containers labelled wharf.worker=NAME: a container\n"
    "that starts is put (PUT /api/workers/NAME), one that stops is removed\n"
    "(DELETE). Runs until SIGTERM or SIGINT; reconnects when dockerd\n"
    "restarts. Labels (docs/containers.md):\n"
    "  wharf.worker=NAME        the worker's name (required)\n"
    "  wharf.agent=HOST:PORT    its agent's address "
    "(default " CTL_DOCKER_AGENT_DEFAULT ")\n"
    "  wharf.max-sessions=N     its session cap (optional)\n"
    "The container's name is the entry's container.\n"
    "\n"
    "  --socket PATH   Docker's socket (default: DOCKER_HOST's unix:// path,\n"
    "                  else " CTL_DOCKER_SOCKET_DEFAULT ")\n"
    "  --key FILE      the orchestrator's private key ($WHARF_KEY): the\n"
    "                  watcher mints its own short-lived tokens (read admin);\n"
    "                  without it, --token or WHARF_TOKEN (scopes read and\n"
    "                  admin) is used as is\n"
    "  --state FILE    where the watcher remembers the entries it made, so\n"
    "                  that after its own restart it still removes them\n"
    "                  (default: none; a service should give one)\n"
    "  --resync D      read the registry back this often and put again what\n"
    "                  is missing or different (default " WATCH_RESYNC_DEFAULT
    ", 0: never)\n"
    "  --once          list, bring the registry in step, and exit (0 when\n"
    "                  every call succeeded, 1 otherwise)\n"
    "  --log-level L   debug, info (default), warn or error\n";

static volatile sig_atomic_t watch_stopping;
static int watch_wake[2] = { -1, -1 };

static void
on_stop_signal(int sig)
{
    int saved = errno;
    char b = (char) sig;

    watch_stopping = 1;
    if (write(watch_wake[1], &b, 1) < 0) {
        /* the pipe is full: a wake-up is already pending */
    }
    errno = saved;
}

struct watcher {
    struct ctl *c;
    struct ctl_docker docker;
    struct ctl_watch model;
    const char *state_path;
    char *key; /* PEM, or NULL: the given token is used */
    size_t key_len;
    char *token;
    time_t token_exp;
    long long resync_ms;
    long long next_resync_ms;
    int once;
    int connected_before;
    int failures; /* --once: calls that did not succeed */
};

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps up to ms, or until a stop signal. */
static void
pause_ms(long long ms)
{
    struct pollfd p = { watch_wake[0], POLLIN, 0 };

    if (!watch_stopping && ms > 0) {
        (void) poll(&p, 1, (int) ms);
    }
}

/* --- tokens, state ------------------------------------------------------------- */

static int
token_fresh(struct watcher *wt)
{
    struct wharf_claims claims;
    const char *why;
    time_t now = time(NULL);
    char *t;

    if (wt->key == NULL
        || (wt->token && now < wt->token_exp - WATCH_TOKEN_RENEW_S)) {
        return 0;
    }
    memset(&claims, 0, sizeof(claims));
    memcpy(claims.sub, "*", 2);
    claims.scopes = WHARF_SCOPE_READ | WHARF_SCOPE_ADMIN;
    claims.iat = now;
    claims.exp = now + WATCH_TOKEN_TTL_S;
    t = wharf_token_sign(&claims, (const unsigned char *) wt->key, wt->key_len,
                         &why);
    if (t == NULL) {
        wharf_error("cannot sign a token with the key: %s", why);
        return -1;
    }
    free(wt->token);
    wt->token = t;
    wt->token_exp = claims.exp;
    wt->c->args.token = t;
    return 0;
}

static void
state_save(struct watcher *wt)
{
    char *text;

    if (!wt->model.state_dirty) {
        return;
    }
    wt->model.state_dirty = 0;
    if (wt->state_path == NULL) {
        return;
    }
    text = ctl_watch_state_dump(&wt->model);
    if (text == NULL
        || ctl_write_atomic(wt->state_path, text, strlen(text)) != 0) {
        wharf_warn("cannot write the state file %s: %s", wt->state_path,
                   text ? strerror(errno) : "out of memory");
        wt->model.state_dirty = 1; /* try again after the next change */
    }
    free(text);
}

static int
state_load(struct watcher *wt)
{
    const char *why;
    size_t len;
    char *text;
    int err = 0;

    if (wt->state_path == NULL) {
        return 0;
    }
    text =
        (char *) wharf_read_small_file(wt->state_path, WATCH_STATE_MAX, &len);
    if (text == NULL) {
        err = errno;
        if (err == ENOENT) {
            return 0; /* the first run */
        }
        wharf_error("cannot read the state file %s: %s", wt->state_path,
                    strerror(err));
        return -1;
    }
    if (ctl_watch_state_load(&wt->model, text, len, &why) != 0) {
        wharf_error("the state file %s is not the watcher's: %s; move it away "
                    "to start afresh",
                    wt->state_path, why);
        free(text);
        return -1;
    }
    free(text);
    return 0;
}

/* --- registry calls -------------------------------------------------------------- */

/* The "error.message" of a gateway's JSON error, or "". */
static const char *
error_message(json_t *root)
{
    const char *m = json_string_value(
        json_object_get(json_object_get(root, "error"), "message"));

    return m ? m : "";
}

static enum ctl_watch_result
do_put(struct watcher *wt, struct ctl_watch_step *s)
{
    struct ctl_response resp;
    char path[128];
    enum ctl_watch_result r;
    json_t *root;

    snprintf(path, sizeof(path), "/api/workers/%s", s->name);
    if (ctl_http(wt->c, "PUT", path, s->body, &resp) != CTL_OK) {
        return CTL_WATCH_RETRY; /* ctl_http said why */
    }
    root = json_loadb(resp.body, resp.len, 0, NULL);
    if (resp.status == 200 || resp.status == 201) {
        wharf_info("%s %s: %s", resp.status == 201 ? "registered" : "updated",
                   s->name, s->body);
        r = CTL_WATCH_OK;
    } else if (resp.status == 400 || resp.status == 409 || resp.status == 413) {
        wharf_error("the gateway refuses %s (container %s): HTTP %ld: %s; "
                    "not asked again until its labels change",
                    s->name, s->container, resp.status, error_message(root));
        r = CTL_WATCH_REFUSED;
    } else {
        wharf_warn("PUT %s%s: HTTP %ld%s%s; trying again", wt->c->args.url,
                   path, resp.status, root ? ": " : "", error_message(root));
        r = CTL_WATCH_RETRY;
    }
    json_decref(root);
    ctl_response_free(&resp);
    return r;
}

/* The entry object of GET /api/workers/NAME (an object, or a list of
 * one), borrowed from root. */
static json_t *
entry_of(json_t *root)
{
    return json_is_array(root) ? json_array_get(root, 0) : root;
}

static enum ctl_watch_result
do_delete(struct watcher *wt, struct ctl_watch_step *s)
{
    struct ctl_response resp;
    const char *source, *container;
    char path[128];
    json_t *root, *e;
    enum ctl_watch_result r = CTL_WATCH_RETRY;

    snprintf(path, sizeof(path), "/api/workers/%s", s->name);
    if (ctl_http(wt->c, "GET", path, NULL, &resp) != CTL_OK) {
        return CTL_WATCH_RETRY;
    }
    if (resp.status == 404) {
        ctl_response_free(&resp);
        wharf_info("%s: container %s is gone, and so is the entry", s->name,
                   s->container);
        return CTL_WATCH_OK;
    }
    root = json_loadb(resp.body, resp.len, JSON_DECODE_ANY, NULL);
    e = entry_of(root);
    if (resp.status != 200 || !json_is_object(e)) {
        wharf_warn("GET %s%s: HTTP %ld; trying again", wt->c->args.url, path,
                   resp.status);
        json_decref(root);
        ctl_response_free(&resp);
        return CTL_WATCH_RETRY;
    }
    source = json_string_value(json_object_get(e, "source"));
    container = json_string_value(json_object_get(e, "container"));
    if (source != NULL && strcmp(source, "live") != 0) {
        wharf_info("%s: container %s is gone, but %s is now a %s worker: "
                   "left alone",
                   s->name, s->container, s->name, source);
        r = CTL_WATCH_NOT_OURS;
    } else if (container == NULL || strcmp(container, s->container) != 0) {
        wharf_info("%s: container %s is gone, but the entry now names "
                   "container %s: left alone",
                   s->name, s->container, container ? container : "(none)");
        r = CTL_WATCH_NOT_OURS;
    }
    json_decref(root);
    ctl_response_free(&resp);
    if (r == CTL_WATCH_NOT_OURS) {
        return r;
    }
    if (ctl_http(wt->c, "DELETE", path, NULL, &resp) != CTL_OK) {
        return CTL_WATCH_RETRY;
    }
    if (resp.status == 200 || resp.status == 204 || resp.status == 404) {
        wharf_info("removed %s: container %s is gone", s->name, s->container);
        r = CTL_WATCH_OK;
    } else {
        root = json_loadb(resp.body, resp.len, 0, NULL);
        wharf_warn("DELETE %s%s: HTTP %ld%s%s; trying again", wt->c->args.url,
                   path, resp.status, root ? ": " : "", error_message(root));
        json_decref(root);
        r = CTL_WATCH_RETRY;
    }
    ctl_response_free(&resp);
    return r;
}

/* Makes every registry call that is due. Returns 1 when some were left
 * for later because the gateway did not answer (try again soon), else 0. */
static int
sync_registry(struct watcher *wt)
{
    struct ctl_watch_step step;
    enum ctl_watch_result r;

    while (!watch_stopping && ctl_watch_next(&wt->model, now_ms(), &step)) {
        if (token_fresh(wt) != 0) {
            r = CTL_WATCH_RETRY;
        } else if (step.action == CTL_WATCH_PUT) {
            r = do_put(wt, &step);
        } else {
            r = do_delete(wt, &step);
        }
        if (r == CTL_WATCH_RETRY || r == CTL_WATCH_REFUSED) {
            wt->failures++;
        }
        ctl_watch_done(&wt->model, &step, r, now_ms());
        state_save(wt);
        if (r == CTL_WATCH_RETRY && !wt->once) {
            return 1; /* the others after the events waiting meanwhile */
        }
    }
    return 0;
}

/* Reads the registry back; a name whose entry is missing or differs from
 * what was put is put again (an operator's DELETE, a gateway that lost its
 * state): Docker is the source of truth. */
static void
resync(struct watcher *wt)
{
    const struct ctl_docker_container *t;
    struct ctl_response resp;
    const char *container, *name;
    json_t *root, *e, *servers, *v;
    size_t i, j, k;
    int present, found, upstream_ok;

    if (token_fresh(wt) != 0
        || ctl_http(wt->c, "GET", "/api/workers", NULL, &resp) != CTL_OK) {
        return;
    }
    root = json_loadb(resp.body, resp.len, 0, NULL);
    if (resp.status != 200 || !json_is_array(root)) {
        wharf_warn("resync: GET %s/api/workers: HTTP %ld", wt->c->args.url,
                   resp.status);
        json_decref(root);
        ctl_response_free(&resp);
        return;
    }
    for (i = 0; i < wt->model.nworkers; i++) {
        if (wt->model.workers[i].applied == NULL) {
            continue; /* about to be put anyway */
        }
        t = ctl_watch_target(&wt->model, wt->model.workers[i].name);
        if (t == NULL) {
            continue;
        }
        present = 0;
        found = 0;
        upstream_ok = 1;
        json_array_foreach (root, j, e) {
            name = json_string_value(json_object_get(e, "name"));
            if (name == NULL || strcmp(name, t->worker) != 0) {
                continue;
            }
            present = 1;
            container = json_string_value(json_object_get(e, "container"));
            found = container != NULL && strcmp(container, t->name) == 0;
            servers =
                json_object_get(json_object_get(e, "upstream"), "servers");
            /* An address is listed as given; a host name may be listed
             * resolved, so only an address is compared. */
            if (json_is_array(servers)
                && ((t->upstream[0] >= '0' && t->upstream[0] <= '9')
                    || t->upstream[0] == '[')) {
                upstream_ok = 0;
                json_array_foreach (servers, k, v) {
                    if (json_is_string(v)
                        && strcmp(json_string_value(v), t->upstream) == 0) {
                        upstream_ok = 1;
                    }
                }
            }
            break;
        }
        if (!found || !upstream_ok) {
            wharf_info("resync: %s is %s in the registry; putting it again",
                       t->worker, present ? "different" : "missing");
            ctl_watch_forget_applied(&wt->model, t->worker);
        }
    }
    json_decref(root);
    ctl_response_free(&resp);
}

/* --- Docker -------------------------------------------------------------------- */

struct list_ctx {
    struct watcher *wt;
    int running;
};

static void
on_listed(void *arg, const struct ctl_docker_container *c, int running)
{
    struct list_ctx *lc = arg;
    struct watcher *wt = lc->wt;
    size_t i;

    if (c->error[0] != '\0') {
        if (running) {
            wharf_error("container %s (%.12s): %s; not registered", c->name,
                        c->id, c->error);
        }
        return;
    }
    if (running) {
        if (ctl_watch_running(&wt->model, c) != 0) {
            wharf_error("out of memory");
        }
        lc->running++;
        return;
    }
    /* A labelled container Docker still knows but that is not running:
     * if the registry holds an entry for it, a watcher made it (at start
     * only, and only for a name not already owned). */
    if (wt->connected_before) {
        return;
    }
    for (i = 0; i < wt->model.nworkers; i++) {
        if (strcmp(wt->model.workers[i].name, c->worker) == 0
            && wt->model.workers[i].owned) {
            return;
        }
    }
    if (ctl_watch_own(&wt->model, c->worker, c->name) != 0) {
        wharf_error("out of memory");
    }
}

/* Lists the labelled containers and starts following the events. */
static int
docker_connect(struct watcher *wt, char *why, size_t whylen)
{
    struct list_ctx lc = { wt, 0 };
    char path[1024], *filter, *body;
    const char *perr;
    size_t len;
    long status;
    time_t since = time(NULL) - 1; /* events from just before the list */
    int n;

    filter = curl_easy_escape(wt->docker.curl, WATCH_LIST_FILTER, 0);
    snprintf(path, sizeof(path), "/containers/json?all=1&filters=%s",
             filter ? filter : "");
    curl_free(filter);
    if (ctl_docker_get(&wt->docker, path, &status, &body, &len, why, whylen)
        != 0) {
        return -1;
    }
    if (status != 200) {
        snprintf(why, whylen, "GET /containers/json: HTTP %ld: %.200s", status,
                 body);
        free(body);
        return -1;
    }
    ctl_watch_clear_running(&wt->model);
    n = ctl_docker_list_parse(body, len, on_listed, &lc, &perr);
    free(body);
    if (n < 0) {
        snprintf(why, whylen, "GET /containers/json: %s", perr);
        return -1;
    }
    state_save(wt);
    wharf_info("Docker at %s: %d labelled containers, %d running",
               wt->docker.socket, n, lc.running);
    wt->connected_before = 1;
    if (wt->once) {
        return 0;
    }
    filter = curl_easy_escape(wt->docker.curl, WATCH_EVENT_FILTER, 0);
    snprintf(path, sizeof(path), "/events?since=%lld&filters=%s",
             (long long) since, filter ? filter : "");
    curl_free(filter);
    if (ctl_docker_stream_start(&wt->docker, path) != 0) {
        snprintf(why, whylen, "cannot start the event stream");
        return -1;
    }
    return 0;
}

static void
handle_events(struct watcher *wt)
{
    struct ctl_docker_container c;
    const char *why = NULL;
    size_t len;
    char *line;
    int kind;

    while ((line = ctl_linebuf_next(&wt->docker.lines, &len)) != NULL) {
        kind = ctl_docker_event_parse(line, len, &c, &why);
        switch (kind) {
        case CTL_DOCKER_EV_START:
            if (c.error[0] != '\0') {
                wharf_error("container %s (%.12s): %s; not registered", c.name,
                            c.id, c.error);
            }
            wharf_debug("container %s (%.12s) started", c.name, c.id);
            if (ctl_watch_running(&wt->model, &c) != 0) {
                wharf_error("out of memory");
            }
            break;
        case CTL_DOCKER_EV_RENAME:
            if (ctl_watch_is_running(&wt->model, c.id)
                && ctl_watch_running(&wt->model, &c) != 0) {
                wharf_error("out of memory");
            }
            break;
        case CTL_DOCKER_EV_GONE:
            wharf_debug("container %.12s ended", c.id);
            ctl_watch_gone(&wt->model, c.id);
            break;
        case CTL_DOCKER_EV_IGNORE:
            break;
        default:
            wharf_warn("an event line from Docker is not one (%s): %.200s", why,
                       line);
        }
    }
}

/* Follows the events until the stream ends or a stop signal. */
static void
follow(struct watcher *wt)
{
    long long due, now, wait;
    int more;

    for (;;) {
        handle_events(wt);
        more = sync_registry(wt);
        if (watch_stopping) {
            return;
        }
        if (wt->docker.stream_done) {
            wharf_warn("lost Docker's event stream (%s%s%ld); reconnecting",
                       wt->docker.stream_error,
                       wt->docker.stream_status ? ", HTTP " : "",
                       wt->docker.stream_status);
            return;
        }
        now = now_ms();
        if (wt->resync_ms > 0 && now >= wt->next_resync_ms) {
            wt->next_resync_ms = now + wt->resync_ms;
            resync(wt);
            continue;
        }
        wait = more ? 0 : WATCH_TICK_MS;
        due = ctl_watch_next_due(&wt->model);
        if (due >= 0 && due - now < wait) {
            wait = due > now ? due - now : 0;
        }
        if (wt->resync_ms > 0 && wt->next_resync_ms - now < wait) {
            wait = wt->next_resync_ms - now;
        }
        if (ctl_docker_stream_wait(&wt->docker, watch_wake[0], (int) wait)
            != 0) {
            snprintf(wt->docker.stream_error, sizeof(wt->docker.stream_error),
                     "libcurl failed on the stream");
            wt->docker.stream_done = 1;
        }
    }
}

static int
watch_run(struct watcher *wt)
{
    char why[512];
    long backoff = 0;
    int failing = 0;

    while (!watch_stopping) {
        if (docker_connect(wt, why, sizeof(why)) != 0) {
            /* One message per outage; each attempt at debug level. */
            if (!failing) {
                wharf_warn("cannot follow Docker: %s; trying again", why);
            } else {
                wharf_debug("still no Docker: %s", why);
            }
            failing = 1;
            if (wt->once) {
                return CTL_FAIL;
            }
            backoff = backoff ? backoff * 2 : WATCH_DOCKER_BACKOFF_MIN_MS;
            if (backoff > WATCH_DOCKER_BACKOFF_MAX_MS) {
                backoff = WATCH_DOCKER_BACKOFF_MAX_MS;
            }
            pause_ms(backoff);
            continue;
        }
        if (failing) {
            wharf_info("Docker is back");
        }
        backoff = 0;
        failing = 0;
        if (wt->once) {
            sync_registry(wt);
            return wt->failures ? CTL_FAIL : CTL_OK;
        }
        follow(wt);
        ctl_docker_stream_stop(&wt->docker);
        if (!watch_stopping) {
            pause_ms(WATCH_DOCKER_BACKOFF_MIN_MS);
        }
    }
    wharf_info("stopping (signal); the registry is left as it is");
    return CTL_OK;
}

/* --- the command ---------------------------------------------------------------- */

static int
watch_setup(struct ctl *c, struct watcher *wt, const char *socket,
            const char *key, const char *resync_s, const char *level)
{
    const char *why = NULL, *host;
    long long secs = 0;
    int lvl;

    if (socket == NULL) {
        host = getenv("DOCKER_HOST");
        if (host != NULL && *host != '\0') {
            socket = ctl_docker_host_socket(host, &why);
            if (socket == NULL) {
                return ctl_error(c, CTL_USAGE,
                                 "workers watch-docker: DOCKER_HOST=%s: %s; "
                                 "pass --socket PATH",
                                 host, why);
            }
        } else {
            socket = CTL_DOCKER_SOCKET_DEFAULT;
        }
    }
    if (strlen(socket) == 0 || strlen(socket) > CTL_DOCKER_SOCKET_MAX) {
        return ctl_error(c, CTL_USAGE,
                         "workers watch-docker: --socket: a path of 1 to %d "
                         "bytes",
                         CTL_DOCKER_SOCKET_MAX);
    }
    if (strcmp(resync_s, "0") != 0
        && ctl_parse_duration(resync_s, 86400, &secs) != 0) {
        return ctl_error(c, CTL_USAGE,
                         "workers watch-docker: --resync %s: not a duration "
                         "from 1s to 1d, or 0",
                         resync_s);
    }
    wt->resync_ms = secs * 1000;
    lvl = wharf_log_level_parse(level);
    if (lvl < 0) {
        return ctl_error(c, CTL_USAGE,
                         "workers watch-docker: --log-level %s: debug, info, "
                         "warn or error",
                         level);
    }
    if (key != NULL && *key != '\0') {
        wt->key = (char *) wharf_read_small_file(key, WATCH_KEY_FILE_MAX,
                                                 &wt->key_len);
        if (wt->key == NULL) {
            return ctl_error(c, CTL_FAIL,
                             "workers watch-docker: cannot read the key %s: %s",
                             key, strerror(errno));
        }
    } else if (c->args.token == NULL) {
        return ctl_error(
            c, CTL_USAGE,
            "workers watch-docker: no credentials: pass --key FILE "
            "(or WHARF_KEY) to mint tokens, or a token with the "
            "read and admin scopes (--token, WHARF_TOKEN)");
    }
    if (ctl_docker_init(&wt->docker, socket) != 0) {
        return ctl_error(c, CTL_FAIL,
                         "workers watch-docker: cannot set up libcurl");
    }
    wharf_log_init("wharfctl watch-docker", (enum wharf_log_level) lvl);
    return CTL_OK;
}

int
ctl_cmd_workers_watch_docker(struct ctl *c, int argc, char **argv)
{
    const char *socket = NULL, *key = getenv("WHARF_KEY"), *state = NULL;
    const char *resync_s = WATCH_RESYNC_DEFAULT, *level = "info", *pos[1];
    int once = 0, npos, rc;
    const struct ctl_flag flags[] = { { "--socket", 1, &socket, NULL },
                                      { "--key", 1, &key, NULL },
                                      { "--state", 1, &state, NULL },
                                      { "--resync", 1, &resync_s, NULL },
                                      { "--log-level", 1, &level, NULL },
                                      { "--once", 0, NULL, &once },
                                      { NULL, 0, NULL, NULL } };
    struct sigaction sa;
    struct watcher wt;

    rc = ctl_flags_parse(c, "workers watch-docker", argc, argv, flags, pos,
                         &npos, 0);
    if (rc == CTL_HELP) {
        fputs(watch_usage, c->out);
        return CTL_OK;
    }
    if (rc != CTL_OK) {
        return rc;
    }
    memset(&wt, 0, sizeof(wt));
    wt.c = c;
    wt.once = once;
    wt.state_path = state;
    ctl_watch_init(&wt.model);
    rc = watch_setup(c, &wt, socket, key, resync_s, level);
    if (rc == CTL_OK && pipe2(watch_wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        rc = ctl_error(c, CTL_FAIL, "workers watch-docker: pipe: %s",
                       strerror(errno));
    }
    if (rc == CTL_OK && state_load(&wt) != 0) {
        rc = CTL_FAIL;
    }
    if (rc == CTL_OK) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        wt.next_resync_ms = now_ms() + wt.resync_ms;
        rc = watch_run(&wt);
    }
    if (watch_wake[0] >= 0) {
        close(watch_wake[0]);
        close(watch_wake[1]);
        watch_wake[0] = watch_wake[1] = -1;
    }
    if (wt.key != NULL) {
        memset(wt.key, 0, wt.key_len);
        free(wt.key);
    }
    if (wt.token != NULL) {
        c->args.token = NULL;
        free(wt.token);
    }
    ctl_docker_free(&wt.docker);
    ctl_watch_free(&wt.model);
    return rc;
}
