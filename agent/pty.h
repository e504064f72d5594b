/*
 * Programs on a pseudo-terminal.
 *
 * agent_pty_spawn() forks a child that becomes a session leader (setsid), so
 * its pid is also its process group and session id, takes the PTY's slave as
 * its controlling terminal (TIOCSCTTY) on fds 0-2, and execs the program.
 * The parent keeps the master, non-blocking and close-on-exec. The call
 * returns only once the child has exec'd (or failed to: then it returns -1
 * and the child is already reaped), so from then on the whole group can be
 * signalled by -pid: there is no window in which the child is still in the
 * agent's own process group.
 */
#ifndef AGENT_PTY_H
#define AGENT_PTY_H

#include <sys/types.h>

struct agent_pty {
    pid_t pid;  /* also the pgid and sid; 0 when none */
    int master; /* -1 when closed */
};

struct agent_pty_spec {
    const char *path; /* program to exec */
    char *const *argv;
    char *const *envp;
    unsigned cols, rows; /* initial window size */
};

/* Returns 0, or -1 (logged; errno set). */
int agent_pty_spawn(struct agent_pty *pty, const struct agent_pty_spec *spec);

/* TIOCSWINSZ on the master; the kernel sends SIGWINCH to the foreground
 * process group. Returns 0 or -1 (logged). */
int agent_pty_resize(const struct agent_pty *pty, unsigned cols, unsigned rows);

/* Sends sig to the process group pgid; if there is no such group, to the
 * process pgid itself. Returns 0, or -1 when neither exists (ESRCH; not
 * logged: the caller's race with an exit is normal). */
int agent_pty_signal(pid_t pgid, int sig);

/* 1 when the process group pgid still has a member. The kernel does not
 * reuse an id while any process still has it as its group, so a yes is about
 * this group even after its leader was reaped; once the group is empty the
 * id becomes free, which is why callers only ask within a kill timeout of
 * the leader's exit, far shorter than a pid wrap-around. */
int agent_pty_group_alive(pid_t pgid);

/* Sends sig to every live process of session sid, found by its session id
 * in /proc (the shell on a PTY leads its session: sid is its pid): its
 * background jobs and their children too, whatever their process group,
 * but not a process that made a session of its own (setsid). sig 0 only
 * counts them. Returns how many were signalled. */
int agent_pty_session_signal(pid_t sid, int sig);

/* 1 when the process group or the session sid still has a live member. */
int agent_pty_session_alive(pid_t sid);

/* 1 when every slave descriptor is closed (the master polls POLLHUP): what
 * is left to read is what was written before, and read() ends with EIO. */
int agent_pty_slave_closed(int master);

/* Closes the master if open. */
void agent_pty_close_master(struct agent_pty *pty);

#endif
