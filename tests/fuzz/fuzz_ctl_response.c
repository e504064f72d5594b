/* libFuzzer target: wharfctl's handling of the orchestrator's answers,
 * as the commands run it: ctl_main() with a fixed command line, whose
 * HTTP exchanges all answer with fuzzed status codes and bodies. Covered:
 * REST answers (rest.c: JSON or not, {"error":...} bodies, the health,
 * workers and terminals tables), JSON-RPC answers (rpc.c: result, error
 * objects with any code/message/data, non-JSON-RPC bodies), HTTP error
 * messages (http.c: ctl_http_status_error, the first line of a text body,
 * HTML pages), the monitor commands' row extraction and column tables
 * (cmd_monitor.c, output.c), in every --format (json, table, raw).
 *
 * The transport alone is replaced: the target is linked with
 * -Wl,--wrap=ctl_http, so every call the commands make to ctl_http()
 * lands in __wrap_ctl_http() below, which hands back the next answer of
 * the input. Everything after the transport is wharfctl's own code.
 *
 * Input:  CMD FMT ANSWER [SEP ANSWER]...
 *   CMD     one byte, the command line (commands[] below, modulo)
 *   FMT     one byte, --format json/table/raw (modulo 3)
 *   ANSWER  STATUS BODY: one byte for the HTTP status (statuses[],
 *           modulo), then the body; SEP is FUZZ_SEP. A command that asks
 *           more often than there are answers gets the last one again.
 *
 * Checks: exit status 0 or 1 (the command lines are valid), or 2 only
 * when an answer said the values were invalid (HTTP 400, or a body that
 * holds -32602); with --format json and exit 0, what was printed is
 * JSON; and every command ends (logs get --reset pages by key: an answer
 * whose key does not move on ends it). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../cli/ctl.h"
#include "../../cli/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int __wrap_ctl_http(struct ctl *c, const char *method, const char *path,
                    const char *body, struct ctl_response *resp);

#define FUZZ_SEP         "\n--next--\n"
#define FUZZ_ANSWERS_MAX 8

static const char *const *const commands[] = {
    (const char *const[]){ "health", NULL },
    (const char *const[]){ "health", "--worker", "demo", NULL },
    (const char *const[]){ "health", "--worker", "demo", "--check", "agent",
                           NULL },
    (const char *const[]){ "health", "--check", "terminal", NULL },
    (const char *const[]){ "workers", "list", NULL },
    (const char *const[]){ "workers", "get", "demo", NULL },
    (const char *const[]){ "workers", "seen", NULL },
    (const char *const[]){ "terminals", "--status", "healthy", NULL },
    (const char *const[]){ "process", "list", "--worker", "demo", NULL },
    (const char *const[]){ "process", "status", "-i", "web", NULL },
    (const char *const[]){ "process", "restart", "--worker", "demo", "-i",
                           "web", NULL },
    (const char *const[]){ "errors", "list", "--limit", "5", NULL },
    (const char *const[]){ "errors", "list", "--worker", "demo", "--reset",
                           NULL },
    (const char *const[]){ "errors", "stats", NULL },
    (const char *const[]){ "errors", "clear", "--worker", "demo", "--confirm",
                           NULL },
    (const char *const[]){ "logs", "list", "--worker", "demo", NULL },
    (const char *const[]){ "logs", "get", "-i", "web", "--since", "10m", NULL },
    (const char *const[]){ "logs", "get", "-i", "web", "--worker", "demo",
                           "--reset", NULL },
    (const char *const[]){ "logs", "list", "--worker", "demo", "--reset",
                           NULL },
    (const char *const[]){ "logs", "stats", NULL },
    (const char *const[]){ "rpc", "getWorkers", NULL },
    (const char *const[]){ "rpc", "ContainerMonitoringOps.getLogs",
                           "{\"limit\":1}", NULL },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char *const formats[] = { "json", "table", "raw" };

static const long statuses[] = { 200, 201, 204, 301, 400, 401, 403,
                                 404, 405, 409, 413, 415, 429, 500,
                                 502, 503, 504, 0,   99,  999 };

/* The answers of the current input. */
static struct {
    const uint8_t *part[FUZZ_ANSWERS_MAX];
    size_t len[FUZZ_ANSWERS_MAX];
    size_t n, next;
    int invalid; /* an answer said "invalid": exit 2 is right */
} answers;

int
__wrap_ctl_http(struct ctl *c, const char *method, const char *path,
                const char *body, struct ctl_response *resp)
{
    size_t i = answers.next < answers.n ? answers.next++ : answers.n - 1;
    const uint8_t *p = answers.part[i];
    size_t len = answers.len[i];

    (void) method;
    (void) body;
    memset(resp, 0, sizeof(*resp));
    snprintf(resp->url, sizeof(resp->url), "%s%s", c->args.url, path);
    resp->status = statuses[(len > 0 ? p[0] : 0)
                            % (sizeof(statuses) / sizeof(statuses[0]))];
    if (len > 0) {
        p++;
        len--;
    }
    /* as http.c: NUL-terminated, never NULL */
    resp->body = malloc(len + 1);
    if (resp->body == NULL) {
        abort();
    }
    memcpy(resp->body, p, len);
    resp->body[len] = '\0';
    resp->len = len;
    if (resp->status == 400 || memmem(p, len, "-32602", 6) != NULL) {
        answers.invalid = 1;
    }
    return CTL_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    const char *const *cmd;
    const uint8_t *p, *end, *sep;
    char *argv[16], *out;
    size_t outlen;
    int argc = 0, i, rc, fmt;
    FILE *f;
    json_t *printed;

    if (size < 2) {
        return 0;
    }
    if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL) {
        abort();
    }
    cmd = commands[data[0] % NCOMMANDS];
    fmt = data[1] % 3;

    memset(&answers, 0, sizeof(answers));
    p = data + 2;
    end = data + size;
    while (answers.n < FUZZ_ANSWERS_MAX) {
        sep = memmem(p, (size_t) (end - p), FUZZ_SEP, sizeof(FUZZ_SEP) - 1);
        if (sep == NULL || answers.n == FUZZ_ANSWERS_MAX - 1) {
            sep = end;
        }
        answers.part[answers.n] = p;
        answers.len[answers.n++] = (size_t) (sep - p);
        if (sep == end) {
            break;
        }
        p = sep + sizeof(FUZZ_SEP) - 1;
    }

    argv[argc++] = (char *) "wharfctl";
    argv[argc++] = (char *) "--url";
    argv[argc++] = (char *) "http://orchestrator.invalid:8080";
    argv[argc++] = (char *) "--token";
    argv[argc++] = (char *) "fuzz-token";
    argv[argc++] = (char *) "--format";
    argv[argc++] = (char *) formats[fmt];
    for (i = 0; cmd[i] != NULL; i++) {
        argv[argc++] = (char *) cmd[i];
    }
    argv[argc] = NULL;

    out = NULL;
    outlen = 0;
    f = open_memstream(&out, &outlen);
    if (f == NULL) {
        abort();
    }
    rc = ctl_main(argc, argv, f, devnull);
    fclose(f);

    if (rc != CTL_OK && rc != CTL_FAIL
        && !(rc == CTL_USAGE && answers.invalid)) {
        fprintf(stderr, "exit status %d\n", rc);
        abort();
    }
    if (answers.next == 0) {
        abort(); /* the command line did not reach the transport */
    }
    if (rc == CTL_OK && fmt == 0) {
        printed = json_loadb(out, outlen, JSON_DECODE_ANY, NULL);
        if (printed == NULL) {
            fprintf(stderr, "--format json printed: %s\n", out);
            abort();
        }
        json_decref(printed);
    }
    free(out);
    return 0;
}
