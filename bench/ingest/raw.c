/*
 * The raw limit of wharf's own log schema: a plain C loop of prepared
 * INSERTs into container_logs, in transactions of --txn rows, with the
 * pragmas wharfd uses (WAL, synchronous=NORMAL, 16 MiB cache), rows shaped
 * as bench/ingest/run.mjs sends them. Prints one JSON line.
 *
 *   raw DB_PATH SCHEMA_SQL ROWS TXN MESSAGE_BYTES
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    long n;
    char *s;

    if (f == NULL) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    s = malloc((size_t) n + 1);
    if (s && fread(s, 1, (size_t) n, f) != (size_t) n) {
        free(s);
        s = NULL;
    }
    if (s) {
        s[n] = '\0';
    }
    fclose(f);
    return s;
}

static int
exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "raw: %s: %s\n", sql, err);
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct timespec t0, t1;
    long rows, txn, msglen, i;
    char *schema, *msg, ts[32], now[32];
    sqlite3_stmt *st;
    sqlite3 *db;
    double secs;

    if (argc != 6) {
        fprintf(stderr, "usage: raw DB SCHEMA_SQL ROWS TXN MESSAGE_BYTES\n");
        return 2;
    }
    rows = atol(argv[3]);
    txn = atol(argv[4]);
    msglen = atol(argv[5]);
    schema = slurp(argv[2]);
    msg = malloc((size_t) msglen + 1);
    if (schema == NULL || msg == NULL || rows <= 0 || txn <= 0) {
        fprintf(stderr, "raw: bad arguments\n");
        return 2;
    }
    memset(msg, 'x', (size_t) msglen);
    msg[msglen] = '\0';
    if (sqlite3_open(argv[1], &db) != SQLITE_OK
        || exec(db, "PRAGMA journal_mode=WAL")
        || exec(db, "PRAGMA synchronous=NORMAL")
        || exec(db, "PRAGMA cache_size=-16384")
        || exec(db, "PRAGMA temp_store=MEMORY") || exec(db, schema)) {
        return 1;
    }
    if (sqlite3_prepare_v2(
            db,
            "INSERT INTO container_logs (worker_name, container_name, "
            "instance_id,"
            " process_id, sequence, timestamp, level, message, stream, source,"
            " metadata, created_at) VALUES (?1, NULL, ?2, NULL, ?3, ?4, "
            "'info', ?5,"
            " 'stdout', NULL, NULL, ?6)"
            " ON CONFLICT (worker_name, instance_id, sequence) DO NOTHING",
            -1, &st, NULL)
        != SQLITE_OK) {
        fprintf(stderr, "raw: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    strcpy(ts, "2026-11-27T09:00:00.000Z");
    strcpy(now, "2026-11-27T09:00:00.000Z");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < rows; i++) {
        if (i % txn == 0 && exec(db, "BEGIN")) {
            return 1;
        }
        sqlite3_bind_text(st, 1,
                          (i & 3) == 0       ? "bench-0"
                              : (i & 3) == 1 ? "bench-1"
                              : (i & 3) == 2 ? "bench-2"
                                             : "bench-3",
                          -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, "app", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, i / 4 + 1);
        sqlite3_bind_text(st, 4, ts, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, msg, (int) msglen, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, now, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            fprintf(stderr, "raw: %s\n", sqlite3_errmsg(db));
            return 1;
        }
        sqlite3_reset(st);
        if ((i + 1) % txn == 0 || i + 1 == rows) {
            if (exec(db, "COMMIT")) {
                return 1;
            }
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double) (t1.tv_sec - t0.tv_sec)
        + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("{\"rows\":%ld,\"txn\":%ld,\"seconds\":%.3f,\"rowsPerSec\":%.0f}\n",
           rows, txn, secs, (double) rows / secs);
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(schema);
    free(msg);
    return 0;
}
