/*
 * Access tokens: JWTs (RFC 7519) in the JWS compact form (RFC 7515),
 * signed ES256 with one of the orchestrator's keys (keys.h). The one
 * verifier of wharf: the nginx module, wharfd and the agent all call
 * wharf_token_verify, so a claim means the same everywhere.
 *
 * Verified here (docs/SECURITY.md, "Token rules"), each refusal with its
 * reason:
 *
 *   form     three base64url parts (canonical, no padding), at most
 *            WHARF_TOKEN_MAX bytes; header and payload JSON objects
 *            without duplicate members
 *   alg      exactly "ES256". Not "none", not HS256 (the classic forgery
 *            with the public key as an HMAC secret), nothing else: the
 *            verifier only knows ECDSA P-256 with SHA-256.
 *   typ      absent, or "JWT" (any case, "application/" prefix allowed,
 *            RFC 7515 section 4.1.9). Another type ("at+jwt",
 *            "dpop+jwt", ...) is another kind of token, made for another
 *            profile, perhaps by another system sharing the key: refused
 *            (RFC 8725 section 3.11).
 *   crit     refused whatever it names: wharf understands no JWS
 *            extension, and RFC 7515 section 4.1.11 says a token whose
 *            critical extension is not understood is invalid.
 *   kid      a string naming one of the configured keys: only that key is
 *            tried; a kid that names none is refused ("unknown kid": a
 *            retired key, or a key this part was never given). Without a
 *            kid, each configured key is tried: tokens minted before keys
 *            had ids keep working until their key is retired, which is
 *            the same trust (every configured key is trusted) at the cost
 *            of one more ECDSA check per key for a bad token.
 *   exp      required, a number: refused from exp + WHARF_TOKEN_LEEWAY on
 *   nbf      optional, a number: refused before nbf - WHARF_TOKEN_LEEWAY
 *   iat      optional, a number: refused when after now + the leeway
 *            (issued in the future: a wrong clock, or a forged date)
 *   aud      optional, a worker name or a non-empty array of them
 *            (RFC 7519 section 4.1.3). A verifier with an audience (the
 *            agent: its worker name) refuses a token without aud or whose
 *            aud does not name it; a verifier without one (the gateway,
 *            wharfd) refuses every token with an aud: such a token was
 *            made for one agent and opens nothing else.
 *   sub      required: a worker name or "*"
 *   scope    required: space-separated names of enum wharf_scope
 *
 * Other claims and header members are ignored (jku, jwk, x5u, x5c
 * included: the key comes from the configuration, never from the token).
 *
 * Conventions: functions return 0 on success and -1 on failure, with a
 * static, human-readable reason in *why (never NULL on failure).
 */
#ifndef WHARF_TOKEN_H
#define WHARF_TOKEN_H

#include <stddef.h>
#include <time.h>

#include "keys.h"
#include "name.h"

enum wharf_scope {
    WHARF_SCOPE_INGEST = 1 << 0,
    WHARF_SCOPE_READ = 1 << 1,
    WHARF_SCOPE_CONTROL = 1 << 2,
    WHARF_SCOPE_TERMINAL = 1 << 3,
    WHARF_SCOPE_ADMIN = 1 << 4
};

/* Longest token accepted anywhere, in bytes: bounds header parsing and
 * caches. A wharf token is ~350 bytes; 4 KiB leaves room for growth. */
#define WHARF_TOKEN_MAX 4096

/* Clock skew tolerated between the part that minted a token and the one
 * that checks it, in seconds, on exp, nbf and iat alike. The agents run
 * on other machines than the gateway; NTP keeps clocks within a second,
 * a clock without it drifts by seconds a day. 30 s tolerates a badly kept
 * clock and keeps an expired token usable for at most half a minute. */
#define WHARF_TOKEN_LEEWAY 30

/* Most audiences in an aud array. */
#define WHARF_AUD_MAX 16

struct wharf_claims {
    char sub[WHARF_NAME_MAX + 1]; /* worker name or "*" */
    /* Signing: the audience, "" for none. Verified: the audience that
     * matched the verifier's, "" when it has none. */
    char aud[WHARF_NAME_MAX + 1];
    unsigned scopes; /* enum wharf_scope bits */
    time_t exp;
    time_t iat; /* 0 when absent */
    time_t nbf; /* 0 when absent */
};

/* Parses "ingest read ..." into scope bits; unknown names fail. */
int wharf_scopes_parse(const char *s, unsigned *scopes, const char **why);

/* Writes the space-separated names of the scope bits into buf. */
void wharf_scopes_format(unsigned scopes, char *buf, size_t size);

/* wharf_token_verify's answer for a valid token made for another
 * audience: callers may answer it apart (the agent says 403). */
#define WHARF_TOKEN_OTHER_AUDIENCE (-2)

/*
 * Verifies token (len bytes, need not be NUL-terminated) against the key
 * set, at time now, for audience (NULL: this verifier has none), by every
 * rule above; fills *out. Returns 0, -1 (invalid), or
 * WHARF_TOKEN_OTHER_AUDIENCE (signed and current, but its aud names
 * someone else, or it has one where this verifier has none, or none where
 * this verifier has one); *why says which.
 */
int wharf_token_verify(const char *token, size_t len,
                       const struct wharf_keys *keys, const char *audience,
                       time_t now, struct wharf_claims *out, const char **why);

/* Whether claims that verified are still valid at now (for caches of
 * verified tokens: exp with the leeway; nbf was checked when verified). */
int wharf_claims_current(const struct wharf_claims *c, time_t now);

/*
 * Signs the claims with the private key (PEM, EC P-256): header
 * {"alg":"ES256","typ":"JWT","kid":KID} with the key's kid (keys.h), then
 * sub, scope, exp, iat and nbf when set, aud when set. Returns a malloc'd
 * string the caller frees, or NULL with *why set.
 */
char *wharf_token_sign(const struct wharf_claims *c,
                       const unsigned char *priv_pem, size_t priv_len,
                       const char **why);

/* Does a verified token allow `scope` on `worker`? The token's sub must be
 * the worker or "*"; for worker == NULL (fleet-wide routes) sub must be "*".
 */
int wharf_claims_allow(const struct wharf_claims *c, const char *worker,
                       unsigned scope);

#endif
