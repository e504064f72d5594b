/* common/opts.c: options from one table (flags, file, environment, help). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "opts.h"

struct conf {
    unsigned count;
    size_t bytes;
    char name[8];
    int mode; /* enum */
    int level;
    int help;
};

static const struct wharf_opt_enum modes[] = {
    { "fast", 1 },
    { "slow", 2 },
    { NULL, 0 },
};

#define F(type, f) WHARF_OPT_FIELD(struct conf, type, f)

static const struct wharf_opt table[] = {
    { "count", "T_COUNT", "N", wharf_opt_set_unsigned, F(unsigned, count), 1,
      10, NULL, "3", "how many", NULL, 0 },
    { "count-max", NULL, "N", wharf_opt_set_unsigned, F(unsigned, count), 1, 10,
      NULL, NULL, "shares a prefix with count", NULL, 0 },
    { "bytes", NULL, "BYTES", wharf_opt_set_size, F(size_t, bytes), 0, 1000,
      "{flag} {val}: must be a number of bytes from {min} to {max}", NULL,
      "a size", NULL, 0 },
    { "name", NULL, "NAME", wharf_opt_set_string, offsetof(struct conf, name),
      1, sizeof(((struct conf *) 0)->name), NULL, NULL, "a name", NULL,
      WHARF_OPT_REQUIRED },
    { "mode", NULL, "MODE", wharf_opt_set_enum, F(int, mode), 0, 0,
      "{flag} {val}: must be fast or slow", "fast", "the mode", modes, 0 },
    { "level", NULL, "L", wharf_opt_set_log_level, F(int, level), 0, 0, NULL,
      "warn", "log level", NULL, 0 },
    { "config", NULL, "FILE", NULL, 0, 0, 0, NULL, NULL, "a file", NULL,
      WHARF_OPT_CLI | WHARF_OPT_CONFIG },
    { "help", NULL, NULL, wharf_opt_set_flag, F(int, help), 0, 0, NULL, NULL,
      "this text", NULL, WHARF_OPT_CLI | WHARF_OPT_SWITCH | WHARF_OPT_STOP },
    { NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 },
};

static int
load(struct conf *c, char *err, int argc, char **argv, char **envp, int *rest)
{
    int stopped;

    memset(c, 0, sizeof(*c));
    return wharf_opts_load(table, c, argc, argv, envp, rest, &stopped, err,
                           256);
}

#define ARGV(...) ((char *[]){ "prog", __VA_ARGS__, NULL })
#define ARGC(...) ((int) (sizeof(ARGV(__VA_ARGS__)) / sizeof(char *)) - 1)
#define LOAD(c, err, ...) \
    load((c), (err), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), NULL, NULL)

static void
test_defaults_and_forms(void **state)
{
    struct conf c;
    char err[256];

    (void) state;
    assert_int_equal(LOAD(&c, err, "--name", "x"), 0);
    assert_int_equal(c.count, 3); /* default, through its setter */
    assert_int_equal(c.mode, 1);  /* "fast" */
    assert_int_equal(c.level, 2); /* "warn" */
    assert_int_equal(LOAD(&c, err, "--name=y", "--count=10", "--bytes", "0"),
                     0);
    assert_string_equal(c.name, "y");
    assert_int_equal(c.count, 10);
    /* a unique prefix is the option; count is exact, not ambiguous */
    assert_int_equal(LOAD(&c, err, "--name", "x", "--by", "7"), 0);
    assert_int_equal(c.bytes, 7);
    assert_int_equal(LOAD(&c, err, "--name", "x", "--count", "4"), 0);
    assert_int_equal(c.count, 4);
    assert_int_equal(LOAD(&c, err, "--name", "x", "--co", "4"), -1);
    assert_string_equal(err, "unknown option '--co' (see --help)");
    assert_int_equal(LOAD(&c, err, "-h", "--nope"), 0);
    assert_int_equal(c.help, 1);
}

static void
test_refusals(void **state)
{
    struct conf c;
    char err[256];

    (void) state;
    assert_int_equal(LOAD(&c, err, "--count", "x"), -1);
    assert_int_equal(LOAD(&c, err, "--name", "x", "--count", "11"), -1);
    assert_string_equal(err, "--count 11: must be 1..10");
    assert_int_equal(LOAD(&c, err, "--name", "x", "--count", "-1"), -1);
    assert_int_equal(LOAD(&c, err, "--name", "x", "--bytes", "1001"), -1);
    assert_string_equal(err,
                        "--bytes 1001: must be a number of bytes from 0 to "
                        "1000");
    assert_int_equal(LOAD(&c, err, "--name", "12345678"), -1);
    assert_string_equal(err, "--name '12345678': empty or too long");
    assert_int_equal(LOAD(&c, err, "--name", "1234567"), 0);
    assert_int_equal(LOAD(&c, err, "--name", "x", "--mode", "odd"), -1);
    assert_string_equal(err, "--mode odd: must be fast or slow");
    assert_int_equal(LOAD(&c, err, "--name", "x", "--level", "loud"), -1);
    assert_string_equal(err,
                        "--level loud: must be debug, info, warn or error");
    assert_int_equal(LOAD(&c, err, "--count", "2"), -1);
    assert_string_equal(err, "--name is required (see --help)");
    assert_int_equal(LOAD(&c, err, "--name"), -1);
    assert_string_equal(err, "--name: missing value");
    assert_int_equal(LOAD(&c, err, "--help=1"), -1);
    assert_string_equal(err, "unknown option '--help=1' (see --help)");
    /* a stray argument is reported once the options are read */
    assert_int_equal(LOAD(&c, err, "stray", "--name", "x"), -1);
    assert_string_equal(err, "unexpected argument 'stray' (see --help)");
    assert_int_equal(LOAD(&c, err, "--name", "x", "--", "cmd"), -1);
    assert_string_equal(err, "unexpected argument 'cmd' (see --help)");
}

static void
test_rest_and_env(void **state)
{
    char *argv[] = { "prog", "--name", "x", "--", "cmd", "arg", NULL };
    char *argv2[] = { "prog", "--name", "x", "cmd", NULL };
    char *envp[] = { "T_COUNTX=9", "T_COUNT=5", NULL };
    char *argv3[] = { "prog", "--name", "x", "--count", "6", NULL };
    struct conf c;
    char err[256];
    int rest;

    (void) state;
    assert_int_equal(load(&c, err, 6, argv, NULL, &rest), 0);
    assert_int_equal(rest, 4);
    assert_int_equal(load(&c, err, 4, argv2, NULL, &rest), 0);
    assert_int_equal(rest, 3);
    assert_int_equal(load(&c, err, 3, argv, envp, NULL), 0);
    assert_int_equal(c.count, 5); /* the environment's */
    assert_int_equal(load(&c, err, 5, argv3, envp, NULL), 0);
    assert_int_equal(c.count, 6); /* a flag wins */
    envp[1] = "T_COUNT=0";
    assert_int_equal(load(&c, err, 3, argv, envp, NULL), -1);
    assert_string_equal(err, "T_COUNT 0: must be 1..10");
}

static void
test_file(void **state)
{
    char path[] = "/tmp/wharf-test-opts-XXXXXX", err[256];
    char *argv[] = { "prog", "--count", "9", "--config", path, NULL };
    struct conf c;
    FILE *f;
    int fd;

    (void) state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("# comment\n\n  name = filed  \ncount = 2\nbytes=5\n", f);
    fclose(f);
    assert_int_equal(load(&c, err, 5, argv, NULL, NULL), 0);
    assert_string_equal(c.name, "filed");
    assert_int_equal(c.count, 9); /* the command line wins */
    assert_int_equal(c.bytes, 5);

    f = fopen(path, "w");
    fputs("name = x\nconfig = other\n", f);
    fclose(f);
    assert_int_equal(load(&c, err, 5, argv, NULL, NULL), -1);
    assert_non_null(strstr(err, ":2: unknown setting 'config'"));
    f = fopen(path, "w");
    fputs("name = x\n\ncount = 99\n", f);
    fclose(f);
    assert_int_equal(load(&c, err, 5, argv, NULL, NULL), -1);
    assert_non_null(strstr(err, ":3: --count 99: must be 1..10"));
    f = fopen(path, "w");
    fputs("name x\n", f);
    fclose(f);
    assert_int_equal(load(&c, err, 5, argv, NULL, NULL), -1);
    assert_non_null(strstr(err, ":1: expected 'key = value'"));
    unlink(path);
    assert_int_equal(load(&c, err, 5, argv, NULL, NULL), -1);
    assert_non_null(strstr(err, "--config"));
}

static void
test_help(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    (void) state;
    wharf_opts_help(table, f);
    fclose(f);
    assert_non_null(strstr(text,
                           "  --count N                   how many (1..10; "
                           "default 3; T_COUNT)\n"));
    assert_non_null(strstr(text,
                           "--name NAME                 a name "
                           "(required)\n"));
    assert_non_null(strstr(text,
                           "--bytes BYTES               a size "
                           "(0..1000)\n"));
    assert_non_null(strstr(text, "  --help                      this text\n"));
    free(text);
    assert_string_equal(wharf_opt_default_text(&table[0]), "3");
    assert_string_equal(wharf_opt_default_text(&table[2]), "none");
    assert_string_equal(wharf_opt_default_text(&table[3]), "required");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_forms),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_rest_and_env),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests_name("common_opts", tests, NULL, NULL);
}
