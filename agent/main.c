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

#include <sys/prctl.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>

#include "agent.h"
#include "api.h"
#include "appconfig.h"
#include "auth.h"
#include "log.h"
#include "server.h"
#include "ship.h"
#include "terminal.h"

extern char **environ;

/* How often the draining stage checks whether everything has ended. */
#define AGENT_SHUTDOWN_TICK_MS 20
/* Draining lasts at most the kill timeout plus this: time for SIGKILLed
 * groups to be reaped and close frames to be flushed. */
#define AGENT_SHUTDOWN_GRACE_MS 1000

/* Signals the agent passes on to every supervised process group. */
static const int forwarded_signals[] = { SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH };

/* Environment variables the terminal's program does not inherit: the
 * agent's own settings (every WHARF_*, the token above all) and what the
 * agent sets. */
static const char *const child_env_drop[] = { "TERM", "COLUMNS", "LINES",
                                              NULL };

static int
env_dropped(const char *entry)
{
    size_t n;
    int i;

    if (strncmp(entry, "WHARF_", 6) == 0) {
        return 1;
    }
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

/* --- the supervisor's output ---------------------------------------------------
 *
 * The supervisor (proc.h) reports through these hooks; here they go to the
 * shipper (ship.h) and to the API (api.h). Neither knows of the other, and
 * the supervisor knows of neither.
 */

static void
on_proc_line(void *ctx, struct agent_proc *p, const struct agent_proc_line *l)
{
    struct agent *agent = ctx;

    agent_ship_log(agent, p, l->seq, l->ts_ms, l->stream, l->level, l->flags,
                   l->text, l->len);
    agent_api_on_line(agent, p, l->stream,
                      agent_ship_sequence(agent, p, l->seq), l->level, l->text,
                      l->len);
}

static void
on_proc_error(void *ctx, struct agent_proc *p, json_t *e, uint64_t seq)
{
    struct agent *agent = ctx;

    /* the shipper first: it gives e its shipped sequence when it knows it,
     * which /websocket clients then see too */
    agent_ship_error(agent, p, e, seq);
    agent_api_broadcast_error(agent, p, e);
}

static void
on_proc_event(void *ctx, struct agent_proc *p, json_t *ev)
{
    struct agent *agent = ctx;

    (void) p;
    agent_api_broadcast_event(agent, ev);
    agent_ship_event(agent, json_incref(ev));
}

static void
on_proc_changed(void *ctx, struct agent_proc *p)
{
    agent_ship_process(ctx, p);
}

static void
on_proc_ended(void *ctx, struct agent_proc *p)
{
    agent_api_proc_ended(ctx, p);
}

static const struct agent_proc_hooks proc_hooks = {
    .line = on_proc_line,
    .error = on_proc_error,
    .event = on_proc_event,
    .state_changed = on_proc_changed,
    .ended = on_proc_ended,
};

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
    size_t i;

    if (agent->shutdown_stage == 2) {
        return;
    }
    agent->shutdown_stage = 2;
    agent_sup_stop(&agent->sup);
    uv_timer_stop(&agent->shutdown_timer);
    agent_terminal_kill_now(agent);
    agent_api_close(agent);
    agent_procs_close(&agent->sup);
    agent_ship_close(agent);
    agent_server_stop(agent);
    uv_close((uv_handle_t *) &agent->shutdown_timer, NULL);
    uv_close((uv_handle_t *) &agent->sigterm, NULL);
    uv_close((uv_handle_t *) &agent->sigint, NULL);
    for (i = 0; i < sizeof(forwarded_signals) / sizeof(int); i++) {
        uv_close((uv_handle_t *) &agent->sigfwd[i], NULL);
    }
    agent_reaper_close(&agent->reaper);
}

/* Draining: terminals and /websocket clients close while the instances
 * are stopped one at a time, last started first; then what the shipper
 * holds goes out (at most --flush-timeout-ms); then the final stage. */
static void
on_shutdown_tick(uv_timer_t *t)
{
    struct agent *agent = t->data;
    uint64_t now = uv_now(&agent->loop);
    int procs_done = agent_procs_shutdown_step(&agent->sup);

    if (procs_done && agent->sessions_alive == 0 && agent->ws_open == 0) {
        if (agent->flush_deadline_ms == 0) {
            agent->flush_deadline_ms = now + agent->cfg.flush_timeout_ms;
            agent_ship_flush_now(agent);
        }
        if (agent_ship_idle(agent)) {
            final_stage(agent);
        } else if (now >= agent->flush_deadline_ms) {
            wharf_warn("shutdown: %zu log lines not shipped at the flush "
                       "deadline",
                       agent->ship.queue.nrecs);
            final_stage(agent);
        }
    } else if (now >= agent->shutdown_deadline_ms) {
        wharf_warn("shutdown: %u sessions, %u connections left at the "
                   "deadline",
                   agent->sessions_alive, agent->ws_open);
        final_stage(agent);
    }
}

static void
on_forward(uv_signal_t *h, int signum)
{
    struct agent *agent = h->data;

    wharf_info("%s: passed on to the processes", strsignal(signum));
    agent_procs_signal(&agent->sup, signum);
}

static void
on_signal(uv_signal_t *h, int signum)
{
    struct agent *agent = h->data;

    if (agent->shutdown_stage == 0) {
        uint64_t procs_ms = 0;
        unsigned i;

        wharf_info("%s: shutting down (%u terminals, %u processes)",
                   strsignal(signum), agent->terminals_open, agent->sup.nprocs);
        for (i = 0; i < agent->sup.nprocs; i++) {
            procs_ms += agent->sup.procs[i]->spec.kill_timeout_ms
                + AGENT_SHUTDOWN_GRACE_MS;
        }
        agent->shutdown_stage = 1;
        agent_sup_stop(&agent->sup);
        agent->shutdown_deadline_ms = uv_now(&agent->loop)
            + agent->cfg.kill_timeout_ms + AGENT_SHUTDOWN_GRACE_MS + procs_ms
            + agent->cfg.flush_timeout_ms;
        agent_terminal_shutdown(agent);
        agent_api_shutdown(agent);
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
    size_t i;
    int rc;

    agent->started_ns = uv_hrtime();
    agent_detect_init(&agent->detect);
    /* Orphans of the app must come to us to be reaped, as to tini: PID 1
     * gets them anyway; otherwise become the subreaper of our subtree. */
    if (getpid() != 1) {
        if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0) {
            agent->subreaper = 1;
        } else {
            wharf_warn("cannot become a child subreaper: %s", strerror(errno));
        }
    }
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
    agent_sup_init(&agent->sup, &agent->loop, &agent->reaper, &agent->detect,
                   agent->cfg.line_max, &proc_hooks, agent);
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
    for (i = 0; i < sizeof(forwarded_signals) / sizeof(int); i++) {
        uv_signal_init(&agent->loop, &agent->sigfwd[i]);
        agent->sigfwd[i].data = agent;
        if (uv_signal_start(&agent->sigfwd[i], on_forward, forwarded_signals[i])
            == 0) {
            uv_unref((uv_handle_t *) &agent->sigfwd[i]);
        }
    }
    return agent_ship_init(agent);
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
        wharf_warn("event loop closed with handles left: %s", uv_strerror(rc));
    }
    agent_procs_free(&agent->sup);
    agent_ship_free(agent);
    wharf_keys_free(&agent->keys);
    free(agent->token_buf);
    free(agent->child_cmd);
    free(agent->child_envp);
}

/* The instances of the config file and of "-- CMD ARGS"; started once the
 * server listens. Returns 0 or -1 (logged). */
static int
create_instances(struct agent *agent, unsigned long long *autostart)
{
    struct agent_proc_spec spec;
    json_t *obj, *args;
    char err[512];
    int i;

    if (agent->cfg.config_file != NULL
        && agent_appconfig_load(agent, agent->cfg.config_file, autostart, err,
                                sizeof(err))
            != 0) {
        wharf_error("--config: %s", err);
        return -1;
    }
    if (agent->cfg.cmd_argv == NULL) {
        return 0;
    }
    args = json_array();
    for (i = 1; i < agent->cfg.cmd_argc; i++) {
        json_array_append_new(args, json_string(agent->cfg.cmd_argv[i]));
    }
    obj = json_pack("{s:s,s:s,s:o}", "instanceId", agent->cfg.instance_id,
                    "command", agent->cfg.cmd_argv[0], "args", args);
    if (obj != NULL && agent->cfg.app_port > 0) {
        json_object_set_new(obj, "expectedPort",
                            json_integer(agent->cfg.app_port));
    }
    if (obj == NULL
        || agent_proc_spec_from_json(obj, &spec, err, sizeof(err)) != 0) {
        json_decref(obj);
        wharf_error("-- %s: %s", agent->cfg.cmd_argv[0],
                    obj == NULL ? "arguments are not UTF-8" : err);
        return -1;
    }
    json_decref(obj);
    {
        struct agent_proc *p =
            agent_proc_create(&agent->sup, &spec, err, sizeof(err));

        if (p == NULL) {
            agent_proc_spec_free(&spec);
            wharf_error("-- %s: %s", agent->cfg.cmd_argv[0], err);
            return -1;
        }
        *autostart |= 1ull << p->index;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct agent agent;
    char err[512];
    unsigned long long autostart = 0;
    unsigned i;

    memset(&agent, 0, sizeof(agent));
    if (agent_config_parse(&agent.cfg, argc, argv, environ, err, sizeof(err))
        != 0) {
        fprintf(stderr,
                "wharf-agent: %s\n(wharf-agent --help shows the "
                "flags)\n",
                err);
        return 2;
    }
    if (agent.cfg.show_help) {
        agent_config_help(stdout);
        return 0;
    }
    if (agent.cfg.show_version) {
        printf("wharf-agent %s\n", AGENT_VERSION);
        return 0;
    }
    wharf_log_init("wharf-agent", (enum wharf_log_level) agent.cfg.log_level);
    /* Memory: OpenSSL's error-string tables (~0.6 MiB resident once
     * loaded, as libcurl's initialisation would) are not loaded; an
     * OpenSSL error is then logged by its code, e.g.
     * "error:0A000086::reason(134)". Asked first, this choice sticks.
     * TLS itself is not affected (docs/agent.md, Memory). */
    OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_SSL_STRINGS
                         | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS,
                     NULL);

    if (agent.cfg.public_key == NULL && !agent.cfg.insecure_no_auth) {
        fprintf(stderr,
                "wharf-agent: --public-key (or WHARF_PUBLIC_KEY) is "
                "required: every route but /health checks tokens with the "
                "orchestrator's key (--insecure-no-auth turns that off for "
                "development)\n");
        return 2;
    }
    if (agent_auth_load_keys(&agent) != 0) {
        wharf_keys_free(&agent.keys);
        return 2;
    }
    if (agent_auth_load_token(&agent) != 0) {
        wharf_keys_free(&agent.keys);
        return 2;
    }
    if (agent.cfg.insecure_no_auth) {
        wharf_warn("--insecure-no-auth: every route is open to anyone who "
                   "can reach %s:%d",
                   agent.cfg.listen_text, agent.cfg.listen_port);
    }

    if (agent_init(&agent) != 0 || create_instances(&agent, &autostart) != 0) {
        final_stage(&agent);
        agent_fini(&agent);
        return 1;
    }
    /* the flag's, or the config file's (read by create_instances) */
    agent.sup.fatal_restart = agent.cfg.fatal_restart;
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

    for (i = 0; i < agent.sup.nprocs; i++) {
        if (autostart & (1ull << i)) {
            (void) agent_proc_start(agent.sup.procs[i], 0, err, sizeof(err));
        }
    }
    agent_fini(&agent);
    wharf_info("stopped");
    return 0;
}
