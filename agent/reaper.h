/*
 * Child reaping: one SIGCHLD watcher for the whole agent.
 *
 * Every child the agent starts registers here (agent_reaper_watch) with a
 * callback. On SIGCHLD the reaper calls waitpid(-1, WNOHANG) until nothing
 * is left, so that no zombie stays behind whoever its parent code was, and
 * hands each status to the child's callback. A pid nobody registered (an
 * orphan re-parented to the agent) is reaped and logged at debug level.
 *
 * Because it reaps every pid, nothing else in the agent may wait for its own
 * children: in particular no uv_spawn(), whose exit callback would never
 * fire. Future process supervision starts its children with fork/exec and
 * registers them here.
 */
#ifndef AGENT_REAPER_H
#define AGENT_REAPER_H

#include <sys/types.h>
#include <uv.h>

struct agent_child {
    pid_t pid;
    /* Called once, after the child was reaped and unregistered. */
    void (*on_exit)(struct agent_child *child, int wait_status);
    struct agent_child *next;
};

struct agent_reaper {
    uv_signal_t sigchld;
    struct agent_child *children; /* registered and not yet reaped */
    unsigned long orphans;        /* reaped pids nobody registered */
};

/* Starts the SIGCHLD watcher on loop. Returns 0 or -1 (logged). */
int agent_reaper_init(struct agent_reaper *r, uv_loop_t *loop);

/* Registers child (pid and on_exit set by the caller). Must be called in
 * the same loop callback that forked it, before the loop runs again, so that
 * the SIGCHLD of a child that exits at once finds it registered. */
void agent_reaper_watch(struct agent_reaper *r, struct agent_child *child);

/* Unregisters child without reaping it (it stays a zombie until reaped). */
void agent_reaper_forget(struct agent_reaper *r, struct agent_child *child);

/* Reaps whatever has exited, now. */
void agent_reaper_reap(struct agent_reaper *r);

/* Stops and closes the watcher (the loop finishes closing it). */
void agent_reaper_close(struct agent_reaper *r);

#endif
