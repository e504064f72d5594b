/* Unit tests for the agent's flags and environment (agent/config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../agent/config.h"
#include "log.h"

#include "doc_table.inc"

static char *const no_env[] = { NULL };

#define ARGC(a) ((int) (sizeof(a) / sizeof((a)[0])))

static void
test_minimal_flags(void **state)
{
    char *argv[] = { "wharf-agent", "--worker", "demo", "--listen",
                     "127.0.0.1:0" };
    char *const env[] = { "SHELL=/bin/zsh", NULL };
    struct agent_config c;
    char err[256];

    (void) state;
    assert_int_equal(
        agent_config_parse(&c, ARGC(argv), argv, env, err, sizeof(err)), 0);
    assert_string_equal(c.worker, "demo");
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_string_equal(c.listen_text, "127.0.0.1");
    assert_int_equal(c.listen_port, 0);
    assert_int_equal(c.listen_ipv6, 0);
    assert_string_equal(c.container, "");
    assert_string_equal(c.terminal_cmd, "/bin/zsh"); /* $SHELL */
    assert_int_equal(c.kill_timeout_ms, AGENT_DEFAULT_KILL_TIMEOUT_MS);
    assert_null(c.orchestrator);
    assert_null(c.token);
    assert_int_equal(c.log_level, WHARF_LOG_INFO);

    /* no $SHELL: /bin/sh */
    assert_int_equal(
        agent_config_parse(&c, ARGC(argv), argv, no_env, err, sizeof(err)), 0);
    assert_string_equal(c.terminal_cmd, "/bin/sh");
}

static void
test_all_flags_and_equals_form(void **state)
{
    char *argv[] = { "wharf-agent",
                     "--worker=w-1",
                     "--listen",
                     "[::1]:8080",
                     "--container",
                     "c_1.x",
                     "--terminal-cmd=bash -l",
                     "--kill-timeout-ms",
                     "0",
                     "--orchestrator",
                     "http://o:1",
                     "--token-file=/run/secrets/ingest",
                     "--log-level",
                     "debug" };
    struct agent_config c;
    char err[256];

    (void) state;
    assert_int_equal(
        agent_config_parse(&c, ARGC(argv), argv, no_env, err, sizeof(err)), 0);
    assert_string_equal(c.worker, "w-1");
    assert_string_equal(c.listen_host, "::1");
    assert_string_equal(c.listen_text, "[::1]");
    assert_int_equal(c.listen_port, 8080);
    assert_int_equal(c.listen_ipv6, 1);
    assert_string_equal(c.container, "c_1.x");
    assert_string_equal(c.terminal_cmd, "bash -l");
    assert_int_equal(c.kill_timeout_ms, 0);
    assert_string_equal(c.orchestrator, "http://o:1");
    assert_null(c.token);
    assert_string_equal(c.token_file, "/run/secrets/ingest");
    assert_int_equal(c.log_level, WHARF_LOG_DEBUG);
}

static void
test_environment_and_flag_precedence(void **state)
{
    char *argv[] = { "wharf-agent", "--worker", "flag" };
    char *const env[] = { "WHARF_WORKER=env",
                          "WHARF_LISTEN=localhost:9000",
                          "WHARF_CONTAINER=ctr",
                          "WHARF_TERMINAL_CMD=top",
                          "WHARF_KILL_TIMEOUT_MS=1500",
                          "WHARF_ORCHESTRATOR=http://x",
                          "WHARF_TOKEN=t",
                          "WHARF_LOG_LEVEL=warn",
                          "WHARF_WORKERX=nope",
                          NULL };
    struct agent_config c;
    char err[256];

    (void) state;
    assert_int_equal(
        agent_config_parse(&c, ARGC(argv), argv, env, err, sizeof(err)), 0);
    assert_string_equal(c.worker, "flag");
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 9000);
    assert_string_equal(c.container, "ctr");
    assert_string_equal(c.terminal_cmd, "top");
    assert_int_equal(c.kill_timeout_ms, 1500);
    assert_string_equal(c.orchestrator, "http://x");
    assert_string_equal(c.token, "t");
    assert_int_equal(c.log_level, WHARF_LOG_WARN);
}

/* Expects a failure whose message contains what. */
static void
expect_error(int argc, char **argv, char *const *env, const char *what)
{
    struct agent_config c;
    char err[256];

    err[0] = '\0';
    assert_int_equal(agent_config_parse(&c, argc, argv, env, err, sizeof(err)),
                     -1);
    if (strstr(err, what) == NULL) {
        fail_msg("error \"%s\" does not mention \"%s\"", err, what);
    }
}

/* The ingest token never comes from the command line, which every user
 * sees (ps, /proc/PID/cmdline): --token is refused, saying how to pass
 * it instead (issue 12). */
static void
test_token_not_on_the_command_line(void **state)
{
    char *flag[] = { "wharf-agent", "--worker", "w",     "--listen",
                     ":1",          "--token",  "s3cret" };
    char *eq[] = { "wharf-agent", "--worker", "w",
                   "--listen",    ":1",       "--token=s3cret" };
    char *empty[] = { "wharf-agent", "--worker", "w",
                      "--listen",    ":1",       "--token-file=" };
    char *argv[] = { "wharf-agent", "--worker", "w", "--listen", ":1" };
    char *const env[] = { "WHARF_TOKEN=t", "WHARF_TOKEN_FILE=/f", NULL };
    struct agent_config c;
    char err[256];

    (void) state;
    expect_error(ARGC(flag), flag, no_env, "--token is refused");
    expect_error(ARGC(flag), flag, no_env, "WHARF_TOKEN");
    expect_error(ARGC(flag), flag, no_env, "--token-file PATH");
    expect_error(ARGC(eq), eq, no_env, "--token is refused");
    expect_error(ARGC(empty), empty, no_env, "--token-file");
    assert_int_equal(
        agent_config_parse(&c, ARGC(argv), argv, env, err, sizeof(err)), 0);
    assert_string_equal(c.token, "t");
    assert_string_equal(c.token_file, "/f");
}

static void
test_errors(void **state)
{
    char *missing_worker[] = { "a", "--listen", "1.2.3.4:1" };
    char *missing_listen[] = { "a", "--worker", "x" };
    char *bad_worker[] = { "a", "--worker", "Bad_Name", "--listen", ":1" };
    char *unknown[] = {
        "a", "--worker", "x", "--listen", ":1", "--bogus", "1"
    };
    char *positional[] = { "a", "--worker", "x", "--listen", ":1", "extra" };
    char *no_value[] = { "a", "--worker", "x", "--listen" };
    char *bad_timeout[] = { "a",  "--worker",          "x", "--listen",
                            ":1", "--kill-timeout-ms", "2s" };
    char *big_timeout[] = { "a",  "--worker",          "x",     "--listen",
                            ":1", "--kill-timeout-ms", "600001" };
    char *bad_level[] = { "a",  "--worker",    "x",   "--listen",
                          ":1", "--log-level", "loud" };
    char *empty_cmd[] = { "a",  "--worker",       "x", "--listen",
                          ":1", "--terminal-cmd", "" };
    char *bad_container[] = { "a",  "--worker",    "x",  "--listen",
                              ":1", "--container", "a b" };
    char *const bad_env_worker[] = { "WHARF_WORKER=-x", "WHARF_LISTEN=:1",
                                     NULL };
    char *only_prog[] = { "a" };

    (void) state;
    expect_error(ARGC(missing_worker), missing_worker, no_env, "--worker");
    expect_error(ARGC(missing_listen), missing_listen, no_env, "--listen");
    expect_error(ARGC(bad_worker), bad_worker, no_env, "Bad_Name");
    expect_error(ARGC(unknown), unknown, no_env, "unknown flag --bogus");
    expect_error(ARGC(positional), positional, no_env, "extra");
    expect_error(ARGC(no_value), no_value, no_env, "--listen needs a value");
    expect_error(ARGC(bad_timeout), bad_timeout, no_env, "2s");
    expect_error(ARGC(big_timeout), big_timeout, no_env, "--kill-timeout-ms");
    expect_error(ARGC(bad_level), bad_level, no_env, "loud");
    expect_error(ARGC(empty_cmd), empty_cmd, no_env, "--terminal-cmd");
    expect_error(ARGC(bad_container), bad_container, no_env, "--container");
    /* an environment variable's error names the variable */
    expect_error(ARGC(only_prog), only_prog, bad_env_worker, "WHARF_WORKER");
}

static void
test_listen_addresses(void **state)
{
    struct agent_config c;
    char err[256];

    (void) state;
    memset(&c, 0, sizeof(c));
    assert_int_equal(
        agent_config_parse_listen(&c, "0.0.0.0:80", err, sizeof(err)), 0);
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_int_equal(c.listen_port, 80);
    assert_int_equal(agent_config_parse_listen(&c, ":65535", err, sizeof(err)),
                     0);
    assert_string_equal(c.listen_host, "");
    assert_string_equal(c.listen_text, "0.0.0.0");
    assert_int_equal(c.listen_port, 65535);
    assert_int_equal(agent_config_parse_listen(&c, "*:7", err, sizeof(err)), 0);
    assert_string_equal(c.listen_host, "");

    assert_int_equal(
        agent_config_parse_listen(&c, "127.0.0.1", err, sizeof(err)), -1);
    assert_int_equal(
        agent_config_parse_listen(&c, "127.0.0.1:", err, sizeof(err)), -1);
    assert_int_equal(
        agent_config_parse_listen(&c, "127.0.0.1:65536", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "port"));
    assert_int_equal(
        agent_config_parse_listen(&c, "127.0.0.1:-1", err, sizeof(err)), -1);
    assert_int_equal(
        agent_config_parse_listen(&c, "127.0.0.1:8x", err, sizeof(err)), -1);
    assert_int_equal(
        agent_config_parse_listen(&c, "example.com:80", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "host"));
    assert_int_equal(
        agent_config_parse_listen(&c, "300.1.1.1:80", err, sizeof(err)), -1);
    assert_int_equal(agent_config_parse_listen(&c, "::1:80", err, sizeof(err)),
                     -1);
    assert_int_equal(agent_config_parse_listen(&c, "[::1]80", err, sizeof(err)),
                     -1);
    assert_int_equal(
        agent_config_parse_listen(&c, "[nope]:80", err, sizeof(err)), -1);
}

static void
test_help_and_version(void **state)
{
    char *help[] = { "a", "--help" };
    char *version[] = { "a", "--version" };
    struct agent_config c;
    char err[256];

    (void) state;
    assert_int_equal(
        agent_config_parse(&c, ARGC(help), help, no_env, err, sizeof(err)), 0);
    assert_true(c.show_help);
    assert_int_equal(agent_config_parse(&c, ARGC(version), version, no_env, err,
                                        sizeof(err)),
                     0);
    assert_true(c.show_version);
}

/* Issue 5's flags: supervisor, shipping, auth; "--" and the limits. */
static void
test_supervisor_and_shipping_flags(void **state)
{
    char *argv[] = { "a",         "--worker",
                     "w",         "--listen",
                     ":1",        "--public-key",
                     "/k.pem",    "--allowed-origins",
                     "https://x", "--config",
                     "/c.json",   "--buffer-bytes",
                     "1048576",   "--line-max",
                     "64",        "--ship-timeout-ms",
                     "100",       "--flush-timeout-ms",
                     "0",         "--instance-id",
                     "web",       "--port",
                     "3000",      "--fatal-restart",
                     "off",       "--insecure-no-auth",
                     "--",        "node",
                     "app.js",    "--port",
                     "9" };
    char *defaults[] = { "a", "--worker", "w", "--listen", ":1" };
    char *const env[] = { "WHARF_INSECURE_NO_AUTH=1",
                          "WHARF_BUFFER_BYTES=65536", NULL };
    char *small_buf[] = { "a",  "--worker",       "w",    "--listen",
                          ":1", "--buffer-bytes", "65535" };
    char *small_line[] = { "a",  "--worker",   "w", "--listen",
                           ":1", "--line-max", "63" };
    char *big_line[] = { "a",  "--worker",   "w",      "--listen",
                         ":1", "--line-max", "1048577" };
    char *bad_id[] = { "a",  "--worker",      "w", "--listen",
                       ":1", "--instance-id", "-x" };
    char *bad_fatal[] = { "a",  "--worker",        "w",  "--listen",
                          ":1", "--fatal-restart", "yes" };
    char *bad_url[] = { "a",  "--worker",       "w",      "--listen",
                        ":1", "--orchestrator", "ftp://x" };
    char *empty_cmd[] = { "a", "--worker", "w", "--listen", ":1", "--" };
    struct agent_config c;
    char err[256];

    (void) state;
    assert_int_equal(
        agent_config_parse(&c, ARGC(argv), argv, no_env, err, sizeof(err)), 0);
    assert_string_equal(c.public_key, "/k.pem");
    assert_string_equal(c.allowed_origins, "https://x");
    assert_string_equal(c.config_file, "/c.json");
    assert_int_equal(c.buffer_bytes, 1048576);
    assert_int_equal(c.line_max, 64);
    assert_int_equal(c.ship_timeout_ms, 100);
    assert_int_equal(c.flush_timeout_ms, 0);
    assert_string_equal(c.instance_id, "web");
    assert_int_equal(c.app_port, 3000);
    assert_int_equal(c.fatal_restart, 0);
    assert_true(c.insecure_no_auth);
    /* everything after "--" is the command's, flags included */
    assert_int_equal(c.cmd_argc, 4);
    assert_string_equal(c.cmd_argv[0], "node");
    assert_string_equal(c.cmd_argv[2], "--port");

    assert_int_equal(agent_config_parse(&c, ARGC(defaults), defaults, no_env,
                                        err, sizeof(err)),
                     0);
    assert_null(c.public_key);
    assert_false(c.insecure_no_auth);
    assert_int_equal(c.buffer_bytes, 16u << 20);
    assert_int_equal(c.line_max, 65536);
    assert_string_equal(c.instance_id, "app");
    assert_int_equal(c.fatal_restart, 1);
    assert_null(c.cmd_argv);
    assert_int_equal(
        agent_config_parse(&c, ARGC(defaults), defaults, env, err, sizeof(err)),
        0);
    assert_true(c.insecure_no_auth);
    assert_int_equal(c.buffer_bytes, 65536);

    expect_error(ARGC(small_buf), small_buf, no_env, "--buffer-bytes");
    expect_error(ARGC(small_line), small_line, no_env, "--line-max");
    expect_error(ARGC(big_line), big_line, no_env, "--line-max");
    expect_error(ARGC(bad_id), bad_id, no_env, "--instance-id");
    expect_error(ARGC(bad_fatal), bad_fatal, no_env, "--fatal-restart");
    expect_error(ARGC(bad_url), bad_url, no_env, "--orchestrator");
    expect_error(ARGC(empty_cmd), empty_cmd, no_env, "--");
}

/* --ship-inflight: requests in flight, 1..AGENT_SHIP_INFLIGHT_MAX. */
static void
test_ship_inflight(void **state)
{
    char *dflt[] = { "a", "--worker", "w", "--listen", ":1" };
    char *one[] = { "a",  "--worker",        "w", "--listen",
                    ":1", "--ship-inflight", "1" };
    char *most[] = { "a",        "--worker", "w",
                     "--listen", ":1",       "--ship-inflight=16" };
    char *zero[] = { "a",  "--worker",        "w", "--listen",
                     ":1", "--ship-inflight", "0" };
    char *over[] = { "a",  "--worker",        "w", "--listen",
                     ":1", "--ship-inflight", "17" };
    char *const env[] = { "WHARF_SHIP_INFLIGHT=2", NULL };
    struct agent_config c;
    char err[256];

    (void) state;
    assert_int_equal(
        agent_config_parse(&c, ARGC(dflt), dflt, no_env, err, sizeof(err)), 0);
    assert_int_equal(c.ship_inflight, 4);
    assert_int_equal(
        agent_config_parse(&c, ARGC(dflt), dflt, env, err, sizeof(err)), 0);
    assert_int_equal(c.ship_inflight, 2);
    assert_int_equal(
        agent_config_parse(&c, ARGC(one), one, env, err, sizeof(err)), 0);
    assert_int_equal(c.ship_inflight, 1);
    assert_int_equal(
        agent_config_parse(&c, ARGC(most), most, no_env, err, sizeof(err)), 0);
    assert_int_equal(c.ship_inflight, 16);
    expect_error(ARGC(zero), zero, no_env, "--ship-inflight");
    expect_error(ARGC(over), over, no_env, "--ship-inflight");
}

/* --public-key repeats (key rotation); WHARF_PUBLIC_KEY when no flag. */
static void
test_public_keys(void **state)
{
    char *two[] = { "a",  "--worker",     "w",        "--listen",
                    ":1", "--public-key", "/old.pem", "--public-key=/keys.d" };
    char *none[] = { "a", "--worker", "w", "--listen", ":1" };
    char *const env[] = { "WHARF_PUBLIC_KEY=/env.d", NULL };
    struct agent_config c;
    char err[256];

    (void) state;
    assert_int_equal(
        agent_config_parse(&c, ARGC(two), two, env, err, sizeof(err)), 0);
    assert_int_equal(c.npublic_keys, 2);
    assert_string_equal(c.public_keys[0], "/old.pem");
    assert_string_equal(c.public_keys[1], "/keys.d");
    assert_string_equal(c.public_key, "/old.pem");
    assert_int_equal(
        agent_config_parse(&c, ARGC(none), none, env, err, sizeof(err)), 0);
    assert_int_equal(c.npublic_keys, 1);
    assert_string_equal(c.public_keys[0], "/env.d");
}

/* Whether doc, a default cell, says want: exactly, or want followed by an
 * explanation in parentheses or a footnote mark. */
static int
default_matches(const char *doc, const char *want)
{
    size_t n = strlen(want);

    return strncmp(doc, want, n) == 0
        && (doc[n] == '\0' || strncmp(doc + n, " (", 2) == 0
            || strncmp(doc + n, "\u00b9", 2) == 0);
}

/* docs/agent.md's options table and the table agent_config_parse() and
 * --help read (agent_options): a row for every option and none other,
 * each with the option's value name, variable and default. */
static void
test_docs_table(void **state)
{
    char line[4096], cells[3][512], want[160];
    const struct wharf_opt *opt;
    int rows = 0, options = 0, found;
    FILE *f = doc_open(__FILE__, "agent.md");

    (void) state;
    assert_non_null(f);
    rows = doc_option_rows(f, NULL, line, sizeof(line));
    for (opt = agent_options; opt->name != NULL; opt++) {
        if (opt->flags & WHARF_OPT_STOP) {
            continue; /* --help, --version */
        }
        options++;
        found = doc_option_rows(f, opt->name, line, sizeof(line));
        if (found != 1) {
            fail_msg("docs/agent.md: --%s in %d rows of the options table",
                     opt->name, found);
        }
        assert_int_equal(doc_cells(line, cells, 3), 3);
        snprintf(want, sizeof(want), "--%s%s%s%s", opt->name,
                 opt->arg ? " " : "", opt->arg ? opt->arg : "",
                 opt->flags & WHARF_OPT_REPEAT ? " (repeatable)" : "");
        if (strcmp(cells[0], want) != 0) {
            fail_msg("docs/agent.md: '%s', the table's '%s'", cells[0], want);
        }
        snprintf(want, sizeof(want), "%s%s", opt->env,
                 opt->flags & WHARF_OPT_SWITCH ? "=1" : "");
        if (strcmp(cells[1], want) != 0) {
            fail_msg("docs/agent.md: --%s: variable '%s', the table's "
                     "'%s'",
                     opt->name, cells[1], want);
        }
        /* a switch is off unless given */
        if (!default_matches(cells[2],
                             opt->flags & WHARF_OPT_SWITCH
                                 ? "off"
                                 : wharf_opt_default_text(opt))) {
            fail_msg("docs/agent.md: --%s: default '%s', the table's "
                     "'%s'",
                     opt->name, cells[2], wharf_opt_default_text(opt));
        }
    }
    fclose(f);
    if (rows != options) {
        fail_msg("docs/agent.md: %d option rows, %d options", rows, options);
    }
}

/* --help lists every option of the table with its variable. */
static void
test_help_lists_every_option(void **state)
{
    char *text = NULL, want[96];
    size_t len = 0;
    const struct wharf_opt *opt;
    FILE *out = open_memstream(&text, &len);

    (void) state;
    assert_non_null(out);
    agent_config_help(out);
    fclose(out);
    for (opt = agent_options; opt->name != NULL; opt++) {
        snprintf(want, sizeof(want), "\n  --%s%s%s", opt->name,
                 opt->arg ? " " : "", opt->arg ? opt->arg : "");
        if (strstr(text, want) == NULL) {
            fail_msg("--help has no '%s'", want + 1);
        }
        if (opt->env != NULL && strstr(text, opt->env) == NULL) {
            fail_msg("--help does not name %s", opt->env);
        }
    }
    assert_non_null(strstr(text, "WHARF_TOKEN"));
    assert_non_null(strstr(text, "-- CMD ARGS"));
    free(text);
}

/* Every value at the edges of its bounds, from the flag and from the
 * variable: the last one in is taken, the first one out is refused with
 * the row's message, naming the flag (or the variable) and the bounds. */
static void
test_bounds_edges(void **state)
{
    static const struct {
        const char *flag, *env, *lo, *hi, *below, *above, *msg;
    } cases[] = {
        { "--kill-timeout-ms", "WHARF_KILL_TIMEOUT_MS", "0", "600000", NULL,
          "600001", "must be 0..600000 milliseconds" },
        { "--buffer-bytes", "WHARF_BUFFER_BYTES", "65536", "17179869184",
          "65535", "17179869185", "must be 65536..17179869184 bytes" },
        { "--line-max", "WHARF_LINE_MAX", "64", "1048576", "63", "1048577",
          "must be 64..1048576 bytes" },
        { "--ship-timeout-ms", "WHARF_SHIP_TIMEOUT_MS", "100", "600000", "99",
          "600001", "must be 100..600000 ms" },
        { "--flush-timeout-ms", "WHARF_FLUSH_TIMEOUT_MS", "0", "600000", NULL,
          "600001", "must be 0..600000 ms" },
        { "--ship-inflight", "WHARF_SHIP_INFLIGHT", "1", "16", "0", "17",
          "must be 1..16" },
        { "--port", "WHARF_APP_PORT", "1", "65535", "0", "65536",
          "must be 1..65535" },
    };
    size_t i, j;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *ok[] = { cases[i].lo, cases[i].hi };
        const char *bad[] = { cases[i].below, cases[i].above };

        for (j = 0; j < 2; j++) {
            char *argv[] = { "a",           "--worker", "w",
                             "--listen",    ":1",       (char *) cases[i].flag,
                             (char *) ok[j] };
            char envvar[96];
            char *env[] = { envvar, NULL };
            char *plain[] = { "a", "--worker", "w", "--listen", ":1" };
            struct agent_config c;
            char err[256];

            assert_int_equal(agent_config_parse(&c, ARGC(argv), argv, no_env,
                                                err, sizeof(err)),
                             0);
            snprintf(envvar, sizeof(envvar), "%s=%s", cases[i].env, ok[j]);
            assert_int_equal(agent_config_parse(&c, ARGC(plain), plain, env,
                                                err, sizeof(err)),
                             0);
            if (bad[j] == NULL) {
                continue;
            }
            argv[6] = (char *) bad[j];
            expect_error(ARGC(argv), argv, no_env, cases[i].flag);
            expect_error(ARGC(argv), argv, no_env, cases[i].msg);
            snprintf(envvar, sizeof(envvar), "%s=%s", cases[i].env, bad[j]);
            expect_error(ARGC(plain), plain, env, cases[i].env);
            expect_error(ARGC(plain), plain, env, cases[i].msg);
        }
    }
}

/* A number is decimal digits only: no sign, no white space before or
 * after (strtoul() would take " 5", "\t5" and "+5"), no base prefix. */
static void
test_numbers_are_digits(void **state)
{
    static const char *const bad[] = { "\t5", " 5",   "\n5", "+5", "-5",
                                       "5 ",  "0x10", "",    "5s" };
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *argv[] = { "a",      "--worker",     "w", "--listen", ":1",
                         "--port", (char *) bad[i] };
        char envvar[64];
        char *env[] = { envvar, NULL };
        char *plain[] = { "a", "--worker", "w", "--listen", ":1" };

        expect_error(ARGC(argv), argv, no_env, "--port: must be 1..65535");
        snprintf(envvar, sizeof(envvar), "WHARF_KILL_TIMEOUT_MS=%s", bad[i]);
        expect_error(ARGC(plain), plain, env, "WHARF_KILL_TIMEOUT_MS");
    }
}

/* Several orchestrators (issue 16): --orchestrator repeated, or a
 * comma-separated list in the flag or WHARF_ORCHESTRATOR, in order of
 * preference; AGENT_ORCHESTRATORS_MAX at most; --failback-ms at its
 * edges. */
static void
test_orchestrators(void **state)
{
    char *repeated[] = { "a",
                         "--worker",
                         "w",
                         "--listen",
                         ":1",
                         "--orchestrator",
                         "http://g1:8080",
                         "--orchestrator=https://g2/,http://g3" };
    char *const list_env[] = {
        "WHARF_ORCHESTRATOR= http://g1:8080 ,http://g2:8080",
        "WHARF_FAILBACK_MS=100", NULL
    };
    char *const flag_wins_env[] = { "WHARF_ORCHESTRATOR=http://env", NULL };
    char *plain[] = { "a", "--worker", "w", "--listen", ":1" };
    char *eight[] = { "a",
                      "--worker",
                      "w",
                      "--listen",
                      ":1",
                      "--orchestrator",
                      "http://1,http://2,http://3,http://4,http://5,http://6,"
                      "http://7,http://8" };
    char *nine[] = { "a",
                     "--worker",
                     "w",
                     "--listen",
                     ":1",
                     "--orchestrator",
                     "http://1,http://2,http://3,http://4,http://5,http://6,"
                     "http://7,http://8",
                     "--orchestrator",
                     "http://9" };
    char *empty[] = { "a",  "--worker",       "w",         "--listen",
                      ":1", "--orchestrator", "http://1,," };
    char *twice[] = { "a",
                      "--worker",
                      "w",
                      "--listen",
                      ":1",
                      "--orchestrator",
                      "http://1,http://1" };
    char *bad_second[] = { "a",
                           "--worker",
                           "w",
                           "--listen",
                           ":1",
                           "--orchestrator",
                           "http://1,ftp://2" };
    char *bare_scheme[] = { "a",  "--worker",       "w",      "--listen",
                            ":1", "--orchestrator", "http://" };
    char *failback_max[] = { "a",  "--worker",      "w",       "--listen",
                             ":1", "--failback-ms", "86400000" };
    char *failback_low[] = { "a",  "--worker",      "w", "--listen",
                             ":1", "--failback-ms", "99" };
    char *failback_high[] = { "a",  "--worker",      "w",       "--listen",
                              ":1", "--failback-ms", "86400001" };
    char *const bad_env[] = { "WHARF_ORCHESTRATOR=http://1,", NULL };
    struct agent_config c;
    char err[256];

    (void) state;
    assert_int_equal(agent_config_parse(&c, ARGC(repeated), repeated, no_env,
                                        err, sizeof(err)),
                     0);
    assert_int_equal(c.norchestrators, 3);
    assert_string_equal(c.orchestrator, "http://g1:8080");
    assert_memory_equal(c.orchestrators[0].p, "http://g1:8080", 14);
    assert_int_equal(c.orchestrators[0].len, 14);
    assert_int_equal(c.orchestrators[1].len, strlen("https://g2/"));
    assert_memory_equal(c.orchestrators[1].p, "https://g2/", 11);
    assert_int_equal(c.orchestrators[2].len, strlen("http://g3"));
    assert_memory_equal(c.orchestrators[2].p, "http://g3", 9);
    assert_int_equal(c.failback_ms, AGENT_FAILBACK_DEFAULT_MS);

    /* the environment's list, spaces around a URL trimmed */
    assert_int_equal(
        agent_config_parse(&c, ARGC(plain), plain, list_env, err, sizeof(err)),
        0);
    assert_int_equal(c.norchestrators, 2);
    assert_int_equal(c.orchestrators[0].len, 14);
    assert_memory_equal(c.orchestrators[0].p, "http://g1:8080", 14);
    assert_memory_equal(c.orchestrators[1].p, "http://g2:8080", 14);
    assert_int_equal(c.failback_ms, 100);

    /* a flag wins over the variable, whole */
    assert_int_equal(agent_config_parse(&c, ARGC(repeated), repeated,
                                        flag_wins_env, err, sizeof(err)),
                     0);
    assert_int_equal(c.norchestrators, 3);

    /* none: nothing shipped */
    assert_int_equal(
        agent_config_parse(&c, ARGC(plain), plain, no_env, err, sizeof(err)),
        0);
    assert_int_equal(c.norchestrators, 0);
    assert_null(c.orchestrator);

    assert_int_equal(
        agent_config_parse(&c, ARGC(eight), eight, no_env, err, sizeof(err)),
        0);
    assert_int_equal(c.norchestrators, AGENT_ORCHESTRATORS_MAX);
    expect_error(ARGC(nine), nine, no_env, "at most 8 orchestrator URLs");
    expect_error(ARGC(empty), empty, no_env, "an empty URL");
    expect_error(ARGC(twice), twice, no_env, "given twice");
    expect_error(ARGC(bad_second), bad_second, no_env, "\"ftp://2\"");
    expect_error(ARGC(bare_scheme), bare_scheme, no_env, "http:// or https://");
    expect_error(ARGC(plain), plain, bad_env, "WHARF_ORCHESTRATOR");

    assert_int_equal(agent_config_parse(&c, ARGC(failback_max), failback_max,
                                        no_env, err, sizeof(err)),
                     0);
    assert_int_equal(c.failback_ms, AGENT_FAILBACK_MAX_MS);
    expect_error(ARGC(failback_low), failback_low, no_env, "--failback-ms");
    expect_error(ARGC(failback_high), failback_high, no_env, "--failback-ms");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orchestrators),
        cmocka_unit_test(test_ship_inflight),
        cmocka_unit_test(test_minimal_flags),
        cmocka_unit_test(test_public_keys),
        cmocka_unit_test(test_all_flags_and_equals_form),
        cmocka_unit_test(test_environment_and_flag_precedence),
        cmocka_unit_test(test_token_not_on_the_command_line),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_listen_addresses),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_supervisor_and_shipping_flags),
        cmocka_unit_test(test_docs_table),
        cmocka_unit_test(test_help_lists_every_option),
        cmocka_unit_test(test_bounds_edges),
        cmocka_unit_test(test_numbers_are_digits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
