/*
 * The child's side of a fork-then-exec (design in child.h).
 */
#include "child.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int
agent_child_max_fd(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0
        && rl.rlim_cur < (rlim_t) AGENT_CHILD_FALLBACK_MAX_FD) {
        return (int) rl.rlim_cur;
    }
    return AGENT_CHILD_FALLBACK_MAX_FD;
}

void
agent_child_reset_signals(void)
{
    struct sigaction sa;
    int sig;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (sig = 1; sig < NSIG; sig++) {
        (void) sigaction(sig, &sa, NULL);
    }
}

void
agent_child_before_exec(int sync_fd, int max_fd)
{
    sigset_t none;
    int fd;

    if (close_range(STDERR_FILENO + 1, ~0u, CLOSE_RANGE_CLOEXEC) != 0) {
        for (fd = STDERR_FILENO + 1; fd < max_fd; fd++) {
            if (fd != sync_fd) {
                (void) close(fd);
            }
        }
    }
    sigemptyset(&none);
    (void) sigprocmask(SIG_SETMASK, &none, NULL);
}

void
agent_child_failed(int sync_fd)
{
    int e = errno;

    (void) !write(sync_fd, &e, sizeof(e));
    _exit(127);
}
