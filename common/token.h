/*
 * Access tokens: JWTs signed with the orchestrator's ES256 key.
 *
 * Only ES256 is accepted. The algorithm is checked against the token's
 * header after the signature check and refused unless it is ES256, so
 * neither "none" nor the HS256-with-the-public-key confusion can pass:
 * a forged HS256 token may "verify" against the PEM bytes used as an HMAC
 * secret inside libjwt, but it is refused here for its algorithm.
 *
 * Claims: sub (a worker name or "*"), scope (space-separated names, see
 * enum wharf_scope), exp (required), iat, and aud where the token is for
 * one worker's agent.
 *
 * Conventions: functions return 0 on success and -1 on failure, with a
 * static, human-readable reason in *why (never NULL on failure).
 */
#ifndef WHARF_TOKEN_H
#define WHARF_TOKEN_H

#include <stddef.h>
#include <time.h>

#include "name.h"

enum wharf_scope {
    WHARF_SCOPE_INGEST = 1 << 0,
    WHARF_SCOPE_READ = 1 << 1,
    WHARF_SCOPE_CONTROL = 1 << 2,
    WHARF_SCOPE_TERMINAL = 1 << 3,
    WHARF_SCOPE_ADMIN = 1 << 4
};

/* Longest token accepted anywhere, in bytes: bounds header parsing and
 * caches. A wharf token is ~300 bytes; 4 KiB leaves room for growth. */
#define WHARF_TOKEN_MAX 4096

struct wharf_claims {
    char sub[WHARF_NAME_MAX + 1]; /* worker name or "*" */
    char aud[WHARF_NAME_MAX + 1]; /* "" when the token has none */
    unsigned scopes;              /* enum wharf_scope bits */
    time_t exp;
    time_t iat;
};

/* Parses "ingest read ..." into scope bits; unknown names fail. */
int wharf_scopes_parse(const char *s, unsigned *scopes, const char **why);

/* Writes the space-separated names of the scope bits into buf. */
void wharf_scopes_format(unsigned scopes, char *buf, size_t size);

/* Verifies signature (ES256 only), algorithm, expiry (against now) and the
 * shape of every claim; fills *out. */
int wharf_token_verify(const char *token, const unsigned char *pub_pem,
                       size_t pub_len, time_t now, struct wharf_claims *out,
                       const char **why);

/* Signs the claims with the private key (PEM). Returns a malloc'd string
 * the caller frees, or NULL with *why set. */
char *wharf_token_sign(const struct wharf_claims *c,
                       const unsigned char *priv_pem, size_t priv_len,
                       const char **why);

/* Does a verified token allow `scope` on `worker`? The token's sub must be
 * the worker or "*"; for worker == NULL (fleet-wide routes) sub must be "*".
 */
int wharf_claims_allow(const struct wharf_claims *c, const char *worker,
                       unsigned scope);

#endif
