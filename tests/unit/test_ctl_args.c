/* Unit tests for wharfctl's argument parsing (cli/args.c) and command
 * dispatch (cli/ctl.c, usage errors and offline commands only). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../cli/ctl.h"

#define ARGC(a) ((int) (sizeof(a) / sizeof((a)[0])) - 1)

static FILE *
null_stream(void)
{
    FILE *f = fopen("/dev/null", "w");

    assert_non_null(f);
    return f;
}

static void
test_globals_before_and_after(void **state)
{
    struct ctl_args a;
    FILE *err = null_stream();
    char *before[] = { "wharfctl", "--url", "http://h:1",
                       "--format", "table", "health",
                       "--worker", "w",     NULL };
    char *after[] = { "wharfctl",     "workers",          "--token=tok", "list",
                      "--format=raw", "--url=https://x/", NULL };

    (void) state;
    assert_int_equal(ctl_args_parse(&a, ARGC(before), before, NULL, NULL, err),
                     CTL_OK);
    assert_string_equal(a.url, "http://h:1");
    assert_int_equal(a.format, CTL_FORMAT_TABLE);
    assert_null(a.token);
    assert_int_equal(a.argc, 3);
    assert_string_equal(a.argv[0], "health");
    assert_string_equal(a.argv[1], "--worker");
    assert_string_equal(a.argv[2], "w");
    assert_null(a.argv[3]);

    assert_int_equal(ctl_args_parse(&a, ARGC(after), after, NULL, NULL, err),
                     CTL_OK);
    assert_string_equal(a.url, "https://x/");
    assert_string_equal(a.token, "tok");
    assert_int_equal(a.format, CTL_FORMAT_RAW);
    assert_int_equal(a.argc, 2);
    assert_string_equal(a.argv[0], "workers");
    assert_string_equal(a.argv[1], "list");
    fclose(err);
}

static void
test_env_defaults(void **state)
{
    struct ctl_args a;
    FILE *err = null_stream();
    char *none[] = { "wharfctl", "health", NULL };
    char *flag[] = { "wharfctl", "health", "--url", "http://flag",
                     "--token",  "ftok",   NULL };

    (void) state;
    assert_int_equal(ctl_args_parse(&a, ARGC(none), none, NULL, NULL, err),
                     CTL_OK);
    assert_string_equal(a.url, CTL_DEFAULT_URL);
    assert_null(a.token);
    assert_int_equal(a.format, CTL_FORMAT_JSON);

    assert_int_equal(
        ctl_args_parse(&a, ARGC(none), none, "http://env:2", "etok", err),
        CTL_OK);
    assert_string_equal(a.url, "http://env:2");
    assert_string_equal(a.token, "etok");

    /* Flags win over the environment; an empty token is no token. */
    assert_int_equal(
        ctl_args_parse(&a, ARGC(flag), flag, "http://env:2", "etok", err),
        CTL_OK);
    assert_string_equal(a.url, "http://flag");
    assert_string_equal(a.token, "ftok");
    assert_int_equal(ctl_args_parse(&a, ARGC(none), none, "", "", err), CTL_OK);
    assert_string_equal(a.url, CTL_DEFAULT_URL);
    assert_null(a.token);
    fclose(err);
}

static void
test_usage_errors(void **state)
{
    struct ctl_args a;
    FILE *err = null_stream();
    char *no_value[] = { "wharfctl", "health", "--url", NULL };
    char *bad_format[] = { "wharfctl", "--format", "xml", "health", NULL };
    char *bad_url[] = { "wharfctl", "--url", "ftp://x", "health", NULL };
    char *bad_token[] = { "wharfctl", "--token", "a\nb", "health", NULL };
    char *none[] = { "wharfctl", "health", NULL };

    (void) state;
    assert_int_equal(
        ctl_args_parse(&a, ARGC(no_value), no_value, NULL, NULL, err),
        CTL_USAGE);
    assert_int_equal(
        ctl_args_parse(&a, ARGC(bad_format), bad_format, NULL, NULL, err),
        CTL_USAGE);
    assert_int_equal(
        ctl_args_parse(&a, ARGC(bad_url), bad_url, NULL, NULL, err), CTL_USAGE);
    assert_int_equal(
        ctl_args_parse(&a, ARGC(bad_token), bad_token, NULL, NULL, err),
        CTL_USAGE);
    assert_int_equal(
        ctl_args_parse(&a, ARGC(none), none, "not-a-url", NULL, err),
        CTL_USAGE);
    fclose(err);
}

static void
test_double_dash(void **state)
{
    struct ctl_args a;
    FILE *err = null_stream();
    char *lead[] = { "wharfctl", "--", "health", NULL };
    char *later[] = { "wharfctl", "rpc", "--", "--format", "x", NULL };

    (void) state;
    assert_int_equal(ctl_args_parse(&a, ARGC(lead), lead, NULL, NULL, err),
                     CTL_OK);
    assert_int_equal(a.argc, 1);
    assert_string_equal(a.argv[0], "health");

    /* After "--", --format is the command's argument, not ours; the "--"
     * stays for the command's own parsing. */
    assert_int_equal(ctl_args_parse(&a, ARGC(later), later, NULL, NULL, err),
                     CTL_OK);
    assert_int_equal(a.format, CTL_FORMAT_JSON);
    assert_int_equal(a.argc, 4);
    assert_string_equal(a.argv[1], "--");
    assert_string_equal(a.argv[2], "--format");
    fclose(err);
}

static void
test_command_flags(void **state)
{
    struct ctl c;
    const char *worker = NULL, *pos[2];
    int verbose = 0, npos;
    const struct ctl_flag flags[] = { { "--worker", 1, &worker, NULL },
                                      { "--verbose", 0, NULL, &verbose },
                                      { NULL, 0, NULL, NULL } };
    char *sep[] = { "health", "--worker", "w1", "--verbose", "p1", NULL };
    char *eq[] = { "health", "--worker=w2", NULL };
    char *unknown[] = { "health", "--nope", NULL };
    char *help[] = { "health", "x", "-h", NULL };
    char *too_many[] = { "health", "a", "b", "c", NULL };
    char *missing[] = { "health", "--worker", NULL };
    char *dashes[] = { "health", "--", "--worker", NULL };
    char *novalue[] = { "health", "--verbose=1", NULL };

    (void) state;
    memset(&c, 0, sizeof(c));
    c.out = c.err = null_stream();

    assert_int_equal(
        ctl_flags_parse(&c, "health", ARGC(sep), sep, flags, pos, &npos, 2),
        CTL_OK);
    assert_string_equal(worker, "w1");
    assert_int_equal(verbose, 1);
    assert_int_equal(npos, 1);
    assert_string_equal(pos[0], "p1");

    assert_int_equal(
        ctl_flags_parse(&c, "health", ARGC(eq), eq, flags, pos, &npos, 2),
        CTL_OK);
    assert_string_equal(worker, "w2");

    assert_int_equal(ctl_flags_parse(&c, "health", ARGC(unknown), unknown,
                                     flags, pos, &npos, 2),
                     CTL_USAGE);
    assert_int_equal(
        ctl_flags_parse(&c, "health", ARGC(help), help, flags, pos, &npos, 2),
        CTL_HELP);
    assert_int_equal(ctl_flags_parse(&c, "health", ARGC(too_many), too_many,
                                     flags, pos, &npos, 2),
                     CTL_USAGE);
    assert_int_equal(ctl_flags_parse(&c, "health", ARGC(missing), missing,
                                     flags, pos, &npos, 2),
                     CTL_USAGE);
    assert_int_equal(ctl_flags_parse(&c, "health", ARGC(dashes), dashes, flags,
                                     pos, &npos, 2),
                     CTL_OK);
    assert_int_equal(npos, 1);
    assert_string_equal(pos[0], "--worker");
    assert_int_equal(ctl_flags_parse(&c, "health", ARGC(novalue), novalue,
                                     flags, pos, &npos, 2),
                     CTL_USAGE);
    /* A command without flags still knows --help. */
    assert_int_equal(
        ctl_flags_parse(&c, "version", ARGC(help), help, NULL, pos, &npos, 1),
        CTL_HELP);
    fclose(c.out);
}

/* Runs ctl_main; returns its status, with stdout in *out and stderr in *err
 * (malloc'd). */
static int
run_main(char **argv, int argc, char **out, char **err)
{
    size_t olen, elen;
    FILE *o = open_memstream(out, &olen), *e = open_memstream(err, &elen);
    int rc;

    unsetenv("WHARF_URL");
    unsetenv("WHARF_TOKEN");
    rc = ctl_main(argc, argv, o, e);
    fclose(o);
    fclose(e);
    return rc;
}

static void
test_main_dispatch(void **state)
{
    char *out, *err;
    char *unknown[] = { "wharfctl", "frob", NULL };
    char *nothing[] = { "wharfctl", NULL };
    char *help[] = { "wharfctl", "--help", NULL };
    char *help_cmd[] = { "wharfctl", "rpc", "--help", NULL };
    char *help_word[] = { "wharfctl", "help", "workers", NULL };
    char *version[] = { "wharfctl", "version", "--format", "json", NULL };
    char *bad_worker[] = { "wharfctl", "health", "--worker", "Bad_Name", NULL };
    char *bad_params[] = { "wharfctl", "rpc", "getWorkers", "{oops", NULL };
    char *workers_alone[] = { "wharfctl", "workers", NULL };
    char *dead[] = { "wharfctl", "--url", "http://127.0.0.1:1", "health",
                     NULL };

    (void) state;
    assert_int_equal(run_main(unknown, ARGC(unknown), &out, &err), CTL_USAGE);
    assert_non_null(strstr(err, "unknown command 'frob'"));
    free(out);
    free(err);

    assert_int_equal(run_main(nothing, ARGC(nothing), &out, &err), CTL_USAGE);
    assert_non_null(strstr(err, "usage: wharfctl"));
    free(out);
    free(err);

    assert_int_equal(run_main(help, ARGC(help), &out, &err), CTL_OK);
    assert_non_null(strstr(out, "usage: wharfctl"));
    free(out);
    free(err);

    assert_int_equal(run_main(help_cmd, ARGC(help_cmd), &out, &err), CTL_OK);
    assert_non_null(strstr(out, "usage: wharfctl rpc METHOD"));
    free(out);
    free(err);

    assert_int_equal(run_main(help_word, ARGC(help_word), &out, &err), CTL_OK);
    assert_non_null(strstr(out, "usage: wharfctl workers list"));
    free(out);
    free(err);

    assert_int_equal(run_main(version, ARGC(version), &out, &err), CTL_OK);
    assert_string_equal(out, "{\n  \"version\": \"" CTL_VERSION "\"\n}\n");
    free(out);
    free(err);

    assert_int_equal(run_main(bad_worker, ARGC(bad_worker), &out, &err),
                     CTL_USAGE);
    assert_non_null(strstr(err, "'Bad_Name' is not a worker name"));
    free(out);
    free(err);

    assert_int_equal(run_main(bad_params, ARGC(bad_params), &out, &err),
                     CTL_USAGE);
    free(out);
    free(err);

    assert_int_equal(run_main(workers_alone, ARGC(workers_alone), &out, &err),
                     CTL_USAGE);
    free(out);
    free(err);

    /* Nothing listens on port 1: a failed operation, naming the URL. */
    assert_int_equal(run_main(dead, ARGC(dead), &out, &err), CTL_FAIL);
    assert_non_null(strstr(err, "cannot reach http://127.0.0.1:1"));
    assert_string_equal(out, "");
    free(out);
    free(err);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_globals_before_and_after),
        cmocka_unit_test(test_env_defaults),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_double_dash),
        cmocka_unit_test(test_command_flags),
        cmocka_unit_test(test_main_dispatch),
    };
    return cmocka_run_group_tests_name("ctl_args", tests, NULL, NULL);
}
