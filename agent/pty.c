/* Spawning on a PTY, signalling the group: see pty.h. */
#include "pty.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "child.h"
#include "log.h"

static int
set_fd_flag(int fd, int get, int set, int flag)
{
    int flags = fcntl(fd, get);

    if (flags < 0 || fcntl(fd, set, flags | flag) < 0) {
        return -1;
    }
    return 0;
}

/*
 * In the child, between fork() and execve(). The agent may have other
 * threads (libuv's pool), so only async-signal-safe calls are made here:
 * everything that allocates was prepared by the parent.
 */
static void __attribute__((noreturn))
child_exec(const struct agent_pty_spec *spec, int slave, int sync_fd,
           int max_fd)
{
    /* Handlers and dispositions the agent set (libuv's, lws's SIGPIPE
     * SIG_IGN) must not leak into the shell. Signals are still blocked
     * here (the parent blocked them around fork), so none is lost or run
     * meanwhile. */
    agent_child_reset_signals();

    if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) {
        goto fail;
    }
    if (dup2(slave, STDIN_FILENO) < 0 || dup2(slave, STDOUT_FILENO) < 0
        || dup2(slave, STDERR_FILENO) < 0) {
        goto fail;
    }
    if (slave > STDERR_FILENO) {
        (void) close(slave);
    }
    /* a leaked master would keep another terminal alive */
    agent_child_before_exec(sync_fd, max_fd);
    execve(spec->path, spec->argv, spec->envp);
fail:
    agent_child_failed(sync_fd);
}

int
agent_pty_spawn(struct agent_pty *pty, const struct agent_pty_spec *spec)
{
    struct winsize ws;
    struct termios tio;
    sigset_t all, old;
    int master = -1, slave = -1, sync_pipe[2] = { -1, -1 };
    int child_errno, saved, max_fd;
    ssize_t n;
    pid_t pid;

    pty->pid = 0;
    pty->master = -1;

    memset(&ws, 0, sizeof(ws));
    ws.ws_col = (unsigned short) spec->cols;
    ws.ws_row = (unsigned short) spec->rows;
    if (openpty(&master, &slave, NULL, NULL, &ws) != 0) {
        wharf_error("openpty: %s", strerror(errno));
        return -1;
    }
    if (set_fd_flag(master, F_GETFL, F_SETFL, O_NONBLOCK) != 0
        || set_fd_flag(master, F_GETFD, F_SETFD, FD_CLOEXEC) != 0
        || set_fd_flag(slave, F_GETFD, F_SETFD, FD_CLOEXEC) != 0) {
        wharf_error("pty flags: %s", strerror(errno));
        goto fail;
    }
    /* Terminals in browsers speak UTF-8: let the line discipline erase
     * whole characters, as xterm's own PTYs do. */
    if (tcgetattr(slave, &tio) == 0) {
        tio.c_iflag |= IUTF8;
        (void) tcsetattr(slave, TCSANOW, &tio);
    }
    /* The child reports a failure before exec through this pipe; a
     * successful exec closes it (close-on-exec) and the parent reads EOF. */
    if (pipe2(sync_pipe, O_CLOEXEC) != 0) {
        wharf_error("pipe2: %s", strerror(errno));
        goto fail;
    }
    max_fd = agent_child_max_fd();

    sigfillset(&all);
    (void) sigprocmask(SIG_SETMASK, &all, &old);
    pid = fork();
    if (pid == 0) {
        (void) close(sync_pipe[0]);
        (void) close(master);
        child_exec(spec, slave, sync_pipe[1], max_fd);
    }
    saved = errno;
    (void) sigprocmask(SIG_SETMASK, &old, NULL);
    (void) close(slave);
    slave = -1;
    (void) close(sync_pipe[1]);
    sync_pipe[1] = -1;
    if (pid < 0) {
        wharf_error("fork: %s", strerror(saved));
        errno = saved;
        goto fail;
    }

    do {
        n = read(sync_pipe[0], &child_errno, sizeof(child_errno));
    } while (n < 0 && errno == EINTR);
    (void) close(sync_pipe[0]);
    sync_pipe[0] = -1;
    if (n == (ssize_t) sizeof(child_errno)) {
        /* The child never exec'd: reap it here, it is nobody else's. */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        wharf_error("cannot start %s on a terminal: %s", spec->path,
                    strerror(child_errno));
        errno = child_errno;
        goto fail;
    }

    pty->pid = pid;
    pty->master = master;
    return 0;

fail:
    saved = errno;
    if (master >= 0) {
        (void) close(master);
    }
    if (slave >= 0) {
        (void) close(slave);
    }
    if (sync_pipe[0] >= 0) {
        (void) close(sync_pipe[0]);
    }
    if (sync_pipe[1] >= 0) {
        (void) close(sync_pipe[1]);
    }
    errno = saved;
    return -1;
}

int
agent_pty_resize(const struct agent_pty *pty, unsigned cols, unsigned rows)
{
    struct winsize ws;

    memset(&ws, 0, sizeof(ws));
    ws.ws_col = (unsigned short) cols;
    ws.ws_row = (unsigned short) rows;
    if (pty->master < 0) {
        return 0;
    }
    if (ioctl(pty->master, TIOCSWINSZ, &ws) != 0) {
        wharf_warn("TIOCSWINSZ on pid %d: %s", (int) pty->pid, strerror(errno));
        return -1;
    }
    return 0;
}

int
agent_pty_signal(pid_t pgid, int sig)
{
    /* kill(0) and kill(-1) would hit the agent's own group or every
     * process it may signal: never let a zero or bogus id through. */
    if (pgid <= 1) {
        errno = ESRCH;
        return -1;
    }
    if (kill(-pgid, sig) == 0) {
        return 0;
    }
    if (errno != ESRCH) {
        wharf_warn("kill(-%d, %d): %s", (int) pgid, sig, strerror(errno));
        return -1;
    }
    return kill(pgid, sig);
}

int
agent_pty_group_alive(pid_t pgid)
{
    if (pgid <= 1) {
        return 0;
    }
    return kill(-pgid, 0) == 0 || errno == EPERM;
}

int
agent_pty_slave_closed(int master)
{
    struct pollfd p = { .fd = master, .events = POLLIN, .revents = 0 };

    if (master < 0) {
        return 1;
    }
    if (poll(&p, 1, 0) < 0) {
        return 0;
    }
    return (p.revents & POLLHUP) != 0;
}

void
agent_pty_close_master(struct agent_pty *pty)
{
    if (pty->master >= 0) {
        (void) close(pty->master);
        pty->master = -1;
    }
}

/* The session id and state of process pid, from /proc/PID/stat; -1 when
 * it is gone. The command name (field 2) may hold spaces and ")": the
 * fields after it are read from its last ")". */
static int
proc_session(const char *pid, pid_t *sid, char *state)
{
    char path[64], buf[512], *p;
    int fd, pgrp, session, ppid;
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%s/stat", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    (void) close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    p = strrchr(buf, ')');
    if (p == NULL
        || sscanf(p + 1, " %c %d %d %d", state, &ppid, &pgrp, &session) != 4) {
        return -1;
    }
    *sid = (pid_t) session;
    return 0;
}

int
agent_pty_session_signal(pid_t sid, int sig)
{
    DIR *d;
    struct dirent *e;
    pid_t s, pid;
    char state;
    int n = 0;

    if (sid <= 1) {
        return 0;
    }
    d = opendir("/proc");
    if (d == NULL) {
        wharf_warn("opendir /proc: %s", strerror(errno));
        return agent_pty_signal(sid, sig) == 0;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9'
            || proc_session(e->d_name, &s, &state) != 0 || s != sid
            || state == 'Z') {
            continue;
        }
        pid = (pid_t) atoi(e->d_name);
        if (sig == 0 || kill(pid, sig) == 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

int
agent_pty_session_alive(pid_t sid)
{
    return agent_pty_group_alive(sid) || agent_pty_session_signal(sid, 0) > 0;
}
