/* Unit tests for the choice of orchestrator URL (agent/ship_urls.c):
 * failover in order, at once while an untried URL is left, backoff once
 * each failed, and failback to the first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../agent/ship_urls.h"

static const struct agent_strref three[] = {
    { "http://g1:8080/", 15 },
    { "http://g2:8080", 14 },
    { "https://g3/base//", 17 },
};

static void
test_rpc_addresses(void **state)
{
    struct agent_ship_urls u;

    (void) state;
    assert_int_equal(agent_ship_urls_init(&u, three, 3), 0);
    assert_int_equal(u.n, 3);
    assert_int_equal(u.cur, 0);
    assert_string_equal(u.rpc[0], "http://g1:8080/rpc");
    assert_string_equal(u.rpc[1], "http://g2:8080/rpc");
    assert_string_equal(u.rpc[2], "https://g3/base/rpc");
    agent_ship_urls_free(&u);
    assert_int_equal(u.n, 0);
}

/* The first failure moves to the next URL and retries at once; the
 * requests that were in flight to the URL left retry at once on the new
 * one without moving it again; once each URL failed in this outage,
 * retries wait (backoff) and go round the list; an answer ends the
 * outage. */
static void
test_failover(void **state)
{
    struct agent_ship_urls u;

    (void) state;
    assert_int_equal(agent_ship_urls_init(&u, three, 3), 0);
    assert_int_equal(agent_ship_urls_failed(&u, 0), 1);
    assert_int_equal(u.cur, 1);
    assert_int_equal(u.failovers, 1);
    /* two more requests in flight to g1 fail: they follow, no move */
    assert_int_equal(agent_ship_urls_failed(&u, 0), 1);
    assert_int_equal(agent_ship_urls_failed(&u, 0), 1);
    assert_int_equal(u.cur, 1);
    assert_int_equal(u.failovers, 1);
    /* g2 fails too: g3 untried, at once */
    assert_int_equal(agent_ship_urls_failed(&u, 1), 1);
    assert_int_equal(u.cur, 2);
    /* g3 fails: all failed, the next (g1) waits its backoff */
    assert_int_equal(agent_ship_urls_failed(&u, 2), 0);
    assert_int_equal(u.cur, 0);
    assert_int_equal(agent_ship_urls_failed(&u, 0), 0);
    assert_int_equal(u.cur, 1);
    assert_int_equal(u.failovers, 4);
    /* g2 answers: a later failure of g2 fails over at once again */
    agent_ship_urls_answered(&u);
    assert_int_equal(agent_ship_urls_failed(&u, 1), 1);
    assert_int_equal(u.cur, 2);
    /* failback: the first is current again */
    agent_ship_urls_failback(&u);
    assert_int_equal(u.cur, 0);
    agent_ship_urls_free(&u);
}

/* One URL: nothing to fail over to, every retry waits its backoff. */
static void
test_single_url(void **state)
{
    struct agent_ship_urls u;

    (void) state;
    assert_int_equal(agent_ship_urls_init(&u, three + 1, 1), 0);
    assert_int_equal(agent_ship_urls_failed(&u, 0), 0);
    assert_int_equal(u.cur, 0);
    assert_int_equal(u.failovers, 0);
    /* an index out of range (never sent) changes nothing */
    assert_int_equal(agent_ship_urls_failed(&u, 5), 0);
    assert_int_equal(u.cur, 0);
    agent_ship_urls_free(&u);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc_addresses),
        cmocka_unit_test(test_failover),
        cmocka_unit_test(test_single_url),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
