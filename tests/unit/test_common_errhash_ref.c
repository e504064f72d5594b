/* common/errhash.c against the cleaner it replaced (errhash_ref.inc, the
 * six-pass version with a malloc'd buffer per pass): the cleaned text and
 * the hash must be byte for byte the same, since the agent and wharfd
 * share the hash and rows already stored keep theirs. Inputs: every file
 * of the fuzz seed corpora (tests/fuzz/corpus/), hand-picked edges of each
 * rule, and random texts built from the bytes the rules care about. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>

#include "errhash_ref.inc"

static unsigned long long compared;

static void
same(const char *msg, size_t len, double level)
{
    char a[WHARF_ERRHASH_HEX_LEN + 1], b[WHARF_ERRHASH_HEX_LEN + 1];
    char *x = wharf_errhash_clean(msg, len), *y = ref_errhash_clean(msg, len);

    assert_non_null(x);
    assert_non_null(y);
    if (strcmp(x, y) != 0) {
        fprintf(stderr,
                "cleaned differs for %zu bytes: new \"%s\" ref \"%s\"\n", len,
                x, y);
    }
    assert_string_equal(x, y);
    free(x);
    free(y);
    assert_int_equal(wharf_errhash(msg, len, level, a), 0);
    assert_int_equal(ref_errhash(msg, len, level, b), 0);
    assert_string_equal(a, b);
    compared++;
}

static void
test_corpus(void **state)
{
    static const char *const dirs[] = {
        "tests/fuzz/corpus/fuzz_agent_detect",
        "tests/fuzz/corpus/fuzz_agent_lines",
        "tests/fuzz/corpus/fuzz_wharfd_rpc",
        "tests/fuzz/corpus/fuzz_wharfd_rest",
    };
    char path[1024], *buf;
    struct dirent *de;
    size_t d, n, files = 0;
    FILE *f;
    DIR *dir;

    (void) state;
    for (d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
        dir = opendir(dirs[d]);
        if (dir == NULL) {
            continue;
        }
        while ((de = readdir(dir)) != NULL) {
            if (de->d_name[0] == '.') {
                continue;
            }
            snprintf(path, sizeof(path), "%s/%s", dirs[d], de->d_name);
            f = fopen(path, "rb");
            if (f == NULL) {
                continue;
            }
            buf = malloc(1 << 20);
            assert_non_null(buf);
            n = fread(buf, 1, 1 << 20, f);
            fclose(f);
            same(buf, n, 50);
            same(buf, n, 60);
            free(buf);
            files++;
        }
        closedir(dir);
    }
    /* The detector's corpus must be there: the test runs from the repo. */
    assert_true(files >= 3);
}

static void
test_edges(void **state)
{
    static const char *const cases[] = {
        "",
        " ",
        "\t\n",
        "a",
        "Error at 2025-01-02T03:04:05.678Z boom",
        "2025-01-02T03:04:05.678Z",
        "2025-01-02T03:04:05.678",
        "x2025-01-02T03:04:05.678Zy",
        "took 1735689600000 ms",
        "1735689600000",
        "17356896000001",
        "a1735689600000",
        "_1735689600000_",
        "connect 127.0.0.1:5173",
        ":80",
        ":12345",
        ":123456",
        ":1234a",
        ":1234_",
        ":1234-",
        "at App.tsx:42:15",
        "a:1:2:3",
        ":1:",
        "::1:2",
        "App.tsx:1234:5",
        "http://localhost:5173/src/App.tsx:42:15",
        "react.js?v=abc123f",
        "?v=ABC",
        "?v=",
        "?v",
        "?",
        "a?v=0f?v=zz",
        "  many   spaces\tand\nnewlines  ",
        "\xc2\xa0x\xe2\x80\x80y\xe3\x80\x80",
        "\xef\xbb\xbf lead",
        "trail \xe2\x80\xa8",
        "\xf0\x9f\x98\x80 emoji",
        "2025-01-02T03:04:05.678Z:1:2?v=aa 1735689600000 :5173",
        "\xff\xfe bad utf8 \xc2",
        "\xe2\x80",
        "\xe1\x9a\x80\xe2\x81\x9f",
    };
    size_t i;
    char *big;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        same(cases[i], strlen(cases[i]), 50);
        same(cases[i], strlen(cases[i]), 55.5);
    }
    /* Around the stack buffers' size (4 KiB) and the 500-unit cut, and a
     * text that grows: ":1:2" is 4 bytes and becomes 9. */
    for (i = 490; i < 5000; i += 97) {
        big = malloc(i + 1);
        assert_non_null(big);
        memset(big, 'x', i);
        big[i] = '\0';
        same(big, i, 50);
        for (size_t k = 0; k + 4 <= i; k += 4) {
            memcpy(big + k, ":1:2", 4);
        }
        same(big, i, 50);
        for (size_t k = 0; k + 4 <= i; k += 4) {
            memcpy(big + k, "?v=a", 4);
        }
        same(big, i, 60);
        for (size_t k = 0; k < i; k++) {
            big[k] = k % 3 ? ' ' : '\t';
        }
        same(big, i, 50);
        free(big);
    }
}

/* Random texts over an alphabet weighted towards what the rules match. */
static void
test_random(void **state)
{
    static const char *const atoms[] = {
        "0",
        "1",
        "9",
        "12",
        "2025-01-02T03:04:05.678Z",
        "1735689600000",
        ":",
        ":5173",
        ":1:2",
        "?v=",
        "a",
        "f",
        "Z",
        "T",
        "-",
        ".",
        "_",
        " ",
        "\t",
        "\n",
        "\xc2\xa0",
        "\xe2\x80\xa9",
        "\xf0\x9f\x98\x80",
        "\xff",
        "x",
        "?",
        "v",
        "=",
        "\xe3\x80\x80",
        "1234",
        "12345",
    };
    char buf[6000];
    size_t len, k, a;
    unsigned seed = 12345;
    int it;

    (void) state;
    for (it = 0; it < 20000; it++) {
        len = 0;
        k = (size_t) (rand_r(&seed) % (it % 50 == 0 ? 1500 : 60));
        while (k-- > 0) {
            a = (size_t) rand_r(&seed) % (sizeof(atoms) / sizeof(atoms[0]));
            if (len + strlen(atoms[a]) >= sizeof(buf)) {
                break;
            }
            memcpy(buf + len, atoms[a], strlen(atoms[a]));
            len += strlen(atoms[a]);
        }
        same(buf, len, it % 2 ? 50 : 60.25);
        /* raw random bytes too */
        len = (size_t) rand_r(&seed) % 200;
        for (k = 0; k < len; k++) {
            buf[k] = (char) (rand_r(&seed) & 0xff);
        }
        same(buf, len, 50);
    }
    fprintf(stderr, "errhash_ref: %llu inputs compared\n", compared);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests_name("common_errhash_ref", tests, NULL, NULL);
}
