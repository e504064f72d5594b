/*
 * The feed's door: its listen socket, and every connection until its
 * WebSocket handshake is checked (feed.h has the protocol after that).
 *
 * libwebsockets 4.1.6 (Debian 12) cannot be given these connections
 * directly: it drops, without an answer, a handshake whose
 * Sec-WebSocket-Protocol list is over 127 bytes (any list with a
 * "wharf.bearer.<JWT>" token: common/bearer.h) or whose head is over its
 * header buffer (a 5 KB token), and nginx turns the dropped connection
 * into a 502 page. So the door reads the request head itself, up to
 * WHARFD_FEED_HEAD_MAX bytes, and checks path, Origin and credentials
 * (exactly one of Authorization, ?access_token=, the bearer subprotocol;
 * the read scope), answering a refusal in JSON (400, 401, 403, 404, 426,
 * 431) and closing. A head that passes is handed to libwebsockets
 * (lws_adopt_socket_readbuf) rewritten without its credentials: no
 * Authorization, no access_token, no bearer subprotocol, so the answer
 * cannot echo the token, and what is left is short. The client made for
 * it waits in a list keyed by the socket, which feed.c takes in the
 * handshake's callbacks.
 *
 * Everything here runs on the feed thread: the listen socket and the
 * heads being read are libwebsockets "raw file" descriptors of its loop.
 */
#ifndef WHARFD_FEED_DOOR_H
#define WHARFD_FEED_DOOR_H

#include <libwebsockets.h>

#include "auth.h"

/* Largest request head read before the handshake, token included.
 * nginx's large_client_header_buffers (4 x 8 KiB by default) pass heads
 * of up to 32 KiB, so whatever nginx passes is read and answered in JSON;
 * a token over WHARF_TOKEN_MAX then gets 401, a longer head 431. */
#define WHARFD_FEED_HEAD_MAX (32 * 1024)

/* The feed's own subprotocol: the one a browser offers beside its token
 * (a browser fails a handshake that selects none of those it offered). */
#define FEED_PROTOCOL_NAME "wharf-monitoring"

/* Seconds a connection has to send its request head. */
#define WHARFD_FEED_HEAD_TIMEOUT 10

struct wharfd;
struct feed_client;

/* A door descriptor (its libwebsockets user data): the listen socket, or
 * a connection whose head is being read. */
struct feed_door_conn {
    int listener;
    char *buf;
    size_t len, cap;
};

/* The raw protocol of the door's descriptors (an entry of the context's
 * protocol list; its name is "wharf-feed-door"). */
int feed_door_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len);

/* Opens --ws-listen and adds it to the context's loop (whose own listener
 * is off). 0 or -1 (logged). */
int feed_door_open(struct wharfd *wd);

/* The client waiting for the handshake on socket fd (NULL when there is
 * none), taken off the list when take is set. */
struct feed_client *feed_door_waiting(struct wharfd *wd, int fd, int take);

/* Frees every waiting client (at stop). */
void feed_door_close(struct wharfd *wd);

/* feed.c: a client for an admitted handshake, or NULL (out of memory). */
struct feed_client *feed_client_new(struct wharfd *wd,
                                    const struct wharfd_call *call);

/* feed.c: frees a client that never reached the feed's list. */
void feed_client_discard(struct feed_client *c);

#endif
