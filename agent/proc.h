/*
 * The process supervisor: instances of the app's processes, each with its
 * own spec (what to run, how to restart it) and live state.
 *
 * States and the restart policy follow docs/vibesdk-behavior.md section 4
 * (with R10 fixed: the real restart count is reported):
 *   start:   stopped|crashed -> starting -> running (the child has exec'd)
 *            or -> stopped when it cannot be exec'd (S7, no restart)
 *   exit while running: code 0 with output in the last 30 s -> stopped (R3);
 *            otherwise crashed, and restarted after restartDelayMs while
 *            restartCount < maxRestarts (R1, R2, R4, R5); a run longer than
 *            stableRunMs resets the count at the next start (R7)
 *   stop:    running -> stopping: SIGTERM to the process group, SIGKILL
 *            after killTimeoutMs (K1, K2); force: SIGKILL at once; a pending
 *            restart is cancelled (R8)
 *   fatal error line while running (detect.h), when fatalRestart is on:
 *            SIGTERM to the direct child -> crash -> restart policy (E10)
 *   health, every healthCheckIntervalMs while running: pid alive; expected
 *            port accepts a TCP connection within 2 s; failures do not
 *            count during the first portGraceMs; 2 consecutive failures
 *            restart the group (P1-P9)
 * Every state change is an event (state_changed, process_started,
 * process_crashed, process_stopped, restart_failed, health_check_failed,
 * port_ready).
 *
 * The supervisor knows nothing of where its output goes: it reports every
 * line, error, event, row change and end of a run through the hooks of
 * struct agent_proc_hooks, with the context pointer it was given (the
 * shape of ttyd's pty.h read and exit callbacks). main.c wires them to the
 * shipper (ship.h) and the API (api.h); the unit tests to a recorder
 * (tests/unit/test_agent_proc.c, linked without either).
 *
 * Children are forked here (not uv_spawn: see reaper.h), each in its own
 * session and process group, stdin /dev/null, stdout and stderr on pipes
 * read on the loop (lines.h). Their environment is the agent's minus its
 * own WHARF_* settings, plus the spec's env and PORT=expectedPort.
 */
#ifndef AGENT_PROC_H
#define AGENT_PROC_H

#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <uv.h>

#include "detect.h"
#include "isotime.h"
#include "lines.h"
#include "reaper.h"

/* Instance ids: the peer's rule ^[a-zA-Z0-9][a-zA-Z0-9_-]*$, <= 64. */
#define AGENT_INSTANCE_ID_MAX 64
/* Limits of a spec. */
#define AGENT_PROC_ARGS_MAX   256
#define AGENT_PROC_ENV_MAX    256
#define AGENT_PROC_STRING_MAX 4096
/* Most instances one agent supervises. */
#define AGENT_PROCS_MAX 64

/* Policy defaults (TY:297-306) and the peer CLI's when a port is given. */
#define AGENT_DEFAULT_MAX_RESTARTS            3u
#define AGENT_DEFAULT_MAX_RESTARTS_PORT       120u
#define AGENT_DEFAULT_RESTART_DELAY_MS        1000u
#define AGENT_DEFAULT_PROC_KILL_TIMEOUT_MS    10000u
#define AGENT_DEFAULT_HEALTH_INTERVAL_MS      30000u
#define AGENT_DEFAULT_HEALTH_INTERVAL_PORT_MS 10000u
#define AGENT_DEFAULT_STABLE_RUN_MS           300000u
#define AGENT_DEFAULT_PORT_GRACE_MS           60000u
/* An exit 0 after this long without output counts as killed (R4). */
#define AGENT_INACTIVITY_MS          30000u
#define AGENT_PORT_PROBE_TIMEOUT_MS  2000u
#define AGENT_PORT_FAILURE_THRESHOLD 2u
/* Most bytes read from one pipe per readiness callback: fairness. */
#define AGENT_PROC_READS_PER_WAKEUP 4

/* Output pipes of ended runs still read because the app's children hold
 * them (see struct agent_proc_stream); beyond this many per instance the
 * oldest is closed, so a crash loop of an app that leaves printing orphans
 * cannot pile up descriptors and line buffers. */
#define AGENT_PROC_DRAINS_MAX 8
/* Reads of a pipe when its run ends: enough for any pipe buffer (at most
 * 1 MiB, /proc/sys/fs/pipe-max-size) even in small reads, and a bound when
 * children that still hold it keep writing. */
#define AGENT_PROC_READS_AT_EXIT 64

struct agent_probe;
struct agent_proc;
struct agent_sup;

enum agent_pstate {
    AGENT_PS_STOPPED,
    AGENT_PS_STARTING,
    AGENT_PS_RUNNING,
    AGENT_PS_STOPPING,
    AGENT_PS_CRASHED
};

const char *agent_pstate_name(enum agent_pstate s);

struct agent_proc_spec {
    char id[AGENT_INSTANCE_ID_MAX + 1];
    char *command;
    char **args;       /* NULL-terminated, without the command */
    char *cwd;         /* NULL: the agent's */
    char **env;        /* NULL-terminated "NAME=value" */
    int expected_port; /* 0: none */
    int auto_restart;
    unsigned max_restarts;
    unsigned restart_delay_ms;
    unsigned kill_timeout_ms;
    unsigned health_interval_ms; /* 0: no health checks */
    unsigned stable_ms;
    unsigned port_grace_ms;
};

/*
 * Fills spec from a JSON object (config file, POST /processes):
 *   {instanceId, command, args?, cwd?, env?, expectedPort?, autoRestart?,
 *    maxRestarts?, restartDelayMs?, killTimeoutMs?, healthCheckIntervalMs?,
 *    stableRunMs?, portGraceMs?}
 * Returns 0, or -1 with a message naming the member in err. Pure.
 */
int agent_proc_spec_from_json(const json_t *obj, struct agent_proc_spec *spec,
                              char *err, size_t errlen);
void agent_proc_spec_free(struct agent_proc_spec *spec);
int agent_instance_id_valid(const char *s);

struct agent_proc_stream {
    struct agent_proc *proc;
    int no;          /* 0 stdout, 1 stderr */
    int fd;          /* read end, -1 when closed */
    uv_poll_t *poll; /* one per run: a closing one cannot be reused
                               by a restart in the same loop turn */
    struct agent_lines lines;
    /* A drain: the pipe of a run whose main process ended while others
     * (its children) still hold the write end. Their lines belong to the
     * instance and keep its sequence, so the stream is moved to the heap
     * and read until EOF; the instance's out[] get fresh pipes on restart.
     * Drains are listed on the instance, newest first. */
    int draining;
    struct agent_proc_stream *next_drain;
};

struct agent_proc {
    struct agent_sup *sup;
    unsigned index; /* in sup->procs, never reused: other parts key their
                       per-instance state by it */
    struct agent_proc_spec spec;

    enum agent_pstate state;
    pid_t pid;                 /* 0 when no child */
    pid_t pgid;                /* the last child's process group */
    struct agent_probe *probe; /* port probe in flight */
    unsigned restart_count;
    unsigned long runs; /* starts so far: processId is "<id>-<runs>" */
    char process_id[AGENT_INSTANCE_ID_MAX + 24];
    int64_t start_ms, end_ms;      /* wall clock, 0 when none */
    uint64_t start_mono, end_mono; /* uv_now() */
    uint64_t last_output_mono;
    int exit_code;   /* -1 when none */
    int term_signal; /* 0 when none */
    char last_error[256];

    struct agent_child child;
    struct agent_proc_stream out[2];  /* stdout, stderr */
    struct agent_proc_stream *drains; /* ended runs' pipes still open */
    unsigned ndrains;

    uv_timer_t restart_timer, kill_timer, health_timer;
    int restart_pending;
    int stop_requested;     /* the exit was asked for: not a crash */
    int restart_after_stop; /* restart(): start again once stopped */
    int fatal_sent;         /* the fatal rule sent SIGTERM this run */

    /* health */
    int port_confirmed;
    unsigned port_failures;
    int probe_busy;

    uint64_t seq_local; /* last local sequence given to a line: 1, 2, ...
                           across runs (the shipper adds its base) */
};

/* One line of an instance's output, as the line hook sees it. */
struct agent_proc_line {
    uint64_t seq;  /* local sequence, 1, 2, ... per instance */
    int64_t ts_ms; /* wall time of the read that brought it */
    int stream;    /* 0 stdout, 1 stderr */
    enum agent_level level;
    unsigned flags; /* AGENT_LINE_* (lines.h) */
    const char *text;
    size_t len; /* valid UTF-8 of at most line_max bytes (lines.h) */
};

/*
 * The supervisor's output. Each hook runs synchronously on the loop, from
 * inside the supervisor, and may be NULL. A hook reads instances
 * (agent_proc_json, the fields above) but does not start, stop or create
 * one. JSON handed to a hook is borrowed: a hook that keeps it takes its
 * own reference (json_incref).
 */
struct agent_proc_hooks {
    /* A line p printed (trimmed; empty lines are not reported). */
    void (*line)(void *ctx, struct agent_proc *p,
                 const struct agent_proc_line *line);
    /* An error detected in the line of local sequence seq, as an element
     * of storeErrors: {level, message, timestamp, rawOutput, errorHash,
     * processId}. Reported after that line. */
    void (*error)(void *ctx, struct agent_proc *p, json_t *e, uint64_t seq);
    /* An event {type, timestamp, payload?, instanceId?, processId?};
     * p is NULL for an agent-wide one. */
    void (*event)(void *ctx, struct agent_proc *p, json_t *ev);
    /* p's row changed: its state, its restart count, or p was created. */
    void (*state_changed)(void *ctx, struct agent_proc *p);
    /* p's run ended: the child was reaped and what its pipes held was
     * read (children that still hold them are drained after). Called
     * before the state changes. */
    void (*ended)(void *ctx, struct agent_proc *p);
};

/* The supervisor: every instance, and what it needs from the agent. */
struct agent_sup {
    uv_loop_t *loop;
    struct agent_reaper *reaper;
    const struct agent_detect *detect; /* error patterns (appconfig.c) */
    size_t line_max;                   /* --line-max */
    int fatal_restart;                 /* the fatal-error rule is on */
    int stopping;                      /* the agent stops: nothing starts */
    const struct agent_proc_hooks *hooks;
    void *ctx; /* passed to every hook */

    struct agent_proc *procs[AGENT_PROCS_MAX]; /* in order of creation */
    unsigned nprocs;
    int64_t read_ms; /* wall time of the last pipe read */
};

/* Sets sup up (no instance yet). The loop, the reaper and detect must
 * outlive it; hooks (not NULL; any of its hooks may be) and ctx too. */
void agent_sup_init(struct agent_sup *sup, uv_loop_t *loop,
                    struct agent_reaper *reaper,
                    const struct agent_detect *detect, size_t line_max,
                    const struct agent_proc_hooks *hooks, void *ctx);

/* The agent is stopping: no instance starts again, by hand or by the
 * restart policy. */
void agent_sup_stop(struct agent_sup *sup);

/* Creates an instance (state stopped) from spec, which it takes over.
 * Returns it, or NULL with a message in err (duplicate id, too many). */
struct agent_proc *agent_proc_create(struct agent_sup *sup,
                                     struct agent_proc_spec *spec, char *err,
                                     size_t errlen);
struct agent_proc *agent_proc_find(struct agent_sup *sup, const char *id);

/* Control. Return 0, or -1 with a message in err (and *conflict set when
 * the state does not allow it). */
/* manual: asked for by an operator (resets the restart count). */
int agent_proc_start(struct agent_proc *p, int manual, char *err,
                     size_t errlen);
int agent_proc_stop(struct agent_proc *p, int force, char *err, size_t errlen);
int agent_proc_restart(struct agent_proc *p, char *err, size_t errlen);

/* The process as JSON (REST, RPC, upsertProcess). */
json_t *agent_proc_json(const struct agent_proc *p);

/* 1 when the instance has no child and nothing pending. */
int agent_proc_idle(const struct agent_proc *p);

/* Sends sig to every running instance's process group. */
void agent_procs_signal(struct agent_sup *sup, int sig);

/* Shutdown step: stops the last instance still running (reverse order of
 * creation, one at a time). Returns 1 when every instance is idle. */
int agent_procs_shutdown_step(struct agent_sup *sup);

/* Last resort at exit: SIGKILL and reap every child, close every handle. */
void agent_procs_close(struct agent_sup *sup);
/* After the loop ended: frees every instance. */
void agent_procs_free(struct agent_sup *sup);

/* Emits an event through the event hook (the shipper's logs_dropped
 * comes this way too, so that /websocket clients see it as well).
 * payload is stolen (may be NULL). p may be NULL (agent-wide event). */
void agent_event(struct agent_sup *sup, struct agent_proc *p, const char *type,
                 json_t *payload);

#endif
