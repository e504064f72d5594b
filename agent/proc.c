/*
 * The process supervisor: see proc.h for the states and the rules.
 *
 * Every instance lives until the agent exits (an id is never reused within
 * one agent run), so callbacks may keep pointers to it.
 */
#include "errbuf.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "detect.h"
#include "log.h"

#include "errhash.h"
#include "utf8.h"

extern char **environ;

struct agent_probe {
    struct agent_proc *proc; /* NULL once the instance stopped caring */
    uv_tcp_t tcp;
    uv_connect_t req;
    uv_timer_t timer;
    int open; /* handles not yet closed */
    int done;
};

static void arm_health(struct agent_proc *p);

const char *
agent_pstate_name(enum agent_pstate s)
{
    static const char *const names[] = { "stopped", "starting", "running",
                                         "stopping", "crashed" };

    return names[s];
}

/* --- specs ------------------------------------------------------------------ */

int
agent_instance_id_valid(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > AGENT_INSTANCE_ID_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9');

        if (!alnum && (i == 0 || (c != '_' && c != '-'))) {
            return 0;
        }
    }
    return 1;
}

void
agent_proc_spec_free(struct agent_proc_spec *spec)
{
    char **v;

    free(spec->command);
    free(spec->cwd);
    for (v = spec->args; v != NULL && *v != NULL; v++) {
        free(*v);
    }
    free(spec->args);
    for (v = spec->env; v != NULL && *v != NULL; v++) {
        free(*v);
    }
    free(spec->env);
    memset(spec, 0, sizeof(*spec));
}

static int
get_uint(const json_t *obj, const char *key, unsigned long max, unsigned *out,
         char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0
        || (unsigned long) json_integer_value(v) > max) {
        return wharf_fail(err, errlen, "%s must be an integer 0..%lu", key,
                          max);
    }
    *out = (unsigned) json_integer_value(v);
    return 0;
}

static int
get_string(const json_t *obj, const char *key, char **out, char *err,
           size_t errlen)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0
        || json_string_length(v) > AGENT_PROC_STRING_MAX
        || strlen(json_string_value(v)) != json_string_length(v)) {
        return wharf_fail(err, errlen, "%s must be a string of 1..%d bytes",
                          key, AGENT_PROC_STRING_MAX);
    }
    *out = strdup(json_string_value(v));
    return *out != NULL ? 0 : wharf_fail(err, errlen, "out of memory");
}

int
agent_proc_spec_from_json(const json_t *obj, struct agent_proc_spec *spec,
                          char *err, size_t errlen)
{
    json_t *v, *e;
    const char *key;
    size_t i, n;
    unsigned port = 0;
    int port_given;

    memset(spec, 0, sizeof(*spec));
    if (!json_is_object(obj)) {
        return wharf_fail(err, errlen, "a process must be a JSON object");
    }
    v = json_object_get(obj, "instanceId");
    if (!json_is_string(v) || !agent_instance_id_valid(json_string_value(v))) {
        return wharf_fail(err, errlen,
                          "instanceId must match "
                          "^[a-zA-Z0-9][a-zA-Z0-9_-]*$, at most %d bytes",
                          AGENT_INSTANCE_ID_MAX);
    }
    snprintf(spec->id, sizeof(spec->id), "%s", json_string_value(v));
    if (get_string(obj, "command", &spec->command, err, errlen) != 0) {
        goto bad;
    }
    if (spec->command == NULL) {
        wharf_fail(err, errlen, "command is required");
        goto bad;
    }
    if (get_string(obj, "cwd", &spec->cwd, err, errlen) != 0) {
        goto bad;
    }

    v = json_object_get(obj, "args");
    n = v != NULL && !json_is_null(v) ? json_array_size(v) : 0;
    if (v != NULL && !json_is_null(v)
        && (!json_is_array(v) || n > AGENT_PROC_ARGS_MAX)) {
        wharf_fail(err, errlen, "args must be an array of at most %d strings",
                   AGENT_PROC_ARGS_MAX);
        goto bad;
    }
    spec->args = calloc(n + 1, sizeof(char *));
    if (spec->args == NULL) {
        wharf_fail(err, errlen, "out of memory");
        goto bad;
    }
    for (i = 0; i < n; i++) {
        e = json_array_get(v, i);
        if (!json_is_string(e) || json_string_length(e) > AGENT_PROC_STRING_MAX
            || strlen(json_string_value(e)) != json_string_length(e)) {
            wharf_fail(err, errlen,
                       "args[%zu] must be a string of at most %d "
                       "bytes",
                       i, AGENT_PROC_STRING_MAX);
            goto bad;
        }
        if ((spec->args[i] = strdup(json_string_value(e))) == NULL) {
            wharf_fail(err, errlen, "out of memory");
            goto bad;
        }
    }

    v = json_object_get(obj, "env");
    n = json_is_object(v) ? json_object_size(v) : 0;
    if (v != NULL && !json_is_null(v)
        && (!json_is_object(v) || n > AGENT_PROC_ENV_MAX)) {
        wharf_fail(err, errlen, "env must be an object of at most %d strings",
                   AGENT_PROC_ENV_MAX);
        goto bad;
    }
    spec->env = calloc(n + 1, sizeof(char *));
    if (spec->env == NULL) {
        wharf_fail(err, errlen, "out of memory");
        goto bad;
    }
    i = 0;
    if (n > 0) {
        json_object_foreach ((json_t *) v, key, e) {
            size_t len;

            if (!json_is_string(e) || key[0] == '\0' || strchr(key, '=')
                || json_string_length(e) > AGENT_PROC_STRING_MAX
                || strlen(json_string_value(e)) != json_string_length(e)) {
                wharf_fail(err, errlen,
                           "env.%s must be a string of at most %d "
                           "bytes (and its name non-empty, without '=')",
                           key, AGENT_PROC_STRING_MAX);
                goto bad;
            }
            len = strlen(key) + json_string_length(e) + 2;
            if ((spec->env[i] = malloc(len)) == NULL) {
                wharf_fail(err, errlen, "out of memory");
                goto bad;
            }
            snprintf(spec->env[i], len, "%s=%s", key, json_string_value(e));
            i++;
        }
    }

    port_given = json_object_get(obj, "expectedPort") != NULL
        && !json_is_null(json_object_get(obj, "expectedPort"));
    if (get_uint(obj, "expectedPort", 65535, &port, err, errlen) != 0) {
        goto bad;
    }
    if (port_given && port == 0) {
        wharf_fail(err, errlen, "expectedPort must be 1..65535");
        goto bad;
    }
    spec->expected_port = (int) port;
    spec->auto_restart = 1;
    spec->max_restarts =
        port ? AGENT_DEFAULT_MAX_RESTARTS_PORT : AGENT_DEFAULT_MAX_RESTARTS;
    spec->restart_delay_ms = AGENT_DEFAULT_RESTART_DELAY_MS;
    spec->kill_timeout_ms = AGENT_DEFAULT_PROC_KILL_TIMEOUT_MS;
    spec->health_interval_ms = port ? AGENT_DEFAULT_HEALTH_INTERVAL_PORT_MS
                                    : AGENT_DEFAULT_HEALTH_INTERVAL_MS;
    spec->stable_ms = AGENT_DEFAULT_STABLE_RUN_MS;
    spec->port_grace_ms = AGENT_DEFAULT_PORT_GRACE_MS;
    v = json_object_get(obj, "autoRestart");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_boolean(v)) {
            wharf_fail(err, errlen, "autoRestart must be true or false");
            goto bad;
        }
        spec->auto_restart = json_is_true(v);
    }
    if (get_uint(obj, "maxRestarts", 1000000, &spec->max_restarts, err, errlen)
            != 0
        || get_uint(obj, "restartDelayMs", 3600000, &spec->restart_delay_ms,
                    err, errlen)
            != 0
        || get_uint(obj, "killTimeoutMs", 600000, &spec->kill_timeout_ms, err,
                    errlen)
            != 0
        || get_uint(obj, "healthCheckIntervalMs", 3600000,
                    &spec->health_interval_ms, err, errlen)
            != 0
        || get_uint(obj, "stableRunMs", 86400000u, &spec->stable_ms, err,
                    errlen)
            != 0
        || get_uint(obj, "portGraceMs", 3600000, &spec->port_grace_ms, err,
                    errlen)
            != 0) {
        goto bad;
    }
    if (spec->kill_timeout_ms == 0) {
        /* K3: 0 means the default, as the peer's `killTimeout || 10000` */
        spec->kill_timeout_ms = AGENT_DEFAULT_PROC_KILL_TIMEOUT_MS;
    }
    return 0;
bad:
    agent_proc_spec_free(spec);
    return -1;
}

/* --- events and state ------------------------------------------------------- */

void
agent_sup_init(struct agent_sup *sup, uv_loop_t *loop,
               struct agent_reaper *reaper, const struct agent_detect *detect,
               size_t line_max, const struct agent_proc_hooks *hooks, void *ctx)
{
    memset(sup, 0, sizeof(*sup));
    sup->loop = loop;
    sup->reaper = reaper;
    sup->detect = detect;
    sup->line_max = line_max;
    sup->fatal_restart = 1;
    sup->hooks = hooks;
    sup->ctx = ctx;
}

void
agent_sup_stop(struct agent_sup *sup)
{
    sup->stopping = 1;
}

/* Tells the hook that p's row changed. */
static void
row_changed(struct agent_proc *p)
{
    struct agent_sup *sup = p->sup;

    if (sup->hooks->state_changed != NULL) {
        sup->hooks->state_changed(sup->ctx, p);
    }
}

void
agent_event(struct agent_sup *sup, struct agent_proc *p, const char *type,
            json_t *payload)
{
    char ts[40];
    json_t *ev;

    wharf_iso_ms(wharf_wall_ms(), ts, sizeof(ts));
    ev = json_pack("{s:s,s:s,s:o?}", "type", type, "timestamp", ts, "payload",
                   payload);
    if (ev == NULL) {
        return;
    }
    if (p != NULL) {
        json_object_set_new(ev, "instanceId", json_string(p->spec.id));
        if (p->runs > 0) {
            json_object_set_new(ev, "processId", json_string(p->process_id));
        }
    }
    if (sup->hooks->event != NULL) {
        sup->hooks->event(sup->ctx, p, ev);
    }
    json_decref(ev);
}

static void
set_state(struct agent_proc *p, enum agent_pstate to)
{
    enum agent_pstate from = p->state;

    if (from == to) {
        return;
    }
    p->state = to;
    wharf_info("process %s: %s -> %s", p->spec.id, agent_pstate_name(from),
               agent_pstate_name(to));
    agent_event(p->sup, p, "state_changed",
                json_pack("{s:s,s:s}", "from", agent_pstate_name(from), "to",
                          agent_pstate_name(to)));
    row_changed(p);
}

static void set_last_error(struct agent_proc *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_last_error(struct agent_proc *p, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(p->last_error, sizeof(p->last_error), fmt, ap);
    va_end(ap);
}

/* --- output ----------------------------------------------------------------- */

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v'
        || c == '\f';
}

/* An error's rawOutput: the line, as text without NUL, which is what
 * the orchestrator keeps there (docs/wharfd.md); each NUL becomes U+FFFD
 * (the log row keeps the line byte for byte). NULL when out of memory. */
static json_t *
raw_output(const char *line, size_t len)
{
    size_t i, o = 0;
    char *copy;
    json_t *j;

    if (memchr(line, '\0', len) == NULL) {
        return json_stringn(line, len);
    }
    copy = malloc(3 * len);
    if (copy == NULL) {
        return NULL;
    }
    for (i = 0; i < len; i++) {
        if (line[i] == '\0') {
            memcpy(copy + o, WHARF_UTF8_REPLACEMENT,
                   WHARF_UTF8_REPLACEMENT_LEN);
            o += WHARF_UTF8_REPLACEMENT_LEN;
        } else {
            copy[o++] = line[i];
        }
    }
    j = json_stringn(copy, o);
    free(copy);
    return j;
}

/* seq: the line's local sequence (on_line). The line is valid UTF-8 of
 * at most --line-max bytes (lines.h), so the error can always be built. */
static void
on_error_line(struct agent_proc *p, const struct agent_detect_result *r,
              const char *line, size_t len, int64_t line_ms, uint64_t seq)
{
    struct agent_sup *sup = p->sup;
    char ts[40], hash[WHARF_ERRHASH_HEX_LEN + 1];
    json_t *e = NULL;

    if (wharf_errhash(r->msg, r->msg_len, r->err_level, hash) == 0) {
        wharf_iso_ms(r->time_ms >= 0 ? r->time_ms : line_ms, ts, sizeof(ts));
        e = json_pack("{s:f,s:s%,s:s,s:o,s:s,s:s}", "level", r->err_level,
                      "message", r->msg, r->msg_len, "timestamp", ts,
                      "rawOutput", raw_output(line, len), "errorHash", hash,
                      "processId", p->process_id);
    }
    if (e != NULL && r->err_level == (double) (json_int_t) r->err_level) {
        /* an integral level travels as an integer */
        json_object_set_new(e, "level",
                            json_integer((json_int_t) r->err_level));
    }
    /* Its "sequence" (the shipped one of its line, by which wharfd counts
     * an occurrence once) is the shipper's to give: ship.h. */
    if (e == NULL) {
        wharf_error("process %s: out of memory building an error", p->spec.id);
    } else {
        if (sup->hooks->error != NULL) {
            sup->hooks->error(sup->ctx, p, e, seq);
        }
        json_decref(e);
    }

    if (r->fatal && sup->fatal_restart && p->state == AGENT_PS_RUNNING
        && !p->fatal_sent && p->pid > 0) {
        /* E10: SIGTERM to the direct child, then the restart policy */
        p->fatal_sent = 1;
        wharf_warn("process %s: fatal error, restarting: %.*s", p->spec.id,
                   (int) (r->msg_len > 200 ? 200 : r->msg_len), r->msg);
        set_last_error(p, "fatal error: %.*s",
                       (int) (r->msg_len > 200 ? 200 : r->msg_len), r->msg);
        agent_event(sup, p, "fatal_error",
                    json_pack("{s:s%}", "message", r->msg,
                              r->msg_len > 1000 ? (size_t) 1000 : r->msg_len));
        (void) kill(p->pid, SIGTERM);
    }
}

static void
on_line(void *ctx, const char *line, size_t len, unsigned flags)
{
    struct agent_proc_stream *s = ctx;
    struct agent_proc *p = s->proc;
    struct agent_sup *sup = p->sup;
    struct agent_detect_result r;
    struct agent_proc_line l;

    if (!(flags & (AGENT_LINE_SPLIT | AGENT_LINE_CONT))) {
        /* L4, L5: trimmed; empty lines are dropped */
        while (len > 0 && is_space(*line)) {
            line++;
            len--;
        }
        while (len > 0 && is_space(line[len - 1])) {
            len--;
        }
        if (len == 0) {
            return;
        }
    }
    l.seq = ++p->seq_local;
    agent_detect_line(sup->detect, line, len, &r);
    l.ts_ms = sup->read_ms;
    l.stream = s->no;
    l.level = r.level;
    l.flags = flags;
    l.text = line;
    l.len = len;
    if (sup->hooks->line != NULL) {
        sup->hooks->line(sup->ctx, p, &l);
    }
    if (r.is_error) {
        on_error_line(p, &r, line, len, sup->read_ms, l.seq);
    }
    agent_detect_release(&r);
}

static void
on_handle_closed(uv_handle_t *h)
{
    (void) h;
}

static void
on_poll_closed(uv_handle_t *h)
{
    free(h);
}

static void
stream_close(struct agent_proc_stream *s)
{
    if (s->fd < 0) {
        return;
    }
    agent_lines_flush(&s->lines, on_line, s); /* L7 differs: kept */
    if (s->poll != NULL) {
        /* libuv forgets the fd before it is closed */
        uv_close((uv_handle_t *) s->poll, on_poll_closed);
        s->poll = NULL;
    }
    (void) close(s->fd);
    s->fd = -1;
}

/* Reads what the pipe has (at most `rounds` reads). Returns 1 at EOF. */
static int
stream_read(struct agent_proc_stream *s, int rounds)
{
    struct agent_proc *p = s->proc;
    size_t room;
    ssize_t n;
    char *at;

    while (rounds-- > 0) {
        at = agent_lines_space(&s->lines, &room);
        n = read(s->fd, at, room);
        if (n > 0) {
            p->sup->read_ms = wharf_wall_ms();
            p->last_output_mono = uv_now(p->sup->loop);
            agent_lines_commit(&s->lines, (size_t) n, on_line, s);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            rounds++;
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            return 0;
        }
        if (n < 0) {
            wharf_warn("process %s: read: %s", p->spec.id, strerror(errno));
        }
        return 1;
    }
    return 0;
}

/* Closes a drain (what it holds is flushed) and frees it. */
static void
drain_end(struct agent_proc_stream *d)
{
    struct agent_proc *p = d->proc;
    struct agent_proc_stream **at;

    for (at = &p->drains; *at != NULL; at = &(*at)->next_drain) {
        if (*at == d) {
            *at = d->next_drain;
            p->ndrains--;
            break;
        }
    }
    stream_close(d);
    agent_lines_free(&d->lines);
    free(d);
}

/* The main process ended but s is not at EOF: its children still hold the
 * pipe. Moves the stream to a drain so that their later lines are read
 * too; s gets a fresh line buffer for the next run. Returns 0, or -1 when
 * out of memory (the caller closes s). */
static int
drain_begin(struct agent_proc_stream *s)
{
    struct agent_proc *p = s->proc;
    struct agent_proc_stream *d, *oldest, **at;

    if (s->poll == NULL) {
        return -1;
    }
    d = malloc(sizeof(*d));
    if (d == NULL) {
        return -1;
    }
    *d = *s;
    if (agent_lines_init(&s->lines, p->sup->line_max) != 0) {
        s->lines = d->lines;
        free(d);
        return -1;
    }
    d->draining = 1;
    d->poll->data = d;
    d->next_drain = p->drains;
    p->drains = d;
    p->ndrains++;
    s->fd = -1;
    s->poll = NULL;
    if (p->ndrains > AGENT_PROC_DRAINS_MAX) {
        for (at = &p->drains; (*at)->next_drain != NULL;
             at = &(*at)->next_drain) {
        }
        oldest = *at;
        wharf_warn("process %s: more than %u ended runs still hold output "
                   "pipes; no longer reading the oldest",
                   p->spec.id, AGENT_PROC_DRAINS_MAX);
        (void) stream_read(oldest, AGENT_PROC_READS_PER_WAKEUP);
        drain_end(oldest);
    }
    return 0;
}

static void
on_pipe(uv_poll_t *h, int status, int events)
{
    struct agent_proc_stream *s = h->data;

    (void) events;
    if (status < 0 || stream_read(s, AGENT_PROC_READS_PER_WAKEUP)) {
        if (s->draining) {
            drain_end(s);
        } else {
            stream_close(s);
        }
    }
}

/* Ends every drain of p after reading what they hold: the instance is
 * stopping or the agent exits. */
static void
drains_end_all(struct agent_proc *p)
{
    while (p->drains != NULL) {
        (void) stream_read(p->drains, AGENT_PROC_READS_AT_EXIT);
        drain_end(p->drains);
    }
}

/* --- spawning --------------------------------------------------------------- */

static int
env_is_agents(const char *entry)
{
    /* The agent's own settings (its tokens above all) stay with it. */
    return strncmp(entry, "WHARF_", 6) == 0;
}

/* argv and envp for one start, allocated before fork. */
static int
build_exec(struct agent_proc *p, char ***argv_out, char ***envp_out,
           char **port_env)
{
    size_t na = 0, ne = 0, nenv = 0, i, j = 0;
    char **argv, **envp;

    for (; p->spec.args[na] != NULL; na++) {
    }
    for (; environ[ne] != NULL; ne++) {
    }
    for (; p->spec.env[nenv] != NULL; nenv++) {
    }
    argv = calloc(na + 2, sizeof(char *));
    envp = calloc(ne + nenv + 2, sizeof(char *));
    *port_env = NULL;
    if (argv == NULL || envp == NULL) {
        free(argv);
        free(envp);
        return -1;
    }
    argv[0] = p->spec.command;
    for (i = 0; i < na; i++) {
        argv[i + 1] = p->spec.args[i];
    }
    if (p->spec.expected_port > 0) {
        if (asprintf(port_env, "PORT=%d", p->spec.expected_port) < 0) {
            *port_env = NULL;
        }
    }
    for (i = 0; i < ne; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t k, n = eq != NULL ? (size_t) (eq - environ[i]) : 0;
        int overridden = 0;

        if (env_is_agents(environ[i])
            || (*port_env != NULL && strncmp(environ[i], "PORT=", 5) == 0)) {
            continue;
        }
        for (k = 0; k < nenv; k++) {
            if (strncmp(p->spec.env[k], environ[i], n + 1) == 0) {
                overridden = 1;
            }
        }
        if (!overridden) {
            envp[j++] = environ[i];
        }
    }
    for (i = 0; i < nenv; i++) {
        envp[j++] = p->spec.env[i];
    }
    if (*port_env != NULL) {
        envp[j++] = *port_env;
    }
    envp[j] = NULL;
    *argv_out = argv;
    *envp_out = envp;
    return 0;
}

static void __attribute__((noreturn))
child_exec(struct agent_proc *p, char **argv, char **envp, int in, int out,
           int errfd, int sync_fd, int max_fd)
{
    agent_child_reset_signals();
    if (setsid() < 0) {
        goto fail;
    }
    if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0
        || dup2(errfd, STDERR_FILENO) < 0) {
        goto fail;
    }
    if (p->spec.cwd != NULL && chdir(p->spec.cwd) != 0) {
        goto fail;
    }
    agent_child_before_exec(sync_fd, max_fd);
    execvpe(argv[0], argv, envp);
fail:
    agent_child_failed(sync_fd);
}

static void on_child_exit(struct agent_child *child, int status);

/* Forks and execs the instance's command. Returns 0, or -1 with err. */
static int
spawn(struct agent_proc *p, char *err, size_t errlen)
{
    struct agent_sup *sup = p->sup;
    int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, syncp[2] = { -1, -1 };
    int devnull = -1, child_errno, saved, i, rc = -1, max_fd;
    char **argv = NULL, **envp = NULL, *port_env = NULL;
    sigset_t all, old;
    ssize_t n;
    pid_t pid;

    if (build_exec(p, &argv, &envp, &port_env) != 0) {
        return wharf_fail(err, errlen, "out of memory");
    }
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || pipe2(outp, O_CLOEXEC) != 0
        || pipe2(errp, O_CLOEXEC) != 0 || pipe2(syncp, O_CLOEXEC) != 0) {
        wharf_fail(err, errlen, "cannot make pipes: %s", strerror(errno));
        goto out;
    }
    max_fd = agent_child_max_fd();
    sigfillset(&all);
    (void) sigprocmask(SIG_SETMASK, &all, &old);
    pid = fork();
    if (pid == 0) {
        child_exec(p, argv, envp, devnull, outp[1], errp[1], syncp[1], max_fd);
    }
    saved = errno;
    (void) sigprocmask(SIG_SETMASK, &old, NULL);
    (void) close(syncp[1]);
    syncp[1] = -1;
    if (pid < 0) {
        wharf_fail(err, errlen, "fork: %s", strerror(saved));
        goto out;
    }
    do {
        n = read(syncp[0], &child_errno, sizeof(child_errno));
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t) sizeof(child_errno)) {
        /* never exec'd: reap it here, before the reaper can see it */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        wharf_fail(err, errlen, "cannot run %s: %s", p->spec.command,
                   strerror(child_errno));
        goto out;
    }

    p->pid = p->pgid = pid;
    p->child.pid = pid;
    p->child.on_exit = on_child_exit;
    agent_reaper_watch(sup->reaper, &p->child);
    for (i = 0; i < 2; i++) {
        struct agent_proc_stream *s = &p->out[i];
        int fd = i == 0 ? outp[0] : errp[0];

        (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        s->fd = fd;
        s->lines.len = 0;
        s->lines.continued = 0;
        s->poll = malloc(sizeof(*s->poll));
        if (s->poll != NULL && uv_poll_init(sup->loop, s->poll, fd) == 0) {
            s->poll->data = s;
            uv_poll_start(s->poll, UV_READABLE | UV_DISCONNECT, on_pipe);
        } else {
            free(s->poll);
            s->poll = NULL;
            wharf_error("process %s: cannot poll its output", p->spec.id);
        }
    }
    outp[0] = errp[0] = -1;
    rc = 0;
out:
    for (i = 0; i < 2; i++) {
        if (outp[i] >= 0) {
            (void) close(outp[i]);
        }
        if (errp[i] >= 0) {
            (void) close(errp[i]);
        }
        if (syncp[i] >= 0) {
            (void) close(syncp[i]);
        }
    }
    if (devnull >= 0) {
        (void) close(devnull);
    }
    free(argv);
    free(envp);
    free(port_env);
    return rc;
}

/* --- start, stop, restart --------------------------------------------------- */

int
agent_proc_start(struct agent_proc *p, int manual, char *err, size_t errlen)
{
    struct agent_sup *sup = p->sup;
    uint64_t ran;

    if (p->state != AGENT_PS_STOPPED && p->state != AGENT_PS_CRASHED) {
        return wharf_fail(err, errlen, "Cannot start: process is in '%s' state",
                          agent_pstate_name(p->state));
    }
    if (sup->stopping) {
        return wharf_fail(err, errlen,
                          "Cannot start: the agent is shutting down");
    }
    if (p->restart_pending) {
        uv_timer_stop(&p->restart_timer);
        p->restart_pending = 0;
    }
    if (manual) {
        p->restart_count = 0;
    } else if (p->runs > 0 && p->end_mono >= p->start_mono) {
        ran = p->end_mono - p->start_mono;
        if (ran > p->spec.stable_ms && p->restart_count > 0) {
            /* R7 */
            wharf_info("process %s: previous run was stable (%llus), "
                       "resetting restart counter from %u to 0",
                       p->spec.id, (unsigned long long) (ran / 1000),
                       p->restart_count);
            p->restart_count = 0;
        }
    }
    p->runs++;
    snprintf(p->process_id, sizeof(p->process_id), "%s-%lu", p->spec.id,
             p->runs);
    p->stop_requested = 0;
    p->fatal_sent = 0;
    p->exit_code = -1;
    p->term_signal = 0;
    p->end_ms = 0;
    p->port_confirmed = 0;
    p->port_failures = 0;
    set_state(p, AGENT_PS_STARTING);
    if (spawn(p, err, errlen) != 0) {
        wharf_error("process %s: %s", p->spec.id, err);
        set_last_error(p, "%s", err);
        set_state(p, AGENT_PS_STOPPED); /* S7: no restart */
        return -1;
    }
    p->start_ms = wharf_wall_ms();
    p->start_mono = p->last_output_mono = uv_now(sup->loop);
    set_state(p, AGENT_PS_RUNNING);
    wharf_info("process %s: started pid %d (%s), restart count %u/%u",
               p->spec.id, (int) p->pid, p->spec.command, p->restart_count,
               p->spec.max_restarts);
    agent_event(sup, p, "process_started",
                json_pack("{s:i,s:s,s:i}", "pid", (int) p->pid, "command",
                          p->spec.command, "restartCount",
                          (int) p->restart_count));
    arm_health(p);
    return 0;
}

static void
on_kill_timer(uv_timer_t *t)
{
    struct agent_proc *p = t->data;

    if (p->pgid > 1 && (kill(-p->pgid, 0) == 0 || p->pid > 0)) {
        wharf_warn("process %s: still alive after %u ms, sending SIGKILL",
                   p->spec.id, p->spec.kill_timeout_ms);
        (void) kill(-p->pgid, SIGKILL);
        if (p->pid > 0) {
            (void) kill(p->pid, SIGKILL);
        }
    }
}

int
agent_proc_stop(struct agent_proc *p, int force, char *err, size_t errlen)
{
    (void) err;
    (void) errlen;
    p->restart_after_stop = 0;
    switch (p->state) {
    case AGENT_PS_STOPPED:
    case AGENT_PS_CRASHED:
        if (p->restart_pending) {
            uv_timer_stop(&p->restart_timer);
            p->restart_pending = 0;
            wharf_info("process %s: cancelled pending restart", p->spec.id);
        }
        set_state(p, AGENT_PS_STOPPED); /* S4: idempotent */
        return 0;
    case AGENT_PS_STARTING:
        return wharf_fail(err, errlen,
                          "Cannot stop: process is still starting");
    case AGENT_PS_STOPPING:
        if (force && p->pgid > 1) {
            (void) kill(-p->pgid, SIGKILL);
        }
        return 0;
    case AGENT_PS_RUNNING:
        break;
    }
    p->stop_requested = 1;
    uv_timer_stop(&p->health_timer);
    set_state(p, AGENT_PS_STOPPING);
    wharf_info("process %s: stopping pid %d (%s)", p->spec.id, (int) p->pid,
               force ? "SIGKILL" : "SIGTERM");
    if (kill(-p->pgid, force ? SIGKILL : SIGTERM) != 0) {
        (void) kill(p->pid, force ? SIGKILL : SIGTERM);
    }
    uv_timer_start(&p->kill_timer, on_kill_timer, p->spec.kill_timeout_ms, 0);
    return 0;
}

int
agent_proc_restart(struct agent_proc *p, char *err, size_t errlen)
{
    if (p->state == AGENT_PS_RUNNING || p->state == AGENT_PS_STOPPING) {
        if (agent_proc_stop(p, 0, err, errlen) != 0) {
            return -1;
        }
        p->restart_after_stop = 1;
        return 0;
    }
    return agent_proc_start(p, 1, err, errlen);
}

static void
on_restart_timer(uv_timer_t *t)
{
    struct agent_proc *p = t->data;
    char err[256];

    p->restart_pending = 0;
    if (p->state != AGENT_PS_CRASHED) {
        wharf_info("process %s: restart cancelled: process was stopped "
                   "during delay",
                   p->spec.id);
        return;
    }
    wharf_info("process %s: restarting now: attempt=%u/%u", p->spec.id,
               p->restart_count, p->spec.max_restarts);
    if (agent_proc_start(p, 0, err, sizeof(err)) != 0) {
        /* R9: no further automatic attempt */
        agent_event(p->sup, p, "restart_failed",
                    json_pack("{s:i,s:s}", "attempt", (int) p->restart_count,
                              "error", err));
    }
}

/* "SIGTERM" for 15, as the peer names signals. */
static void
sig_name(int sig, char *buf, size_t size)
{
    const char *abbrev = sigabbrev_np(sig);

    if (abbrev != NULL) {
        snprintf(buf, size, "SIG%s", abbrev);
    } else {
        snprintf(buf, size, "%d", sig);
    }
}

static void
describe_exit(const struct agent_proc *p, char *buf, size_t size)
{
    char sig[24];

    if (p->term_signal) {
        sig_name(p->term_signal, sig, sizeof(sig));
        snprintf(buf, size, "Signal: %s", sig);
    } else {
        snprintf(buf, size, "Exit code: %d", p->exit_code);
    }
}

static void
on_child_exit(struct agent_child *child, int status)
{
    struct agent_proc *p =
        (struct agent_proc *) ((char *) child
                               - offsetof(struct agent_proc, child));
    struct agent_sup *sup = p->sup;
    char how[64], sig[64];
    int i, will, clean;

    /* What the child wrote before it ended comes before its exit. A pipe
     * not at EOF is still held by the app's children: it is drained on
     * its own until they close it (docs/agent.md, "Output"). */
    for (i = 0; i < 2; i++) {
        if (p->out[i].fd >= 0) {
            if (stream_read(&p->out[i], AGENT_PROC_READS_AT_EXIT) == 1
                || drain_begin(&p->out[i]) != 0) {
                stream_close(&p->out[i]);
            }
        }
    }
    if (WIFEXITED(status)) {
        p->exit_code = WEXITSTATUS(status);
        p->term_signal = 0;
    } else {
        p->exit_code = -1;
        p->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }
    p->end_ms = wharf_wall_ms();
    p->end_mono = uv_now(sup->loop);
    wharf_info("process %s: pid %d ended (%s%d)", p->spec.id, (int) p->pid,
               p->term_signal ? "signal " : "code ",
               p->term_signal ? p->term_signal : p->exit_code);
    p->pid = 0;
    uv_timer_stop(&p->health_timer);
    if (p->probe != NULL) {
        p->probe->proc = NULL;
        p->probe = NULL;
        p->probe_busy = 0;
    }
    if (!(p->pgid > 1 && kill(-p->pgid, 0) == 0 && p->stop_requested)) {
        /* the group is gone, or nobody asked for it to go */
        uv_timer_stop(&p->kill_timer);
    }
    describe_exit(p, how, sizeof(how));
    snprintf(sig, sizeof(sig), "%s", how + 8);
    if (sup->hooks->ended != NULL) {
        sup->hooks->ended(sup->ctx, p);
    }

    if (p->stop_requested) {
        set_state(p, AGENT_PS_STOPPED);
        agent_event(sup, p, "process_stopped",
                    json_pack("{s:s}", "reason", how));
        if (p->restart_after_stop) {
            char err[256];

            p->restart_after_stop = 0;
            if (agent_proc_start(p, 1, err, sizeof(err)) != 0) {
                agent_event(sup, p, "restart_failed",
                            json_pack("{s:i,s:s}", "attempt", 0, "error", err));
            }
        }
        return;
    }
    clean = p->exit_code == 0
        && p->end_mono - p->last_output_mono <= AGENT_INACTIVITY_MS;
    if (clean) {
        set_state(p, AGENT_PS_STOPPED); /* R3 */
        agent_event(sup, p, "process_stopped",
                    json_pack("{s:s}", "reason", how));
        return;
    }
    will = p->spec.auto_restart && p->restart_count < p->spec.max_restarts
        && !sup->stopping;
    if (p->last_error[0] == '\0' || !p->fatal_sent) {
        set_last_error(p, "%s", how);
    }
    set_state(p, AGENT_PS_CRASHED);
    agent_event(
        sup, p, "process_crashed",
        json_pack("{s:o,s:o,s:b,s:i,s:i}", "exitCode",
                  p->term_signal ? json_null() : json_integer(p->exit_code),
                  "signal", p->term_signal ? json_string(sig) : json_null(),
                  "willRestart", will, "restartCount", (int) p->restart_count,
                  "maxRestarts", (int) p->spec.max_restarts));
    if (will) {
        p->restart_count++;
        p->restart_pending = 1;
        row_changed(p);
        wharf_info("process %s: scheduling restart: attempt=%u/%u, "
                   "delay=%ums",
                   p->spec.id, p->restart_count, p->spec.max_restarts,
                   p->spec.restart_delay_ms);
        uv_timer_start(&p->restart_timer, on_restart_timer,
                       p->spec.restart_delay_ms, 0);
    } else {
        wharf_warn("process %s: will not restart: %s", p->spec.id,
                   !p->spec.auto_restart ? "autoRestart is off"
                       : sup->stopping   ? "the agent is stopping"
                                         : "maxRestarts reached");
    }
}

/* --- health ----------------------------------------------------------------- */

static void
probe_closed(uv_handle_t *h)
{
    struct agent_probe *pr = h->data;

    if (--pr->open == 0) {
        free(pr);
    }
}

static void
probe_end(struct agent_probe *pr, int ok)
{
    struct agent_proc *p = pr->proc;
    uint64_t now;

    if (pr->done) {
        return;
    }
    pr->done = 1;
    uv_timer_stop(&pr->timer);
    uv_close((uv_handle_t *) &pr->timer, probe_closed);
    if (!uv_is_closing((uv_handle_t *) &pr->tcp)) {
        uv_close((uv_handle_t *) &pr->tcp, probe_closed);
    }
    if (p == NULL) {
        return;
    }
    p->probe = NULL;
    p->probe_busy = 0;
    if (p->state != AGENT_PS_RUNNING) {
        return;
    }
    now = uv_now(p->sup->loop);
    if (ok) {
        if (!p->port_confirmed) {
            p->port_confirmed = 1;
            wharf_info("process %s: port %d is now accepting connections",
                       p->spec.id, p->spec.expected_port);
            agent_event(p->sup, p, "port_ready",
                        json_pack("{s:i}", "port", p->spec.expected_port));
        } else if (p->port_failures > 0) {
            wharf_info("process %s: port %d is responsive again", p->spec.id,
                       p->spec.expected_port);
        }
        p->port_failures = 0;
        return;
    }
    if (!p->port_confirmed && now - p->start_mono < p->spec.port_grace_ms) {
        return; /* P4: not counted during the start-up grace */
    }
    p->port_failures++;
    agent_event(p->sup, p, "health_check_failed",
                json_pack("{s:[s],s:i,s:i}", "issues", "port not responding",
                          "port", p->spec.expected_port, "failures",
                          (int) p->port_failures));
    if (p->port_failures >= AGENT_PORT_FAILURE_THRESHOLD && p->spec.auto_restart
        && p->pgid > 1) {
        wharf_warn("process %s: health-triggered restart: port %d "
                   "unresponsive",
                   p->spec.id, p->spec.expected_port);
        set_last_error(p, "port %d unresponsive", p->spec.expected_port);
        p->port_failures = 0;
        (void) kill(-p->pgid, SIGTERM); /* P5: crash, then policy */
    }
}

static void
on_probe_connect(uv_connect_t *req, int status)
{
    probe_end(req->data, status == 0);
}

static void
on_probe_timeout(uv_timer_t *t)
{
    probe_end(t->data, 0);
}

static void
probe_port(struct agent_proc *p)
{
    struct agent_probe *pr;
    struct sockaddr_in sa;

    if (p->probe_busy) {
        return;
    }
    pr = calloc(1, sizeof(*pr));
    if (pr == NULL) {
        return;
    }
    pr->proc = p;
    uv_ip4_addr("127.0.0.1", p->spec.expected_port, &sa);
    uv_tcp_init(p->sup->loop, &pr->tcp);
    uv_timer_init(p->sup->loop, &pr->timer);
    pr->tcp.data = pr->timer.data = pr->req.data = pr;
    pr->open = 2;
    p->probe = pr;
    p->probe_busy = 1;
    uv_timer_start(&pr->timer, on_probe_timeout, AGENT_PORT_PROBE_TIMEOUT_MS,
                   0);
    if (uv_tcp_connect(&pr->req, &pr->tcp, (const struct sockaddr *) &sa,
                       on_probe_connect)
        != 0) {
        probe_end(pr, 0);
    }
}

static void
on_health(uv_timer_t *t)
{
    struct agent_proc *p = t->data;
    uint64_t now = uv_now(p->sup->loop), quiet;

    if (p->state != AGENT_PS_RUNNING || p->pid <= 0) {
        return;
    }
    if (kill(p->pid, 0) != 0) {
        agent_event(p->sup, p, "health_check_failed",
                    json_pack("{s:[s]}", "issues", "PID not responding"));
    }
    quiet = now - p->last_output_mono;
    if (quiet > 2ull * p->spec.health_interval_ms) {
        /* P8: a warning only */
        char issue[64];

        snprintf(issue, sizeof(issue), "No output for %llus",
                 (unsigned long long) (quiet / 1000));
        agent_event(p->sup, p, "health_check_failed",
                    json_pack("{s:[s]}", "issues", issue));
    }
    if (p->spec.expected_port > 0) {
        probe_port(p);
    }
}

static void
arm_health(struct agent_proc *p)
{
    if (p->spec.health_interval_ms > 0) {
        uv_timer_start(&p->health_timer, on_health, p->spec.health_interval_ms,
                       p->spec.health_interval_ms);
    }
}

/* --- the set of instances --------------------------------------------------- */

struct agent_proc *
agent_proc_find(struct agent_sup *sup, const char *id)
{
    unsigned i;

    for (i = 0; i < sup->nprocs; i++) {
        if (strcmp(sup->procs[i]->spec.id, id) == 0) {
            return sup->procs[i];
        }
    }
    return NULL;
}

struct agent_proc *
agent_proc_create(struct agent_sup *sup, struct agent_proc_spec *spec,
                  char *err, size_t errlen)
{
    struct agent_proc *p;
    int i;

    if (agent_proc_find(sup, spec->id) != NULL) {
        wharf_fail(err, errlen, "instance %s exists already", spec->id);
        return NULL;
    }
    if (sup->nprocs >= AGENT_PROCS_MAX) {
        wharf_fail(err, errlen, "at most %d instances", AGENT_PROCS_MAX);
        return NULL;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        wharf_fail(err, errlen, "out of memory");
        return NULL;
    }
    p->sup = sup;
    p->spec = *spec;
    memset(spec, 0, sizeof(*spec));
    p->exit_code = -1;
    for (i = 0; i < 2; i++) {
        p->out[i].proc = p;
        p->out[i].no = i;
        p->out[i].fd = -1;
        if (agent_lines_init(&p->out[i].lines, sup->line_max) != 0) {
            agent_lines_free(&p->out[0].lines);
            agent_proc_spec_free(&p->spec);
            free(p);
            wharf_fail(err, errlen, "out of memory");
            return NULL;
        }
    }
    uv_timer_init(sup->loop, &p->restart_timer);
    uv_timer_init(sup->loop, &p->kill_timer);
    uv_timer_init(sup->loop, &p->health_timer);
    p->restart_timer.data = p->kill_timer.data = p->health_timer.data = p;
    p->index = sup->nprocs;
    sup->procs[sup->nprocs++] = p;
    row_changed(p);
    return p;
}

json_t *
agent_proc_json(const struct agent_proc *p)
{
    char start[40] = "", end[40] = "";
    json_t *args = json_array(), *env = json_object(), *j;
    char **v, sig[24] = "";

    for (v = p->spec.args; *v != NULL; v++) {
        json_array_append_new(args, json_string(*v));
    }
    for (v = p->spec.env; *v != NULL; v++) {
        char *eq = strchr(*v, '=');

        json_object_setn_new(env, *v, (size_t) (eq - *v), json_string(eq + 1));
    }
    if (p->term_signal) {
        sig_name(p->term_signal, sig, sizeof(sig));
    }
    if (p->start_ms) {
        wharf_iso_ms(p->start_ms, start, sizeof(start));
    }
    if (p->end_ms) {
        wharf_iso_ms(p->end_ms, end, sizeof(end));
    }
    j = json_pack(
        "{s:s,s:s,s:o,s:s?,s:s,s:o,s:i,s:s?,s:s?,s:o,s:o,s:s?,"
        "s:o,s:o,s:b,s:i,s:i,s:i,s:i,s:b}",
        "instanceId", p->spec.id, "command", p->spec.command, "args", args,
        "cwd", p->spec.cwd, "status", agent_pstate_name(p->state), "pid",
        p->pid > 0 ? json_integer(p->pid) : json_null(), "restartCount",
        (int) p->restart_count, "startTime", start[0] ? start : NULL, "endTime",
        end[0] ? end : NULL, "exitCode",
        p->exit_code >= 0 && p->end_ms ? json_integer(p->exit_code)
                                       : json_null(),
        "signal", sig[0] ? json_string(sig) : json_null(), "lastError",
        p->last_error[0] ? p->last_error : NULL, "env", env, "expectedPort",
        p->spec.expected_port ? json_integer(p->spec.expected_port)
                              : json_null(),
        "autoRestart", p->spec.auto_restart, "maxRestarts",
        (int) p->spec.max_restarts, "restartDelayMs",
        (int) p->spec.restart_delay_ms, "killTimeoutMs",
        (int) p->spec.kill_timeout_ms, "healthCheckIntervalMs",
        (int) p->spec.health_interval_ms, "portReady", p->port_confirmed);
    if (j != NULL && p->runs > 0) {
        json_object_set_new(j, "processId", json_string(p->process_id));
    }
    return j;
}

int
agent_proc_idle(const struct agent_proc *p)
{
    return p->pid == 0 && !p->restart_pending && p->state != AGENT_PS_STOPPING;
}

void
agent_procs_signal(struct agent_sup *sup, int sig)
{
    unsigned i;

    for (i = 0; i < sup->nprocs; i++) {
        struct agent_proc *p = sup->procs[i];

        if (p->pid > 0 && kill(-p->pgid, sig) != 0) {
            (void) kill(p->pid, sig);
        }
    }
}

int
agent_procs_shutdown_step(struct agent_sup *sup)
{
    unsigned i;
    char err[128];

    for (i = sup->nprocs; i-- > 0;) {
        struct agent_proc *p = sup->procs[i];

        if (p->restart_pending) {
            (void) agent_proc_stop(p, 0, err, sizeof(err));
        }
        if (agent_proc_idle(p)) {
            continue;
        }
        if (p->state == AGENT_PS_RUNNING) {
            (void) agent_proc_stop(p, 0, err, sizeof(err));
        }
        return 0; /* one at a time, last started first */
    }
    return 1;
}

void
agent_procs_close(struct agent_sup *sup)
{
    unsigned i;
    int j, status;

    for (i = 0; i < sup->nprocs; i++) {
        struct agent_proc *p = sup->procs[i];

        if (p->pid > 0) {
            (void) kill(-p->pgid, SIGKILL);
            (void) kill(p->pid, SIGKILL);
            agent_reaper_forget(sup->reaper, &p->child);
            while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR) {
            }
            wharf_info("process %s: pid %d killed at exit", p->spec.id,
                       (int) p->pid);
            p->pid = 0;
        }
        for (j = 0; j < 2; j++) {
            stream_close(&p->out[j]);
        }
        drains_end_all(p);
        if (p->probe != NULL) {
            probe_end(p->probe, 0);
        }
        uv_close((uv_handle_t *) &p->restart_timer, on_handle_closed);
        uv_close((uv_handle_t *) &p->kill_timer, on_handle_closed);
        uv_close((uv_handle_t *) &p->health_timer, on_handle_closed);
    }
}

void
agent_procs_free(struct agent_sup *sup)
{
    unsigned i;

    for (i = 0; i < sup->nprocs; i++) {
        struct agent_proc *p = sup->procs[i];

        agent_lines_free(&p->out[0].lines);
        agent_lines_free(&p->out[1].lines);
        agent_proc_spec_free(&p->spec);
        free(p);
    }
    sup->nprocs = 0;
}
