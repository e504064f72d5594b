/*
 * WebSocket Origin checks, shared by the agent (its /terminal and
 * /websocket) and wharfd (its live feed): a browser page may open a
 * WebSocket only from an allowed origin.
 *
 * The rule is the same in both: a request without Origin is not from a
 * browser page and passes; with Origin, it must be in the configured list
 * (--allowed-origins, --ws-origins) or, when no list is configured, name the
 * same host as the request's Host header: the page came from the server
 * that the browser addressed (the gateway, whose nginx forwards the Host the
 * browser sent: conf/wharf.conf). This file must stay free of any library.
 */
#ifndef WHARF_ORIGIN_H
#define WHARF_ORIGIN_H

/* Does an Origin value ("scheme://host[:port]") name host, HOST[:PORT] as
 * in a Host header? Case-insensitive; the scheme is not compared. */
int wharf_origin_same_host(const char *origin, const char *host);

/* Is origin one of a list separated by commas and/or spaces?
 * Case-insensitive (browsers send scheme and host in lower case; an
 * operator may not write them so). */
int wharf_origin_in_list(const char *origin, const char *list);

/* The whole rule: 1 when a WebSocket upgrade with this Origin (NULL or ""
 * when the request had none) may proceed, given the configured list (NULL
 * or "" when none) and the request's Host (NULL or "" when none). */
int wharf_origin_allowed(const char *origin, const char *list,
                         const char *host);

#endif
