/*
 * bench/ingest/pg_ceiling: PostgreSQL's own ingest limit on wharf's
 * schema (a database that wharfd has migrated: the same partitioned
 * container_logs, the same indexes), from a C loop over one libpq
 * connection, without wharfd: the ceiling that bench/ingest/pg.mjs sets
 * wharfd on PostgreSQL against.
 *
 *   pg_ceiling CONNINFO ROWS BATCH GROUP MSG_LEN MODE WORKER
 *
 * ROWS log lines of worker WORKER (instance "raw"), BATCH rows to a
 * statement, GROUP statements to a transaction (wharfd's group commit:
 * with 4 clients a group holds up to 4 batches), messages of MSG_LEN
 * bytes. MODE:
 *   insert  INSERT ... SELECT FROM unnest(arrays): one statement per batch,
 *           the shape of wharfd's own insert (its exactly-once check and
 *           id lock left out: that is wharfd's work, not the database's)
 *   copy    COPY ... FROM STDIN, one per batch
 * created_at is set by the loop (wharfd has the server set it): the
 * same text, in the same partition.
 *
 * Prints one JSON line: {"mode","rows","secs","rowsPerSec"}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

static double
now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

/* A growing text buffer. */
struct buf {
    char *p;
    size_t len, cap;
};

static void
put(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (b->p == NULL) {
            abort();
        }
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void
must(PGconn *c, PGresult *r, ExecStatusType want, const char *what)
{
    if (PQresultStatus(r) != want) {
        fprintf(stderr, "pg_ceiling: %s: %s", what, PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
}

static const char insert_sql[] =
    "INSERT INTO container_logs (worker_name, container_name, instance_id,"
    " process_id, sequence, timestamp, level, message, message_nuls, stream,"
    " source, metadata, created_at)"
    " SELECT $1, NULL, 'raw', NULL, r.seq, r.ts, r.level, r.msg, NULL,"
    " r.stream, NULL, NULL, $2"
    " FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[],"
    " $7::text[]) AS r(seq, ts, level, msg, stream)";

int
main(int argc, char **argv)
{
    const char *ts = "2026-11-27T09:00:00.000Z";
    long long rows, batch, group, seq = 1, i, n, stmts = 0;
    size_t msg_len;
    char created[32], num[32], *msg;
    struct buf seqs = { 0 }, tss = { 0 }, levels = { 0 }, msgs = { 0 },
               streams = { 0 }, copy = { 0 };
    const char *mode, *worker;
    struct tm tm;
    time_t t;
    PGconn *c;
    double t0, secs;

    if (argc != 8) {
        fprintf(stderr,
                "usage: pg_ceiling CONNINFO ROWS BATCH GROUP MSG_LEN "
                "insert|copy WORKER\n");
        return 2;
    }
    rows = atoll(argv[2]);
    batch = atoll(argv[3]);
    group = atoll(argv[4]);
    msg_len = (size_t) atoll(argv[5]);
    mode = argv[6];
    worker = argv[7];
    if (rows < 1 || batch < 1 || group < 1
        || (strcmp(mode, "insert") != 0 && strcmp(mode, "copy") != 0)) {
        fprintf(stderr, "pg_ceiling: bad arguments\n");
        return 2;
    }
    msg = malloc(msg_len + 1);
    memset(msg, 'x', msg_len);
    msg[msg_len] = '\0';

    c = PQconnectdb(argv[1]);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pg_ceiling: %s", PQerrorMessage(c));
        return 1;
    }
    must(c, PQexec(c, "SET TIME ZONE 'UTC'"), PGRES_COMMAND_OK, "set");
    if (strcmp(mode, "insert") == 0) {
        must(c, PQprepare(c, "ins", insert_sql, 7, NULL), PGRES_COMMAND_OK,
             "prepare");
    }
    t = time(NULL);
    gmtime_r(&t, &tm);
    strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%S.000Z", &tm);

    t0 = now_s();
    must(c, PQexec(c, "BEGIN"), PGRES_COMMAND_OK, "begin");
    while (seq <= rows) {
        n = rows - seq + 1 < batch ? rows - seq + 1 : batch;
        if (strcmp(mode, "insert") == 0) {
            const char *vals[7];

            seqs.len = tss.len = levels.len = msgs.len = streams.len = 0;
            puts_(&seqs, "{");
            puts_(&tss, "{");
            puts_(&levels, "{");
            puts_(&msgs, "{");
            puts_(&streams, "{");
            for (i = 0; i < n; i++) {
                const char *sep = i ? "," : "";

                snprintf(num, sizeof(num), "%s%lld", sep, seq + i);
                puts_(&seqs, num);
                puts_(&tss, sep);
                puts_(&tss, ts);
                puts_(&levels, sep);
                puts_(&levels, "info");
                puts_(&msgs, sep);
                puts_(&msgs, "\"");
                put(&msgs, msg, msg_len);
                puts_(&msgs, "\"");
                puts_(&streams, sep);
                puts_(&streams, "stdout");
            }
            puts_(&seqs, "}");
            puts_(&tss, "}");
            puts_(&levels, "}");
            puts_(&msgs, "}");
            puts_(&streams, "}");
            vals[0] = worker;
            vals[1] = created;
            vals[2] = seqs.p;
            vals[3] = tss.p;
            vals[4] = levels.p;
            vals[5] = msgs.p;
            vals[6] = streams.p;
            must(c, PQexecPrepared(c, "ins", 7, vals, NULL, NULL, 0),
                 PGRES_COMMAND_OK, "insert");
        } else {
            must(c,
                 PQexec(c,
                        "COPY container_logs (worker_name, instance_id,"
                        " sequence, timestamp, level, message, stream,"
                        " created_at) FROM STDIN"),
                 PGRES_COPY_IN, "copy");
            copy.len = 0;
            for (i = 0; i < n; i++) {
                puts_(&copy, worker);
                puts_(&copy, "\traw\t");
                snprintf(num, sizeof(num), "%lld", seq + i);
                puts_(&copy, num);
                puts_(&copy, "\t");
                puts_(&copy, ts);
                puts_(&copy, "\tinfo\t");
                put(&copy, msg, msg_len);
                puts_(&copy, "\tstdout\t");
                puts_(&copy, created);
                puts_(&copy, "\n");
            }
            if (PQputCopyData(c, copy.p, (int) copy.len) != 1
                || PQputCopyEnd(c, NULL) != 1) {
                fprintf(stderr, "pg_ceiling: copy: %s", PQerrorMessage(c));
                return 1;
            }
            must(c, PQgetResult(c), PGRES_COMMAND_OK, "copy end");
        }
        seq += n;
        if (++stmts % group == 0 || seq > rows) {
            must(c, PQexec(c, "COMMIT"), PGRES_COMMAND_OK, "commit");
            if (seq <= rows) {
                must(c, PQexec(c, "BEGIN"), PGRES_COMMAND_OK, "begin");
            }
        }
    }
    secs = now_s() - t0;
    printf(
        "{\"mode\":\"%s\",\"rows\":%lld,\"secs\":%.6f,\"rowsPerSec\":%.1f}\n",
        mode, rows, secs, (double) rows / secs);
    PQfinish(c);
    free(msg);
    free(seqs.p);
    free(tss.p);
    free(levels.p);
    free(msgs.p);
    free(streams.p);
    free(copy.p);
    return 0;
}
