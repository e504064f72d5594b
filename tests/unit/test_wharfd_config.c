/* Unit tests for wharfd's settings (fcgi_backend/config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../fcgi_backend/config.h"

#define ARGC(a) ((int) (sizeof(a) / sizeof((a)[0])) - 1)

static void
test_listen_parse(void **state)
{
    struct wharfd_listen l;
    char err[256], longpath[200];

    (void) state;
    assert_int_equal(wharfd_listen_parse(&l, "unix:/run/wharfd.sock", err,
                                         sizeof(err)), 0);
    assert_int_equal(l.kind, WHARFD_LISTEN_UNIX);
    assert_string_equal(l.path, "/run/wharfd.sock");

    assert_int_equal(wharfd_listen_parse(&l, "127.0.0.1:9000", err,
                                         sizeof(err)), 0);
    assert_int_equal(l.kind, WHARFD_LISTEN_TCP);
    assert_string_equal(l.host, "127.0.0.1");
    assert_int_equal(l.port, 9000);
    assert_int_equal(wharfd_listen_parse(&l, "127.0.0.1:65535", err,
                                         sizeof(err)), 0);

    assert_int_equal(wharfd_listen_parse(&l, "127.0.0.1:0", err, sizeof(err)), -1);
    assert_int_equal(wharfd_listen_parse(&l, "127.0.0.1:65536", err, sizeof(err)), -1);
    assert_int_equal(wharfd_listen_parse(&l, "127.0.0.1:9x", err, sizeof(err)), -1);
    assert_int_equal(wharfd_listen_parse(&l, "localhost:9000", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not an IPv4 address"));
    assert_int_equal(wharfd_listen_parse(&l, ":9000", err, sizeof(err)), -1);
    assert_int_equal(wharfd_listen_parse(&l, "unix:", err, sizeof(err)), -1);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    memcpy(longpath, "unix:/", 6);
    assert_int_equal(wharfd_listen_parse(&l, longpath, err, sizeof(err)), -1);
}

static void
test_args(void **state)
{
    struct wharfd_config cfg;
    char err[512];
    char *ok[] = { "wharfd", "--listen", "127.0.0.1:9000", "--db=/tmp/x.db",
                   "--threads", "8", "--log-level", "debug",
                   "--body-limit", "1024", "--socket-mode", "0666", NULL };
    char *missing_db[] = { "wharfd", "--listen", "unix:/tmp/s", NULL };
    char *bad_flag[] = { "wharfd", "--listen", "unix:/tmp/s", "--db", "x",
                         "--nope", NULL };
    char *no_value[] = { "wharfd", "--db", NULL };
    char *threads0[] = { "wharfd", "--threads", "0", NULL };
    char *mode9[] = { "wharfd", "--socket-mode", "0999", NULL };
    char *help[] = { "wharfd", "--help", NULL };

    (void) state;
    assert_int_equal(wharfd_config_load(&cfg, ARGC(ok), ok, err, sizeof(err)), 0);
    assert_int_equal(cfg.listen.port, 9000);
    assert_string_equal(cfg.db, "/tmp/x.db");
    assert_int_equal(cfg.threads, 8);
    assert_int_equal(cfg.log_level, 0);
    assert_int_equal(cfg.body_limit, 1024);
    assert_int_equal(cfg.socket_mode, 0666);

    assert_int_equal(wharfd_config_load(&cfg, ARGC(missing_db), missing_db,
                                        err, sizeof(err)), -1);
    assert_non_null(strstr(err, "--db"));
    assert_int_equal(wharfd_config_load(&cfg, ARGC(bad_flag), bad_flag, err,
                                        sizeof(err)), -1);
    assert_non_null(strstr(err, "--nope"));
    assert_int_equal(wharfd_config_load(&cfg, ARGC(no_value), no_value, err,
                                        sizeof(err)), -1);
    assert_int_equal(wharfd_config_load(&cfg, ARGC(threads0), threads0, err,
                                        sizeof(err)), -1);
    assert_int_equal(wharfd_config_load(&cfg, ARGC(mode9), mode9, err,
                                        sizeof(err)), -1);
    assert_int_equal(wharfd_config_load(&cfg, ARGC(help), help, err,
                                        sizeof(err)), 0);
    assert_int_equal(cfg.action, WHARFD_PRINT_HELP);
}

static void
test_config_file(void **state)
{
    char path[] = "/tmp/wharfd-test-config-XXXXXX", err[512];
    struct wharfd_config cfg;
    FILE *f;
    int fd;
    char *argv[] = { "wharfd", "--threads", "3", "--config", path, NULL };

    (void) state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("# wharfd settings\n"
          "listen = unix:/tmp/from-file.sock\n"
          "db = /tmp/from-file.db\n"
          "threads = 12\n"
          "\n", f);
    fclose(f);

    /* The command line wins over the file, wherever --config stands. */
    assert_int_equal(wharfd_config_load(&cfg, ARGC(argv), argv, err,
                                        sizeof(err)), 0);
    assert_string_equal(cfg.listen.path, "/tmp/from-file.sock");
    assert_string_equal(cfg.db, "/tmp/from-file.db");
    assert_int_equal(cfg.threads, 3);

    f = fopen(path, "w");
    fputs("listen = unix:/tmp/s\nfrobs = 1\n", f);
    fclose(f);
    assert_int_equal(wharfd_config_load(&cfg, ARGC(argv), argv, err,
                                        sizeof(err)), -1);
    assert_non_null(strstr(err, ":2: unknown setting 'frobs'"));
    unlink(path);
}

/* The flags of the store issue, at their edges. */
static void
test_store_flags(void **state)
{
    char *ok[] = { "wharfd", "--listen", "127.0.0.1:9000", "--db", "x.db",
                   "--ws-listen", "127.0.0.1:9001", "--auth", "off",
                   "--feed-queue", "1", "--batch-max", "1000000",
                   "--max-logs", "5", "--log-days", "0",
                   "--gateway", "http://127.0.0.1:8080/", NULL };
    char *bad_auth[] = { "wharfd", "--listen", "127.0.0.1:9000", "--db", "x",
                         "--auth", "maybe", NULL };
    char *bad_ws[] = { "wharfd", "--listen", "127.0.0.1:9000", "--db", "x",
                       "--ws-listen", "unix:/tmp/x.sock", NULL };
    char *bad_queue[] = { "wharfd", "--listen", "127.0.0.1:9000", "--db", "x",
                          "--feed-queue", "0", NULL };
    char *bad_batch[] = { "wharfd", "--listen", "127.0.0.1:9000", "--db", "x",
                          "--batch-max", "1000001", NULL };
    char *bad_gw[] = { "wharfd", "--listen", "127.0.0.1:9000", "--db", "x",
                       "--gateway", "ftp://x", NULL };
    struct wharfd_config cfg;
    char err[512];

    (void) state;
    assert_int_equal(wharfd_config_load(&cfg, ARGC(ok), ok, err, sizeof(err)), 0);
    assert_true(cfg.has_ws_listen);
    assert_int_equal(cfg.ws_listen.port, 9001);
    assert_true(cfg.auth_off);
    assert_int_equal(cfg.feed_queue, 1);
    assert_int_equal(cfg.batch_max, 1000000);
    assert_int_equal(cfg.max_logs, 5);
    assert_int_equal(cfg.log_days, 0);
    assert_int_equal(cfg.error_days, 7);
    assert_string_equal(cfg.gateway, "http://127.0.0.1:8080");
    assert_int_equal(wharfd_config_load(&cfg, ARGC(bad_auth), bad_auth, err,
                                        sizeof(err)), -1);
    assert_non_null(strstr(err, "--auth"));
    assert_int_equal(wharfd_config_load(&cfg, ARGC(bad_ws), bad_ws, err,
                                        sizeof(err)), -1);
    assert_int_equal(wharfd_config_load(&cfg, ARGC(bad_queue), bad_queue, err,
                                        sizeof(err)), -1);
    assert_int_equal(wharfd_config_load(&cfg, ARGC(bad_batch), bad_batch, err,
                                        sizeof(err)), -1);
    assert_int_equal(wharfd_config_load(&cfg, ARGC(bad_gw), bad_gw, err,
                                        sizeof(err)), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_parse),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_config_file),
        cmocka_unit_test(test_store_flags),
    };
    return cmocka_run_group_tests_name("wharfd_config", tests, NULL, NULL);
}
