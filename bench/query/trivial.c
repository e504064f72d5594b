/*
 * The ceiling of bench/query: a trivial libfcgi responder behind the same
 * nginx. THREADS threads loop on FCGX_Accept_r over one listen socket and
 * answer every request with a fixed small JSON body; no database, no
 * parsing. Prints "trivial listening on ADDR" when ready.
 *
 *   trivial 127.0.0.1:PORT THREADS
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

static void *
serve(void *arg)
{
    int listen_fd = *(int *) arg;

    static const char body[] =
        "{\"data\":[],\"pagination\":{\"limit\":100,"
        "\"offset\":0,\"total\":null,\"hasMore\":false}}";
    FCGX_Request r;
    char out[512];
    int n;

    FCGX_InitRequest(&r, listen_fd, 0);
    while (FCGX_Accept_r(&r) == 0) {
        /* libfcgi's own printf knows no %zu: format here. */
        n = snprintf(out, sizeof(out),
                     "Status: 200 OK\r\nContent-Type: "
                     "application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     sizeof(body) - 1, body);
        FCGX_PutStr(out, n, r.out);
        FCGX_Finish_r(&r);
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    pthread_t *t;
    int i, n, listen_fd;

    if (argc != 3) {
        fprintf(stderr, "usage: trivial ADDR THREADS\n");
        return 2;
    }
    n = atoi(argv[2]);
    FCGX_Init();
    listen_fd = FCGX_OpenSocket(argv[1], 128);
    if (listen_fd < 0 || n < 1) {
        return 1;
    }
    t = calloc((size_t) n, sizeof(*t));
    for (i = 0; i < n; i++) {
        pthread_create(&t[i], NULL, serve, &listen_fd);
    }
    printf("trivial listening on %s\n", argv[1]);
    fflush(stdout);
    for (i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
    }
    return 0;
}
