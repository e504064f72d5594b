/*
 * The fast path of the two hot ingest calls, storeLogs and storeErrors:
 * one pass over the request body straight into the store's structs,
 * without building a jansson tree (jansson's parse was ~83% of a log
 * line's instructions in the request thread: a value, a hashtable entry
 * and several mallocs per member; callgrind, bench/ingest/inproc).
 *
 * It is only a shortcut, never a second set of rules. It takes a body
 * only when it is exactly the common shape: one request object, or a
 * batch of up to 64 (what the agent sends), each with a plain id (no
 * notification), method storeLogs or storeErrors before params, and
 * members it knows, each of the expected JSON type and valid by the same
 * checks the jansson path makes (the same helpers where they are shared).
 * Anything else (a syntax error, another method anywhere in the batch, an
 * unknown or repeated member, \u escapes of surrogates or NUL, a real
 * where an integer is expected, nested metadata, any invalid value, a
 * refused token) makes it give the body back untouched to the jansson
 * path, which then answers exactly as it always did, errors included:
 * every call of a body is read and checked before the first is written.
 * The writes then go in order, one per call, as in the jansson path (a
 * failing write answers -32603 for its call, with the same text). So an
 * answer of the fast path is the answer the jansson path would give.
 */
#ifndef WHARFD_INGEST_FAST_H
#define WHARFD_INGEST_FAST_H

#include <stddef.h>

#include "rpc.h"

struct wharfd_call;

/* Returns 1 when it answered (reply set, 200), 0 when the caller must
 * take the jansson path (nothing was stored, reply untouched). */
int wharfd_ingest_fast(struct wharfd_call *call, const char *body, size_t len,
                       struct wharfd_rpc_reply *reply);

#endif
