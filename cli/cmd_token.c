/*
 * wharfctl token issue --sub NAME --scope "..." [--ttl 1h] [--aud NAME]
 *                      [--key FILE]
 *
 * Mints an ES256 access token with the orchestrator's private key, through
 * common/token.c (the one place that knows the claims). Nothing is sent
 * anywhere: this command works offline, on the orchestrator's host.
 */
#include "ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "keys.h"
#include "keys_load.h"
#include "output.h"
#include "token.h"

/* Longest lifetime a token may be given: a year and a day. */
#define CTL_TOKEN_TTL_MAX     (366LL * 86400)
#define CTL_TOKEN_TTL_DEFAULT "1h"
/* Largest key file read; a P-256 PEM key is ~250 bytes. */
#define CTL_KEY_FILE_MAX 16384

static const char token_usage[] =
    "usage: wharfctl token issue --sub NAME --scope \"SCOPES\" [--ttl 1h]\n"
    "                            [--aud NAME] [--key FILE]\n"
    "\n"
    "Mints an access token (ES256 JWT) signed with the orchestrator's private\n"
    "key. Offline: nothing is sent.\n"
    "\n"
    "  --sub NAME      a worker name, or '*' for every worker\n"
    "  --scope SCOPES  space-separated: ingest read control terminal admin\n"
    "  --ttl DURATION  lifetime: 90s, 15m, 12h, 7d (at most 366d; default 1h)\n"
    "  --aud NAME      for one worker's agent only (the module sets this on\n"
    "                  its own tokens)\n"
    "  --key FILE      the private key (default $WHARF_KEY; made by wharfctl\n"
    "                  keys init)\n"
    "\n"
    "--format raw prints the token alone, for scripts:\n"
    "  export WHARF_TOKEN=$(wharfctl token issue --format raw --key "
    "k/private.pem \\\n"
    "      --sub '*' --scope 'read control terminal')\n";

static int
token_issue(struct ctl *c, int argc, char **argv)
{
    const char *sub = NULL, *scope = NULL, *ttl = CTL_TOKEN_TTL_DEFAULT;
    const char *aud = NULL, *key = getenv("WHARF_KEY"), *why = NULL, *pos[1];
    const struct ctl_flag flags[] = {
        { "--sub", 1, &sub, NULL }, { "--scope", 1, &scope, NULL },
        { "--ttl", 1, &ttl, NULL }, { "--aud", 1, &aud, NULL },
        { "--key", 1, &key, NULL }, { NULL, 0, NULL, NULL }
    };
    struct wharf_claims claims;
    char scopes_text[128], expires[32], *pem, *token, *raw;
    long long secs;
    size_t pem_len;
    struct tm tm;
    json_t *v;
    char kid[WHARF_KID_LEN + 1];
    int rc, npos;

    rc = ctl_flags_parse(c, "token issue", argc, argv, flags, pos, &npos, 0);
    if (rc == CTL_HELP) {
        fputs(token_usage, c->out);
        return CTL_OK;
    }
    if (rc != CTL_OK) {
        return rc;
    }
    memset(&claims, 0, sizeof(claims));
    if (sub == NULL || scope == NULL) {
        return ctl_error(c, CTL_USAGE,
                         "token issue: --sub and --scope are "
                         "required (see wharfctl token issue --help)");
    }
    if (strcmp(sub, "*") != 0 && !wharf_name_valid(sub, strlen(sub))) {
        return ctl_error(c, CTL_USAGE,
                         "token issue: --sub '%s' is neither a "
                         "worker name (^[a-z0-9][a-z0-9-]{0,62}$) nor '*'",
                         sub);
    }
    if (aud != NULL && !wharf_name_valid(aud, strlen(aud))) {
        return ctl_error(c, CTL_USAGE,
                         "token issue: --aud '%s' is not a "
                         "worker name",
                         aud);
    }
    if (wharf_scopes_parse(scope, &claims.scopes, &why) != 0
        || claims.scopes == 0) {
        return ctl_error(c, CTL_USAGE, "token issue: --scope \"%s\": %s", scope,
                         why != NULL ? why
                                     : "no scope (known: ingest "
                                       "read control terminal admin)");
    }
    if (ctl_parse_duration(ttl, CTL_TOKEN_TTL_MAX, &secs) != 0) {
        return ctl_error(c, CTL_USAGE,
                         "token issue: --ttl %s: not a duration "
                         "from 1s to 366d (e.g. 90s, 15m, 12h, 7d)",
                         ttl);
    }
    if (key == NULL || *key == '\0') {
        return ctl_error(c, CTL_USAGE,
                         "token issue: no private key: pass "
                         "--key FILE or set WHARF_KEY (wharfctl keys init "
                         "makes one)");
    }
    pem = (char *) wharf_read_small_file(key, CTL_KEY_FILE_MAX, &pem_len);
    if (pem == NULL) {
        return ctl_error(c, CTL_FAIL,
                         "token issue: cannot read the key %s: "
                         "%s",
                         key, strerror(errno));
    }
    if (wharf_key_kid((const unsigned char *) pem, pem_len, 1, kid, &why)
        != 0) {
        kid[0] = '\0'; /* signing below says what is wrong */
    }

    snprintf(claims.sub, sizeof(claims.sub), "%s", sub);
    if (aud != NULL) {
        snprintf(claims.aud, sizeof(claims.aud), "%s", aud);
    }
    claims.iat = time(NULL);
    claims.exp = claims.iat + (time_t) secs;
    token =
        wharf_token_sign(&claims, (const unsigned char *) pem, pem_len, &why);
    memset(pem, 0, pem_len);
    free(pem);
    if (token == NULL) {
        return ctl_error(c, CTL_FAIL, "token issue: %s: %s", key, why);
    }

    wharf_scopes_format(claims.scopes, scopes_text, sizeof(scopes_text));
    gmtime_r(&claims.exp, &tm);
    strftime(expires, sizeof(expires), "%Y-%m-%dT%H:%M:%SZ", &tm);
    v = json_pack("{s:s,s:s,s:s,s:s*,s:I,s:I,s:s,s:s}", "token", token, "sub",
                  claims.sub, "scope", scopes_text, "aud", aud, "iat",
                  (json_int_t) claims.iat, "exp", (json_int_t) claims.exp,
                  "expires", expires, "kid", kid);
    raw = malloc(strlen(token) + 2);
    if (v == NULL || raw == NULL) {
        free(raw);
        json_decref(v);
        free(token);
        return ctl_error(c, CTL_FAIL, "out of memory");
    }
    sprintf(raw, "%s\n", token);
    if (c->args.format == CTL_FORMAT_TABLE) {
        static const char *const cols[] = { "sub",     "scope", "aud",
                                            "expires", "token", NULL };
        ctl_print_table(c, v, cols);
    } else {
        ctl_output(c, v, raw, strlen(raw), NULL);
    }
    free(raw);
    json_decref(v);
    free(token);
    return CTL_OK;
}

int
ctl_cmd_token(struct ctl *c, int argc, char **argv)
{
    if (argc < 2) {
        return ctl_error(c, CTL_USAGE,
                         "token: missing subcommand: issue (see "
                         "wharfctl token --help)");
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(token_usage, c->out);
        return CTL_OK;
    }
    if (strcmp(argv[1], "issue") == 0) {
        return token_issue(c, argc - 1, argv + 1);
    }
    return ctl_error(c, CTL_USAGE,
                     "token: unknown subcommand '%s' (see "
                     "wharfctl token --help)",
                     argv[1]);
}
