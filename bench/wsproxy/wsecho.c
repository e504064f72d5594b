/*
 * wsecho: a WebSocket echo server for the wsproxy benchmark.
 *
 *   wsecho PORT
 *
 * One thread, epoll, level-triggered: accepts on 127.0.0.1:PORT, answers
 * any GET with an Upgrade to 101 (Sec-WebSocket-Accept computed with
 * OpenSSL SHA-1), then sends every data frame back unmasked, and answers a
 * close frame with a close frame. Plain HTTP gets 200 "ok". Built to cost
 * less per message than the proxy it is measured behind: it never copies a
 * frame except to unmask it in place. Frames of up to MSG_MAX bytes: a
 * connection's buffers start at BUF_SIZE and grow to hold the largest
 * frame it gets.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE   (16 * 1024)
#define MSG_MAX    (1024 * 1024)
#define MAX_EVENTS 256

struct conn {
    int fd;
    int upgraded;
    size_t in_len;
    size_t out_len;
    size_t out_off;
    size_t in_cap;
    size_t out_cap;
    unsigned char *in;
    unsigned char *out;
};

static int ep;

static void
conn_close(struct conn *c)
{
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

/* writes what is pending; returns -1 on error */
static int
flush_out(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0) {
            if (errno == EAGAIN) {
                struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT,
                                          .data.ptr = c };
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                return 0;
            }
            return -1;
        }
        c->out_off += (size_t) n;
    }
    c->out_off = c->out_len = 0;
    return 0;
}

static int
queue_out(struct conn *c, const void *p, size_t len)
{
    if (c->out_len + len > c->out_cap) {
        if (flush_out(c) < 0) {
            return -1;
        }
    }
    if (c->out_len + len > c->out_cap) {
        unsigned char *o;

        if (c->out_len + len > 2 * (MSG_MAX + 16)
            || (o = realloc(c->out, c->out_len + len)) == NULL) {
            return -1;
        }
        c->out = o;
        c->out_cap = c->out_len + len;
    }
    memcpy(c->out + c->out_len, p, len);
    c->out_len += len;
    return 0;
}

static int
handshake(struct conn *c)
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char *end, *key, *eol, resp[256], cat[128];
    unsigned char md[EVP_MAX_MD_SIZE], b64[64];
    unsigned int mdlen;
    size_t hlen, klen;
    int n;

    c->in[c->in_len < c->in_cap ? c->in_len : c->in_cap - 1] = '\0';
    end = strstr((char *) c->in, "\r\n\r\n");
    if (end == NULL) {
        return 0;
    }
    hlen = (size_t) (end + 4 - (char *) c->in);

    key = strcasestr((char *) c->in, "\r\nSec-WebSocket-Key:");
    if (key == NULL || key > end) {
        n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
        queue_out(c, resp, (size_t) n);
        c->in_len = 0;
        return flush_out(c) < 0 ? -1 : 0;
    }
    key += sizeof("\r\nSec-WebSocket-Key:") - 1;
    while (*key == ' ') {
        key++;
    }
    eol = strstr(key, "\r\n");
    klen = (size_t) (eol - key);
    if (klen + sizeof(guid) > sizeof(cat)) {
        return -1;
    }
    memcpy(cat, key, klen);
    memcpy(cat + klen, guid, sizeof(guid) - 1);
    EVP_Digest(cat, klen + sizeof(guid) - 1, md, &mdlen, EVP_sha1(), NULL);
    EVP_EncodeBlock(b64, md, (int) mdlen);

    n = snprintf(resp, sizeof(resp),
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                 b64);
    if (queue_out(c, resp, (size_t) n) < 0) {
        return -1;
    }
    memmove(c->in, c->in + hlen, c->in_len - hlen);
    c->in_len -= hlen;
    c->upgraded = 1;
    return flush_out(c);
}

/* echoes every whole frame in the input buffer */
static int
frames(struct conn *c)
{
    size_t off = 0;

    while (c->in_len - off >= 2) {
        unsigned char *p = c->in + off, hdr[10];
        int op = p[0] & 0x0f, masked = p[1] & 0x80;
        uint64_t len = p[1] & 0x7f;
        size_t h = 2, hl;

        if (len == 126) {
            if (c->in_len - off < 4)
                break;
            len = ((uint64_t) p[2] << 8) | p[3];
            h = 4;
        } else if (len == 127) {
            if (c->in_len - off < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = (len << 8) | p[2 + i];
            h = 10;
        }
        if (len > MSG_MAX) {
            return -1;
        }
        if (c->in_len - off < h + (masked ? 4 : 0) + len) {
            /* room for the whole frame, from the buffer's start */
            size_t need = h + 4 + (size_t) len + 1;

            if (need > c->in_cap) {
                unsigned char *in;

                memmove(c->in, c->in + off, c->in_len - off);
                c->in_len -= off;
                off = 0;
                if ((in = realloc(c->in, need)) == NULL)
                    return -1;
                c->in = in;
                c->in_cap = need;
            }
            break;
        }
        unsigned char *payload = p + h + (masked ? 4 : 0);
        if (masked) {
            unsigned char *m = p + h;
            for (uint64_t i = 0; i < len; i++)
                payload[i] ^= m[i & 3];
        }

        hdr[0] = (unsigned char) (0x80 | op);
        if (len < 126) {
            hdr[1] = (unsigned char) len;
            hl = 2;
        } else if (len >= 65536) {
            hdr[1] = 127;
            for (int i = 0; i < 8; i++)
                hdr[2 + i] = (unsigned char) (len >> (8 * (7 - i)));
            hl = 10;
        } else {
            hdr[1] = 126;
            hdr[2] = (unsigned char) (len >> 8);
            hdr[3] = (unsigned char) len;
            hl = 4;
        }
        if (op == 0x9) { /* ping: pong */
            hdr[0] = 0x8a;
        }
        if (op != 0xa) { /* a pong needs no answer */
            if (queue_out(c, hdr, hl) < 0 || queue_out(c, payload, len) < 0) {
                return -1;
            }
        }
        off += h + (masked ? 4 : 0) + len;
        if (op == 0x8) {
            flush_out(c);
            return -1; /* closed after echoing the close */
        }
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    return flush_out(c);
}

int
main(int argc, char **argv)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    struct epoll_event ev, evs[MAX_EVENTS];
    struct rlimit rl = { 1 << 17, 1 << 17 };
    int ls, one = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: wsecho PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    setrlimit(RLIMIT_NOFILE, &rl);

    sa.sin_port = htons((uint16_t) atoi(argv[1]));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(ls, (struct sockaddr *) &sa, sizeof(sa)) < 0
        || listen(ls, 4096) < 0) {
        perror("wsecho: bind/listen");
        return 1;
    }
    ep = epoll_create1(0);
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    printf("wsecho listening on 127.0.0.1:%s\n", argv[1]);
    fflush(stdout);

    for (;;) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;

            if (c == NULL) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    c = calloc(1, sizeof(*c));
                    c->fd = fd;
                    c->in_cap = BUF_SIZE;
                    c->out_cap = BUF_SIZE + 16;
                    c->in = malloc(c->in_cap);
                    c->out = malloc(c->out_cap);
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    ev.events = EPOLLIN;
                    ev.data.ptr = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            if (evs[i].events & EPOLLOUT) {
                if (flush_out(c) < 0) {
                    conn_close(c);
                    continue;
                }
                if (c->out_len == 0) {
                    ev.events = EPOLLIN;
                    ev.data.ptr = c;
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t r =
                    read(c->fd, c->in + c->in_len, c->in_cap - 1 - c->in_len);
                if (r <= 0) {
                    if (r < 0 && errno == EAGAIN)
                        continue;
                    conn_close(c);
                    continue;
                }
                c->in_len += (size_t) r;

                int was = c->upgraded;
                int rc = was ? frames(c) : handshake(c);

                /* frames that came with the handshake */
                if (rc == 0 && !was && c->upgraded && c->in_len) {
                    rc = frames(c);
                }
                if (rc < 0) {
                    conn_close(c);
                }
            }
        }
    }
}
