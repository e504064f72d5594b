#include "fcgi_records.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include <fastcgi.h>

/* Writes iov[0..n) whole, resuming after partial writes. */
static int
records_writev(int fd, struct iovec *iov, int n)
{
    ssize_t w;

    while (n > 0) {
        w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        while (n > 0 && (size_t) w >= iov->iov_len) {
            w -= (ssize_t) iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *) iov->iov_base + w;
            iov->iov_len -= (size_t) w;
        }
    }
    return 0;
}

static void
records_header(FCGI_Header *h, int type, int request_id, size_t len, size_t pad)
{
    h->version = FCGI_VERSION_1;
    h->type = (unsigned char) type;
    h->requestIdB1 = (unsigned char) ((request_id >> 8) & 0xff);
    h->requestIdB0 = (unsigned char) (request_id & 0xff);
    h->contentLengthB1 = (unsigned char) ((len >> 8) & 0xff);
    h->contentLengthB0 = (unsigned char) (len & 0xff);
    h->paddingLength = (unsigned char) pad;
    h->reserved = 0;
}

int
wharfd_fcgi_send(int fd, int request_id, const char *head, size_t hlen,
                 const char *body, size_t blen)
{
    /* Per record: its header, up to two pieces (the end of the head and
     * the start of the body), its padding. Headers live here until the
     * writev that carries them. */
    static const unsigned char zeros[8];
    FCGI_Header hdr[WHARFD_FCGI_IOV / 2];
    struct {
        FCGI_Header eos;
        FCGI_EndRequestRecord end;
    } tail;
    struct iovec iov[WHARFD_FCGI_IOV];
    const char *piece[2] = { head, body };
    size_t left[2] = { hlen, blen };
    size_t total = hlen + blen, len, take, pad;
    int n = 0, nh = 0, p = 0;

    while (total > 0) {
        /* Room for this record's header, 2 pieces and padding. */
        if (n + 4 > WHARFD_FCGI_IOV || nh == WHARFD_FCGI_IOV / 2) {
            if (records_writev(fd, iov, n) != 0) {
                return -1;
            }
            n = 0;
            nh = 0;
        }
        len = total < WHARFD_FCGI_RECORD_MAX ? total : WHARFD_FCGI_RECORD_MAX;
        pad = (8 - (len & 7)) & 7;
        records_header(&hdr[nh], FCGI_STDOUT, request_id, len, pad);
        iov[n].iov_base = &hdr[nh++];
        iov[n++].iov_len = sizeof(FCGI_Header);
        total -= len;
        while (len > 0) {
            while (left[p] == 0) {
                p++;
            }
            take = left[p] < len ? left[p] : len;
            iov[n].iov_base = (void *) piece[p];
            iov[n++].iov_len = take;
            piece[p] += take;
            left[p] -= take;
            len -= take;
        }
        if (pad > 0) {
            iov[n].iov_base = (void *) zeros;
            iov[n++].iov_len = pad;
        }
    }

    records_header(&tail.eos, FCGI_STDOUT, request_id, 0, 0);
    records_header(&tail.end.header, FCGI_END_REQUEST, request_id,
                   sizeof(tail.end.body), 0);
    memset(&tail.end.body, 0, sizeof(tail.end.body));
    tail.end.body.protocolStatus = FCGI_REQUEST_COMPLETE;
    if (n + 1 > WHARFD_FCGI_IOV) {
        if (records_writev(fd, iov, n) != 0) {
            return -1;
        }
        n = 0;
    }
    iov[n].iov_base = &tail;
    iov[n++].iov_len = sizeof(tail);
    return records_writev(fd, iov, n);
}
