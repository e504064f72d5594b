/* Unit tests for the WebSocket credential helpers: the token subprotocol
 * (common/bearer.c) and the request head the feed reads before its
 * handshake (common/http_head.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bearer.h"
#include "http_head.h"

static int
protos(const char *list, const char **tok, size_t *len, char *rest, size_t size)
{
    return wharf_bearer_protocols(list, strlen(list), tok, len, rest, size);
}

static void
test_bearer_protocols(void **state)
{
    const char *tok;
    size_t len;
    char rest[64];

    (void) state;
    assert_int_equal(protos("wharf-monitoring, wharf.bearer.a.b.c", &tok, &len,
                            rest, sizeof(rest)),
                     1);
    assert_int_equal(len, 5);
    assert_memory_equal(tok, "a.b.c", 5);
    assert_string_equal(rest, "wharf-monitoring");
    /* white space and empty entries are list syntax (RFC 9110 5.6.1) */
    assert_int_equal(protos(" wharf.bearer.x ,, wharf.tty.v1 ,foo", &tok, &len,
                            rest, sizeof(rest)),
                     1);
    assert_memory_equal(tok, "x", 1);
    assert_string_equal(rest, "wharf.tty.v1, foo");
    /* two tokens are counted, the first is returned */
    assert_int_equal(
        protos("wharf.bearer.one,wharf.bearer.two", &tok, &len, NULL, 0), 2);
    assert_memory_equal(tok, "one", 3);
    /* the prefix alone is an empty token; other prefixes are not ours */
    assert_int_equal(protos("wharf.bearer.", &tok, &len, NULL, 0), 1);
    assert_int_equal(len, 0);
    assert_int_equal(protos("wharf.bearerx, bearer.a, Wharf.Bearer.a", &tok,
                            &len, rest, sizeof(rest)),
                     0);
    assert_null(tok);
    assert_int_equal(protos("", &tok, &len, rest, sizeof(rest)), 0);
    assert_string_equal(rest, "");
    /* what does not fit the rest is dropped, not cut */
    assert_int_equal(protos("aaaa, bbbb", &tok, &len, rest, 7), 0);
    assert_string_equal(rest, "aaaa");
}

static void
test_http_head(void **state)
{
    static const char ok[] = "GET /ws/monitoring?x=1 HTTP/1.1\r\n"
                             "Host: h\r\n"
                             "Sec-WebSocket-Protocol: a\r\n"
                             "sec-websocket-protocol:b \r\n"
                             "Empty:\r\n"
                             "\r\n";
    struct wharf_http_head h;
    const struct wharf_http_field *f;
    size_t n;

    (void) state;
    n = wharf_http_head_len(ok, sizeof(ok) - 1);
    assert_int_equal(n, sizeof(ok) - 1);
    assert_int_equal(wharf_http_head_len(ok, n - 1), 0);
    assert_int_equal(wharf_http_head_parse(ok, n, &h), 0);
    assert_int_equal(h.method_len, 3);
    assert_memory_equal(h.target, "/ws/monitoring?x=1", h.target_len);
    assert_int_equal(h.nfields, 4);
    assert_int_equal(wharf_http_head_find(&h, "SEC-WEBSOCKET-PROTOCOL", &f), 2);
    assert_memory_equal(f->value, "a", f->value_len);
    assert_int_equal(h.field[2].value_len, 1); /* trailing space trimmed */
    assert_int_equal(h.field[3].value_len, 0);
    assert_int_equal(wharf_http_head_find(&h, "Origin", &f), 0);
    assert_null(f);
}

static void
test_http_head_malformed(void **state)
{
    const char *bad[] = {
        "GET /\r\n\r\n",                        /* no version */
        "GET  / HTTP/1.1\r\n\r\n",              /* empty target */
        "GET / HTTP/2\r\n\r\n",                 /* not 1.x */
        "G(T / HTTP/1.1\r\n\r\n",               /* method not a token */
        "GET / HTTP/1.1\r\nHost h\r\n\r\n",     /* no colon */
        "GET / HTTP/1.1\r\n folded: x\r\n\r\n", /* obs-fold */
        "GET / HTTP/1.1\r\nHo st: x\r\n\r\n",   /* space in the name */
        "GET / HTTP/1.1\r\nA: b\nC: d\r\n\r\n", /* bare LF */
        "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",    /* bare CR */
        "GET /\x01 HTTP/1.1\r\n\r\n",           /* control in target */
        "GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n",   /* DEL in a value */
    };
    struct wharf_http_head h;
    size_t i, n;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = wharf_http_head_len(bad[i], strlen(bad[i]));
        if (n != 0 && wharf_http_head_parse(bad[i], n, &h) == 0) {
            fail_msg("parsed %s", bad[i]);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bearer_protocols),
        cmocka_unit_test(test_http_head),
        cmocka_unit_test(test_http_head_malformed),
    };
    return cmocka_run_group_tests_name("common_bearer", tests, NULL, NULL);
}
