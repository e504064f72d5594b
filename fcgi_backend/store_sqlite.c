/*
 * The SQLite engine: connections, pragmas, migrations, the group commit
 * (the writer thread is store.c's), the reader pool (design in store.h).
 */
#include "store_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "log.h"
#include "migrate.h"

/* How long a statement waits for another connection's lock (another
 * wharfd, the sqlite3 shell, a checkpoint) before failing with BUSY. */
#define WHARFD_BUSY_TIMEOUT_MS 5000

/* Page cache, in KiB (negative cache_size = KiB): the writer's holds the
 * right edges of the indexes it inserts into; a reader's needs little
 * (the OS caches the file too), and there is one reader per busy request
 * thread, so theirs is small to keep RSS bounded (a 1,000,000-row NDJSON
 * stream peaks ~12 MiB lower). */
#define WHARFD_CACHE_KIB        16384
#define WHARFD_READER_CACHE_KIB 2048

/* The writer's whole SQL vocabulary, by enum wharfd_wstmt_id. */
static const char *const store_wsql[WHARFD_W__COUNT] = {
    [WHARFD_W_BEGIN] = "BEGIN IMMEDIATE",
    [WHARFD_W_COMMIT] = "COMMIT",
    [WHARFD_W_ROLLBACK] = "ROLLBACK",
    [WHARFD_W_SAVEPOINT] = "SAVEPOINT job",
    [WHARFD_W_RELEASE] = "RELEASE job",
    [WHARFD_W_ROLLBACK_TO] = "ROLLBACK TO job",

    /* A heartbeat without container/agentVersion keeps what is known. */
    [WHARFD_W_WORKER_HEARTBEAT] =
        "INSERT INTO workers (name, container_name, agent_version,"
        "                     first_seen, last_seen, status)"
        " VALUES (?1, ?2, ?3, ?4, ?4, 'online')"
        " ON CONFLICT (name) DO UPDATE SET"
        "  container_name = coalesce(excluded.container_name,"
        "                            workers.container_name),"
        "  agent_version = coalesce(excluded.agent_version,"
        "                           workers.agent_version),"
        "  last_seen = excluded.last_seen,"
        "  status = 'online'",

    /* removeWorker: the row, and the processes it had (its logs, errors
     * and events stay, until retention) */
    [WHARFD_W_WORKER_REMOVE] = "DELETE FROM workers WHERE name = ?1",
    [WHARFD_W_WORKER_PROCESSES_REMOVE] =
        "DELETE FROM container_processes WHERE worker_name = ?1",

    /* A sequence already stored is a resend: DO NOTHING, and
     * sqlite3_changes() tells stored from duplicate. */
    [WHARFD_W_LOG_INSERT] =
        "INSERT INTO container_logs (worker_name, container_name,"
        " instance_id, process_id, sequence, timestamp, level, message,"
        " stream, source, metadata, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        " ON CONFLICT (worker_name, instance_id, sequence) DO NOTHING",

    [WHARFD_W_LOG_LAST_SEQ] = "SELECT max(sequence) FROM container_logs"
                              " WHERE worker_name = ?1 AND instance_id = ?2",

    /* D2 as wharf keeps it: first_seen the earliest, last_seen and
     * timestamp the latest; message, level, process_id of the first.
     * ?11 occurrences at once (the repeats of one batch, folded by
     * store_write.c), ?6 the latest and ?12 the earliest of their times.
     * ?13 the highest sequence among them (NULL: none has one), kept in
     * last_sequence. ?14, the lowest sequence among them (NULL: none),
     * is the resend gate: when the row has already counted it
     * (last_sequence >= ?14) nothing changes and no row is RETURNed, and
     * store_write.c sorts the occurrences out one by one (the rare case
     * of a resend). Without sequences (?13, ?14 NULL) this is the
     * version-1 upsert. */
    [WHARFD_W_ERROR_UPSERT] =
        "INSERT INTO container_errors (worker_name, container_name,"
        " instance_id, process_id, error_hash, timestamp, level, message,"
        " raw_output, occurrence_count, first_seen, last_seen, created_at,"
        " last_sequence)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?11, ?12, ?6, ?10, ?13)"
        " ON CONFLICT (worker_name, instance_id, error_hash) DO UPDATE SET"
        "  occurrence_count = occurrence_count + excluded.occurrence_count,"
        "  timestamp = max(timestamp, excluded.timestamp),"
        "  raw_output = excluded.raw_output,"
        "  first_seen = min(first_seen, excluded.first_seen),"
        "  last_seen = max(last_seen, excluded.last_seen),"
        "  last_sequence = CASE WHEN excluded.last_sequence IS NULL"
        "   THEN last_sequence"
        "   ELSE max(coalesce(last_sequence, 0), excluded.last_sequence) END"
        " WHERE ?14 IS NULL OR last_sequence IS NULL OR last_sequence < ?14"
        " RETURNING occurrence_count",

    /* The row's count and last counted sequence (the resend case). */
    [WHARFD_W_ERROR_LOOKUP] =
        "SELECT occurrence_count, last_sequence FROM container_errors"
        " WHERE worker_name = ?1 AND instance_id = ?2 AND error_hash = ?3",

    [WHARFD_W_PROCESS_UPSERT] =
        "INSERT INTO container_processes (worker_name, container_name,"
        " instance_id, process_id, command, args, cwd, status, pid,"
        " restart_count, start_time, end_time, exit_code, last_error, env,"
        " created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
        "         ?14, ?15, ?16, ?16)"
        " ON CONFLICT (worker_name, instance_id) DO UPDATE SET"
        "  container_name = excluded.container_name,"
        "  process_id = excluded.process_id, command = excluded.command,"
        "  args = excluded.args, cwd = excluded.cwd,"
        "  status = excluded.status, pid = excluded.pid,"
        "  restart_count = excluded.restart_count,"
        "  start_time = excluded.start_time, end_time = excluded.end_time,"
        "  exit_code = excluded.exit_code, last_error = excluded.last_error,"
        "  env = excluded.env, updated_at = excluded.updated_at",

    [WHARFD_W_EVENT_INSERT] =
        "INSERT INTO container_events (worker_name, container_name,"
        " instance_id, process_id, type, payload, timestamp)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",

    /* ?3: the highest id to delete (clearLogs "untilId"; the largest
     * int64 when none): ids are arrival order, so a row stored after the
     * caller read up to ?3 is kept. */
    [WHARFD_W_CLEAR_LOGS] = "DELETE FROM container_logs WHERE worker_name = ?1"
                            " AND id <= ?3",
    [WHARFD_W_CLEAR_LOGS_INSTANCE] =
        "DELETE FROM container_logs WHERE worker_name = ?1"
        " AND instance_id = ?2 AND id <= ?3",
    [WHARFD_W_CLEAR_ERRORS] =
        "DELETE FROM container_errors WHERE worker_name = ?1",
    [WHARFD_W_CLEAR_ERRORS_INSTANCE] =
        "DELETE FROM container_errors WHERE worker_name = ?1"
        " AND instance_id = ?2",

    /* Retention (store_retain.c): the oldest ?3 logs of worker ?1 below
     * id ?2 (the cut-off its plan found), by the (worker_name) index
     * from the worker's oldest row, so a step reads only what it
     * deletes. */
    [WHARFD_W_RETAIN_LOGS_BELOW] =
        "DELETE FROM container_logs WHERE id IN ("
        " SELECT id FROM container_logs WHERE worker_name = ?1 AND id < ?2"
        " ORDER BY id LIMIT ?3)",
    /* Up to ?3 errors of worker ?1 not seen since ?2: one row per
     * distinct error, a worker's rows found by the dedup key's prefix. */
    [WHARFD_W_RETAIN_ERRORS_BEFORE] =
        "DELETE FROM container_errors WHERE id IN ("
        " SELECT id FROM container_errors WHERE worker_name = ?1"
        " AND last_seen < ?2 LIMIT ?3)",
};

void
wharfd_store_log_error(struct wharfd_sqlite *st, sqlite3 *db, const char *what)
{
    wharf_error("database %s: %s: %s", st->path, what, sqlite3_errmsg(db));
}

const char *
wharfd_store_text(sqlite3_stmt *stmt, int col)
{
    return (const char *) sqlite3_column_text(stmt, col);
}

void
wharfd_store_row(sqlite3_stmt *stmt, const char *const *names, int n,
                 unsigned json_cols, struct wharfd_col *cols)
{
    sqlite3_value *v;
    int i;

    /* One sqlite3_column_value per column, then the sqlite3_value_*
     * reads of it: each sqlite3_column_* call goes through the
     * statement's checks and error bookkeeping again (56-65 instructions
     * a call against 5-14 for a value read: a third of a list row's
     * column cost, callgrind on bench/query/profile.mjs). The value is
     * "unprotected"; SQLite documents that the distinction does not exist
     * on a connection without its mutex, which every connection of
     * store_connect is (SQLITE_OPEN_NOMUTEX). */
    for (i = 0; i < n; i++) {
        cols[i].name = names[i];
        v = sqlite3_column_value(stmt, i);
        switch (sqlite3_value_type(v)) {
        case SQLITE_INTEGER:
            cols[i].type = WHARFD_COL_INT;
            cols[i].i = sqlite3_value_int64(v);
            break;
        case SQLITE_FLOAT:
            cols[i].type = WHARFD_COL_REAL;
            cols[i].d = sqlite3_value_double(v);
            break;
        case SQLITE_NULL:
            cols[i].type = WHARFD_COL_NULL;
            break;
        default:
            cols[i].type =
                (json_cols >> i) & 1 ? WHARFD_COL_JSON : WHARFD_COL_TEXT;
            /* text first, then its length in that form (SQLite's rule) */
            cols[i].s = (const char *) sqlite3_value_text(v);
            cols[i].len = (size_t) sqlite3_value_bytes(v);
        }
    }
}

/* Runs one statement at open and checks the text it answers, when
 * expect is not NULL. */
static int
store_pragma(struct wharfd_sqlite *st, sqlite3 *db, const char *sql,
             const char *expect)
{
    sqlite3_stmt *stmt;
    const char *got;
    int rc, ok = 0;

    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        wharfd_store_log_error(st, db, sql);
        return -1;
    }
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        ok = 1;
        if (expect != NULL) {
            got = rc == SQLITE_ROW ? wharfd_store_text(stmt, 0) : NULL;
            if (got == NULL || strcmp(got, expect) != 0) {
                wharf_warn("database %s: %s answered %s, not %s", st->path, sql,
                           got ? got : "nothing", expect);
            }
        }
    } else {
        wharfd_store_log_error(st, db, sql);
    }
    sqlite3_finalize(stmt);
    return ok ? 0 : -1;
}

/* Opens a connection with wharf's pragmas. */
static sqlite3 *
store_connect(struct wharfd_sqlite *st, int readonly)
{
    char sql[64];
    sqlite3 *db = NULL;

    /* NOMUTEX: a connection is used by one thread at a time (the writer
     * thread; a reader between wharfd_store_reader and _release), so
     * SQLite's own per-call mutex is pure cost (measured: 18% of a list
     * request's CPU in bench/query). */
    if (sqlite3_open_v2(
            st->path, &db,
            SQLITE_OPEN_NOMUTEX
                | (readonly ? SQLITE_OPEN_READONLY
                            : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE),
            NULL)
        != SQLITE_OK) {
        wharfd_store_log_error(st, db, "open");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, WHARFD_BUSY_TIMEOUT_MS);
    snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%d",
             readonly ? WHARFD_READER_CACHE_KIB : WHARFD_CACHE_KIB);

    /* WAL: readers never block the writer nor the other way round.
     * synchronous=NORMAL: in WAL mode a commit is in the WAL file (the
     * OS's page cache) when COMMIT returns, so it survives the process
     * being killed (SIGKILL); only a power loss may lose the last commits,
     * never the database. The first statement also fails on a file that
     * is not a database, with SQLite's own message. */
    if ((!readonly
         && store_pragma(st, db, "PRAGMA journal_mode=WAL", "wal") != 0)
        || store_pragma(st, db, "PRAGMA synchronous=NORMAL", NULL) != 0
        || store_pragma(st, db, "PRAGMA temp_store=MEMORY", NULL) != 0
        || store_pragma(st, db, sql, NULL) != 0) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* --- writer thread --------------------------------------------------------- */

sqlite3_stmt *
wharfd_store_wstmt(struct wharfd_sqlite *st, enum wharfd_wstmt_id id)
{
    sqlite3_stmt *s = st->wstmt[id];

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

sqlite3_stmt *
wharfd_store_wstmt_all(struct wharfd_sqlite *st, enum wharfd_wstmt_id id)
{
    sqlite3_stmt *s = st->wstmt[id];

    sqlite3_reset(s);
    return s;
}

static int
store_wexec(struct wharfd_sqlite *st, enum wharfd_wstmt_id id)
{
    sqlite3_stmt *s = wharfd_store_wstmt(st, id);
    int rc = sqlite3_step(s);

    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        wharfd_store_log_error(st, st->wdb, store_wsql[id]);
        return -1;
    }
    return 0;
}

/* Runs one group of jobs in one transaction (store_engine.h). */
static void
sqlite_run_group(struct wharfd_store *base, struct wharfd_job *group)
{
    struct wharfd_sqlite *st = wharfd_sqlite_of(base);
    struct wharfd_job *j;
    int ok = 0, full = 0;

    if (store_wexec(st, WHARFD_W_BEGIN) == 0) {
        for (j = group; j != NULL; j = j->next) {
            /* SQLite may roll the whole transaction back on its own
             * (SQLITE_FULL, IOERR, NOMEM): a SAVEPOINT then would open a
             * new transaction that its RELEASE commits, storing a job that
             * is answered as failed with the rest of the group. */
            if (sqlite3_get_autocommit(st->wdb)
                || store_wexec(st, WHARFD_W_SAVEPOINT) != 0) {
                j->rc = -1;
                continue;
            }
            j->rc = j->run(base, j->arg);
            if (j->rc != 0) {
                if ((sqlite3_extended_errcode(st->wdb) & 0xff) == SQLITE_FULL) {
                    j->rc = WHARFD_STORE_FULL;
                    full = 1;
                }
                store_wexec(st, WHARFD_W_ROLLBACK_TO);
            }
            store_wexec(st, WHARFD_W_RELEASE);
        }
        ok = store_wexec(st, WHARFD_W_COMMIT) == 0;
        if (!ok) {
            /* the disk filled up at the commit (the WAL grows there) */
            full |= (sqlite3_extended_errcode(st->wdb) & 0xff) == SQLITE_FULL;
            store_wexec(st, WHARFD_W_ROLLBACK);
        }
    }
    if (!ok) {
        for (j = group; j != NULL; j = j->next) {
            /* nothing of the group was committed */
            j->rc = full ? WHARFD_STORE_FULL : -1;
        }
    }
}

/* --- readers ---------------------------------------------------------------- */

struct wharfd_reader *
wharfd_store_reader(struct wharfd_sqlite *st)
{
    struct wharfd_reader *r;

    pthread_mutex_lock(&st->readers_lock);
    r = st->free_readers;
    if (r != NULL) {
        st->free_readers = r->next;
    }
    pthread_mutex_unlock(&st->readers_lock);
    if (r != NULL) {
        return r;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        wharf_error("database %s: out of memory", st->path);
        return NULL;
    }
    r->db = store_connect(st, 1);
    if (r->db == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

static void
reader_free(struct wharfd_reader *r)
{
    int i;

    for (i = 0; i < r->ncache; i++) {
        sqlite3_finalize(r->cache[i].stmt);
        free(r->cache[i].sql);
    }
    sqlite3_close(r->db);
    free(r);
}

void
wharfd_store_reader_release(struct wharfd_sqlite *st, struct wharfd_reader *r)
{
    int i;

    if (r == NULL) {
        return;
    }
    /* A statement left mid-way would hold its read snapshot open. */
    for (i = 0; i < r->ncache; i++) {
        sqlite3_reset(r->cache[i].stmt);
    }
    pthread_mutex_lock(&st->readers_lock);
    r->next = st->free_readers;
    st->free_readers = r;
    pthread_mutex_unlock(&st->readers_lock);
}

sqlite3_stmt *
wharfd_reader_stmt(struct wharfd_sqlite *st, struct wharfd_reader *r,
                   const char *sql)
{
    sqlite3_stmt *s;
    int i;

    for (i = 0; i < r->ncache; i++) {
        if (strcmp(r->cache[i].sql, sql) == 0) {
            s = r->cache[i].stmt;
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
            return s;
        }
    }
    if (r->ncache == WHARFD_READER_STMTS) {
        /* Full (many filter combinations): start over. */
        for (i = 0; i < r->ncache; i++) {
            sqlite3_finalize(r->cache[i].stmt);
            free(r->cache[i].sql);
        }
        r->ncache = 0;
    }
    if (sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL)
        != SQLITE_OK) {
        wharfd_store_log_error(st, r->db, "preparing a query");
        return NULL;
    }
    r->cache[r->ncache].sql = strdup(sql);
    if (r->cache[r->ncache].sql == NULL) {
        sqlite3_finalize(s);
        return NULL;
    }
    r->cache[r->ncache++].stmt = s;
    return s;
}

/* --- open, close, ping ------------------------------------------------------ */

static int sqlite_ping(struct wharfd_store *base, int *schema_version);
static void sqlite_close(struct wharfd_store *base);

/* One wharfd per file: it always runs retention. */
static int
sqlite_retention_lead(struct wharfd_store *base, int *leader)
{
    (void) base;
    *leader = 1;
    return 0;
}

const struct wharfd_store_ops wharfd_sqlite_ops = {
    .name = "sqlite",
    .run_group = sqlite_run_group,
    .close = sqlite_close,
    .ping = sqlite_ping,
    .query = wharfd_sqlite_query,
    .last_sequence = wharfd_sqlite_last_sequence,
    .process_get = wharfd_sqlite_process_get,
    .stats = wharfd_sqlite_stats,
    .workers_each = wharfd_sqlite_workers_each,
    .logs = wharfd_sqlite_logs,
    .errors = wharfd_sqlite_errors,
    .process_upsert = wharfd_sqlite_process_upsert,
    .event = wharfd_sqlite_event,
    .worker_heartbeat = wharfd_sqlite_worker_heartbeat,
    .worker_remove = wharfd_sqlite_worker_remove,
    .clear = wharfd_sqlite_clear,
    .retention_lead = sqlite_retention_lead,
    .retain_partitions = NULL, /* no partitions: rows go one by one */
    .retain_next_worker = wharfd_sqlite_retain_next_worker,
    .retain_logs_plan = wharfd_sqlite_retain_logs_plan,
    .retain_logs = wharfd_sqlite_retain_logs,
    .retain_errors = wharfd_sqlite_retain_errors,
};

/*
 * One wharfd per SQLite file: the first takes an exclusive flock on
 * PATH-wharfd.lock, kept until it exits (or dies: the kernel lets go),
 * and a second is refused at start instead of serving answers that miss
 * the first one's writes. Two things rely on being the only writer:
 * retention (it runs in every wharfd on SQLite) and the recent rows
 * (recent.h), which the writer keeps current as it commits. Several
 * wharfd share a database on PostgreSQL. The lock is a file of its own,
 * beside the -wal and -shm ones, because SQLite's own locks are fcntl
 * locks on the database, which any other descriptor of that file would
 * release when closed. The file holds the holder's pid, for the message.
 */
static int
store_lock(struct wharfd_sqlite *st, const char *path)
{
    char lpath[PATH_MAX], pid[32];
    ssize_t n;
    int fd;

    st->lock_fd = -1;
    if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0) {
        return 0; /* no file of its own to guard (a URI: SQLite's rules) */
    }
    if ((size_t) snprintf(lpath, sizeof(lpath), "%s-wharfd.lock", path)
        >= sizeof(lpath)) {
        wharf_error("database %s: path too long", path);
        return -1;
    }
    fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        wharf_error("database %s: cannot open %s: %s", path, lpath,
                    strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) {
            wharf_error("database %s: cannot lock %s: %s", path, lpath,
                        strerror(errno));
        } else {
            n = pread(fd, pid, sizeof(pid) - 1, 0);
            pid[n > 0 ? n : 0] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
            wharf_error("database %s is in use by another wharfd (pid %s; %s "
                        "is locked): one wharfd per SQLite file, several "
                        "wharfd share a PostgreSQL database",
                        path, pid[0] ? pid : "unknown", lpath);
        }
        close(fd);
        return -1;
    }
    n = snprintf(pid, sizeof(pid), "%ld\n", (long) getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t) n, 0) != n) {
        wharf_warn("database %s: cannot write the pid to %s: %s", path, lpath,
                   strerror(errno));
    }
    st->lock_fd = fd;
    return 0;
}

int
wharfd_sqlite_open(struct wharfd_store **out, const char *path)
{
    struct wharfd_sqlite *st;
    char err[512];
    int i, applied, version;

    *out = NULL;
    /* Process-wide, before SQLite initialises (later calls are refused
     * harmlessly): no memory statistics, whose global mutex every
     * allocation of every connection takes (perf: 6% of ingestion). */
    (void) sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    st = calloc(1, sizeof(*st));
    if (st == NULL || (st->path = strdup(path)) == NULL) {
        free(st);
        wharf_error("database %s: out of memory", path);
        return -1;
    }
    wharfd_store_base_init(&st->base, &wharfd_sqlite_ops);
    pthread_mutex_init(&st->readers_lock, NULL);

    if (store_lock(st, path) != 0) {
        goto fail;
    }
    st->wdb = store_connect(st, 0);
    if (st->wdb == NULL) {
        goto fail;
    }
    if (store_pragma(st, st->wdb, "PRAGMA foreign_keys=ON", NULL) != 0) {
        goto fail;
    }
    if (wharfd_migrate_sqlite(st->wdb, &applied, err, sizeof(err)) != 0) {
        wharf_error("database %s: %s", path, err);
        goto fail;
    }
    for (i = 0; i < WHARFD_W__COUNT; i++) {
        if (sqlite3_prepare_v3(st->wdb, store_wsql[i], -1,
                               SQLITE_PREPARE_PERSISTENT, &st->wstmt[i], NULL)
            != SQLITE_OK) {
            wharfd_store_log_error(st, st->wdb, store_wsql[i]);
            goto fail;
        }
    }
    if (wharfd_store_start_writer(&st->base) != 0) {
        goto fail;
    }
    if (sqlite_ping(&st->base, &version) != 0) {
        goto fail;
    }
    wharf_info("database %s: schema version %d%s", path, version,
               applied ? " (migrated now)" : "");
    *out = &st->base;
    return 0;

fail:
    wharfd_store_close(&st->base);
    return -1;
}

static void
sqlite_close(struct wharfd_store *base)
{
    struct wharfd_sqlite *st = wharfd_sqlite_of(base);
    struct wharfd_reader *r;
    int i;

    while ((r = st->free_readers) != NULL) {
        st->free_readers = r->next;
        reader_free(r);
    }
    for (i = 0; i < WHARFD_W__COUNT; i++) {
        sqlite3_finalize(st->wstmt[i]);
    }
    if (st->wdb != NULL && sqlite3_close(st->wdb) != SQLITE_OK) {
        wharfd_store_log_error(st, st->wdb, "close");
    }
    pthread_mutex_destroy(&st->readers_lock);
    wharfd_store_base_destroy(&st->base);
    if (st->lock_fd >= 0) {
        close(st->lock_fd); /* after the database: it releases the flock */
    }
    free(st->path);
    free(st);
}

static int
sqlite_ping(struct wharfd_store *base, int *schema_version)
{
    struct wharfd_sqlite *st = wharfd_sqlite_of(base);
    struct wharfd_reader *r = wharfd_store_reader(st);
    sqlite3_stmt *s;
    int rc = -1;

    if (r == NULL) {
        return -1;
    }
    s = wharfd_reader_stmt(st, r,
                           "SELECT coalesce(max(version), 0)"
                           " FROM schema_migrations");
    if (s != NULL && sqlite3_step(s) == SQLITE_ROW) {
        *schema_version = sqlite3_column_int(s, 0);
        rc = 0;
    } else if (s != NULL) {
        wharfd_store_log_error(st, r->db, "ping");
    }
    wharfd_store_reader_release(st, r);
    return rc;
}
