/* SIGCHLD and waitpid: see reaper.h. */
#include "reaper.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"

static void
on_sigchld(uv_signal_t *h, int signum)
{
    (void) signum;
    agent_reaper_reap(h->data);
}

int
agent_reaper_init(struct agent_reaper *r, uv_loop_t *loop)
{
    int rc;

    memset(r, 0, sizeof(*r));
    rc = uv_signal_init(loop, &r->sigchld);
    if (rc == 0) {
        r->sigchld.data = r;
        rc = uv_signal_start(&r->sigchld, on_sigchld, SIGCHLD);
    }
    if (rc != 0) {
        wharf_error("cannot watch SIGCHLD: %s", uv_strerror(rc));
        return -1;
    }
    /* Never keep the loop alive just to wait for children: the terminal
     * sessions and the shutdown logic decide how long the agent runs. */
    uv_unref((uv_handle_t *) &r->sigchld);
    return 0;
}

void
agent_reaper_watch(struct agent_reaper *r, struct agent_child *child)
{
    child->next = r->children;
    r->children = child;
}

void
agent_reaper_forget(struct agent_reaper *r, struct agent_child *child)
{
    struct agent_child **pp;

    for (pp = &r->children; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == child) {
            *pp = child->next;
            child->next = NULL;
            return;
        }
    }
}

void
agent_reaper_reap(struct agent_reaper *r)
{
    struct agent_child **pp, *c;
    pid_t pid;
    int status;

    /* SIGCHLDs coalesce: one signal may stand for many exits. */
    for (;;) {
        pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == EINTR) {
            continue;
        }
        if (pid <= 0) {
            return; /* 0: none exited; ECHILD: no children at all */
        }
        for (pp = &r->children; *pp != NULL && (*pp)->pid != pid;
             pp = &(*pp)->next) {
        }
        c = *pp;
        if (c == NULL) {
            r->orphans++;
            wharf_debug("reaped pid %d (not a registered child)", (int) pid);
            continue;
        }
        *pp = c->next;
        c->next = NULL;
        c->on_exit(c, status);
    }
}

void
agent_reaper_close(struct agent_reaper *r)
{
    if (!uv_is_closing((uv_handle_t *) &r->sigchld)) {
        uv_close((uv_handle_t *) &r->sigchld, NULL);
    }
}
