/*
 * The local terminal of `wharfctl terminal`: raw mode, window size, and the
 * promise that the terminal is put back as it was on every way out.
 *
 * Ways out, and what restores the terminal on each:
 *   normal end, error, remote exit    ctl_tty_restore() by the caller
 *   SIGTERM, SIGHUP, SIGINT, SIGQUIT  the handler only writes the signal's
 *                                     number to the self-pipe; the session
 *                                     ends in order and restores (exit
 *                                     status 128 + signal)
 *   SIGSEGV, SIGBUS, SIGFPE, SIGILL,  the handler restores at once
 *   SIGABRT (a bug)                   (tcsetattr is async-signal-safe),
 *                                     then dies of the same signal
 *   SIGTSTP (kill -TSTP; ^Z itself    the handler restores, stops the
 *   goes to the remote shell)         process, and on SIGCONT makes the
 *                                     terminal raw again and asks for a
 *                                     size update
 *   SIGKILL                           nothing can; `stty sane` or `reset`
 * The file status flags (O_NONBLOCK) of the terminal are saved and put back
 * too: they belong to the open file description that the user's shell
 * shares.
 *
 * A signal handler can reach only global state: the one pointer
 * ctl_tty_active (set while handlers are installed) is this program's only
 * global mutable variable, and handlers only read through it.
 */
#ifndef CTL_TTY_H
#define CTL_TTY_H

#include <signal.h>
#include <termios.h>

/* Signals that end the session in order (through the self-pipe). */
#define CTL_TTY_QUIT_SIGNALS             \
    {                                    \
        SIGTERM, SIGHUP, SIGINT, SIGQUIT \
    }

struct ctl_tty {
    int fd;                 /* the terminal (stdin), or -1: not a tty */
    int raw;                /* raw mode is on now */
    int have_saved;         /* saved/saved_flags hold the original */
    struct termios saved;   /* the terminal as we found it */
    struct termios rawmode; /* what ctl_tty_raw() sets */
    int saved_flags;        /* fcntl(F_GETFL) as we found it */
    int sig_pipe[2];        /* handlers write one byte per signal */
    int handlers;           /* handlers installed */
};

/* fd is the terminal to drive (stdin); fine when it is not a tty (then
 * raw mode and sizes are no-ops). Creates the self-pipe. 0 or -1. */
int ctl_tty_init(struct ctl_tty *t, int fd);

/* Raw mode (cfmakeraw: no echo, no line editing, no signals from keys, no
 * output processing), VMIN 1. 0 or -1 with errno. */
int ctl_tty_raw(struct ctl_tty *t);

/* Puts back the terminal and its flags as they were; idempotent. */
void ctl_tty_restore(struct ctl_tty *t);

/* The window size of the terminal (of fd, else of stdout, else of
 * stderr): 0, or -1 when none of them is a terminal. */
int ctl_tty_size(const struct ctl_tty *t, unsigned *cols, unsigned *rows);

/* Installs the handlers described above (SIGWINCH and SIGCONT also write
 * to the pipe; SIGPIPE is ignored so that a closed stdout is an error, not
 * a death). 0 or -1. */
int ctl_tty_signals(struct ctl_tty *t);

/* Reads one pending signal number from the self-pipe (non-blocking):
 * the signal, or 0 when none. */
int ctl_tty_next_signal(struct ctl_tty *t);

/* Removes the handlers, restores the terminal, closes the pipe. */
void ctl_tty_done(struct ctl_tty *t);

#endif
