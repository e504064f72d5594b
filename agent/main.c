/*
 * wharf-agent's main(): flags and environment, start-up, signals, and the
 * staged shutdown. See agent.h for the layout of the agent.
 *
 * Exit status: 0 after SIGTERM/SIGINT, 2 for bad flags or environment, 1
 * when start-up fails (e.g. the address is in use).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "agent.h"
#include "log.h"
#include "server.h"
#include "terminal.h"

extern char **environ;

/* How often the draining stage checks whether everything has ended. */
#define AGENT_SHUTDOWN_TICK_MS 20
/* Draining lasts at most the kill timeout plus this: time for SIGKILLed
 * groups to be reaped and close frames to be flushed. */
#define AGENT_SHUTDOWN_GRACE_MS 1000

/* Environment variables the terminal's program does not inherit: the
 * agent's own settings (the token above all) and what the agent sets. */
static const char *const child_env_drop[] = {
    "WHARF_WORKER", "WHARF_LISTEN", "WHARF_CONTAINER", "WHARF_TERMINAL_CMD",
    "WHARF_KILL_TIMEOUT_MS", "WHARF_ORCHESTRATOR", "WHARF_TOKEN",
    "WHARF_LOG_LEVEL", "TERM", "COLUMNS", "LINES", NULL
};

static int
env_dropped(const char *entry)
{
    size_t n;
    int i;

    for (i = 0; child_env_drop[i] != NULL; i++) {
        n = strlen(child_env_drop[i]);
        if (strncmp(entry, child_env_drop[i], n) == 0 && entry[n] == '=') {
            return 1;
        }
    }
    return 0;
}

/* Builds what each terminal execs, once, so that nothing is allocated
 * between fork and exec: /bin/sh -c "exec CMD" (exec, so that CMD's pid is
 * the child's pid and the group leader) and the environment. */
static int
build_child(struct agent *agent)
{
    size_t n = 0, i, j = 0, len;

    len = strlen(agent->cfg.terminal_cmd) + sizeof("exec ");
    agent->child_cmd = malloc(len);
    for (; environ[n] != NULL; n++) {
    }
    agent->child_envp = calloc(n + 2, sizeof(char *));
    if (agent->child_cmd == NULL || agent->child_envp == NULL) {
        wharf_error("out of memory");
        return -1;
    }
    snprintf(agent->child_cmd, len, "exec %s", agent->cfg.terminal_cmd);
    agent->child_argv[0] = "/bin/sh";
    agent->child_argv[1] = "-c";
    agent->child_argv[2] = agent->child_cmd;
    agent->child_argv[3] = NULL;
    for (i = 0; i < n; i++) {
        if (!env_dropped(environ[i])) {
            agent->child_envp[j++] = environ[i];
        }
    }
    agent->child_envp[j++] = "TERM=xterm-256color";
    agent->child_envp[j] = NULL;
    return 0;
}

/* --- shutdown ----------------------------------------------------------------
 *
 * Stage 1, draining (first SIGTERM/SIGINT): new WebSockets are refused,
 * every terminal connection is closed with 1001 and its program is ended as
 * if its client had left (SIGHUP, SIGKILL after the kill timeout). The loop
 * goes on until every session is freed and every terminal WebSocket closed,
 * or the drain deadline passes.
 * Stage 2, final (or a second signal): whatever is still alive is SIGKILLed
 * and reaped (blocking), the lws context is destroyed and the agent's own
 * handles are closed; uv_run() returns when the last handle has closed.
 */

static void
final_stage(struct agent *agent)
{
    if (agent->shutdown_stage == 2) {
        return;
    }
    agent->shutdown_stage = 2;
    uv_timer_stop(&agent->shutdown_timer);
    agent_terminal_kill_now(agent);
    agent_server_stop(agent);
    uv_close((uv_handle_t *) &agent->shutdown_timer, NULL);
    uv_close((uv_handle_t *) &agent->sigterm, NULL);
    uv_close((uv_handle_t *) &agent->sigint, NULL);
    agent_reaper_close(&agent->reaper);
}

static void
on_shutdown_tick(uv_timer_t *t)
{
    struct agent *agent = t->data;

    if (agent->sessions_alive == 0 && agent->ws_open == 0) {
        final_stage(agent);
    } else if (uv_now(&agent->loop) >= agent->shutdown_deadline_ms) {
        wharf_warn("shutdown: %u sessions, %u connections left at the "
                   "deadline", agent->sessions_alive, agent->ws_open);
        final_stage(agent);
    }
}

static void
on_signal(uv_signal_t *h, int signum)
{
    struct agent *agent = h->data;

    if (agent->shutdown_stage == 0) {
        wharf_info("%s: shutting down (%u terminals)", strsignal(signum),
                   agent->terminals_open);
        agent->shutdown_stage = 1;
        agent->shutdown_deadline_ms = uv_now(&agent->loop)
            + agent->cfg.kill_timeout_ms + AGENT_SHUTDOWN_GRACE_MS;
        agent_terminal_shutdown(agent);
        uv_timer_start(&agent->shutdown_timer, on_shutdown_tick,
                       AGENT_SHUTDOWN_TICK_MS, AGENT_SHUTDOWN_TICK_MS);
    } else if (agent->shutdown_stage == 1) {
        wharf_warn("%s again: stopping now", strsignal(signum));
        final_stage(agent);
    }
}

/* --- start-up ---------------------------------------------------------------- */

static int
agent_init(struct agent *agent)
{
    int rc;

    agent->started_ns = uv_hrtime();
    if (build_child(agent) != 0) {
        return -1;
    }
    rc = uv_loop_init(&agent->loop);
    if (rc != 0) {
        wharf_error("uv_loop_init: %s", uv_strerror(rc));
        return -1;
    }
    /* The reaper first: no child may exist before SIGCHLD is watched. */
    if (agent_reaper_init(&agent->reaper, &agent->loop) != 0) {
        return -1;
    }
    uv_timer_init(&agent->loop, &agent->shutdown_timer);
    agent->shutdown_timer.data = agent;
    uv_signal_init(&agent->loop, &agent->sigterm);
    uv_signal_init(&agent->loop, &agent->sigint);
    agent->sigterm.data = agent;
    agent->sigint.data = agent;
    if ((rc = uv_signal_start(&agent->sigterm, on_signal, SIGTERM)) != 0
        || (rc = uv_signal_start(&agent->sigint, on_signal, SIGINT)) != 0) {
        wharf_error("cannot watch SIGTERM/SIGINT: %s", uv_strerror(rc));
        return -1;
    }
    /* Signals alone must not keep the loop running once lws is gone. */
    uv_unref((uv_handle_t *) &agent->sigterm);
    uv_unref((uv_handle_t *) &agent->sigint);
    return 0;
}

/* Runs the loop until every handle is closed, then releases the rest. */
static void
agent_fini(struct agent *agent)
{
    int rc;

    uv_run(&agent->loop, UV_RUN_DEFAULT);
    if (agent->lws != NULL) {
        /* lws left the last step of its destruction for outside the loop */
        lws_context_destroy(agent->lws);
        uv_run(&agent->loop, UV_RUN_DEFAULT);
    }
    rc = uv_loop_close(&agent->loop);
    if (rc != 0) {
        wharf_warn("event loop closed with handles left: %s",
                   uv_strerror(rc));
    }
    free(agent->child_cmd);
    free(agent->child_envp);
}

int
main(int argc, char **argv)
{
    struct agent agent;
    char err[512];

    memset(&agent, 0, sizeof(agent));
    if (agent_config_parse(&agent.cfg, argc, argv, environ, err,
                           sizeof(err)) != 0) {
        fprintf(stderr, "wharf-agent: %s\n(wharf-agent --help shows the "
                "flags)\n", err);
        return 2;
    }
    if (agent.cfg.show_help) {
        fputs(agent_config_usage, stdout);
        return 0;
    }
    if (agent.cfg.show_version) {
        printf("wharf-agent %s\n", AGENT_VERSION);
        return 0;
    }
    wharf_log_init("wharf-agent", (enum wharf_log_level) agent.cfg.log_level);

    if (agent_init(&agent) != 0) {
        free(agent.child_cmd);
        free(agent.child_envp);
        return 1;
    }
    if (agent_server_start(&agent) != 0) {
        final_stage(&agent);
        agent_fini(&agent);
        return 1;
    }

    printf("wharf-agent listening on %s:%d\n", agent.cfg.listen_text,
           agent.port);
    fflush(stdout);
    wharf_info("worker %s%s%s, terminal command: %s, kill timeout %u ms%s%s",
               agent.cfg.worker, agent.cfg.container[0] ? ", container " : "",
               agent.cfg.container, agent.cfg.terminal_cmd,
               agent.cfg.kill_timeout_ms,
               agent.cfg.orchestrator ? ", orchestrator " : "",
               agent.cfg.orchestrator ? agent.cfg.orchestrator : "");

    agent_fini(&agent);
    wharf_info("stopped");
    return 0;
}
