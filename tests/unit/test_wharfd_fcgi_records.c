/* Unit tests for wharfd_fcgi_send (fcgi_backend/fcgi_records.c): the
 * records it writes to a socket pair are read back and checked against
 * the FastCGI specification: version, type, request id, content at most
 * WHARFD_FCGI_RECORD_MAX, padding to 8 bytes and zero, the stream's bytes
 * in order (head then body), then an empty FCGI_STDOUT record and
 * FCGI_END_REQUEST (request complete), and nothing after. Sizes at each
 * edge: empty, one byte, one record exactly, one byte over, the head
 * ending inside a record, and bodies of more records than one writev's
 * iovecs hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <fastcgi.h>

#include "../../fcgi_backend/fcgi_records.h"

struct reader {
    int fd;
    unsigned char *buf;
    size_t len;
};

/* Reads the peer to its end (the writer closes its side). */
static void *
read_all(void *arg)
{
    struct reader *r = arg;
    size_t cap = 1 << 16;
    ssize_t n;

    r->buf = malloc(cap);
    for (;;) {
        if (r->len == cap) {
            cap *= 2;
            r->buf = realloc(r->buf, cap);
        }
        n = read(r->fd, r->buf + r->len, cap - r->len);
        if (n <= 0) {
            break;
        }
        r->len += (size_t) n;
    }
    return NULL;
}

/* Sends head + body as request id, parses what arrived, checks it. */
static void
check_send(int id, size_t hlen, size_t blen)
{
    char *head = malloc(hlen + 1), *body = malloc(blen + 1), *stream;
    size_t i, at = 0, got = 0, records = 0, clen;
    struct reader r = { 0 };
    pthread_t t;
    int sv[2];
    const FCGI_Header *h;

    for (i = 0; i < hlen; i++) {
        head[i] = (char) ('A' + i % 26);
    }
    for (i = 0; i < blen; i++) {
        body[i] = (char) ('a' + (i * 7) % 26);
    }
    stream = malloc(hlen + blen + 1);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    r.fd = sv[1];
    assert_int_equal(pthread_create(&t, NULL, read_all, &r), 0);
    assert_int_equal(wharfd_fcgi_send(sv[0], id, head, hlen, body, blen), 0);
    close(sv[0]);
    pthread_join(t, NULL);
    close(sv[1]);

    /* FCGI_STDOUT records with content, in order */
    for (;;) {
        assert_true(at + sizeof(FCGI_Header) <= r.len);
        h = (const FCGI_Header *) (r.buf + at);
        assert_int_equal(h->version, FCGI_VERSION_1);
        assert_int_equal((h->requestIdB1 << 8) | h->requestIdB0, id);
        clen = (size_t) ((h->contentLengthB1 << 8) | h->contentLengthB0);
        at += sizeof(FCGI_Header);
        if (h->type != FCGI_STDOUT || clen == 0) {
            break;
        }
        assert_true(clen <= WHARFD_FCGI_RECORD_MAX);
        assert_int_equal((clen + h->paddingLength) % 8, 0);
        assert_true(h->paddingLength < 8);
        assert_true(at + clen + h->paddingLength <= r.len);
        memcpy(stream + got, r.buf + at, clen);
        got += clen;
        at += clen;
        for (i = 0; i < h->paddingLength; i++) {
            assert_int_equal(r.buf[at + i], 0);
        }
        at += h->paddingLength;
        records++;
    }
    /* the stream's end, then FCGI_END_REQUEST, then nothing */
    assert_int_equal(h->type, FCGI_STDOUT);
    assert_int_equal(clen, 0);
    assert_int_equal(h->paddingLength, 0);
    assert_true(at + sizeof(FCGI_EndRequestRecord) == r.len);
    h = (const FCGI_Header *) (r.buf + at);
    assert_int_equal(h->type, FCGI_END_REQUEST);
    assert_int_equal((h->requestIdB1 << 8) | h->requestIdB0, id);
    assert_int_equal((h->contentLengthB1 << 8) | h->contentLengthB0,
                     sizeof(FCGI_EndRequestBody));
    assert_int_equal(((const FCGI_EndRequestRecord *) h)->body.protocolStatus,
                     FCGI_REQUEST_COMPLETE);

    assert_int_equal(got, hlen + blen);
    assert_memory_equal(stream, head, hlen);
    if (blen > 0) {
        assert_memory_equal(stream + hlen, body, blen);
    }
    /* as few records as the size allows */
    assert_int_equal(records,
                     (hlen + blen + WHARFD_FCGI_RECORD_MAX - 1)
                         / WHARFD_FCGI_RECORD_MAX);
    free(r.buf);
    free(stream);
    free(head);
    free(body);
}

static void
test_small_and_empty(void **state)
{
    (void) state;
    check_send(1, 0, 0);
    check_send(1, 1, 0);
    check_send(2, 0, 1);
    check_send(3, 98, 80);
    check_send(65535, 7, 9); /* the largest request id */
}

static void
test_record_edges(void **state)
{
    (void) state;
    check_send(1, 100, WHARFD_FCGI_RECORD_MAX - 100);
    check_send(1, 100, WHARFD_FCGI_RECORD_MAX - 99);
    check_send(1, WHARFD_FCGI_RECORD_MAX, 0);
    check_send(1, WHARFD_FCGI_RECORD_MAX + 1, 3);
    check_send(1, 0, 2 * WHARFD_FCGI_RECORD_MAX);
    check_send(1, 1, 2 * WHARFD_FCGI_RECORD_MAX);
}

static void
test_more_records_than_one_writev(void **state)
{
    (void) state;
    /* WHARFD_FCGI_IOV / 2 records' headers per writev: past it, the
     * records continue in the next writev, and the closing records too */
    check_send(7, 150, (size_t) WHARFD_FCGI_RECORD_MAX * WHARFD_FCGI_IOV / 2);
    check_send(7, 150,
               (size_t) WHARFD_FCGI_RECORD_MAX * (WHARFD_FCGI_IOV + 3) + 5);
    check_send(7, 0, 8 * 1024 * 1024 + 13);
}

static void
test_peer_gone(void **state)
{
    int sv[2];
    char body[1000] = { 0 };

    (void) state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    /* SIGPIPE is ignored in wharfd (main.c); here MSG_NOSIGNAL is not
     * used, so ignore it for the test */
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(wharfd_fcgi_send(sv[0], 1, "h", 1, body, sizeof(body)),
                     -1);
    close(sv[0]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_and_empty),
        cmocka_unit_test(test_record_edges),
        cmocka_unit_test(test_more_records_than_one_writev),
        cmocka_unit_test(test_peer_gone),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
