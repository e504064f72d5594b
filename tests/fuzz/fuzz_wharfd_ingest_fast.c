/* libFuzzer target, differential: wharfd's storeLogs/storeErrors fast path
 * (fcgi_backend/ingest_fast.c) against the jansson path. Two stores get
 * the same inputs; whenever the fast path takes a body, the body must be
 * JSON jansson accepts and the jansson path must answer it byte for byte
 * the same on the other store (whose rows then stay the same as well). A
 * body the fast path gives back is applied to neither. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../../fcgi_backend/ingest_fast.h"
#include "../../fcgi_backend/methods.h"
#include "../../fcgi_backend/wharfd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer calls the target for ever in one process: the two stores are
 * opened once and live as long as it. */
static struct wharfd fz_jansson, fz_fast;
static int fz_ready;
static char fz_path[2][96];

/* The databases go with the process (libFuzzer ends with exit()). */
static void
fz_cleanup(void)
{
    static const char *const ext[] = { "", "-wal", "-shm" };
    char p[112];
    size_t i, e;

    for (i = 0; i < 2; i++) {
        for (e = 0; e < 3 && fz_path[i][0] != '\0'; e++) {
            snprintf(p, sizeof(p), "%s%s", fz_path[i], ext[e]);
            unlink(p);
        }
    }
}

static void
fz_open(struct wharfd *wd, const char *tag)
{
    static int k;
    char *argv[] = { "wharfd", "--listen", "127.0.0.1:1", "--db",  NULL,
                     "--auth", "off",      "--log-level", "error", NULL };
    char err[256];

    snprintf(fz_path[k], sizeof(fz_path[k]), "/tmp/wharf-fuzz-fast-%d-%s.db",
             (int) getpid(), tag);
    argv[4] = fz_path[k++];
    if (wharfd_config_load(&wd->config, 9, argv, err, sizeof(err)) != 0
        || wharfd_auth_init(&wd->auth, NULL, 0, 1) != 0
        || wharfd_store_open(&wd->store, argv[4]) != 0) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wharfd_rpc_reply ra, rb;
    struct wharfd_call ca, cb;
    json_t *doc;

    if (!fz_ready) {
        fz_open(&fz_jansson, "jansson");
        fz_open(&fz_fast, "fast");
        atexit(fz_cleanup);
        fz_ready = 1;
    }
    memset(&cb, 0, sizeof(cb));
    memset(&rb, 0, sizeof(rb));
    wharfd_auth_request(&fz_fast, &cb, NULL, NULL, NULL);
    if (!wharfd_ingest_fast(&cb, (const char *) data, size, &rb)) {
        return 0;
    }
    doc = json_loadb((const char *) data, size,
                     JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    if (doc == NULL) {
        abort(); /* the fast path took what jansson refuses */
    }
    json_decref(doc);
    memset(&ca, 0, sizeof(ca));
    wharfd_auth_request(&fz_jansson, &ca, NULL, NULL, NULL);
    wharfd_rpc_handle(wharfd_methods_lookup, &ca, (const char *) data, size,
                      &ra);
    if (ra.status != rb.status || ra.len != rb.len
        || (ra.len > 0 && memcmp(ra.body, rb.body, ra.len) != 0)) {
        fprintf(stderr, "jansson: %.*s\nfast:    %.*s\n", (int) ra.len,
                ra.body ? ra.body : "", (int) rb.len, rb.body ? rb.body : "");
        abort();
    }
    wharfd_rpc_reply_free(&ra);
    wharfd_rpc_reply_free(&rb);
    return 0;
}
