-- wharf data model, version 1: the five tables of DESIGN.md "Data".
--
-- Applied by wharfd at start, once, inside a transaction, and recorded in
-- schema_migrations (which wharfd itself creates; it is not part of the
-- model). Never edit a released migration: add 0002_*.sql instead.
--
-- Conventions: snake_case names as the peer's (readers see these); every
-- table carries worker_name (for workers, name is that worker's name) and
-- container_name; times are ISO-8601 UTC text with milliseconds
-- ("2026-11-27T09:30:00.123Z"), which sort as text in time order; JSON
-- values (args, env, metadata, payload) are JSON text.
--
-- Designed for ingest (measured in bench/ingest, see docs/BENCHMARKS.md):
--  * no AUTOINCREMENT: the log and event tables key on the plain rowid
--    (an alias "id"), which SQLite assigns as max+1 without touching
--    sqlite_sequence; rows are appended at the right edge of the b-tree.
--  * one index per access path that a query needs, no more: every index
--    is one more b-tree insert per row.
--  * "latest N for an instance" walks the unique (worker, instance,
--    sequence) index backwards; "latest N for a worker" walks
--    (worker_name, id) backwards; "latest N overall" walks the rowid
--    backwards: no query sorts.

-- One row per worker, upserted by every heartbeat.
CREATE TABLE workers (
    name            TEXT NOT NULL PRIMARY KEY,
    container_name  TEXT,
    agent_version   TEXT,
    first_seen      TEXT NOT NULL,
    last_seen       TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'online'
) WITHOUT ROWID;

-- One row per supervised process instance of a worker; few rows, many
-- updates: the key is the row (WITHOUT ROWID), no second index.
CREATE TABLE container_processes (
    worker_name     TEXT NOT NULL,
    container_name  TEXT,
    instance_id     TEXT NOT NULL,
    process_id      TEXT,
    command         TEXT NOT NULL,
    args            TEXT,
    cwd             TEXT,
    status          TEXT NOT NULL
        CHECK (status IN ('starting', 'running', 'stopping', 'stopped',
                          'crashed')),
    pid             INTEGER,
    restart_count   INTEGER NOT NULL DEFAULT 0,
    start_time      TEXT,
    end_time        TEXT,
    exit_code       INTEGER,
    last_error      TEXT,
    env             TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (worker_name, instance_id)
) WITHOUT ROWID;

-- Deduplicated errors: a repeat of (worker, instance, error_hash) bumps
-- occurrence_count and last_seen instead of adding a row. The unique key
-- serves the dedup lookup and per-instance lists. No index on last_seen:
-- every repeat changes it, so such an index would cost a delete and an
-- insert per occurrence (measured: the dedup path is the hot one), while
-- the table holds one row per distinct error and sorts cheaply.
CREATE TABLE container_errors (
    id               INTEGER PRIMARY KEY,
    worker_name      TEXT NOT NULL,
    container_name   TEXT,
    instance_id      TEXT NOT NULL,
    process_id       TEXT,
    error_hash       TEXT NOT NULL,
    timestamp        TEXT NOT NULL,
    level            REAL NOT NULL,
    message          TEXT NOT NULL,
    raw_output       TEXT,
    occurrence_count INTEGER NOT NULL DEFAULT 1,
    first_seen       TEXT NOT NULL,
    last_seen        TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    UNIQUE (worker_name, instance_id, error_hash)
);

-- Log lines. (worker, instance, sequence) is unique, so a batch resent by
-- an agent after a lost answer is a no-op; the same index gives
-- getLastSequence and per-instance reads in sequence order. id (the rowid)
-- is arrival order; (worker_name) indexes carry the rowid, so the second
-- index is (worker_name, id) and serves a worker's newest lines.
CREATE TABLE container_logs (
    id              INTEGER PRIMARY KEY,
    worker_name     TEXT NOT NULL,
    container_name  TEXT,
    instance_id     TEXT NOT NULL,
    process_id      TEXT,
    sequence        INTEGER NOT NULL,
    timestamp       TEXT NOT NULL,
    level           TEXT NOT NULL
        CHECK (level IN ('debug', 'info', 'warn', 'error', 'output')),
    message         TEXT NOT NULL,
    stream          TEXT CHECK (stream IS NULL OR stream IN ('stdout', 'stderr')),
    source          TEXT,
    metadata        TEXT,
    created_at      TEXT NOT NULL,
    UNIQUE (worker_name, instance_id, sequence)
);
CREATE INDEX container_logs_worker ON container_logs (worker_name);

-- Lifecycle and health events (process started, crashed, ...).
CREATE TABLE container_events (
    id              INTEGER PRIMARY KEY,
    worker_name     TEXT NOT NULL,
    container_name  TEXT,
    instance_id     TEXT,
    process_id      TEXT,
    type            TEXT NOT NULL,
    payload         TEXT,
    timestamp       TEXT NOT NULL
);
CREATE INDEX container_events_worker ON container_events (worker_name);
