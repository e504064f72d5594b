/* common/jsonrpc.c, textbuf.c and json_text.c: the one JSON-RPC envelope
 * and the one JSON text writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>

#include "json_text.h"
#include "jsonrpc.h"
#include "textbuf.h"
#include "utf8.h"

static char *
dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

    json_decref(j);
    assert_non_null(s);
    return s;
}

/* Each rule of the request check, in its order, and what id an answer
 * echoes. */
static void
test_check(void **state)
{
    static const struct {
        const char *text, *why; /* why NULL: valid */
        int echo;               /* the id is kept for the answer */
    } cases[] = {
        { "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\"}", NULL, 1 },
        { "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":[1]}", NULL, 0 },
        { "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"m\"}", NULL, 1 },
        { "[1]", "a request must be a JSON object", 0 },
        { "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"m\"}",
          "'id' must be a string, a number or null", 0 },
        { "{\"id\":\"x\",\"method\":\"m\"}", "'jsonrpc' must be \"2.0\"", 1 },
        { "{\"jsonrpc\":\"2.0 \",\"id\":1,\"method\":\"m\"}",
          "'jsonrpc' must be \"2.0\"", 1 },
        { "{\"jsonrpc\":2,\"id\":1,\"method\":\"m\"}",
          "'jsonrpc' must be \"2.0\"", 1 },
        { "{\"jsonrpc\":\"2.0\\u0000\",\"id\":1,\"method\":\"m\"}",
          "'jsonrpc' must be \"2.0\"", 1 },
        { "{\"jsonrpc\":\"2.0\",\"id\":1}",
          "'method' must be a string without NUL", 1 },
        { "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\\u0000x\"}",
          "'method' must be a string without NUL", 1 },
        { "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":3}",
          "'params' must be an object or an array", 1 },
    };
    struct wharf_jsonrpc_request rq;
    const char *why;
    json_t *req;
    size_t i;
    int rc;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        req = wharf_jsonrpc_parse(cases[i].text, strlen(cases[i].text),
                                  JSON_ALLOW_NUL, NULL, 0);
        assert_non_null(req);
        why = NULL;
        rc = wharf_jsonrpc_check(req, &rq, &why);
        if (cases[i].why == NULL) {
            assert_int_equal(rc, 0);
            assert_string_equal(rq.method, "m");
        } else {
            assert_int_equal(rc, -1);
            assert_string_equal(why, cases[i].why);
        }
        assert_int_equal(rq.id != NULL, cases[i].echo);
        json_decref(req);
    }
}

static void
test_parse(void **state)
{
    char why[256];
    json_t *j;

    (void) state;
    /* any value: a bare number is a request that is not an object */
    j = wharf_jsonrpc_parse("1", 1, 0, why, sizeof(why));
    assert_true(json_is_integer(j));
    json_decref(j);
    /* duplicate members are a parse error */
    assert_null(
        wharf_jsonrpc_parse("{\"a\":1,\"a\":2}", 13, 0, why, sizeof(why)));
    assert_non_null(strstr(why, "duplicate"));
    assert_non_null(strstr(why, "at line 1 column"));
    assert_null(wharf_jsonrpc_parse(NULL, 0, 0, why, sizeof(why)));
}

static void
test_answers(void **state)
{
    char *s, msg[64];
    json_t *id;

    (void) state;
    id = json_integer(7); /* borrowed */
    s = dump(wharf_jsonrpc_result(id, json_pack("{s:i}", "a", 1)));
    assert_string_equal(s,
                        "{\"jsonrpc\":\"2.0\",\"result\":{\"a\":1},\"id\":7}");
    json_decref(id);
    free(s);
    s = dump(wharf_jsonrpc_result(NULL, NULL));
    assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"result\":null,\"id\":null}");
    free(s);
    s = dump(wharf_jsonrpc_error(NULL, WHARF_JSONRPC_INVALID_PARAMS, "logs[3]",
                                 65536, "too long"));
    assert_string_equal(s,
                        "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,"
                        "\"message\":\"Invalid params: too long\",\"data\":"
                        "{\"field\":\"logs[3]\",\"max\":65536}},\"id\":"
                        "null}");
    free(s);
    /* no field: no data, even with a max */
    s = dump(wharf_jsonrpc_error(NULL, WHARF_JSONRPC_FORBIDDEN, "", 9, NULL));
    assert_string_equal(s,
                        "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32003,"
                        "\"message\":\"Forbidden\"},\"id\":null}");
    free(s);
    /* client input in a detail is cut to printable ASCII */
    wharf_jsonrpc_error_message(WHARF_JSONRPC_METHOD_NOT_FOUND, "x\n\xc3\xa9",
                                msg, sizeof(msg));
    assert_string_equal(msg, "Method not found: x???");
    assert_string_equal(wharf_jsonrpc_message(-32099), "Internal error");
    assert_string_equal(wharf_jsonrpc_message(WHARF_JSONRPC_CONFLICT),
                        "Conflict");
    assert_string_equal(
        wharf_jsonrpc_detail(WHARF_JSONRPC_NOT_FOUND, "Not found: no such"),
        "no such");
    assert_string_equal(
        wharf_jsonrpc_detail(WHARF_JSONRPC_NOT_FOUND, "Not founded"),
        "Not founded");
    assert_string_equal(
        wharf_jsonrpc_short_name(WHARF_JSONRPC_PREFIX "getLogs"), "getLogs");
    assert_string_equal(wharf_jsonrpc_short_name("getLogs"), "getLogs");
    s = dump(wharf_jsonrpc_call(1, "m", json_pack("{s:b}", "x", 1)));
    assert_string_equal(s,
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\","
                        "\"params\":{\"x\":true}}");
    free(s);
    s = dump(wharf_jsonrpc_call(-1, "event", NULL));
    assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"method\":\"event\"}");
    free(s);
}

static void
test_textbuf(void **state)
{
    struct wharf_textbuf b = { 0 }, capped = { .max = 5 };
    char fixed[8];
    struct wharf_textbuf f = { .p = fixed, .cap = sizeof(fixed), .fixed = 1 };
    size_t i, len;
    char *p;

    (void) state;
    for (i = 0; i < 1000; i++) {
        wharf_textbuf_putc(&b, (char) ('a' + i % 26));
    }
    WHARF_TEXTBUF_LIT(&b, "!");
    wharf_textbuf_printf(&b, "%d-%s", 42, "x");
    assert_int_equal(b.len, 1005);
    assert_string_equal(b.p + 1000, "!42-x");
    assert_false(b.oom);
    p = wharf_textbuf_take(&b, &len);
    assert_int_equal(len, 1005);
    assert_null(b.p);
    free(p);

    wharf_textbuf_str(&f, "1234567"); /* 7 and the NUL fit */
    assert_false(f.oom);
    wharf_textbuf_putc(&f, '8');
    assert_true(f.oom);
    assert_string_equal(fixed, "1234567"); /* as it was */
    wharf_textbuf_free(&f);                /* not freed: the caller's */
    assert_ptr_equal(f.p, fixed);
    assert_int_equal(f.len, 0);

    assert_int_equal(wharf_textbuf_collect("abc", 1, 3, &capped), 3);
    assert_int_equal(wharf_textbuf_collect("de", 2, 1, &capped), 2);
    assert_int_equal(wharf_textbuf_collect("f", 1, 1, &capped), 0);
    assert_true(capped.over);
    assert_false(capped.oom);
    assert_string_equal(capped.p, "abcde");
    wharf_textbuf_free(&capped);
    assert_int_equal(capped.max, 5); /* settings kept */
    assert_false(capped.over);
}

static int allocs;

static void *
counting_realloc(void *p, size_t n)
{
    allocs++;
    return realloc(p, n);
}

static void
counting_free(void *p)
{
    allocs -= p != NULL;
    free(p);
}

static void
test_textbuf_allocator(void **state)
{
    struct wharf_textbuf b = { .realloc_fn = counting_realloc,
                               .free_fn = counting_free };

    (void) state;
    allocs = 0;
    wharf_textbuf_put(&b, "x", 1);
    assert_int_equal(allocs, 1);
    wharf_textbuf_free(&b);
    assert_int_equal(allocs, 0);
}

/* jansson writes \u00XX in upper case, wharf in lower: the same JSON. */
static char *
lower_escapes(char *s)
{
    char *p = s;
    int k;

    while (*p != '\0') {
        if (*p != '\\') {
            p++;
        } else if (p[1] != 'u') {
            p += 2; /* \\, \", \n... */
        } else {
            for (k = 2; k < 6 && p[k] != '\0'; k++) {
                if (p[k] >= 'A' && p[k] <= 'F') {
                    p[k] = (char) (p[k] - 'A' + 'a');
                }
            }
            p += k;
        }
    }
    return s;
}

/* What wharf_json_str writes is what jansson dumps of the same string,
 * and in repair mode, of the string with U+FFFD for each invalid part. */
static void
test_json_text(void **state)
{
    unsigned char in[64];
    char fixed[3 * sizeof(in) + 1], *want;
    struct wharf_textbuf b = { 0 };
    unsigned seed = 17;
    size_t n, k, i;
    int round;

    (void) state;
    for (round = 0; round < 20000; round++) {
        n = (size_t) (rand_r(&seed) % sizeof(in));
        for (i = 0; i < n; i++) {
            /* mostly text, with controls, quotes, backslashes and high
             * bytes, valid or not */
            unsigned r = (unsigned) rand_r(&seed);

            in[i] =
                (unsigned char) (r % 4 == 0 ? r >> 8 : 0x20 + (r >> 8) % 95);
            if (in[i] == '\b' || in[i] == '\f') {
                in[i] = 'x'; /* below: jansson writes \b, wharf \u0008 */
            }
        }
        b.len = 0;
        wharf_json_str(&b, (const char *) in, n, WHARF_JSON_REPAIR);
        assert_false(b.oom);
        k = wharf_utf8_replace(in, n, fixed);
        want = lower_escapes(dump(json_stringn(fixed, k)));
        assert_string_equal(b.p, want);
        free(want);
        if (wharf_utf8_valid_prefix(in, n) == n) {
            b.len = 0;
            wharf_json_str(&b, (const char *) in, n, 0);
            want = lower_escapes(dump(json_stringn((const char *) in, n)));
            assert_string_equal(b.p, want);
            free(want);
        }
    }
    /* \b and \f as \u00XX, as wharfd always wrote them (jansson
     * writes \b and \f: the same JSON) */
    b.len = 0;
    wharf_json_str(&b, "\b\f\x01\"\\\n\r\t\x7f", 9, 0);
    assert_string_equal(b.p, "\"\\u0008\\u000c\\u0001\\\"\\\\\\n\\r\\t\x7f\"");
    b.len = 0;
    wharf_json_int(&b, -9223372036854775807LL - 1);
    wharf_json_int(&b, 0);
    assert_string_equal(b.p, "-92233720368547758080");
    wharf_textbuf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_answers),
        cmocka_unit_test(test_textbuf),
        cmocka_unit_test(test_textbuf_allocator),
        cmocka_unit_test(test_json_text),
    };
    return cmocka_run_group_tests_name("common_jsonrpc", tests, NULL, NULL);
}
