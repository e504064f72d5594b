/*
 * The orchestrators an agent ships to, and which one it uses now.
 *
 * An agent may know several orchestrator URLs (gateways behind which the
 * same wharfd pool and database sit; --orchestrator repeated or
 * comma-separated). It ships through one at a time, the current one:
 * the first of the list while it answers.
 *
 * - Failover: a request that fails in a way another gateway may not
 *   (no connection, a timeout, an HTTP 5xx, an answer that is not JSON)
 *   moves the current URL to the next in the list, if that request was
 *   sent to the current one (requests in flight to a URL already left
 *   move nothing). The retry goes at once while the current URL has not
 *   failed in this outage; once each URL failed, retries wait their
 *   exponential backoff (ship.h) and go round the list. Any answer ends
 *   the outage.
 * - Nothing is lost or stored twice: a failed request keeps its calls and
 *   sends them again to the URL that is current then; storeLogs is
 *   idempotent per (worker, instance, sequence), so a batch whose answer
 *   was lost with a gateway stores once however often it is resent.
 * - Failback: the first URL is the preferred one (the nearest gateway,
 *   say). --failback-ms after the agent left it, the agent probes it with
 *   a heartbeat on a connection of its own, and makes it current again
 *   when that is answered; otherwise it probes again a period later. The
 *   probe carries no data, so a preferred gateway that hangs costs no
 *   batch its timeout.
 *
 * This file is the decision alone (pure, unit-tested); ship.c runs the
 * requests and the probe.
 */
#ifndef AGENT_SHIP_URLS_H
#define AGENT_SHIP_URLS_H

#include <stdint.h>

#include "config.h"

struct agent_ship_urls {
    char *rpc[AGENT_ORCHESTRATORS_MAX]; /* "<URL>/rpc" */
    unsigned n;
    unsigned cur;       /* index of the URL requests go to now */
    unsigned failed;    /* bit i: URL i failed in this outage */
    uint64_t failovers; /* times cur moved away after a failure */
};

/* Builds each URL's /rpc address (a trailing '/' of a URL is dropped).
 * 0, or -1 when out of memory. */
int agent_ship_urls_init(struct agent_ship_urls *u,
                         const struct agent_strref *list, unsigned n);
void agent_ship_urls_free(struct agent_ship_urls *u);

/* A request sent to URL idx failed so that another URL may answer.
 * Returns 1 when its retry may go at once (the URL now current has not
 * failed in this outage), 0 when it waits its backoff. */
int agent_ship_urls_failed(struct agent_ship_urls *u, unsigned idx);

/* Some URL answered: the outage, if any, is over. */
void agent_ship_urls_answered(struct agent_ship_urls *u);

/* The preferred URL answered a probe: it is current again. */
void agent_ship_urls_failback(struct agent_ship_urls *u);

#endif
