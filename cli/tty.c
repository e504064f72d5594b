/* The local terminal: raw mode, sizes, signals (see tty.h). */
#include "tty.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The session's terminal, for the signal handlers only (see tty.h). */
static struct ctl_tty *volatile ctl_tty_active;

static const int quit_signals[] = CTL_TTY_QUIT_SIGNALS;
static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };

static void
put_back(struct ctl_tty *t)
{
    if (t->fd >= 0 && t->have_saved) {
        tcsetattr(t->fd, TCSADRAIN, &t->saved);
        fcntl(t->fd, F_SETFL, t->saved_flags);
    }
}

/* Signals that the loop handles: one byte into the pipe. */
static void
on_signal(int sig)
{
    struct ctl_tty *t = ctl_tty_active;
    int saved_errno = errno;
    unsigned char b = (unsigned char) sig;

    if (t != NULL && t->sig_pipe[1] >= 0) {
        /* A full pipe drops the byte: 64 KiB of unread signals means the
         * loop already has plenty to do. */
        (void) !write(t->sig_pipe[1], &b, 1);
    }
    errno = saved_errno;
}

/* A crash: the terminal first, then the default action. */
static void
on_fatal(int sig)
{
    struct ctl_tty *t = ctl_tty_active;

    if (t != NULL) {
        put_back(t);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Stopped from outside: cooked while stopped, raw again after. */
static void
on_stop(int sig)
{
    struct ctl_tty *t = ctl_tty_active;
    int saved_errno = errno;

    (void) sig;
    if (t != NULL && t->raw) {
        put_back(t);
    }
    kill(getpid(), SIGSTOP);
    /* ... continued. */
    if (t != NULL && t->raw && t->fd >= 0) {
        tcsetattr(t->fd, TCSADRAIN, &t->rawmode);
    }
    on_signal(SIGWINCH); /* the window may have changed meanwhile */
    errno = saved_errno;
}

int
ctl_tty_init(struct ctl_tty *t, int fd)
{
    memset(t, 0, sizeof(*t));
    t->fd = -1;
    t->sig_pipe[0] = t->sig_pipe[1] = -1;
    if (pipe2(t->sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        return -1;
    }
    if (isatty(fd) && tcgetattr(fd, &t->saved) == 0) {
        t->saved_flags = fcntl(fd, F_GETFL);
        if (t->saved_flags >= 0) {
            t->fd = fd;
            t->have_saved = 1;
            t->rawmode = t->saved;
            cfmakeraw(&t->rawmode);
            t->rawmode.c_cc[VMIN] = 1;
            t->rawmode.c_cc[VTIME] = 0;
        }
    }
    return 0;
}

int
ctl_tty_raw(struct ctl_tty *t)
{
    if (t->fd < 0) {
        return 0;
    }
    /* Flag first: a signal between the two lines restores too much rather
     * than too little. */
    t->raw = 1;
    if (tcsetattr(t->fd, TCSADRAIN, &t->rawmode) != 0) {
        t->raw = 0;
        return -1;
    }
    return 0;
}

void
ctl_tty_restore(struct ctl_tty *t)
{
    if (t->raw) {
        t->raw = 0;
        put_back(t);
    } else if (t->fd >= 0 && t->have_saved) {
        fcntl(t->fd, F_SETFL, t->saved_flags);
    }
}

int
ctl_tty_size(const struct ctl_tty *t, unsigned *cols, unsigned *rows)
{
    const int fds[] = { t->fd, STDOUT_FILENO, STDERR_FILENO };
    struct winsize ws;
    size_t i;

    for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (fds[i] >= 0 && ioctl(fds[i], TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0
            && ws.ws_row > 0) {
            *cols = ws.ws_col;
            *rows = ws.ws_row;
            return 0;
        }
    }
    return -1;
}

static int
handle(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

int
ctl_tty_signals(struct ctl_tty *t)
{
    size_t i;

    ctl_tty_active = t;
    t->handlers = 1;
    for (i = 0; i < sizeof(quit_signals) / sizeof(quit_signals[0]); i++) {
        if (handle(quit_signals[i], on_signal, SA_RESTART) != 0) {
            return -1;
        }
    }
    for (i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++) {
        if (handle(fatal_signals[i], on_fatal, SA_RESETHAND) != 0) {
            return -1;
        }
    }
    if (handle(SIGWINCH, on_signal, SA_RESTART) != 0
        || handle(SIGCONT, on_signal, SA_RESTART) != 0
        || handle(SIGTSTP, on_stop, SA_RESTART) != 0
        || handle(SIGPIPE, SIG_IGN, 0) != 0) {
        return -1;
    }
    return 0;
}

int
ctl_tty_next_signal(struct ctl_tty *t)
{
    unsigned char b;

    if (t->sig_pipe[0] >= 0 && read(t->sig_pipe[0], &b, 1) == 1) {
        return b;
    }
    return 0;
}

void
ctl_tty_done(struct ctl_tty *t)
{
    size_t i;

    if (t->handlers) {
        for (i = 0; i < sizeof(quit_signals) / sizeof(quit_signals[0]); i++) {
            handle(quit_signals[i], SIG_DFL, 0);
        }
        for (i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++) {
            handle(fatal_signals[i], SIG_DFL, 0);
        }
        handle(SIGWINCH, SIG_DFL, 0);
        handle(SIGCONT, SIG_DFL, 0);
        handle(SIGTSTP, SIG_DFL, 0);
        t->handlers = 0;
    }
    ctl_tty_restore(t);
    ctl_tty_active = NULL;
    for (i = 0; i < 2; i++) {
        if (t->sig_pipe[i] >= 0) {
            close(t->sig_pipe[i]);
            t->sig_pipe[i] = -1;
        }
    }
}
