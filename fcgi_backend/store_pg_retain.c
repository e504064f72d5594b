/*
 * PostgreSQL: the partitions of container_logs (one a day, by
 * created_at: schema/postgresql/0001_init.sql), made ahead and dropped by
 * retention; retention's leader; and retention's plan (store.h). The
 * deleting steps are writer jobs (store_pg_write.c).
 *
 * Age retention works by whole days here: a partition goes when its whole
 * day is older than the age limit, and a worker whose own age differs
 * (--retention-worker) has its logs deleted by rows, up to the start of
 * the day that holds its cut-off. So a log is deleted between its age and
 * its age plus one day, never before its age: that keeps deleting a day of
 * logs as cheap as unlinking a file, where deleting every row as it comes
 * of age would cost as much as inserting it (docs/wharfd.md).
 */
#include "store_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* --- partitions ----------------------------------------------------------------- */

#define PART_PREFIX "container_logs_p"

/* How long DDL on container_logs waits for its lock: a long reader (an
 * NDJSON stream) holds it, and every writer would queue behind a DDL that
 * waits. Given up, it is tried again at the next hour's (or pass's) turn. */
#define DDL_LOCK_TIMEOUT "SET LOCAL lock_timeout = '2s'"

int
wharfd_pg_partitions_ensure(struct wharfd_pg *st, PGconn *c)
{
    char sql[512];
    PGresult *r;
    int row, rc = 0;

    /* The days from today (the database's clock, UTC) on that have no
     * partition yet. */
    r = PQexec(c,
               "SELECT k, to_char(d, 'YYYYMMDD'), to_char(d, 'YYYY-MM-DD'),"
               " to_char(d + 1, 'YYYY-MM-DD')"
               " FROM generate_series(0, 2) AS k,"
               " LATERAL (SELECT (now() AT TIME ZONE 'UTC')::date + k AS d) x"
               " WHERE to_regclass('" PART_PREFIX "'"
               " || to_char(d, 'YYYYMMDD')) IS NULL ORDER BY k");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        wharfd_pg_log_error(st, c, r, "listing log partitions");
        PQclear(r);
        return -1;
    }
    for (row = 0; row < PQntuples(r); row++) {
        int today = strcmp(PQgetvalue(r, row, 0), "0") == 0, ok;

        /* Each in its own transaction, under the lock that makes several
         * wharfd starting together create it once (IF NOT EXISTS then
         * finds it made). The names and bounds are dates from the
         * server: digits and dashes. */
        snprintf(sql, sizeof(sql),
                 "CREATE TABLE IF NOT EXISTS " PART_PREFIX
                 "%s PARTITION OF container_logs"
                 " FOR VALUES FROM ('%s') TO ('%s')",
                 PQgetvalue(r, row, 1), PQgetvalue(r, row, 2),
                 PQgetvalue(r, row, 3));
        ok = wharfd_pg_simple(st, c, "BEGIN") == 0
            && wharfd_pg_simple(st, c, DDL_LOCK_TIMEOUT) == 0
            && wharfd_pg_simple(st, c,
                                "SELECT pg_advisory_xact_lock(2003329394, 4)")
                == 0
            && wharfd_pg_simple(st, c, sql) == 0
            && wharfd_pg_simple(st, c, "COMMIT") == 0;
        if (!ok) {
            wharfd_pg_simple(st, c, "ROLLBACK");
            if (today) {
                rc = -1;
            }
        } else {
            wharf_info("database %s: log partition " PART_PREFIX "%s made",
                       st->safe, PQgetvalue(r, row, 1));
        }
    }
    PQclear(r);
    return rc;
}

/* --- the leader -------------------------------------------------------------------- */

int
wharfd_pg_retention_lead(struct wharfd_store *base, int *leader)
{
    struct wharfd_pg *st = wharfd_pg_of(base);
    PGresult *r;

    *leader = 0;
    pthread_mutex_lock(&st->lead_lock);
    if (st->lead != NULL && wharfd_pg_broken(st->lead)) {
        /* the session, and its lock, are gone: another may lead now */
        wharfd_pg_disconnect(st->lead);
        st->lead = NULL;
        st->lead_holds = 0;
        atomic_fetch_add(&st->base.m.reconnects, 1);
    }
    if (st->lead == NULL) {
        st->lead = wharfd_pg_connect(st, 0);
    }
    if (st->lead != NULL && !st->lead_holds) {
        /* held by this session for its whole life: retention runs in one
         * wharfd, the one that took it first, until it stops or loses
         * its connection */
        r = wharfd_pg_exec(st, st->lead,
                           "SELECT pg_try_advisory_lock(2003329394, 3)", NULL,
                           PGRES_TUPLES_OK);
        if (r != NULL) {
            st->lead_holds = wharfd_pg_int8(r, 0, 0) != 0;
            if (st->lead_holds) {
                wharf_info("database %s: this wharfd runs retention", st->safe);
            }
            PQclear(r);
        }
    }
    *leader = st->lead_holds;
    pthread_mutex_unlock(&st->lead_lock);
    return st->lead != NULL || *leader ? 0 : -1;
}

/* The day after YYYYMMDD, as YYYY-MM-DD (the partition's upper bound). */
static int
day_after(const char *ymd, char *out, size_t size)
{
    struct tm tm;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    if (strlen(ymd) != 8
        || sscanf(ymd, "%4d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday)
            != 3) {
        return -1;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_mday += 1;
    tm.tm_hour = 12;
    t = timegm(&tm);
    gmtime_r(&t, &tm);
    return strftime(out, size, "%Y-%m-%d", &tm) > 0 ? 0 : -1;
}

/* Drops partition name (holding *rows rows) when none of keep has a log
 * in it. *dropped: 1 when it went. */
static int
drop_partition(struct wharfd_pg *st, PGconn *c, const char *name,
               const char *const *keep, size_t nkeep, long long *rows,
               int *dropped)
{
    struct wharfd_pgarr a = { 0 };
    struct wharfd_pgp p;
    char sql[256];
    PGresult *r;
    size_t i;
    int kept = 0, ok;

    *dropped = 0;
    *rows = 0;
    if (nkeep > 0) {
        /* a worker that keeps its logs longer has some here: the
         * partition stays, and the others' logs in it go by rows */
        wharfd_pgarr_start(&a, WHARFD_PG_TEXT);
        for (i = 0; i < nkeep; i++) {
            wharfd_pgarr_text(&a, keep[i], strlen(keep[i]));
        }
        wharfd_pgarr_end(&a);
        wharfd_pgp_reset(&p);
        wharfd_pgp_bytes(&p, WHARFD_PG_TEXTARR, a.p, a.len);
        snprintf(sql, sizeof(sql),
                 "SELECT 1 FROM \"%s\" WHERE worker_name = ANY($1) LIMIT 1",
                 name);
        r = PQexecParams(c, sql, 1, p.types, p.values, p.lengths, p.formats, 1);
        wharfd_pgarr_free(&a);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            wharfd_pg_log_error(st, c, r, "retention: reading a partition");
            PQclear(r);
            return -1;
        }
        kept = PQntuples(r) > 0;
        PQclear(r);
        if (kept) {
            return 0;
        }
    }
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"", name);
    r = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 1);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        *rows = wharfd_pg_int8(r, 0, 0);
    }
    PQclear(r);
    snprintf(sql, sizeof(sql), "DROP TABLE \"%s\"", name);
    ok = wharfd_pg_simple(st, c, "BEGIN") == 0
        && wharfd_pg_simple(st, c, DDL_LOCK_TIMEOUT) == 0
        && wharfd_pg_simple(st, c, sql) == 0
        && wharfd_pg_simple(st, c, "COMMIT") == 0;
    if (!ok) {
        wharfd_pg_simple(st, c, "ROLLBACK");
        return -1;
    }
    wharf_info("retention: log partition %s dropped (%lld rows)", name, *rows);
    *dropped = 1;
    return 0;
}

int
wharfd_pg_retain_partitions(struct wharfd_store *base, const char *before,
                            const char *const *keep, size_t nkeep,
                            long long *dropped)
{
    struct wharfd_pg *st = wharfd_pg_of(base);
    char end[16];
    PGresult *r;
    long long rows;
    int row, rc = 0, gone;
    const char *name;

    *dropped = 0;
    pthread_mutex_lock(&st->lead_lock);
    if (st->lead == NULL || !st->lead_holds) {
        pthread_mutex_unlock(&st->lead_lock);
        return 0;
    }
    r = PQexec(st->lead->c,
               "SELECT c.relname FROM pg_inherits i"
               " JOIN pg_class c ON c.oid = i.inhrelid"
               " WHERE i.inhparent = 'container_logs'::regclass"
               " ORDER BY c.relname");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        wharfd_pg_log_error(st, st->lead->c, r, "retention: partitions");
        PQclear(r);
        pthread_mutex_unlock(&st->lead_lock);
        return -1;
    }
    for (row = 0; row < PQntuples(r) && rc == 0; row++) {
        name = PQgetvalue(r, row, 0);
        /* ours only (an operator's own partitions are theirs), whose
         * whole day is before the cut-off: [day, day + 1) with
         * "day + 1" <= before, compared as ISO text */
        if (strncmp(name, PART_PREFIX, strlen(PART_PREFIX)) != 0
            || day_after(name + strlen(PART_PREFIX), end, sizeof(end)) != 0
            || strcmp(end, before) > 0) {
            continue;
        }
        rc = drop_partition(st, st->lead->c, name, keep, nkeep, &rows, &gone);
        if (rc == 0 && gone) {
            *dropped += rows;
            atomic_fetch_add(&st->base.m.retention_partitions, 1);
        }
    }
    PQclear(r);
    pthread_mutex_unlock(&st->lead_lock);
    return rc;
}

/* --- the plan, on a reader --------------------------------------------------------- */

int
wharfd_pg_retain_next_worker(struct wharfd_store *base, enum wharfd_kind kind,
                             const char *after, char *out, size_t size,
                             int *found)
{
    struct wharfd_pg *st = wharfd_pg_of(base);
    struct wharfd_pgconn *c;
    struct wharfd_pgp p;
    char prev[256];
    PGresult *r;
    int rc = -1;

    *found = 0;
    snprintf(prev, sizeof(prev), "%s", after); /* after may be out */
    c = wharfd_pg_reader(st);
    if (c == NULL) {
        return -1;
    }
    wharfd_pgp_reset(&p);
    wharfd_pgp_text(&p, prev);
    r = wharfd_pg_exec(
        st, c,
        kind == WHARFD_KIND_LOGS
            ? "SELECT worker_name FROM container_logs WHERE worker_name > $1"
              " ORDER BY worker_name LIMIT 1"
            : "SELECT worker_name FROM container_errors WHERE worker_name > $1"
              " ORDER BY worker_name LIMIT 1",
        &p, PGRES_TUPLES_OK);
    if (r != NULL) {
        rc = 0;
        if (PQntuples(r) > 0) {
            if ((size_t) PQgetlength(r, 0, 0) < size) {
                snprintf(out, size, "%s", PQgetvalue(r, 0, 0));
                *found = 1;
            } else {
                wharf_warn("retention: skipping an unusable worker name");
                rc = -1;
            }
        }
        PQclear(r);
    }
    wharfd_pg_reader_release(st, c);
    return rc;
}

/* The first column of the one row sql gives (with worker, and n when
 * has_n), into *v; *found = 0 when it is NULL or there is none. */
static int
plan_value(struct wharfd_pg *st, struct wharfd_pgconn *c, const char *sql,
           const char *worker, const char *text, int has_n, long long n,
           long long *v, int *found)
{
    struct wharfd_pgp p;
    PGresult *r;

    *found = 0;
    wharfd_pgp_reset(&p);
    wharfd_pgp_text(&p, worker);
    if (text != NULL) {
        wharfd_pgp_text(&p, text);
    }
    if (has_n) {
        wharfd_pgp_int8(&p, n);
    }
    r = wharfd_pg_exec(st, c, sql, &p, PGRES_TUPLES_OK);
    if (r == NULL) {
        return -1;
    }
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
        *v = wharfd_pg_int8(r, 0, 0);
        *found = 1;
    }
    PQclear(r);
    return 0;
}

int
wharfd_pg_retain_logs_plan(struct wharfd_store *base, const char *worker,
                           const char *logs_before, long long max_logs,
                           long long *below)
{
    struct wharfd_pg *st = wharfd_pg_of(base);
    struct wharfd_pgconn *c;
    long long oldest = 0, cut = 0, v, seen;
    char day[11];
    int rc, found, f;

    *below = 0;
    if (logs_before == NULL && max_logs <= 0) {
        return 0;
    }
    c = wharfd_pg_reader(st);
    if (c == NULL) {
        return -1;
    }
    /* One snapshot for the whole plan: the reads agree with each other.
     * The cut stays at or below the watermark, read before the snapshot
     * (store_pg.h): every row under the cut is then in the snapshot, and
     * a row still in flight, young, is never under it. */
    seen = wharfd_pg_log_seen(st, c);
    if (seen < 0
        || wharfd_pg_simple(st, c->c, "BEGIN ISOLATION LEVEL REPEATABLE READ")
            != 0) {
        wharfd_pg_reader_release(st, c);
        return -1;
    }
    rc = plan_value(st, c,
                    "SELECT min(id) FROM container_logs WHERE worker_name = $1",
                    worker, NULL, 0, 0, &oldest, &found);
    if (rc == 0 && found) {
        cut = oldest;
        if (logs_before != NULL) {
            /* whole days: the worker's first log received on or after the
             * start of the day of the cut-off (ids and created_at grow
             * together, but for writes in flight at once: a row of the
             * day before with a higher id stays to the next run), found
             * in the partitions of that day on (pruned by created_at) */
            snprintf(day, sizeof(day), "%.10s", logs_before);
            rc = plan_value(st, c,
                            "SELECT min(id) FROM container_logs"
                            " WHERE worker_name = $1 AND created_at >= $2",
                            worker, day, 0, 0, &v, &f);
            if (rc == 0 && f) {
                cut = v;
            } else if (rc == 0) {
                rc = plan_value(st, c,
                                "SELECT max(id) + 1 FROM container_logs"
                                " WHERE worker_name = $1",
                                worker, NULL, 0, 0, &cut, &f);
            }
        }
        if (rc == 0 && max_logs > 0) {
            /* the newest log beyond the newest max_logs: it and every
             * older one go */
            rc = plan_value(st, c,
                            "SELECT id FROM container_logs"
                            " WHERE worker_name = $1"
                            " ORDER BY id DESC LIMIT 1 OFFSET $2",
                            worker, NULL, 1, max_logs, &v, &f);
            if (rc == 0 && f && v + 1 > cut) {
                cut = v + 1;
            }
        }
    }
    wharfd_pg_simple(st, c->c, "COMMIT");
    wharfd_pg_reader_release(st, c);
    if (cut > seen + 1) {
        cut = seen + 1;
    }
    if (rc == 0 && found && cut > oldest) {
        *below = cut; /* else nothing goes: no writer job at all */
    }
    return rc;
}
