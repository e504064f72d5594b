/* Unit tests for common/errhash.c. The expected digests were computed with
 * node's crypto over the JavaScript regular expressions themselves (the
 * peer's rules, with :LINE:COL before :PORT), so this checks the C
 * rewrite against the real regex engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "errhash.h"

struct eh_case {
    const char *msg;
    double level;
    const char *cleaned; /* NULL: not checked */
    const char *hash;
};

static char *
repeat(const char *prefix, char c, size_t n, const char *suffix)
{
    size_t p = strlen(prefix), s = strlen(suffix);
    char *r = malloc(p + n + s + 1);

    memcpy(r, prefix, p);
    memset(r + p, c, n);
    memcpy(r + p + n, suffix, s + 1);
    return r;
}

static void
check(const char *msg, double level, const char *cleaned, const char *hash)
{
    char out[WHARF_ERRHASH_HEX_LEN + 1], *c;

    if (cleaned != NULL) {
        c = wharf_errhash_clean(msg, strlen(msg));
        assert_non_null(c);
        assert_string_equal(c, cleaned);
        free(c);
    }
    assert_int_equal(wharf_errhash(msg, strlen(msg), level, out), 0);
    assert_string_equal(out, hash);
}

static void
test_rules(void **state)
{
    static const struct eh_case cases[] = {
        { "Error at 2025-01-02T03:04:05.678Z boom", 50,
          "Error at TIMESTAMP boom",
          "fb0e1aa52d40123b500a46ad16eb9fb782e5b22351cfdb48a45a459f1048c3dc" },
        { "Error at 2025-01-02T03:04:05Z boom", 50,
          "Error at 2025-01-02T03:LINE:COLZ boom",
          "d2ff6de2b016a51c163005a8b9da79f8a9301ce8f79021525d99b01923dbcc1f" },
        { "took 1735689600000 ms", 50, "took UNIX_TIME ms",
          "cc85567947d81f085d9a012cb838770c259952f980f5b543c0e4b0d51516e748" },
        { "took 173568960000 ms x17356896000001", 60,
          "took 173568960000 ms x17356896000001",
          "7c12056808c6614873b5caa8a1c8f3da7fda468f5b9b31a3af2a64ffc4de4c0d" },
        { "connect ECONNREFUSED 127.0.0.1:5173", 50,
          "connect ECONNREFUSED 127.0.0.1:PORT",
          "f5bb25e2f23f33594b0d814ecc78fbe12c6aba9f7cb9e680ccca306c309836b6" },
        { "connect ECONNREFUSED 127.0.0.1:80", 50, NULL,
          "47cfe1b55283678c50af5bffdb3ebdbbdf8420b573ecbe1bb7f708dd4e8220e2" },
        { "at App.tsx:42:15", 50, "at App.tsx:LINE:COL",
          "e098470c4207abfd3cff17b378782c35d7d91b0d9f23e9dcc2481a058ea11993" },
        /* H6 fixed: the same fingerprint as :42:15. */
        { "at App.tsx:1234:5", 50, "at App.tsx:LINE:COL",
          "e098470c4207abfd3cff17b378782c35d7d91b0d9f23e9dcc2481a058ea11993" },
        { "at http://localhost:5173/src/App.tsx:42:15", 50,
          "at http://localhost:PORT/src/App.tsx:LINE:COL",
          "391071b4287a9c2a2d7d072ceb5d1ec995a3a7e91f07d0efdedd5f954c1a9009" },
        { "a:1:2:3", 50, "a:LINE:COL:3",
          "6cf16023c6443dcf831938d6c3831c62dcb58c77cfa0a3fa45f40b708c4e92d5" },
        { "react.js?v=abc123f and ?v=ABC123", 50,
          "react.js?v=HASH and ?v=ABC123",
          "43458c653f135e5d59bfdab4fb358435df0e987b9063d01b2c1d0dd4e141a543" },
        { "  many   spaces\tand\nnewlines \xC2\xA0 \xE3\x80\x80x ", 55.5,
          "many spaces and newlines x",
          "ad69aadf85cda07d15da0500a0772433c77474c33754c355538bb12ab59ac106" },
        { "\xC3\xA9:12345\xC3\xA9 :123456 :1234a", 1e21,
          "\xC3\xA9:PORT\xC3\xA9 :123456 :1234a",
          "a54fcee7713d485fa3b969930019cd08b6d864e4e54c1c89715116819260fa4c" },
        { "", 0.000001, "",
          "159fb29a827ad04b260aa6c8ab6d8637f8f2b38af5c4f3cb49d6a21205e040f8" },
        { "q", 1e-7, "q",
          "d9f3ca0f569acad88b4f94ea311c4a41c589d7d0958d0ea0e098e8d5d320be5e" },
    };
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check(cases[i].msg, cases[i].level, cases[i].cleaned, cases[i].hash);
    }
}

/* Rule 7 at its edge: 600 chars hash as their first 500; a cut through a
 * surrogate pair (an emoji at unit 500) hashes as JavaScript's U+FFFD. */
static void
test_cut(void **state)
{
    char *m, *c;

    (void) state;
    m = repeat("", 'x', 600, "");
    c = wharf_errhash_clean(m, strlen(m));
    assert_int_equal(strlen(c), WHARF_ERRHASH_CLEAN_MAX);
    free(c);
    check(m, 50, NULL,
          "b43004667ad079a2079bbfef1ccf67316cbda1fa1d7f95a5e8982a333172cdd9");
    free(m);

    m = repeat("   ", 'a', 499, "\xF0\x9F\x98\x80tail");
    check(m, 60, NULL,
          "5291ea73a6ae23462652af3e8e2d6ead700fb68c311f12a56f6a6a386a97509e");
    free(m);
}

static void
test_js_number(void **state)
{
    char b[40];

    (void) state;
    wharf_errhash_js_number(50, b, sizeof(b));
    assert_string_equal(b, "50");
    wharf_errhash_js_number(55.5, b, sizeof(b));
    assert_string_equal(b, "55.5");
    wharf_errhash_js_number(-0.0, b, sizeof(b));
    assert_string_equal(b, "0");
    wharf_errhash_js_number(-3, b, sizeof(b));
    assert_string_equal(b, "-3");
    wharf_errhash_js_number(0.1, b, sizeof(b));
    assert_string_equal(b, "0.1");
    wharf_errhash_js_number(1e21, b, sizeof(b));
    assert_string_equal(b, "1e+21");
    wharf_errhash_js_number(1.5e-7, b, sizeof(b));
    assert_string_equal(b, "1.5e-7");
    wharf_errhash_js_number(123456789012, b, sizeof(b));
    assert_string_equal(b, "123456789012");
    wharf_errhash_js_number(0.000001, b, sizeof(b));
    assert_string_equal(b, "0.000001");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_js_number),
    };
    return cmocka_run_group_tests_name("common_errhash", tests, NULL, NULL);
}
