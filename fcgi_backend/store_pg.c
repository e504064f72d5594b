/*
 * The PostgreSQL engine: connections, the writer's group commit in
 * pipeline mode, the reader pool, open and close (design in store_pg.h).
 */
#include "store_pg.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "migrate.h"

#define LAST_ID_TAKEN WHARFD_PG_LAST_ID_TAKEN
/* The writer's whole SQL vocabulary, by enum wharfd_pgw_id, with the
 * types of its parameters. */
static const struct {
    const char *sql;
    int n;
    Oid types[16];
} pgw_sql[WHARFD_PGW__COUNT] = {
    /* The logs of a group go in one pipeline, one round trip (store_pg.h):
     * BEGIN, LOG_LOCK, LOG_INSTANCES, LOG_MARK, then per storeLogs call
     * LOG_INSERT and LOG_AFTER, then the NOTIFYs (LOG_NOTIFY among them)
     * and COMMIT. Nothing the server answers is needed to send the next
     * statement, so no client round trip happens under the locks.
     *
     * Ids are taken freely (the sequence, by every wharfd at once); what
     * keeps readers from paging past a row still in flight is the
     * transaction's marker, taken by LOG_MARK before its first id: a
     * shared advisory lock on the bigint key "last id taken + 1", a lower
     * bound of every id the transaction will take, held to its end. A
     * reader reads the sequence first and the markers second (LOG_SEEN in
     * store_pg_query.c) and reads no row above the lowest marker: see
     * store_pg.h, "The watermark".
     *
     * Exactly-once is kept per instance: LOG_INSTANCES takes a
     * transaction lock per instance the group writes (their keys hashed
     * into WHARFD_PG_INSTANCE_KEYS, sorted, so two groups never wait on
     * each other in a cycle), and LOG_INSERT stores the rows of the call
     * that are not stored yet: h is the instance's highest stored
     * sequence before the call (one index read per partition); a row
     * above it is new, and only a row at or below it (a resend, a line
     * out of order) is looked up. Rows repeated inside the call were
     * dropped by the writer. created_at is the database's clock, read
     * once per statement. The arrays are one per column ($5..$13).
     *
     * LOG_AFTER: the ids the call's rows can have, (mark, last]: mark is
     * the last id taken by anyone before the insert, last after it (other
     * wharfds' ids fall in between, never another writer's of this
     * instance: the lock); the last id this session took (the call's
     * highest when it stored a row); the instance's highest stored sequence
     * (getLastSequence's answer, in the reply); and the mark moved on.
     * When the insert stored fewer rows than were sent (a resend), the
     * writer reads back which, after the COMMIT, by that range
     * (LOG_STORED; store_pg_write.c): a call of new rows costs no lookup
     * of its rows at all.
     *
     * Not one INSERT ... RETURNING sequence, id: on the partitioned table
     * RETURNING made the insert cost 1.8x as much in the server (500
     * rows: 9.0 ms against 4.8 ms, medians of 35; docs/BENCHMARKS.md,
     * "PostgreSQL"), and the answer is known without it. */
    [WHARFD_PGW_LOG_MARK] = { "SELECT pg_advisory_xact_lock_shared(s.x),"
                              " set_config('wharf.log_first', s.x::text, true),"
                              " set_config('wharf.log_mark', (s.x - 1)::text,"
                              " true)"
                              " FROM (SELECT " LAST_ID_TAKEN " + 1 AS x"
                              " OFFSET 0) s",
                              0,
                              { 0 } },
    [WHARFD_PGW_LOG_INSTANCES] = { "SELECT pg_advisory_xact_lock("
                                   "2003329395, k::integer)"
                                   " FROM unnest($1::bigint[]) k",
                                   1,
                                   { WHARFD_PG_INT8ARR } },
    [WHARFD_PGW_LOG_INSERT] = { "WITH h AS (SELECT coalesce(max(sequence), 0)"
                                " AS hwm FROM container_logs"
                                " WHERE worker_name = $1"
                                " AND instance_id = $3)"
                                " INSERT INTO container_logs"
                                " (worker_name, container_name, instance_id,"
                                " process_id, sequence, timestamp, level,"
                                " message, message_nuls, stream, source,"
                                " metadata, created_at)"
                                " SELECT $1, $2, $3, coalesce(r.pid, $4),"
                                " r.seq, r.ts, r.level, r.msg,"
                                " r.nuls::integer[], r.stream, r.source,"
                                " r.meta,"
                                " (SELECT to_char(clock_timestamp()"
                                " AT TIME ZONE 'UTC',"
                                " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"
                                " FROM unnest($5::bigint[], $6::text[],"
                                " $7::text[], $8::text[], $9::text[],"
                                " $10::text[], $11::text[], $12::text[],"
                                " $13::text[])"
                                " AS r(seq, ts, level, msg, nuls, stream,"
                                " source, meta, pid), h"
                                " WHERE r.seq > h.hwm"
                                " OR (SELECT 1 FROM container_logs l"
                                " WHERE l.worker_name = $1"
                                " AND l.instance_id = $3"
                                " AND l.sequence = r.seq LIMIT 1) IS NULL",
                                13,
                                { WHARFD_PG_TEXT, WHARFD_PG_TEXT,
                                  WHARFD_PG_TEXT, WHARFD_PG_TEXT,
                                  WHARFD_PG_INT8ARR, WHARFD_PG_TEXTARR,
                                  WHARFD_PG_TEXTARR, WHARFD_PG_TEXTARR,
                                  WHARFD_PG_TEXTARR, WHARFD_PG_TEXTARR,
                                  WHARFD_PG_TEXTARR, WHARFD_PG_TEXTARR,
                                  WHARFD_PG_TEXTARR } },
    [WHARFD_PGW_LOG_AFTER] = { "SELECT s.mark, s.last,"
                               " currval('container_logs_id_seq'),"
                               " (SELECT coalesce(max(sequence), 0)"
                               " FROM container_logs WHERE worker_name = $1"
                               " AND instance_id = $2),"
                               " set_config('wharf.log_mark', s.last::text,"
                               " true)"
                               " FROM (SELECT current_setting('wharf.log_mark')"
                               "::bigint AS mark, " LAST_ID_TAKEN " AS last) s",
                               2,
                               { WHARFD_PG_TEXT, WHARFD_PG_TEXT } },
    /* After the COMMIT, in its own transaction: the sequences a call
     * stored when it stored fewer than it sent, by its ids' range (the
     * instance's lock kept every other writer of it out of that range;
     * a later one's ids are above it). */
    [WHARFD_PGW_LOG_STORED] = { "SELECT sequence FROM container_logs"
                                " WHERE worker_name = $1 AND instance_id = $2"
                                " AND id > $3 AND id <= $4",
                                4,
                                { WHARFD_PG_TEXT, WHARFD_PG_TEXT,
                                  WHARFD_PG_INT8, WHARFD_PG_INT8 } },
    /* The group's log ids for the other wharfds (store_pg_listen.c):
     * "<origin> L <first> <last> <xid>", built by the server: the ids
     * this session took since the group's marker, and the transaction,
     * whose rows alone the range's read-back keeps (others' ids fall in
     * it); none when the group stored no log row. currval() is this
     * session's: defined from the connect on (pgw_connect). */
    [WHARFD_PGW_LOG_NOTIFY] = { "SELECT pg_notify('" WHARFD_PG_CHANNEL "',"
                                " $1 || ' L ' || s.first || ' ' || s.last"
                                " || ' ' || pg_current_xact_id()::xid)"
                                " FROM (SELECT current_setting("
                                "'wharf.log_first')::bigint AS first,"
                                " currval('container_logs_id_seq') AS last) s"
                                " WHERE s.last >= s.first",
                                1,
                                { WHARFD_PG_TEXT } },

    /* Shared by the writers of this version; an older wharfd took it
     * alone, for its ids in commit order: it and this one never write
     * logs at once (store_pg.h). */
    [WHARFD_PGW_LOG_LOCK] = { "SELECT pg_advisory_xact_lock_shared("
                              "2003329394, 2)",
                              0,
                              { 0 } },
    /* After the COMMIT, in the same round trip: true when no writer is in
     * a transaction (the writers' lock is free, for this statement), so
     * every id taken is settled and the group's calls are answered at
     * once; else each waits for the watermark (wharfd_pg_logs). With one
     * wharfd it is always true: its writer is the only one. */
    [WHARFD_PGW_LOG_SETTLED] = { "SELECT pg_try_advisory_xact_lock("
                                 "2003329394, 2)",
                                 0,
                                 { 0 } },

    /* As SQLite's (store_sqlite.c), $15 message_nuls; RETURNING the id
     * too, for the news. */
    [WHARFD_PGW_ERROR_UPSERT] = { "INSERT INTO container_errors AS t "
                                  "(worker_name, container_name,"
                                  " instance_id, process_id, error_hash, "
                                  "timestamp, level, message,"
                                  " message_nuls, raw_output, "
                                  "occurrence_count, first_seen, last_seen,"
                                  " created_at, last_sequence)"
                                  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                                  "$15::integer[], $9, $11,"
                                  "         $12, $6, $10, $13)"
                                  " ON CONFLICT (worker_name, instance_id, "
                                  "error_hash) DO UPDATE SET"
                                  "  occurrence_count = t.occurrence_count + "
                                  "excluded.occurrence_count,"
                                  "  timestamp = greatest(t.timestamp, "
                                  "excluded.timestamp),"
                                  "  raw_output = excluded.raw_output,"
                                  "  first_seen = least(t.first_seen, "
                                  "excluded.first_seen),"
                                  "  last_seen = greatest(t.last_seen, "
                                  "excluded.last_seen),"
                                  "  last_sequence = CASE WHEN "
                                  "excluded.last_sequence IS NULL"
                                  "   THEN t.last_sequence"
                                  "   ELSE greatest(coalesce(t.last_sequence, "
                                  "0),"
                                  "                 excluded.last_sequence) END"
                                  " WHERE $14::bigint IS NULL OR "
                                  "t.last_sequence IS NULL"
                                  "  OR t.last_sequence < $14::bigint"
                                  " RETURNING occurrence_count, id",
                                  15,
                                  { WHARFD_PG_TEXT, WHARFD_PG_TEXT,
                                    WHARFD_PG_TEXT, WHARFD_PG_TEXT,
                                    WHARFD_PG_TEXT, WHARFD_PG_TEXT,
                                    WHARFD_PG_FLOAT8, WHARFD_PG_TEXT,
                                    WHARFD_PG_TEXT, WHARFD_PG_TEXT,
                                    WHARFD_PG_INT8, WHARFD_PG_TEXT,
                                    WHARFD_PG_INT8, WHARFD_PG_INT8,
                                    WHARFD_PG_TEXT } },

    [WHARFD_PGW_ERROR_LOOKUP] = { "SELECT occurrence_count, last_sequence FROM "
                                  "container_errors"
                                  " WHERE worker_name = $1 AND instance_id = "
                                  "$2 AND error_hash = $3",
                                  3,
                                  { WHARFD_PG_TEXT, WHARFD_PG_TEXT,
                                    WHARFD_PG_TEXT } },

    [WHARFD_PGW_PROCESS_UPSERT] = { "INSERT INTO container_processes "
                                    "(worker_name, container_name,"
                                    " instance_id, process_id, command, args, "
                                    "cwd, status, pid,"
                                    " restart_count, start_time, end_time, "
                                    "exit_code, last_error, env,"
                                    " created_at, updated_at)"
                                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                                    "$9, $10, $11, $12, $13,"
                                    "         $14, $15, $16, $16)"
                                    " ON CONFLICT (worker_name, instance_id) "
                                    "DO UPDATE SET"
                                    "  container_name = "
                                    "excluded.container_name,"
                                    "  process_id = excluded.process_id, "
                                    "command = excluded.command,"
                                    "  args = excluded.args, cwd = "
                                    "excluded.cwd,"
                                    "  status = excluded.status, pid = "
                                    "excluded.pid,"
                                    "  restart_count = excluded.restart_count,"
                                    "  start_time = excluded.start_time, "
                                    "end_time = excluded.end_time,"
                                    "  exit_code = excluded.exit_code, "
                                    "last_error = excluded.last_error,"
                                    "  env = excluded.env, updated_at = "
                                    "excluded.updated_at",
                                    16,
                                    { WHARFD_PG_TEXT, WHARFD_PG_TEXT,
                                      WHARFD_PG_TEXT, WHARFD_PG_TEXT,
                                      WHARFD_PG_TEXT, WHARFD_PG_TEXT,
                                      WHARFD_PG_TEXT, WHARFD_PG_TEXT,
                                      WHARFD_PG_INT8, WHARFD_PG_INT8,
                                      WHARFD_PG_TEXT, WHARFD_PG_TEXT,
                                      WHARFD_PG_INT8, WHARFD_PG_TEXT,
                                      WHARFD_PG_TEXT, WHARFD_PG_TEXT } },

    [WHARFD_PGW_EVENT_INSERT] = { "INSERT INTO container_events (worker_name, "
                                  "container_name,"
                                  " instance_id, process_id, type, payload, "
                                  "timestamp)"
                                  " VALUES ($1, $2, $3, $4, $5, $6, $7) "
                                  "RETURNING id",
                                  7,
                                  { WHARFD_PG_TEXT, WHARFD_PG_TEXT,
                                    WHARFD_PG_TEXT, WHARFD_PG_TEXT,
                                    WHARFD_PG_TEXT, WHARFD_PG_TEXT,
                                    WHARFD_PG_TEXT } },

    [WHARFD_PGW_HEARTBEAT] = { "INSERT INTO workers AS w (name, "
                               "container_name, agent_version,"
                               "                          first_seen, "
                               "last_seen, status)"
                               " VALUES ($1, $2, $3, $4, $4, 'online')"
                               " ON CONFLICT (name) DO UPDATE SET"
                               "  container_name = "
                               "coalesce(excluded.container_name,"
                               "                            w.container_name),"
                               "  agent_version = "
                               "coalesce(excluded.agent_version,"
                               "                           w.agent_version),"
                               "  last_seen = excluded.last_seen,"
                               "  status = 'online'",
                               4,
                               { WHARFD_PG_TEXT, WHARFD_PG_TEXT, WHARFD_PG_TEXT,
                                 WHARFD_PG_TEXT } },

    /* removeWorker: the row, and the processes it had (its logs, errors
     * and events stay, until retention) */
    [WHARFD_PGW_WORKER_REMOVE] = { "DELETE FROM workers WHERE name = $1",
                                   1,
                                   { WHARFD_PG_TEXT } },
    [WHARFD_PGW_WORKER_PROCESSES_REMOVE] = { "DELETE FROM container_processes "
                                             "WHERE worker_name = $1",
                                             1,
                                             { WHARFD_PG_TEXT } },

    [WHARFD_PGW_CLEAR_LOGS] = { "DELETE FROM container_logs WHERE worker_name "
                                "= $1 AND id <= $2",
                                2,
                                { WHARFD_PG_TEXT, WHARFD_PG_INT8 } },
    [WHARFD_PGW_CLEAR_LOGS_INSTANCE] = { "DELETE FROM container_logs WHERE "
                                         "worker_name = $1"
                                         " AND instance_id = $3 AND id <= $2",
                                         3,
                                         { WHARFD_PG_TEXT, WHARFD_PG_INT8,
                                           WHARFD_PG_TEXT } },
    [WHARFD_PGW_CLEAR_ERRORS] = { "DELETE FROM container_errors WHERE "
                                  "worker_name = $1",
                                  1,
                                  { WHARFD_PG_TEXT } },
    [WHARFD_PGW_CLEAR_ERRORS_INSTANCE] = { "DELETE FROM container_errors WHERE "
                                           "worker_name = $1"
                                           " AND instance_id = $2",
                                           2,
                                           { WHARFD_PG_TEXT, WHARFD_PG_TEXT } },

    /* Retention's step (store_pg_retain.c): the oldest $3 logs of worker
     * $1 below id $2: everything under the id of the ($3+1)th, found by
     * the (worker_name, id) index (an InitPlan, run once), or under $2
     * when fewer are left. */
    [WHARFD_PGW_RETAIN_LOGS] = { "DELETE FROM container_logs WHERE worker_name "
                                 "= $1 AND id < coalesce("
                                 " (SELECT id FROM container_logs WHERE "
                                 "worker_name = $1 AND id < $2"
                                 "  ORDER BY id OFFSET $3 LIMIT 1), $2)",
                                 3,
                                 { WHARFD_PG_TEXT, WHARFD_PG_INT8,
                                   WHARFD_PG_INT8 } },
    [WHARFD_PGW_RETAIN_ERRORS] = { "DELETE FROM container_errors WHERE id IN ("
                                   " SELECT id FROM container_errors WHERE "
                                   "worker_name = $1"
                                   " AND last_seen < $2 LIMIT $3)",
                                   3,
                                   { WHARFD_PG_TEXT, WHARFD_PG_TEXT,
                                     WHARFD_PG_INT8 } },

    [WHARFD_PGW_NOTIFY] = { "SELECT pg_notify('" WHARFD_PG_CHANNEL "', $1)",
                            1,
                            { WHARFD_PG_TEXT } },
    [WHARFD_PGW_BEGIN] = { "BEGIN", 0, { 0 } },
    [WHARFD_PGW_COMMIT] = { "COMMIT", 0, { 0 } },
    [WHARFD_PGW_ROLLBACK] = { "ROLLBACK", 0, { 0 } },
};

#undef LAST_ID_TAKEN

/* --- errors and connections -------------------------------------------------- */

void
wharfd_pg_log_error(struct wharfd_pg *st, PGconn *c, const PGresult *r,
                    const char *what)
{
    const char *msg = r ? PQresultErrorMessage(r) : NULL;
    char line[512];
    size_t n;

    if (msg == NULL || *msg == '\0') {
        msg = c ? PQerrorMessage(c) : "no connection";
    }
    snprintf(line, sizeof(line), "%s", msg);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' ')) {
        line[--n] = '\0';
    }
    wharf_error("database %s: %s: %s", st->safe, what, line);
}

int
wharfd_pg_broken(const struct wharfd_pgconn *c)
{
    return c == NULL || c->c == NULL || PQstatus(c->c) != CONNECTION_OK;
}

int
wharfd_pg_simple(struct wharfd_pg *st, PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(r);
    int ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;

    if (!ok) {
        wharfd_pg_log_error(st, c, r, sql);
    }
    PQclear(r);
    return ok ? 0 : -1;
}

/* libpq's notices (a NOTICE from IF NOT EXISTS, ...) go to our log at
 * debug level, not to stderr as they come. */
static void
pg_notice(void *arg, const char *message)
{
    (void) arg;
    wharf_debug("database: %.*s", (int) strcspn(message, "\n"), message);
}

struct wharfd_pgconn *
wharfd_pg_connect(struct wharfd_pg *st, int readonly)
{
    /* The URL is expanded in place of "dbname"; a fallback
     * application_name names wharfd in pg_stat_activity unless the URL
     * names it otherwise. */
    const char *keys[] = { "dbname", "fallback_application_name", NULL };
    const char *vals[] = { st->url, "wharfd", NULL };
    struct wharfd_pgconn *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        wharf_error("database %s: out of memory", st->safe);
        return NULL;
    }
    c->c = PQconnectdbParams(keys, vals, 1);
    if (c->c == NULL || PQstatus(c->c) != CONNECTION_OK) {
        wharfd_pg_log_error(st, c->c, NULL, "connecting");
        PQfinish(c->c);
        free(c);
        return NULL;
    }
    PQsetNoticeProcessor(c->c, pg_notice, NULL);
    /* Times are UTC text written by wharfd; the session's own settings
     * only matter to the database's clock (created_at, partitions),
     * which is read in UTC explicitly. A reader cannot write. */
    if (wharfd_pg_simple(st, c->c, "SET TIME ZONE 'UTC'") != 0
        || (readonly
            && (wharfd_pg_simple(st, c->c,
                                 "SET default_transaction_read_only = on")
                    != 0
                || wharfd_pg_simple(
                       st, c->c,
                       "SET lock_timeout = '" WHARFD_PG_READER_LOCK_WAIT "'")
                    != 0))) {
        wharfd_pg_disconnect(c);
        return NULL;
    }
    return c;
}

void
wharfd_pg_disconnect(struct wharfd_pgconn *c)
{
    int i;

    if (c == NULL) {
        return;
    }
    for (i = 0; i < c->ncache; i++) {
        free(c->cache[i].sql);
    }
    PQfinish(c->c);
    free(c);
}

/* The name of sql's prepared statement on c, preparing it on first use;
 * NULL on failure (logged). */
static const char *
pg_prepared(struct wharfd_pg *st, struct wharfd_pgconn *c, const char *sql,
            const struct wharfd_pgp *p)
{
    PGresult *r;
    int i;

    for (i = 0; i < c->ncache; i++) {
        if (strcmp(c->cache[i].sql, sql) == 0) {
            return c->cache[i].name;
        }
    }
    if (c->ncache == WHARFD_PG_STMTS) {
        /* Full (many filter combinations): start over. */
        if (wharfd_pg_simple(st, c->c, "DEALLOCATE ALL") != 0) {
            return NULL;
        }
        for (i = 0; i < c->ncache; i++) {
            free(c->cache[i].sql);
        }
        c->ncache = 0;
    }
    i = c->ncache;
    snprintf(c->cache[i].name, sizeof(c->cache[i].name), "q%u", ++c->serial);
    r = PQprepare(c->c, c->cache[i].name, sql, p ? p->n : 0,
                  p ? p->types : NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        wharfd_pg_log_error(st, c->c, r, "preparing a query");
        PQclear(r);
        return NULL;
    }
    PQclear(r);
    c->cache[i].sql = strdup(sql);
    if (c->cache[i].sql == NULL) {
        return NULL;
    }
    c->ncache++;
    return c->cache[i].name;
}

PGresult *
wharfd_pg_exec(struct wharfd_pg *st, struct wharfd_pgconn *c, const char *sql,
               const struct wharfd_pgp *p, ExecStatusType want)
{
    const char *name = pg_prepared(st, c, sql, p);
    PGresult *r;

    if (name == NULL) {
        return NULL;
    }
    r = PQexecPrepared(c->c, name, p ? p->n : 0, p ? p->values : NULL,
                       p ? p->lengths : NULL, p ? p->formats : NULL, 1);
    if (PQresultStatus(r) != want) {
        wharfd_pg_log_error(st, c->c, r, "a query");
        PQclear(r);
        return NULL;
    }
    return r;
}

/* --- readers ----------------------------------------------------------------- */

struct wharfd_pgconn *
wharfd_pg_reader(struct wharfd_pg *st)
{
    struct wharfd_pgconn *c;

    pthread_mutex_lock(&st->readers_lock);
    c = st->free_readers;
    if (c != NULL) {
        st->free_readers = c->next;
    }
    pthread_mutex_unlock(&st->readers_lock);
    if (c != NULL && !wharfd_pg_broken(c)) {
        return c;
    }
    if (c != NULL) {
        /* lost while it waited (a restart of the server) */
        wharfd_pg_disconnect(c);
        atomic_fetch_add(&st->base.m.reconnects, 1);
    }
    return wharfd_pg_connect(st, 1);
}

void
wharfd_pg_reader_release(struct wharfd_pg *st, struct wharfd_pgconn *c)
{
    if (c == NULL) {
        return;
    }
    if (wharfd_pg_broken(c) || PQtransactionStatus(c->c) != PQTRANS_IDLE) {
        /* broken, or left inside a transaction by a failure: a fresh one
         * next time is simpler than repairing it */
        wharfd_pg_disconnect(c);
        return;
    }
    pthread_mutex_lock(&st->readers_lock);
    c->next = st->free_readers;
    st->free_readers = c;
    pthread_mutex_unlock(&st->readers_lock);
}

/* --- the writer: pipeline -------------------------------------------------------- */

void
wharfd_pgw_send(struct wharfd_pg *st, enum wharfd_pgw_id id,
                const struct wharfd_pgp *p)
{
    char name[8];

    snprintf(name, sizeof(name), "w%d", (int) id);
    /* A failure to send shows at the flush as a broken connection. */
    if (PQsendQueryPrepared(st->w.c, name, p ? p->n : 0, p ? p->values : NULL,
                            p ? p->lengths : NULL, p ? p->formats : NULL, 1)
        == 1) {
        st->w_sent++;
    }
}

int
wharfd_pgw_sync(struct wharfd_pg *st)
{
    PGresult *r;
    ExecStatusType s;
    int lost = 0;

    if (PQpipelineSync(st->w.c) != 1) {
        wharfd_pg_log_error(st, st->w.c, NULL, "sending");
        return WHARFD_PG_LOST;
    }
    /* the group's BEGIN, the log lock: the job is not to blame */
    for (; st->w_prelude > 0; st->w_prelude--) {
        r = wharfd_pgw_next(st);
        s = PQresultStatus(r);
        if (r == NULL
            || (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK
                && s != PGRES_PIPELINE_ABORTED)) {
            wharfd_pg_log_error(st, st->w.c, r, "starting the group");
            lost = 1;
        }
        PQclear(r);
        if (r == NULL) {
            return WHARFD_PG_LOST;
        }
    }
    /* a prelude that failed: the connection is dropped (LOST), nothing
     * more needs reading from it */
    return lost ? WHARFD_PG_LOST : WHARFD_PG_OK;
}

PGresult *
wharfd_pgw_next(struct wharfd_pg *st)
{
    PGresult *r = PQgetResult(st->w.c), *end;

    if (r == NULL) {
        return NULL;
    }
    if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
        return r;
    }
    end = PQgetResult(st->w.c);
    if (end != NULL) {
        /* more than one result for a query: not ours to have sent */
        PQclear(end);
    }
    return r;
}

int
wharfd_pgw_synced(struct wharfd_pg *st)
{
    PGresult *r = wharfd_pgw_next(st);
    ExecStatusType s = PQresultStatus(r);

    PQclear(r);
    if (r == NULL || s != PGRES_PIPELINE_SYNC) {
        wharfd_pg_log_error(st, st->w.c, NULL, "reading the sync");
        return WHARFD_PG_LOST;
    }
    return WHARFD_PG_OK;
}

int
wharfd_pgw_flush(struct wharfd_pg *st, PGresult **res)
{
    int sent = st->w_sent, i, rc;

    st->w_sent = 0;
    rc = wharfd_pgw_sync(st);
    if (rc != WHARFD_PG_OK) {
        return rc;
    }
    for (i = 0; i < sent; i++) {
        res[i] = wharfd_pgw_next(st);
        if (res[i] == NULL) {
            wharfd_pg_clear_all(res, i);
            wharfd_pg_log_error(st, st->w.c, NULL, "reading results");
            return WHARFD_PG_LOST;
        }
    }
    rc = wharfd_pgw_synced(st);
    if (rc != WHARFD_PG_OK) {
        wharfd_pg_clear_all(res, sent);
    }
    return rc;
}

void
wharfd_pg_clear_all(PGresult **res, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        PQclear(res[i]);
        res[i] = NULL;
    }
}

int
wharfd_pgw_check(struct wharfd_pg *st, const PGresult *r, ExecStatusType want,
                 const char *what)
{
    const char *state;

    if (PQresultStatus(r) == want) {
        return WHARFD_PG_OK;
    }
    if (PQresultStatus(r) == PGRES_PIPELINE_ABORTED) {
        return WHARFD_PG_FAILED; /* an earlier one failed, and said so */
    }
    wharfd_pg_log_error(st, st->w.c, r, what);
    state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state != NULL && strcmp(state, "53100") == 0) {
        return WHARFD_STORE_FULL; /* disk_full */
    }
    if (state != NULL && strcmp(state, "23514") == 0
        && strstr(PQresultErrorMessage(r), "no partition") != NULL) {
        return WHARFD_PG_NOROOM;
    }
    return WHARFD_PG_FAILED;
}

/* The writer's connection, opened (again) and prepared. */
static int
pgw_connect(struct wharfd_pg *st)
{
    struct wharfd_pgconn *c;
    PGresult *r;
    char name[8];
    int i;

    if (st->w.c != NULL) {
        PQfinish(st->w.c);
        st->w.c = NULL;
        atomic_fetch_add(&st->base.m.reconnects, 1);
    }
    st->w_ready = 0;
    c = wharfd_pg_connect(st, 0);
    if (c == NULL) {
        return -1;
    }
    st->w.c = c->c;
    free(c);
    for (i = 0; i < WHARFD_PGW__COUNT; i++) {
        snprintf(name, sizeof(name), "w%d", i);
        r = PQprepare(st->w.c, name, pgw_sql[i].sql, pgw_sql[i].n,
                      pgw_sql[i].n ? pgw_sql[i].types : NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            wharfd_pg_log_error(st, st->w.c, r, pgw_sql[i].sql);
            PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    /* An id of no row, so that currval() is defined in this session from
     * now on (LOG_AFTER and LOG_NOTIFY ask it whatever the call stored).
     * A writer stopped inside a transaction (SIGSTOP, a cut network)
     * holds its instances' locks and the readers' watermark: the server
     * ends its session after WHARFD_PG_WRITER_STALL, freeing both (a
     * group's pipeline leaves the server idle inside it only between two
     * chunks of calls, for a round trip). */
    if (wharfd_pg_simple(st, st->w.c, "SELECT nextval('container_logs_id_seq')")
            != 0
        || wharfd_pg_simple(st, st->w.c,
                            "SET idle_in_transaction_session_timeout = "
                            "'" WHARFD_PG_WRITER_STALL "'")
            != 0) {
        return -1;
    }
    if (PQenterPipelineMode(st->w.c) != 1) {
        wharfd_pg_log_error(st, st->w.c, NULL, "pipeline mode");
        return -1;
    }
    st->w_ready = 1;
    return 0;
}

/* Rolls the group's transaction back (after a failed job). */
static int
pgw_rollback(struct wharfd_pg *st)
{
    PGresult *res[WHARFD_PG_FLUSH_MAX];
    int n, rc;

    wharfd_pgw_send(st, WHARFD_PGW_ROLLBACK, NULL);
    n = st->w_sent;
    rc = wharfd_pgw_flush(st, res);
    if (rc != WHARFD_PG_OK) {
        return rc;
    }
    if (n > 0 && PQresultStatus(res[0]) != PGRES_COMMAND_OK) {
        rc = wharfd_pgw_check(st, res[0], PGRES_COMMAND_OK, "rolling back");
    }
    wharfd_pg_clear_all(res, n);
    return rc;
}

/* At most this many storeLogs calls to a sync: the server answers each
 * with a few small results, which wait in the socket until the writer
 * reads them after the sync; a bound keeps them from filling it (the
 * server would then stop reading what the writer sends). */
#define PGW_LOG_CHUNK 32

struct pgw_pending {
    struct wharfd_job *jobs[PGW_LOG_CHUNK];
    int k[PGW_LOG_CHUNK]; /* their places in the group */
    int n;
    int failed, failed_rc; /* the first job that failed, and how; -1 */
    /* the calls whose stored rows are read back after the COMMIT */
    struct pgw_read_back {
        struct wharfd_log_batch *b;
        struct wharfd_pg_logspan span;
    } * back;
    int nback, capback;
};

/* Reads the results of the pending storeLogs calls. OK, or LOST. */
static int
pgw_read_pending(struct wharfd_pg *st, struct pgw_pending *p)
{
    struct wharfd_pg_logspan span;
    struct pgw_read_back *more;
    int i, rc, cap;

    for (i = 0; i < p->n; i++) {
        rc = wharfd_pg_logs_read(st, p->jobs[i]->arg, &span);
        if (rc == WHARFD_PG_LOST) {
            return rc;
        }
        if (rc == WHARFD_PG_OK && span.read_back) {
            if (p->nback == p->capback) {
                cap = p->capback ? 2 * p->capback : 8;
                more = realloc(p->back, (size_t) cap * sizeof(*more));
                if (more == NULL) {
                    rc = WHARFD_PG_FAILED; /* out of memory: the job fails */
                } else {
                    p->back = more;
                    p->capback = cap;
                }
            }
            if (rc == WHARFD_PG_OK) {
                p->back[p->nback].b = p->jobs[i]->arg;
                p->back[p->nback++].span = span;
            }
        }
        if (rc != WHARFD_PG_OK && p->failed < 0) {
            p->failed = p->k[i];
            p->failed_rc = rc;
        }
    }
    p->n = 0;
    return WHARFD_PG_OK;
}

/* After the COMMIT: which rows the resent calls stored (LOG_STORED), in
 * one round trip. The group is committed whatever happens here: a lost
 * answer leaves those calls' rows unmarked (their counts stand; the feed
 * of this wharfd misses them) and the connection is opened again at the
 * next group. */
static void
pgw_read_back(struct wharfd_pg *st, struct pgw_pending *p)
{
    PGresult *r;
    int i, n;

    if (p->nback == 0) {
        return;
    }
    for (i = 0; i < p->nback; i++) {
        wharfd_pg_logs_stored_send(st, p->back[i].b, &p->back[i].span);
    }
    n = st->w_sent;
    st->w_sent = 0;
    if (wharfd_pgw_sync(st) != WHARFD_PG_OK) {
        n = 0;
    }
    for (i = 0; i < p->nback; i++) {
        r = i < n ? wharfd_pgw_next(st) : NULL;
        if (i < n && r == NULL) {
            n = i;
            wharfd_pg_log_error(st, st->w.c, NULL, "reading stored logs");
        } else if (r != NULL && PQresultStatus(r) != PGRES_TUPLES_OK) {
            wharfd_pg_log_error(st, st->w.c, r, "reading stored logs");
        }
        if (wharfd_pg_logs_stored_read(p->back[i].b, r) != p->back[i].b->stored
            && r != NULL) {
            /* the counts in the answer stand: they are the insert's */
            wharf_error("database %s: %lld logs of %s/%s stored, another"
                        " number read back",
                        st->safe, p->back[i].b->stored, p->back[i].b->worker,
                        p->back[i].b->instance);
        }
        PQclear(r);
    }
    if (n == p->nback) {
        wharfd_pgw_synced(st);
    }
}

/* The key of an instance's lock (WHARFD_PG_LOCKS_INSTANCE): FNV-1a of
 * "worker\x1finstance", the same in every wharfd. */
static long long
pgw_instance_key(const struct wharfd_log_batch *b)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    const char *parts[2] = { b->worker, b->instance };
    const unsigned char *s;
    int i;

    for (i = 0; i < 2; i++) {
        for (s = (const unsigned char *) parts[i]; *s; s++) {
            h = (h ^ *s) * 0x100000001b3ULL;
        }
        h = (h ^ 0x1f) * 0x100000001b3ULL;
    }
    return (long long) (h % WHARFD_PG_INSTANCE_KEYS);
}

static int
cmp_key(const void *a, const void *b)
{
    long long x = *(const long long *) a, y = *(const long long *) b;

    return x < y ? -1 : x > y;
}

/* The prelude of the group's logs: the writers' shared lock, the locks of
 * the instances the group writes (sorted, each once) and the marker. OK,
 * or FAILED when out of memory (nothing was sent). */
static int
pgw_log_prelude(struct wharfd_pg *st, struct wharfd_job *group, const int *skip)
{
    struct wharfd_pgarr a = { 0 };
    struct wharfd_pgp p;
    struct wharfd_job *j;
    long long *keys;
    int k, n = 0, i;

    for (j = group; j != NULL; j = j->next) {
        n++;
    }
    keys = malloc((size_t) (n ? n : 1) * sizeof(*keys));
    if (keys == NULL) {
        return WHARFD_PG_FAILED;
    }
    for (k = 0, n = 0, j = group; j != NULL; j = j->next, k++) {
        if (!skip[k] && j->run == wharfd_pg_logs_send) {
            keys[n++] = pgw_instance_key(j->arg);
        }
    }
    qsort(keys, (size_t) n, sizeof(*keys), cmp_key);
    wharfd_pgarr_start(&a, WHARFD_PG_INT8);
    for (i = 0; i < n; i++) {
        if (i == 0 || keys[i] != keys[i - 1]) {
            wharfd_pgarr_int8(&a, keys[i]);
        }
    }
    wharfd_pgarr_end(&a);
    free(keys);
    if (a.oom) {
        wharfd_pgarr_free(&a);
        return WHARFD_PG_FAILED;
    }
    wharfd_pgp_reset(&p);
    wharfd_pgp_bytes(&p, WHARFD_PG_INT8ARR, a.p, a.len);
    wharfd_pgw_send(st, WHARFD_PGW_LOG_LOCK, NULL);
    wharfd_pgw_send(st, WHARFD_PGW_LOG_INSTANCES, &p);
    wharfd_pgw_send(st, WHARFD_PGW_LOG_MARK, NULL);
    wharfd_pgarr_free(&a);
    return WHARFD_PG_OK;
}

/* The group's logs, its news and its COMMIT, sent as one pipeline and
 * read after one sync (PGW_LOG_CHUNK calls to a sync when there are
 * more): the locks are held for what the server does, never for a round
 * trip to this writer (store_pg.h). Returns as pgw_attempt. */
static int
pgw_commit_logs(struct wharfd_pg *st, struct wharfd_job *group, int *skip,
                struct pgw_pending *p)
{
    struct wharfd_job *j;
    PGresult *r;
    int k, rc, rc_end = WHARFD_PG_OK, i, n = 0, started = 0;
    int settled_sent = 0, settled = 0;

    for (k = 0, j = group; j != NULL && p->failed < 0; j = j->next, k++) {
        if (skip[k] || j->run != wharfd_pg_logs_send) {
            continue;
        }
        if (!started) {
            /* taken after the other kinds' writes, so they are held as
             * briefly as can be */
            if (pgw_log_prelude(st, group, skip) != WHARFD_PG_OK) {
                p->failed = k;
                p->failed_rc = WHARFD_PG_FAILED;
                break;
            }
            st->w_prelude += st->w_sent;
            st->w_sent = 0;
            started = 1;
        }
        if (p->n == PGW_LOG_CHUNK) {
            st->w_sent = 0;
            if ((rc = wharfd_pgw_sync(st)) != WHARFD_PG_OK
                || (rc = pgw_read_pending(st, p)) != WHARFD_PG_OK
                || (rc = wharfd_pgw_synced(st)) != WHARFD_PG_OK) {
                return rc;
            }
            if (p->failed >= 0) {
                break;
            }
        }
        rc = j->run(&st->base, j->arg);
        if (rc != WHARFD_PG_OK) {
            /* out of memory: none of its statements went out */
            p->failed = k;
            p->failed_rc = rc;
            break;
        }
        p->jobs[p->n] = j;
        p->k[p->n++] = k;
    }
    if (p->failed < 0) {
        i = st->w_sent;
        wharfd_pg_news_send(st);
        wharfd_pgw_send(st, WHARFD_PGW_COMMIT, NULL);
        n = st->w_sent - i;
        if (started) {
            i = st->w_sent;
            wharfd_pgw_send(st, WHARFD_PGW_LOG_SETTLED, NULL);
            settled_sent = st->w_sent - i;
        }
    }
    st->w_sent = 0;
    if ((rc = wharfd_pgw_sync(st)) != WHARFD_PG_OK
        || (rc = pgw_read_pending(st, p)) != WHARFD_PG_OK) {
        return rc;
    }
    for (i = 0; i < n + settled_sent; i++) {
        r = wharfd_pgw_next(st);
        if (r == NULL) {
            wharfd_pg_log_error(st, st->w.c, NULL, "reading results");
            return WHARFD_PG_LOST;
        }
        if (i == n) {
            /* LOG_SETTLED: not the group's to fail */
            settled = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
                && PQgetlength(r, 0, 0) == 1 && PQgetvalue(r, 0, 0)[0] != 0;
        } else if (rc_end == WHARFD_PG_OK
                   && PQresultStatus(r) != PGRES_COMMAND_OK
                   && PQresultStatus(r) != PGRES_TUPLES_OK && p->failed < 0) {
            rc_end = wharfd_pgw_check(st, r, PGRES_COMMAND_OK, "committing");
        }
        PQclear(r);
    }
    if ((rc = wharfd_pgw_synced(st)) != WHARFD_PG_OK) {
        return rc;
    }
    if (p->failed >= 0) {
        if (p->failed_rc == WHARFD_PG_NOROOM) {
            return WHARFD_PG_NOROOM; /* the caller rolls back */
        }
        for (k = 0, j = group; k < p->failed; j = j->next, k++) {
        }
        j->rc = p->failed_rc == WHARFD_STORE_FULL ? WHARFD_STORE_FULL : -1;
        skip[p->failed] = 1;
        pgw_rollback(st);
        return WHARFD_PG_FAILED;
    }
    if (rc_end != WHARFD_PG_OK) {
        pgw_rollback(st); /* a NOTIFY failed: the COMMIT did not run */
        return rc_end;
    }
    pgw_read_back(st, p);
    if (settled) {
        for (k = 0, j = group; j != NULL; j = j->next, k++) {
            if (!skip[k] && j->run == wharfd_pg_logs_send) {
                ((struct wharfd_log_batch *) j->arg)->last_id = 0;
            }
        }
    }
    return WHARFD_PG_OK;
}

static int
pgw_commit(struct wharfd_pg *st, struct wharfd_job *group, int *skip)
{
    struct pgw_pending p = { .n = 0, .failed = -1, .failed_rc = 0 };
    int rc = pgw_commit_logs(st, group, skip, &p);

    free(p.back);
    return rc;
}

/* Runs the group once: the jobs still to run (rc -1 with run), other
 * kinds first, one round trip each, then the logs, the news and the
 * COMMIT in one (pgw_commit). Returns OK (committed), LOST, NOROOM, or
 * FAILED with the failing job marked (rc set). */
static int
pgw_attempt(struct wharfd_pg *st, struct wharfd_job *group, int *skip)
{
    struct wharfd_job *j;
    int k, rc;

    wharfd_pg_news_reset(st);
    wharfd_pgw_send(st, WHARFD_PGW_BEGIN, NULL);
    st->w_prelude = st->w_sent;
    st->w_sent = 0;
    for (k = 0, j = group; j != NULL; j = j->next, k++) {
        if (skip[k] || j->run == wharfd_pg_logs_send) {
            continue;
        }
        rc = j->run(&st->base, j->arg);
        if (rc == WHARFD_PG_LOST || rc == WHARFD_PG_NOROOM) {
            return rc;
        }
        if (rc != WHARFD_PG_OK) {
            j->rc = rc == WHARFD_STORE_FULL ? WHARFD_STORE_FULL : -1;
            skip[k] = 1;
            pgw_rollback(st);
            return WHARFD_PG_FAILED;
        }
    }
    return pgw_commit(st, group, skip);
}

static void
pg_run_group(struct wharfd_store *base, struct wharfd_job *group)
{
    struct wharfd_pg *st = wharfd_pg_of(base);
    struct wharfd_job *j;
    int n = 0, k, rc = WHARFD_PG_LOST, tries, reconnected = 0, roomed = 0;
    int *skip;

    for (j = group; j != NULL; j = j->next) {
        j->rc = -1;
        n++;
    }
    skip = calloc((size_t) n, sizeof(*skip));
    if (skip == NULL) {
        return; /* every job failed */
    }
    /* A failed job leaves the group and the rest run again: at most once
     * per job, and once more after a lost connection or a missing
     * partition. */
    for (tries = 0; tries <= n + 2; tries++) {
        if (!st->w_ready || wharfd_pg_broken(&st->w)) {
            if (pgw_connect(st) != 0) {
                rc = WHARFD_PG_LOST;
                break;
            }
        }
        st->w_prelude = st->w_sent = 0;
        rc = pgw_attempt(st, group, skip);
        if (rc == WHARFD_PG_OK || rc == WHARFD_PG_FAILED) {
            if (rc == WHARFD_PG_OK) {
                break;
            }
            continue;
        }
        if (rc == WHARFD_PG_NOROOM && !roomed) {
            /* a day with no partition yet (a clock jump, or no wharfd
             * ran maintenance lately): make them and try again */
            struct wharfd_pgconn *c = wharfd_pg_connect(st, 0);

            roomed = 1;
            pgw_rollback(st);
            if (c != NULL) {
                wharfd_pg_partitions_ensure(st, c->c);
                wharfd_pg_disconnect(c);
            }
            continue;
        }
        if (rc == WHARFD_PG_LOST && !reconnected) {
            /* Lost before its COMMIT was answered. Nothing was committed
             * unless the COMMIT itself reached the server: this retry
             * stores again only what a resend would (log lines, error
             * occurrences with a sequence: no-ops), and upserts. */
            reconnected = 1;
            st->w_ready = 0;
            continue;
        }
        break;
    }
    for (k = 0, j = group; j != NULL; j = j->next, k++) {
        if (!skip[k]) {
            j->rc = rc == WHARFD_PG_OK ? 0 : -1;
        }
    }
    if (rc == WHARFD_PG_LOST) {
        st->w_ready = 0;
    }
    free(skip);
}

/* --- open, close, ping -------------------------------------------------------------- */

static int
pg_ping(struct wharfd_store *base, int *schema_version)
{
    struct wharfd_pg *st = wharfd_pg_of(base);
    struct wharfd_pgconn *c = wharfd_pg_reader(st);
    PGresult *r;
    int rc = -1;

    if (c == NULL) {
        return -1;
    }
    r = wharfd_pg_exec(st, c,
                       "SELECT coalesce(max(version), 0)::bigint"
                       " FROM schema_migrations",
                       NULL, PGRES_TUPLES_OK);
    if (r != NULL) {
        *schema_version = (int) wharfd_pg_int8(r, 0, 0);
        rc = 0;
        PQclear(r);
    }
    wharfd_pg_reader_release(st, c);
    return rc;
}

static void
pg_close(struct wharfd_store *base)
{
    struct wharfd_pg *st = wharfd_pg_of(base);
    struct wharfd_pgconn *c;
    int i;

    wharfd_pg_listen_stop(st);
    while ((c = st->free_readers) != NULL) {
        st->free_readers = c->next;
        wharfd_pg_disconnect(c);
    }
    wharfd_pg_disconnect(st->lead);
    if (st->w.c != NULL) {
        PQfinish(st->w.c);
    }
    for (i = 0; i < 9; i++) {
        wharfd_pgarr_free(&st->w_arr[i]);
    }
    wharfd_pg_news_reset(st);
    free(st->news.errors);
    free(st->news.events);
    free(st->news.processes);
    pthread_mutex_destroy(&st->lead_lock);
    pthread_mutex_destroy(&st->readers_lock);
    pthread_mutex_destroy(&st->seen.lock);
    pthread_cond_destroy(&st->seen.cond);
    wharfd_store_base_destroy(&st->base);
    free(st->url);
    free(st);
}

const struct wharfd_store_ops wharfd_pg_ops = {
    .name = "postgresql",
    .run_group = pg_run_group,
    .close = pg_close,
    .ping = pg_ping,
    .query = wharfd_pg_query,
    .last_sequence = wharfd_pg_last_sequence,
    .process_get = wharfd_pg_process_get,
    .stats = wharfd_pg_stats,
    .workers_each = wharfd_pg_workers_each,
    .logs = wharfd_pg_logs,
    .errors = wharfd_pg_errors,
    .process_upsert = wharfd_pg_process_upsert,
    .event = wharfd_pg_event,
    .worker_heartbeat = wharfd_pg_worker_heartbeat,
    .worker_remove = wharfd_pg_worker_remove,
    .clear = wharfd_pg_clear,
    .retention_lead = wharfd_pg_retention_lead,
    .retain_partitions = wharfd_pg_retain_partitions,
    .retain_next_worker = wharfd_pg_retain_next_worker,
    .retain_logs_plan = wharfd_pg_retain_logs_plan,
    .retain_logs = wharfd_pg_retain_logs,
    .retain_errors = wharfd_pg_retain_errors,
};

int
wharfd_pg_open(struct wharfd_store **out, const char *url)
{
    struct wharfd_pg *st;
    struct wharfd_pgconn *c;
    unsigned char rnd[8];
    int applied = 0, version, i;

    *out = NULL;
    st = calloc(1, sizeof(*st));
    if (st == NULL || (st->url = strdup(url)) == NULL) {
        free(st);
        wharf_error("database: out of memory");
        return -1;
    }
    wharfd_store_base_init(&st->base, &wharfd_pg_ops);
    pthread_mutex_init(&st->readers_lock, NULL);
    pthread_mutex_init(&st->seen.lock, NULL);
    pthread_cond_init(&st->seen.cond, NULL);
    pthread_mutex_init(&st->lead_lock, NULL);
    st->wake[0] = st->wake[1] = -1;
    wharfd_store_target_safe(url, st->safe, sizeof(st->safe));
    /* This wharfd in the payloads of its NOTIFYs, so that its listener
     * skips its own rows (the writer published them already). */
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd)) {
        wharf_error("database %s: no random bytes", st->safe);
        goto fail;
    }
    for (i = 0; i < 8; i++) {
        snprintf(st->origin + 2 * i, 3, "%02x", rnd[i]);
    }

    c = wharfd_pg_connect(st, 0);
    if (c == NULL) {
        goto fail;
    }
    if (wharfd_pg_migrate(st, c->c, &applied) != 0
        || wharfd_pg_partitions_ensure(st, c->c) != 0) {
        wharfd_pg_disconnect(c);
        goto fail;
    }
    wharfd_pg_disconnect(c);
    if (pgw_connect(st) != 0 || wharfd_store_start_writer(&st->base) != 0
        || wharfd_pg_listen_start(st) != 0) {
        goto fail;
    }
    if (pg_ping(&st->base, &version) != 0) {
        goto fail;
    }
    wharf_info("database %s: PostgreSQL %d, schema version %d%s", st->safe,
               PQserverVersion(st->w.c), version,
               applied ? " (migrated now)" : "");
    *out = &st->base;
    return 0;

fail:
    wharfd_store_close(&st->base);
    return -1;
}
