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

#include "doc_table.inc"

#define ARGC(a) ((int) (sizeof(a) / sizeof((a)[0])) - 1)

static void
test_listen_parse(void **state)
{
    struct wharfd_listen l;
    char err[256], longpath[200];

    (void) state;
    assert_int_equal(
        wharfd_listen_parse(&l, "unix:/run/wharfd.sock", err, sizeof(err)), 0);
    assert_int_equal(l.kind, WHARFD_LISTEN_UNIX);
    assert_string_equal(l.path, "/run/wharfd.sock");

    assert_int_equal(
        wharfd_listen_parse(&l, "127.0.0.1:9000", err, sizeof(err)), 0);
    assert_int_equal(l.kind, WHARFD_LISTEN_TCP);
    assert_string_equal(l.host, "127.0.0.1");
    assert_int_equal(l.port, 9000);
    assert_int_equal(
        wharfd_listen_parse(&l, "127.0.0.1:65535", err, sizeof(err)), 0);

    assert_int_equal(wharfd_listen_parse(&l, "127.0.0.1:0", err, sizeof(err)),
                     -1);
    assert_int_equal(
        wharfd_listen_parse(&l, "127.0.0.1:65536", err, sizeof(err)), -1);
    assert_int_equal(wharfd_listen_parse(&l, "127.0.0.1:9x", err, sizeof(err)),
                     -1);
    assert_int_equal(
        wharfd_listen_parse(&l, "localhost:9000", err, sizeof(err)), -1);
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
    char *ok[] = { "wharfd",
                   "--listen",
                   "127.0.0.1:9000",
                   "--db=/tmp/x.db",
                   "--threads",
                   "8",
                   "--log-level",
                   "debug",
                   "--body-limit",
                   "1024",
                   "--socket-mode",
                   "0666",
                   NULL };
    char *missing_db[] = { "wharfd", "--listen", "unix:/tmp/s", NULL };
    char *bad_flag[] = { "wharfd", "--listen", "unix:/tmp/s", "--db",
                         "x",      "--nope",   NULL };
    char *no_value[] = { "wharfd", "--db", NULL };
    char *threads0[] = { "wharfd", "--threads", "0", NULL };
    char *mode9[] = { "wharfd", "--socket-mode", "0999", NULL };
    char *help[] = { "wharfd", "--help", NULL };

    (void) state;
    assert_int_equal(wharfd_config_load(&cfg, ARGC(ok), ok, err, sizeof(err)),
                     0);
    assert_int_equal(cfg.listen.port, 9000);
    assert_string_equal(cfg.db, "/tmp/x.db");
    assert_int_equal(cfg.threads, 8);
    assert_int_equal(cfg.log_level, 0);
    assert_int_equal(cfg.body_limit, 1024);
    assert_int_equal(cfg.socket_mode, 0666);

    assert_int_equal(wharfd_config_load(&cfg, ARGC(missing_db), missing_db, err,
                                        sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "--db"));
    assert_int_equal(
        wharfd_config_load(&cfg, ARGC(bad_flag), bad_flag, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "--nope"));
    assert_int_equal(
        wharfd_config_load(&cfg, ARGC(no_value), no_value, err, sizeof(err)),
        -1);
    assert_int_equal(
        wharfd_config_load(&cfg, ARGC(threads0), threads0, err, sizeof(err)),
        -1);
    assert_int_equal(
        wharfd_config_load(&cfg, ARGC(mode9), mode9, err, sizeof(err)), -1);
    assert_int_equal(
        wharfd_config_load(&cfg, ARGC(help), help, err, sizeof(err)), 0);
    assert_int_equal(cfg.action, WHARFD_PRINT_HELP);
}

/* Every flag keeps its message, default and bounds: one value each side
 * of each number's bounds, and the message it gets. */
static void
test_messages_and_bounds(void **state)
{
    static const struct {
        const char *flag, *val, *message; /* message NULL: accepted */
    } cases[] = {
        { "--threads", "256", NULL },
        { "--threads", "257", "--threads 257: must be a number from 1 to 256" },
        { "--threads", "0", "--threads 0: must be a number from 1 to 256" },
        { "--body-limit", "1073741825",
          "--body-limit 1073741825: must be a number of bytes from 1 to "
          "1073741824" },
        { "--socket-mode", "0777", NULL },
        { "--socket-mode", "01000",
          "--socket-mode 01000: must be octal permissions such as 0660" },
        { "--log-level", "loud",
          "--log-level loud: must be debug, info, warn or error" },
        { "--auth", "maybe", "--auth maybe: must be on or off" },
        { "--batch-max", "1000001", "--batch-max 1000001: must be 1..1000000" },
        { "--message-max", "0", "--message-max 0: must be 1..1073741824" },
        { "--log-days", "36501", "--log-days 36501: must be 0..36500" },
        { "--error-days", "x", "--error-days x: must be 0..36500" },
        { "--retention-interval", "36500", NULL },
        { "--control-timeout", "0", "--control-timeout: must be >= 1" },
        { "--control-timeout", "36501",
          "--control-timeout 36501: must be 0..36500" },
        { "--max-logs", "-1", "--max-logs -1: must be a number" },
        { "--gateway", "ftp://x",
          "--gateway ftp://x: must be an http:// or "
          "https:// URL" },
        { "--feed-queue", "1000001",
          "--feed-queue 1000001: must be 1..1000000" },
        { "--rpc-batch-max", "0", "--rpc-batch-max 0: must be 1..1000000" },
        { "--recent-rows", "0", NULL },
        { "--recent-rows", "10000", NULL },
        { "--recent-rows", "10001", "--recent-rows 10001: must be 0..10000" },
        { "--recent-memory", "65536", NULL },
        { "--recent-memory", "65535",
          "--recent-memory 65535: must be a number of bytes from 65536 to "
          "1099511627776" },
        { "--recent-idle", "1", NULL },
        { "--recent-idle", "0", "--recent-idle 0: must be 1..36500" },
        { "--answer-max", "65535",
          "--answer-max 65535: must be a number of bytes from 65536 to "
          "1099511627776" },
        { "--ws-listen", "unix:/tmp/s",
          "--ws-listen unix:/tmp/s: must be "
          "IPV4:PORT" },
        { "--db", "", "--db '': empty or too long" },
    };
    struct wharfd_config cfg;
    char err[512];
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *argv[] = { "wharfd",
                         "--listen",
                         "unix:/tmp/s",
                         "--db",
                         "/tmp/x.db",
                         (char *) cases[i].flag,
                         (char *) cases[i].val,
                         NULL };
        int rc = wharfd_config_load(&cfg, ARGC(argv), argv, err, sizeof(err));

        if (cases[i].message == NULL) {
            if (rc != 0) {
                fail_msg("%s %s: refused: %s", cases[i].flag, cases[i].val,
                         err);
            }
        } else if (rc != -1 || strcmp(err, cases[i].message) != 0) {
            fail_msg("%s %s: rc %d, '%s', not '%s'", cases[i].flag,
                     cases[i].val, rc, rc ? err : "", cases[i].message);
        }
    }
}

/* The defaults in force are the ones --help and the docs show. */
static void
test_defaults(void **state)
{
    char *argv[] = { "wharfd", "--listen", "unix:/tmp/s", "--db", "x", NULL };
    struct wharfd_config cfg;
    char err[512];

    (void) state;
    assert_int_equal(
        wharfd_config_load(&cfg, ARGC(argv), argv, err, sizeof(err)), 0);
    assert_int_equal(cfg.threads, WHARFD_THREADS_DEFAULT);
    assert_int_equal(cfg.body_limit, 8UL * 1024 * 1024);
    assert_int_equal(cfg.socket_mode, 0660);
    assert_int_equal(cfg.log_level, 1); /* info */
    assert_int_equal(cfg.auth_off, 0);
    assert_int_equal(cfg.batch_max, 10000);
    assert_int_equal(cfg.message_max, 65536);
    assert_int_equal(cfg.log_days, 7);
    assert_int_equal(cfg.error_days, 7);
    assert_int_equal(cfg.max_logs, 0);
    assert_int_equal(cfg.retention_interval, 60);
    assert_string_equal(cfg.gateway, "http://127.0.0.1:8080");
    assert_int_equal(cfg.control_timeout, 10);
    assert_int_equal(cfg.feed_queue, 1024);
    assert_string_equal(cfg.ws_origins, "");
    assert_int_equal(cfg.has_ws_listen, 0);
    assert_int_equal(cfg.rpc_batch_max, 1000);
    assert_int_equal(cfg.answer_max, 32UL * 1024 * 1024);
    assert_int_equal(cfg.request_memory_max, 64UL * 1024 * 1024);
    assert_int_equal(cfg.memory_budget, 256UL * 1024 * 1024);
}

/* docs/wharfd.md's options table lists every option of the table, with
 * its config key and default, and nothing else (--help comes from the
 * table itself). */
static void
test_docs_table(void **state)
{
    char line[4096], cells[3][512], want[128];
    const struct wharf_opt *opt;
    int rows = 0, options = 0, found;
    FILE *f = doc_open(__FILE__, "wharfd.md");

    (void) state;
    assert_non_null(f);
    rows = doc_option_rows(f, NULL, line, sizeof(line));
    for (opt = wharfd_options; opt->name != NULL; opt++) {
        if (opt->flags & WHARF_OPT_SWITCH) {
            continue; /* --help, --version */
        }
        options++;
        found = doc_option_rows(f, opt->name, line, sizeof(line));
        if (found != 1) {
            fail_msg("docs/wharfd.md: --%s in %d rows of the options table",
                     opt->name, found);
        }
        assert_int_equal(doc_cells(line, cells, 3), 3);
        snprintf(want, sizeof(want), "/ %s", opt->name);
        if (!(opt->flags & WHARF_OPT_CLI) && strstr(cells[0], want) == NULL) {
            fail_msg("docs/wharfd.md: --%s: no config key '%s' in '%s'",
                     opt->name, opt->name, cells[0]);
        }
        if (strcmp(cells[1], wharf_opt_default_text(opt)) != 0) {
            fail_msg("docs/wharfd.md: --%s: default '%s', the table's "
                     "'%s'",
                     opt->name, cells[1], wharf_opt_default_text(opt));
        }
    }
    fclose(f);
    if (rows != options) {
        fail_msg("docs/wharfd.md: %d option rows, %d options", rows, options);
    }
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
          "\n",
          f);
    fclose(f);

    /* The command line wins over the file, wherever --config stands. */
    assert_int_equal(
        wharfd_config_load(&cfg, ARGC(argv), argv, err, sizeof(err)), 0);
    assert_string_equal(cfg.listen.path, "/tmp/from-file.sock");
    assert_string_equal(cfg.db, "/tmp/from-file.db");
    assert_int_equal(cfg.threads, 3);

    f = fopen(path, "w");
    fputs("listen = unix:/tmp/s\nfrobs = 1\n", f);
    fclose(f);
    assert_int_equal(
        wharfd_config_load(&cfg, ARGC(argv), argv, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":2: unknown setting 'frobs'"));
    unlink(path);
}

/* The memory budget's flags (budget.h), and the keys, at their edges. */
static void
test_budget_and_key_flags(void **state)
{
    struct wharfd_config cfg;
    char err[512], path[] = "/tmp/wharfd-test-config-XXXXXX";
    FILE *f;
    int fd;
#define BASE "wharfd", "--listen", "127.0.0.1:9000", "--db", "/tmp/x.db"
    char *defaults[] = { BASE, NULL };
    char *set[] = { BASE,      "--rpc-batch-max",
                    "1",       "--answer-max",
                    "65536",   "--request-memory-max",
                    "8388609", "--memory-budget",
                    "8388609", NULL };
    char *batch0[] = { BASE, "--rpc-batch-max", "0", NULL };
    char *batch_over[] = { BASE, "--rpc-batch-max", "1000001", NULL };
    char *answer_low[] = { BASE, "--answer-max", "65535", NULL };
    char *req_at_body[] = { BASE, "--request-memory-max", "8388608", NULL };
    char *total_low[] = { BASE, "--memory-budget", "67108863", NULL };
    char *keys[] = { BASE,      "--public-key", "/a.pem", "--public-key",
                     "/keys.d", "--config",     path,     NULL };

    (void) state;
    assert_int_equal(
        wharfd_config_load(&cfg, ARGC(defaults), defaults, err, sizeof(err)),
        0);
    assert_int_equal(cfg.rpc_batch_max, 1000);
    assert_int_equal(cfg.answer_max, 32UL << 20);
    assert_int_equal(cfg.request_memory_max, 64UL << 20);
    assert_int_equal(cfg.memory_budget, 256UL << 20);
    assert_int_equal(cfg.npublic_keys, 0);
    assert_int_equal(wharfd_config_load(&cfg, ARGC(set), set, err, sizeof(err)),
                     0);
    assert_int_equal(cfg.rpc_batch_max, 1);
    assert_int_equal(cfg.answer_max, 65536);
    assert_int_equal(cfg.request_memory_max, 8388609);
    assert_int_equal(cfg.memory_budget, 8388609);
    assert_int_equal(
        wharfd_config_load(&cfg, ARGC(batch0), batch0, err, sizeof(err)), -1);
    assert_int_equal(wharfd_config_load(&cfg, ARGC(batch_over), batch_over, err,
                                        sizeof(err)),
                     -1);
    assert_int_equal(wharfd_config_load(&cfg, ARGC(answer_low), answer_low, err,
                                        sizeof(err)),
                     -1);
    /* one request must hold a body of the largest size and more */
    assert_int_equal(wharfd_config_load(&cfg, ARGC(req_at_body), req_at_body,
                                        err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "--body-limit"));
    assert_int_equal(
        wharfd_config_load(&cfg, ARGC(total_low), total_low, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "--memory-budget"));

    /* --public-key repeats; the command line's replace the file's */
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("public-key = /from-file.pem\npublic-key = /other.pem\n", f);
    fclose(f);
    assert_int_equal(
        wharfd_config_load(&cfg, ARGC(keys), keys, err, sizeof(err)), 0);
    assert_int_equal(cfg.npublic_keys, 2);
    assert_string_equal(cfg.public_keys[0], "/a.pem");
    assert_string_equal(cfg.public_keys[1], "/keys.d");
    keys[5] = "--config"; /* no key flags: the file's two */
    keys[6] = path;
    keys[7] = NULL;
    assert_int_equal(wharfd_config_load(&cfg, 7, keys, err, sizeof(err)), 0);
    assert_int_equal(cfg.npublic_keys, 2);
    assert_string_equal(cfg.public_keys[0], "/from-file.pem");
    unlink(path);
#undef BASE
}

/* The flags of the store issue, at their edges. */
static void
test_store_flags(void **state)
{
    char *ok[] = { "wharfd",
                   "--listen",
                   "127.0.0.1:9000",
                   "--db",
                   "x.db",
                   "--ws-listen",
                   "127.0.0.1:9001",
                   "--auth",
                   "off",
                   "--feed-queue",
                   "1",
                   "--batch-max",
                   "1000000",
                   "--max-logs",
                   "5",
                   "--log-days",
                   "0",
                   "--gateway",
                   "http://127.0.0.1:8080/",
                   NULL };
    char *bad_auth[] = { "wharfd", "--listen", "127.0.0.1:9000", "--db",
                         "x",      "--auth",   "maybe",          NULL };
    char *bad_ws[] = { "wharfd", "--listen",    "127.0.0.1:9000",   "--db",
                       "x",      "--ws-listen", "unix:/tmp/x.sock", NULL };
    char *bad_queue[] = { "wharfd", "--listen", "127.0.0.1:9000",
                          "--db",   "x",        "--feed-queue",
                          "0",      NULL };
    char *bad_batch[] = { "wharfd", "--listen",    "127.0.0.1:9000", "--db",
                          "x",      "--batch-max", "1000001",        NULL };
    char *bad_gw[] = { "wharfd", "--listen",  "127.0.0.1:9000", "--db",
                       "x",      "--gateway", "ftp://x",        NULL };
    struct wharfd_config cfg;
    char err[512];

    (void) state;
    assert_int_equal(wharfd_config_load(&cfg, ARGC(ok), ok, err, sizeof(err)),
                     0);
    assert_true(cfg.has_ws_listen);
    assert_int_equal(cfg.ws_listen.port, 9001);
    assert_true(cfg.auth_off);
    assert_int_equal(cfg.feed_queue, 1);
    assert_int_equal(cfg.batch_max, 1000000);
    assert_int_equal(cfg.max_logs, 5);
    assert_int_equal(cfg.log_days, 0);
    assert_int_equal(cfg.error_days, 7);
    assert_string_equal(cfg.gateway, "http://127.0.0.1:8080");
    assert_int_equal(
        wharfd_config_load(&cfg, ARGC(bad_auth), bad_auth, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "--auth"));
    assert_int_equal(
        wharfd_config_load(&cfg, ARGC(bad_ws), bad_ws, err, sizeof(err)), -1);
    assert_int_equal(
        wharfd_config_load(&cfg, ARGC(bad_queue), bad_queue, err, sizeof(err)),
        -1);
    assert_int_equal(
        wharfd_config_load(&cfg, ARGC(bad_batch), bad_batch, err, sizeof(err)),
        -1);
    assert_int_equal(
        wharfd_config_load(&cfg, ARGC(bad_gw), bad_gw, err, sizeof(err)), -1);
}

/* One --retention-worker value: 0 when accepted, else -1 with err. */
static int
retention_one(struct wharfd_config *cfg, const char *v, char *err,
              size_t errlen)
{
    char *argv[] = { "wharfd", "--listen",           "127.0.0.1:9000", "--db",
                     "x",      "--retention-worker", (char *) v,       NULL };

    return wharfd_config_load(cfg, ARGC(argv), argv, err, errlen);
}

/* --retention-worker: the syntax, its edges, every refusal with a message
 * that names the problem, the file and the command line together. */
static void
test_retention_worker(void **state)
{
    static const struct {
        const char *value, *message;
    } bad[] = {
        { "web-1", "expected NAME:KEY=VALUE" },
        { "web-1:", "expected NAME:KEY=VALUE" },
        { ":max-logs=1", "'' is not a worker name" },
        { "Web:max-logs=1", "'Web' is not a worker name" },
        { "-web:max-logs=1", "is not a worker name" },
        { "w*:max-logs=1", "'w*' is not a worker name" },
        { "a234567890123456789012345678901234567890123456789012345678901234"
          ":max-logs=1",
          "is not a worker name" }, /* 64 bytes */
        { "web:max_logs=1", "unknown key 'max_logs'" },
        { "web:logs=1", "unknown key 'logs'" },
        { "web:max-logs", "'max-logs' is not KEY=VALUE" },
        { "web:=1", "'=1' is not KEY=VALUE" },
        { "web:max-logs=1,", "'' is not KEY=VALUE" },
        { "web:max-logs=-1", "max-logs '-1': must be a number" },
        { "web:max-logs=x", "max-logs 'x': must be a number" },
        { "web:max-logs=", "max-logs '': must be a number" },
        { "web:max-logs=1,max-logs=2", "'max-logs' given twice" },
        { "web:log-age=1w", "log-age '1w': must be seconds" },
        { "web:log-age=d", "log-age 'd': must be seconds" },
        { "web:error-age=36501d", "error-age '36501d'" },
        { "web:error-age=3153686400", "error-age '3153686400'" },
        { "web:log-age=1.5h", "log-age '1.5h'" },
        { "web:log-age=123456789012345678901234567890123456789",
          "the value of 'log-age' is too long" },
    };
    char path[] = "/tmp/wharfd-test-retention-XXXXXX", err[512], one[96];
    char *argv[] = { "wharfd",           "--config", path, "--retention-worker",
                     "web-2:max-logs=7", NULL };
    struct wharfd_config *cfg = malloc(sizeof(*cfg));
    size_t i;
    FILE *f;
    int fd;

    (void) state;
    assert_non_null(cfg);
    assert_int_equal(retention_one(cfg,
                                   "web-1:max-logs=3,log-age=90m,"
                                   "error-age=2d",
                                   err, sizeof(err)),
                     0);
    assert_int_equal(cfg->nretention_workers, 1);
    assert_string_equal(cfg->retention_workers[0].name, "web-1");
    assert_int_equal(cfg->retention_workers[0].max_logs, 3);
    assert_int_equal(cfg->retention_workers[0].log_age, 5400);
    assert_int_equal(cfg->retention_workers[0].error_age, 172800);
    /* a key not given keeps the global value (-1); 0 is "keep" */
    assert_int_equal(retention_one(cfg, "w:log-age=0", err, sizeof(err)), 0);
    assert_int_equal(cfg->retention_workers[0].max_logs, -1);
    assert_int_equal(cfg->retention_workers[0].log_age, 0);
    assert_int_equal(cfg->retention_workers[0].error_age, -1);
    /* the edges: 63-byte name, 36500 days in each unit, seconds bare */
    assert_int_equal(retention_one(cfg,
                                   "a23456789012345678901234567890123456789"
                                   "012345678901234567890123:error-age=36500d",
                                   err, sizeof(err)),
                     0);
    assert_int_equal(cfg->retention_workers[0].error_age, 36500LL * 86400);
    assert_int_equal(
        retention_one(cfg, "w:log-age=3153600000", err, sizeof(err)), 0);
    assert_int_equal(cfg->retention_workers[0].log_age, 3153600000LL);
    assert_int_equal(
        retention_one(cfg, "w:log-age=876000h,error-age=45s", err, sizeof(err)),
        0);
    assert_int_equal(cfg->retention_workers[0].log_age, 3153600000LL);
    assert_int_equal(cfg->retention_workers[0].error_age, 45);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (retention_one(cfg, bad[i].value, err, sizeof(err)) != -1
            || strstr(err, bad[i].message) == NULL) {
            fprintf(stderr, "%s -> %s\n", bad[i].value, err);
        }
        assert_int_equal(retention_one(cfg, bad[i].value, err, sizeof(err)),
                         -1);
        assert_non_null(strstr(err, bad[i].message));
        assert_non_null(strstr(err, "--retention-worker"));
    }

    /* The file's lines and the flags add up; the same worker again
     * replaces it whole (the flag wins over the file). */
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("listen = 127.0.0.1:9000\ndb = x\n"
          "retention-worker = web-1:max-logs=100\n"
          "retention-worker = web-2:log-age=1h,max-logs=5\n",
          f);
    fclose(f);
    assert_int_equal(
        wharfd_config_load(cfg, ARGC(argv), argv, err, sizeof(err)), 0);
    assert_int_equal(cfg->nretention_workers, 2);
    assert_string_equal(cfg->retention_workers[0].name, "web-1");
    assert_int_equal(cfg->retention_workers[0].max_logs, 100);
    assert_string_equal(cfg->retention_workers[1].name, "web-2");
    assert_int_equal(cfg->retention_workers[1].max_logs, 7);
    assert_int_equal(cfg->retention_workers[1].log_age, -1);

    /* a bad line names the file and line */
    f = fopen(path, "w");
    fputs("listen = 127.0.0.1:9000\nretention-worker = web:frob=1\n", f);
    fclose(f);
    assert_int_equal(wharfd_config_load(cfg, 3, argv, err, sizeof(err)), -1);
    assert_non_null(strstr(err,
                           ":2: --retention-worker web:frob=1: unknown "
                           "key 'frob'"));

    /* at most WHARFD_RETENTION_WORKERS_MAX workers */
    f = fopen(path, "w");
    fputs("listen = 127.0.0.1:9000\ndb = x\n", f);
    for (i = 0; i <= WHARFD_RETENTION_WORKERS_MAX; i++) {
        snprintf(one, sizeof(one), "retention-worker = w%zu:max-logs=1\n", i);
        fputs(one, f);
    }
    fclose(f);
    assert_int_equal(wharfd_config_load(cfg, 3, argv, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "at most 256 workers"));
    unlink(path);
    free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_parse),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_config_file),
        cmocka_unit_test(test_store_flags),
        cmocka_unit_test(test_retention_worker),
        cmocka_unit_test(test_budget_and_key_flags),
        cmocka_unit_test(test_messages_and_bounds),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_docs_table),
    };
    return cmocka_run_group_tests_name("wharfd_config", tests, NULL, NULL);
}
