/* Unit tests for wharfctl's local terminal handling (cli/tty.c), on a real
 * pseudo-terminal: raw mode and its exact undoing, the file status flags,
 * window sizes, and the signal self-pipe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "../../cli/tty.h"

/* A fresh pty pair: *master, *slave. */
static void
open_pty(int *master, int *slave)
{
    *master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(*master >= 0);
    assert_int_equal(grantpt(*master), 0);
    assert_int_equal(unlockpt(*master), 0);
    *slave = open(ptsname(*master), O_RDWR | O_NOCTTY);
    assert_true(*slave >= 0);
}

static void
test_raw_and_back(void **state)
{
    struct termios before, during, after;
    struct ctl_tty t;
    int m, s, flags;

    (void) state;
    open_pty(&m, &s);
    assert_int_equal(tcgetattr(s, &before), 0);
    assert_true(before.c_lflag & ICANON);
    flags = fcntl(s, F_GETFL);

    assert_int_equal(ctl_tty_init(&t, s), 0);
    assert_int_equal(t.fd, s);
    assert_int_equal(ctl_tty_raw(&t), 0);
    assert_int_equal(tcgetattr(s, &during), 0);
    assert_false(during.c_lflag & (ICANON | ECHO | ISIG));
    assert_false(during.c_oflag & OPOST);
    assert_int_equal(during.c_cc[VMIN], 1);

    /* Someone makes the shared description non-blocking meanwhile. */
    fcntl(s, F_SETFL, flags | O_NONBLOCK);
    ctl_tty_restore(&t);
    assert_int_equal(tcgetattr(s, &after), 0);
    assert_memory_equal(&after.c_cc, &before.c_cc, sizeof(before.c_cc));
    assert_int_equal(after.c_lflag, before.c_lflag);
    assert_int_equal(after.c_iflag, before.c_iflag);
    assert_int_equal(after.c_oflag, before.c_oflag);
    assert_int_equal(after.c_cflag, before.c_cflag);
    assert_int_equal(fcntl(s, F_GETFL), flags);
    /* Idempotent. */
    ctl_tty_restore(&t);
    ctl_tty_done(&t);
    close(s);
    close(m);
}

static void
test_not_a_tty(void **state)
{
    struct ctl_tty t;
    int p[2];

    (void) state;
    assert_int_equal(pipe(p), 0);
    assert_int_equal(ctl_tty_init(&t, p[0]), 0);
    assert_int_equal(t.fd, -1);
    assert_int_equal(ctl_tty_raw(&t), 0); /* a no-op */
    ctl_tty_done(&t);
    close(p[0]);
    close(p[1]);
}

static void
test_size(void **state)
{
    struct winsize ws = { .ws_row = 41, .ws_col = 133 };
    struct ctl_tty t;
    unsigned cols = 0, rows = 0;
    int m, s;

    (void) state;
    open_pty(&m, &s);
    assert_int_equal(ioctl(s, TIOCSWINSZ, &ws), 0);
    assert_int_equal(ctl_tty_init(&t, s), 0);
    assert_int_equal(ctl_tty_size(&t, &cols, &rows), 0);
    assert_int_equal(cols, 133);
    assert_int_equal(rows, 41);
    ctl_tty_done(&t);
    close(s);
    close(m);
}

static void
test_signals_to_pipe(void **state)
{
    struct termios before, after;
    struct ctl_tty t;
    int m, s;

    (void) state;
    open_pty(&m, &s);
    tcgetattr(s, &before);
    assert_int_equal(ctl_tty_init(&t, s), 0);
    assert_int_equal(ctl_tty_signals(&t), 0);
    assert_int_equal(ctl_tty_raw(&t), 0);
    assert_int_equal(ctl_tty_next_signal(&t), 0);
    /* Quit signals do not kill: they queue, in order, for the loop. */
    raise(SIGWINCH);
    raise(SIGTERM);
    raise(SIGHUP);
    assert_int_equal(ctl_tty_next_signal(&t), SIGWINCH);
    assert_int_equal(ctl_tty_next_signal(&t), SIGTERM);
    assert_int_equal(ctl_tty_next_signal(&t), SIGHUP);
    assert_int_equal(ctl_tty_next_signal(&t), 0);
    /* done: handlers gone, terminal back. */
    ctl_tty_done(&t);
    tcgetattr(s, &after);
    assert_int_equal(after.c_lflag, before.c_lflag);
    {
        struct sigaction sa;

        sigaction(SIGTERM, NULL, &sa);
        assert_true(sa.sa_handler == SIG_DFL);
    }
    close(s);
    close(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_and_back),
        cmocka_unit_test(test_not_a_tty),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_signals_to_pipe),
    };
    return cmocka_run_group_tests_name("ctl_tty", tests, NULL, NULL);
}
