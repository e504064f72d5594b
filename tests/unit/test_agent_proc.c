/*
 * Unit tests of the process supervisor alone (agent/proc.c): its restart
 * rules, the drains of ended runs and the fatal-error rule, seen through
 * its hooks (proc.h) by a recorder.
 *
 * Linked with proc.c and what it needs (lines.c, detect.c, reaper.c,
 * common/), without the shipper or the API (the Makefile's rule for
 * test_agent_proc): that the supervisor builds and runs without them is
 * part of what this file checks. Real children (/bin/sh) on a real libuv
 * loop; every wait is on a condition with a deadline.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <uv.h>

#include "../../agent/detect.h"
#include "../../agent/proc.h"
#include "../../agent/reaper.h"
#include "log.h"

/* Longest wait for one condition (the machine may be loaded). */
#define WAIT_MS 15000

#define REC_LINES_MAX 256
#define REC_PGIDS_MAX 64

/* One call of the line hook. */
struct rec_line {
    unsigned proc;
    uint64_t seq;
    int stream;
    unsigned flags;
    unsigned after_ended; /* how many ended calls came before it */
    char text[128];
};

/* Everything the hooks were told, in order. */
struct recorder {
    struct rec_line lines[REC_LINES_MAX];
    unsigned nlines;
    json_t *errors; /* [{"seq":N,"error":E}] */
    json_t *events; /* every event, as given */
    unsigned changed, ended;
    /* process groups of every run, killed at the end: what a run leaves
     * behind (the drains' writers) is stopped by its group */
    pid_t pgids[REC_PGIDS_MAX];
    unsigned npgids;
    unsigned max_drains; /* most drains an instance had at an end */
};

struct fixture {
    uv_loop_t loop;
    struct agent_reaper reaper;
    struct agent_detect detect;
    struct agent_sup sup;
    struct recorder rec;
};

/* --- the recording hooks ---------------------------------------------------- */

static void
rec_line(void *ctx, struct agent_proc *p, const struct agent_proc_line *l)
{
    struct recorder *r = ctx;
    struct rec_line *x;

    if (r->nlines == REC_LINES_MAX) {
        return;
    }
    x = &r->lines[r->nlines++];
    x->proc = p->index;
    x->seq = l->seq;
    x->stream = l->stream;
    x->flags = l->flags;
    x->after_ended = r->ended;
    snprintf(x->text, sizeof(x->text), "%.*s", (int) l->len, l->text);
}

static void
rec_error(void *ctx, struct agent_proc *p, json_t *e, uint64_t seq)
{
    struct recorder *r = ctx;

    (void) p;
    /* borrowed: a deep copy, as a hook that keeps it must take its own */
    json_array_append_new(r->errors,
                          json_pack("{s:I,s:o}", "seq", (json_int_t) seq,
                                    "error", json_deep_copy(e)));
}

static void
rec_event(void *ctx, struct agent_proc *p, json_t *ev)
{
    struct recorder *r = ctx;

    (void) p;
    json_array_append(r->events, ev);
}

static void
rec_changed(void *ctx, struct agent_proc *p)
{
    struct recorder *r = ctx;

    (void) p;
    r->changed++;
}

static void
rec_ended(void *ctx, struct agent_proc *p)
{
    struct recorder *r = ctx;

    r->ended++;
    if (r->npgids < REC_PGIDS_MAX && p->pgid > 1) {
        r->pgids[r->npgids++] = p->pgid;
    }
    if (p->ndrains > r->max_drains) {
        r->max_drains = p->ndrains;
    }
}

static const struct agent_proc_hooks hooks = {
    .line = rec_line,
    .error = rec_error,
    .event = rec_event,
    .state_changed = rec_changed,
    .ended = rec_ended,
};

/* --- fixture ------------------------------------------------------------------ */

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || uv_loop_init(&f->loop) != 0
        || agent_reaper_init(&f->reaper, &f->loop) != 0) {
        return -1;
    }
    agent_detect_init(&f->detect);
    f->rec.errors = json_array();
    f->rec.events = json_array();
    agent_sup_init(&f->sup, &f->loop, &f->reaper, &f->detect, 4096, &hooks,
                   &f->rec);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    unsigned i;

    agent_sup_stop(&f->sup);
    agent_procs_close(&f->sup);
    for (i = 0; i < f->rec.npgids; i++) {
        (void) kill(-f->rec.pgids[i], SIGKILL);
    }
    agent_reaper_close(&f->reaper);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* the handles finish closing */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    agent_procs_free(&f->sup);
    json_decref(f->rec.errors);
    json_decref(f->rec.events);
    free(f);
    return 0;
}

static void
on_deadline(uv_timer_t *t)
{
    *(int *) t->data = 1;
}

/* Runs the loop until cond(f, arg) holds; fails the test at WAIT_MS. */
static void
run_until(struct fixture *f, int (*cond)(struct fixture *, const void *),
          const void *arg, const char *what)
{
    uv_timer_t deadline;
    int late = 0;

    uv_timer_init(&f->loop, &deadline);
    deadline.data = &late;
    uv_timer_start(&deadline, on_deadline, WAIT_MS, 0);
    while (!cond(f, arg) && !late) {
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *) &deadline, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    if (late && !cond(f, arg)) {
        fail_msg("no %s within %d ms", what, WAIT_MS);
    }
}

/* An instance from a JSON spec (members added to command "/bin/sh"). */
static struct agent_proc *
make_proc(struct fixture *f, const char *id, const char *script,
          const char *extra)
{
    char text[1024], err[256];
    struct agent_proc_spec spec;
    struct agent_proc *p;
    json_t *obj, *more;

    snprintf(text, sizeof(text), "{%s}", extra != NULL ? extra : "");
    more = json_loads(text, 0, NULL);
    assert_non_null(more);
    obj =
        json_pack("{s:s,s:s,s:[s,s],s:i}", "instanceId", id, "command",
                  "/bin/sh", "args", "-c", script, "healthCheckIntervalMs", 0);
    json_object_update(obj, more);
    json_decref(more);
    if (agent_proc_spec_from_json(obj, &spec, err, sizeof(err)) != 0) {
        fail_msg("spec: %s", err);
    }
    json_decref(obj);
    p = agent_proc_create(&f->sup, &spec, err, sizeof(err));
    if (p == NULL) {
        fail_msg("create: %s", err);
    }
    return p;
}

static void
start(struct agent_proc *p)
{
    char err[256];

    if (agent_proc_start(p, 1, err, sizeof(err)) != 0) {
        fail_msg("start: %s", err);
    }
}

/* --- conditions ------------------------------------------------------------- */

struct until_runs {
    const struct agent_proc *p;
    unsigned long runs;
};

/* p ran n times, and its last run ended with no restart pending. */
static int
settled_after(struct fixture *f, const void *arg)
{
    const struct until_runs *u = arg;

    (void) f;
    return u->p->runs >= u->runs && u->p->pid == 0 && !u->p->restart_pending
        && u->p->state != AGENT_PS_STARTING && u->p->state != AGENT_PS_RUNNING
        && u->p->state != AGENT_PS_STOPPING;
}

/* p ran n times and its last run crashed (a restart may be pending). */
static int
crashed_after(struct fixture *f, const void *arg)
{
    const struct until_runs *u = arg;

    (void) f;
    return u->p->runs >= u->runs && u->p->pid == 0
        && u->p->state == AGENT_PS_CRASHED;
}

static int
ran_at_least(struct fixture *f, const void *arg)
{
    const struct until_runs *u = arg;

    (void) f;
    return u->p->runs >= u->runs && u->p->state == AGENT_PS_RUNNING;
}

static int
line_seen(struct fixture *f, const void *text)
{
    unsigned i;

    for (i = 0; i < f->rec.nlines; i++) {
        if (strcmp(f->rec.lines[i].text, text) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
lines_at_least(struct fixture *f, const void *n)
{
    return f->rec.nlines >= *(const unsigned *) n;
}

/* The recorded line of this text (fails the test when there is none). */
static const struct rec_line *
line_of(struct fixture *f, const char *text)
{
    unsigned i;

    for (i = 0; i < f->rec.nlines; i++) {
        if (strcmp(f->rec.lines[i].text, text) == 0) {
            return &f->rec.lines[i];
        }
    }
    fail_msg("no line \"%s\"", text);
    return NULL;
}

static int
errors_at_least(struct fixture *f, const void *n)
{
    return json_array_size(f->rec.errors) >= *(const size_t *) n;
}

/* The events of one type, in order (a new reference). */
static json_t *
events_of(struct fixture *f, const char *type)
{
    json_t *out = json_array(), *ev;
    size_t i;

    json_array_foreach (f->rec.events, i, ev) {
        if (strcmp(json_string_value(json_object_get(ev, "type")), type) == 0) {
            json_array_append(out, ev);
        }
    }
    return out;
}

static json_t *
payload(json_t *events, size_t i)
{
    return json_object_get(json_array_get(events, i), "payload");
}

/* Whether the i-th process_crashed event said willRestart. */
static int
crash_will_restart(struct fixture *f, size_t i)
{
    json_t *crashes = events_of(f, "process_crashed");
    int will =
        json_is_true(json_object_get(payload(crashes, i), "willRestart"));

    assert_true(i < json_array_size(crashes));
    json_decref(crashes);
    return will;
}

/* --- restart rules ------------------------------------------------------------ */

/* R1, R2, R5: a crash is restarted after the delay while restartCount <
 * maxRestarts; the reported count is the real one (R10); the line sequence
 * goes on across runs; every run's end is reported before its crash. */
static void
test_crash_restarts_up_to_max(void **state)
{
    struct fixture *f = *state;
    struct agent_proc *p = make_proc(f, "crashy", "echo run; exit 3",
                                     "\"maxRestarts\":2,\"restartDelayMs\":10");
    struct until_runs u = { p, 3 };
    json_t *crashes, *started;
    unsigned i;

    start(p);
    run_until(f, settled_after, &u, "third run's end");
    assert_int_equal(p->runs, 3);
    assert_int_equal(p->state, AGENT_PS_CRASHED);
    assert_int_equal(p->restart_count, 2);
    assert_int_equal(p->exit_code, 3);
    assert_string_equal(p->last_error, "Exit code: 3");
    assert_int_equal(f->rec.ended, 3);

    crashes = events_of(f, "process_crashed");
    assert_int_equal(json_array_size(crashes), 3);
    for (i = 0; i < 3; i++) {
        assert_int_equal(
            json_is_true(json_object_get(payload(crashes, i), "willRestart")),
            i < 2);
        assert_int_equal(json_integer_value(json_object_get(payload(crashes, i),
                                                            "restartCount")),
                         i);
        assert_int_equal(json_integer_value(
                             json_object_get(payload(crashes, i), "exitCode")),
                         3);
    }
    json_decref(crashes);
    started = events_of(f, "process_started");
    assert_int_equal(json_array_size(started), 3);
    json_decref(started);

    /* one line per run, numbered on across runs, each before its end */
    assert_int_equal(f->rec.nlines, 3);
    for (i = 0; i < 3; i++) {
        assert_string_equal(f->rec.lines[i].text, "run");
        assert_int_equal(f->rec.lines[i].seq, i + 1);
        assert_int_equal(f->rec.lines[i].after_ended, i);
    }
    /* the row changed at creation, at each run's three state changes
     * (to starting, running, crashed) and when a restart was scheduled */
    assert_int_equal(f->rec.changed, 1 + 3 * 3 + 2);
}

/* R3: exit 0 with recent output is a clean stop, not restarted. */
static void
test_clean_exit_is_a_stop(void **state)
{
    struct fixture *f = *state;
    struct agent_proc *p = make_proc(f, "oneshot", "echo bye; exit 0", NULL);
    struct until_runs u = { p, 1 };
    json_t *stopped, *crashed;

    start(p);
    run_until(f, settled_after, &u, "end of the run");
    assert_int_equal(p->state, AGENT_PS_STOPPED);
    assert_int_equal(p->runs, 1);
    assert_int_equal(p->restart_count, 0);
    stopped = events_of(f, "process_stopped");
    crashed = events_of(f, "process_crashed");
    assert_int_equal(json_array_size(stopped), 1);
    assert_string_equal(
        json_string_value(json_object_get(payload(stopped, 0), "reason")),
        "Exit code: 0");
    assert_int_equal(json_array_size(crashed), 0);
    json_decref(stopped);
    json_decref(crashed);
}

/* autoRestart false: a crash stays a crash. */
static void
test_no_auto_restart(void **state)
{
    struct fixture *f = *state;
    struct agent_proc *p =
        make_proc(f, "norestart", "exit 1", "\"autoRestart\":false");
    struct until_runs u = { p, 1 };

    start(p);
    run_until(f, settled_after, &u, "end of the run");
    assert_int_equal(p->state, AGENT_PS_CRASHED);
    assert_int_equal(p->runs, 1);
    assert_false(crash_will_restart(f, 0));
}

/* R7: a run longer than stableRunMs resets the count at the next start,
 * so with stableRunMs 0 a crash loop outlives maxRestarts 1; R8: a stop
 * cancels the pending restart. */
static void
test_stable_run_resets_count_and_stop_cancels(void **state)
{
    struct fixture *f = *state;
    struct agent_proc *p = make_proc(f, "loop", "sleep 0.05; exit 1",
                                     "\"maxRestarts\":1,\"restartDelayMs\":"
                                     "60000,\"stableRunMs\":0");
    struct until_runs u = { p, 1 };
    char err[128];

    start(p);
    run_until(f, crashed_after, &u, "first crash");
    assert_int_equal(p->state, AGENT_PS_CRASHED);
    assert_true(p->restart_pending); /* a minute away */
    assert_int_equal(p->restart_count, 1);
    /* the restart comes now instead (as the timer would) */
    assert_int_equal(agent_proc_start(p, 0, err, sizeof(err)), 0);
    assert_int_equal(p->restart_count, 0); /* R7: the run was "stable" */
    u.runs = 2;
    run_until(f, crashed_after, &u, "second crash");
    assert_true(p->restart_pending); /* 0 < maxRestarts again */

    /* R8: stopping a crashed instance cancels its pending restart */
    assert_int_equal(agent_proc_stop(p, 0, err, sizeof(err)), 0);
    assert_false(p->restart_pending);
    assert_int_equal(p->state, AGENT_PS_STOPPED);
    assert_true(agent_proc_idle(p));
}

/* A manual start resets the count; start refused while running (S3);
 * stop is SIGTERM to the group and no crash; restart = stop, then start. */
static void
test_stop_start_restart(void **state)
{
    struct fixture *f = *state;
    struct agent_proc *p =
        make_proc(f, "server", "echo up; exec sleep 30", NULL);
    struct until_runs u = { p, 1 };
    char err[128];
    json_t *stopped, *crashed;

    start(p);
    run_until(f, line_seen, "up", "first output");
    assert_int_equal(p->state, AGENT_PS_RUNNING);
    assert_int_equal(agent_proc_start(p, 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "Cannot start"));

    assert_int_equal(agent_proc_restart(p, err, sizeof(err)), 0);
    assert_int_equal(p->state, AGENT_PS_STOPPING);
    u.runs = 2;
    run_until(f, ran_at_least, &u, "restarted run");
    assert_int_equal(p->restart_count, 0);

    assert_int_equal(agent_proc_stop(p, 0, err, sizeof(err)), 0);
    run_until(f, settled_after, &u, "stop");
    assert_int_equal(p->state, AGENT_PS_STOPPED);
    stopped = events_of(f, "process_stopped");
    crashed = events_of(f, "process_crashed");
    assert_int_equal(json_array_size(stopped), 2);
    assert_string_equal(
        json_string_value(json_object_get(payload(stopped, 1), "reason")),
        "Signal: SIGTERM");
    assert_int_equal(json_array_size(crashed), 0);
    json_decref(stopped);
    json_decref(crashed);
    assert_int_equal(f->rec.ended, 2);
}

/* S7: a command that cannot be exec'd leaves the instance stopped with
 * its lastError, and is not retried. */
static void
test_cannot_exec(void **state)
{
    struct fixture *f = *state;
    char err[256],
        text[] = "{\"instanceId\":\"nope\",\"command\":"
                 "\"/nonexistent/wharf-test\"}";
    struct agent_proc_spec spec;
    struct agent_proc *p;
    json_t *obj = json_loads(text, 0, NULL);

    assert_int_equal(agent_proc_spec_from_json(obj, &spec, err, sizeof(err)),
                     0);
    json_decref(obj);
    p = agent_proc_create(&f->sup, &spec, err, sizeof(err));
    assert_non_null(p);
    assert_int_equal(agent_proc_start(p, 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot run /nonexistent/wharf-test"));
    assert_int_equal(p->state, AGENT_PS_STOPPED);
    assert_non_null(strstr(p->last_error, "cannot run"));
    assert_false(p->restart_pending);
    assert_int_equal(f->rec.ended, 0);
}

/* The agent stopping: nothing starts, a crash is not restarted. */
static void
test_stopping_agent_restarts_nothing(void **state)
{
    struct fixture *f = *state;
    struct agent_proc *p = make_proc(f, "late", "echo up; sleep 0.2; exit 1",
                                     "\"restartDelayMs\":10");
    struct agent_proc *q = make_proc(f, "never", "exit 0", NULL);
    struct until_runs u = { p, 1 };
    char err[128];

    start(p);
    run_until(f, line_seen, "up", "first output");
    agent_sup_stop(&f->sup);
    assert_int_equal(agent_proc_start(q, 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "shutting down"));
    run_until(f, settled_after, &u, "crash");
    assert_int_equal(p->state, AGENT_PS_CRASHED);
    assert_false(p->restart_pending);
    assert_false(crash_will_restart(f, 0));
}

/* --- drains of ended runs --------------------------------------------------- */

/* What the app's children print after the main process ended still
 * belongs to the instance: its lines come after the end, with the next
 * sequence numbers. */
static void
test_drain_reads_after_the_end(void **state)
{
    struct fixture *f = *state;
    struct agent_proc *p = make_proc(
        f, "parent", "(sleep 0.3; echo late; echo late-err >&2) & echo early",
        "\"autoRestart\":false");
    unsigned i, seen = 0, three = 3;

    start(p);
    run_until(f, lines_at_least, &three, "the orphan's lines");
    assert_int_equal(f->rec.ended, 1);
    for (i = 0; i < f->rec.nlines; i++) {
        const struct rec_line *l = &f->rec.lines[i];

        if (strcmp(l->text, "early") == 0) {
            assert_int_equal(l->seq, 1);
            assert_int_equal(l->after_ended, 0);
            seen++;
        } else if (strcmp(l->text, "late") == 0
                   || strcmp(l->text, "late-err") == 0) {
            assert_true(l->seq == 2 || l->seq == 3);
            assert_int_equal(l->stream, strcmp(l->text, "late") != 0);
            assert_int_equal(l->after_ended, 1);
            seen++;
        }
    }
    assert_int_equal(seen, 3);
}

static int
drains_gone(struct fixture *f, const void *p)
{
    (void) f;
    return ((const struct agent_proc *) p)->ndrains == 0;
}

/* A crash loop of an app that leaves printing children behind keeps at
 * most AGENT_PROC_DRAINS_MAX drains per instance (the oldest is closed);
 * a drain ends at EOF. */
static void
test_drains_are_bounded(void **state)
{
    struct fixture *f = *state;
    struct agent_proc *p =
        make_proc(f, "leaky", "(exec sleep 30) & echo run; exit 1",
                  "\"maxRestarts\":11,\"restartDelayMs\":1");
    struct until_runs u = { p, 12 };
    unsigned i;

    start(p);
    run_until(f, settled_after, &u, "twelve runs");
    assert_int_equal(f->rec.ended, 12);
    assert_int_equal(f->rec.max_drains, AGENT_PROC_DRAINS_MAX);
    assert_int_equal(p->ndrains, AGENT_PROC_DRAINS_MAX);
    /* the sleeps hold the pipes; once they are gone, so are the drains */
    for (i = 0; i < f->rec.npgids; i++) {
        (void) kill(-f->rec.pgids[i], SIGKILL);
    }
    run_until(f, drains_gone, p, "drains' EOF");
}

/* --- the fatal-error rule -------------------------------------------------- */

/* E10: a fatal error (pino level 60) while running sends SIGTERM to the
 * direct child, once per run, and the crash follows the restart policy.
 * Each error is reported after its line, with its local sequence. */
static void
test_fatal_error_restarts(void **state)
{
    struct fixture *f = *state;
    struct agent_proc *p =
        make_proc(f, "fatal",
                  /* one write: both lines are in the pipe before the
                   * first one's SIGTERM can land */
                  "printf '%s\\n%s\\n' '{\"level\":60,\"msg\":\"boom\"}' "
                  "'{\"level\":60,\"msg\":\"boom again\"}'; "
                  "exec sleep 30",
                  "\"maxRestarts\":1,\"restartDelayMs\":10");
    struct until_runs u = { p, 2 };
    json_t *fatal, *crashed, *e;
    size_t i;

    start(p);
    run_until(f, settled_after, &u, "second run's end");
    assert_int_equal(p->state, AGENT_PS_CRASHED);
    assert_int_equal(p->term_signal, SIGTERM);
    assert_string_equal(p->last_error, "fatal error: boom");

    /* both lines of each run are errors; one fatal_error per run */
    assert_int_equal(json_array_size(f->rec.errors), 4);
    json_array_foreach (f->rec.errors, i, e) {
        json_t *err = json_object_get(e, "error");
        uint64_t seq = (uint64_t) json_integer_value(json_object_get(e, "seq"));

        assert_int_equal(seq, i + 1);
        assert_string_equal(f->rec.lines[seq - 1].text,
                            i % 2 ? "{\"level\":60,\"msg\":\"boom again\"}"
                                  : "{\"level\":60,\"msg\":\"boom\"}");
        assert_int_equal(json_integer_value(json_object_get(err, "level")), 60);
        assert_string_equal(json_string_value(json_object_get(err, "message")),
                            i % 2 ? "boom again" : "boom");
        assert_non_null(json_object_get(err, "errorHash"));
        /* the sequence is the shipper's to give, not the supervisor's */
        assert_null(json_object_get(err, "sequence"));
        assert_string_equal(
            json_string_value(json_object_get(err, "processId")),
            i < 2 ? "fatal-1" : "fatal-2");
    }
    fatal = events_of(f, "fatal_error");
    crashed = events_of(f, "process_crashed");
    assert_int_equal(json_array_size(fatal), 2);
    assert_int_equal(json_array_size(crashed), 2);
    assert_true(crash_will_restart(f, 0));
    assert_false(crash_will_restart(f, 1));
    assert_string_equal(
        json_string_value(json_object_get(payload(crashed, 0), "signal")),
        "SIGTERM");
    json_decref(fatal);
    json_decref(crashed);
}

/* With the rule off (--fatal-restart off, "fatalRestart": false) a fatal
 * error is reported and nothing is killed. */
static void
test_fatal_rule_off(void **state)
{
    struct fixture *f = *state;
    struct agent_proc *p = make_proc(f, "calm",
                                     "echo '{\"level\":60,\"msg\":\"boom\"}'; "
                                     "sleep 0.2; echo after; exit 0",
                                     NULL);
    struct until_runs u = { p, 1 };
    size_t one = 1;
    json_t *fatal;

    f->sup.fatal_restart = 0;
    start(p);
    run_until(f, errors_at_least, &one, "the error");
    run_until(f, settled_after, &u, "end of the run");
    assert_true(line_seen(f, "after"));
    assert_int_equal(p->state, AGENT_PS_STOPPED);
    assert_int_equal(p->exit_code, 0);
    assert_string_equal(p->last_error, "");
    fatal = events_of(f, "fatal_error");
    assert_int_equal(json_array_size(fatal), 0);
    json_decref(fatal);
}

/* --- lines ------------------------------------------------------------------- */

/* Lines are trimmed, empty ones dropped (L4, L5); stderr is stream 1; a
 * plain-text pattern (not a fatal one) makes an error, level 50. */
static void
test_lines_and_plain_errors(void **state)
{
    struct fixture *f = *state;
    struct agent_proc *p =
        make_proc(f, "talk",
                  "printf '  hello  \\n\\n\\t\\noops: wharf-test here\\n' >&2; "
                  "echo done",
                  NULL);
    struct until_runs u = { p, 1 };
    const struct rec_line *hello, *found, *done;
    json_t *e;

    assert_int_equal(agent_detect_add_plain(&f->detect, "wharf-test", 1), 0);
    start(p);
    run_until(f, settled_after, &u, "end of the run");
    assert_int_equal(f->rec.nlines, 3);
    hello = line_of(f, "hello");
    found = line_of(f, "oops: wharf-test here");
    done = line_of(f, "done");
    assert_int_equal(hello->stream, 1);
    assert_int_equal(found->stream, 1);
    assert_int_equal(done->stream, 0);
    assert_int_equal(found->seq, hello->seq + 1); /* one stream, in order */
    assert_int_equal(json_array_size(f->rec.errors), 1);
    e = json_array_get(f->rec.errors, 0);
    assert_int_equal(json_integer_value(json_object_get(e, "seq")), found->seq);
    assert_int_equal(json_integer_value(
                         json_object_get(json_object_get(e, "error"), "level")),
                     50);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crash_restarts_up_to_max, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_clean_exit_is_a_stop, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_auto_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_stable_run_resets_count_and_stop_cancels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_start_restart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cannot_exec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stopping_agent_restarts_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_reads_after_the_end, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_drains_are_bounded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fatal_error_restarts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fatal_rule_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lines_and_plain_errors, setup,
                                        teardown),
    };

    wharf_log_init("test_agent_proc", WHARF_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
