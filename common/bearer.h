/*
 * Bearer tokens in a WebSocket handshake's Sec-WebSocket-Protocol.
 *
 * A browser cannot set an Authorization header on a WebSocket, and a token
 * in the URL ends up in logs and histories. So a browser offers the
 * subprotocol "wharf.bearer.<JWT>" (the JWT as is: its base64url parts
 * and dots are RFC 7230 token characters) beside the real subprotocol it
 * wants, if any:
 *
 *     Sec-WebSocket-Protocol: wharf-monitoring, wharf.bearer.eyJhbGciOi...
 *
 * The server takes the token from it and never selects it: the answer
 * names the real subprotocol, or none. (Kubernetes does the same with
 * "base64url.bearer.authorization.k8s.io.<token>".) A browser fails a
 * handshake whose answer names no subprotocol when it offered some, so a
 * browser client must offer the real one too.
 */
#ifndef WHARF_BEARER_H
#define WHARF_BEARER_H

#include <stddef.h>

#define WHARF_BEARER_PROTOCOL     "wharf.bearer."
#define WHARF_BEARER_PROTOCOL_LEN (sizeof(WHARF_BEARER_PROTOCOL) - 1)

/*
 * Reads a Sec-WebSocket-Protocol value (list, len bytes; comma-separated,
 * optional white space). Returns how many entries are bearer tokens; the
 * first one's token is *tok (tok_len bytes, pointing into list). When rest
 * is not NULL, the other entries are written there, ", "-separated and
 * NUL-terminated (rest_size bytes; entries that do not fit are dropped).
 */
int wharf_bearer_protocols(const char *list, size_t len, const char **tok,
                           size_t *tok_len, char *rest, size_t rest_size);

#endif
