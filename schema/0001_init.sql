-- wharf data model, version 1: the five tables of DESIGN.md "Data".
--
-- Applied by wharfd at start, once, inside a transaction, and recorded in
-- schema_migrations (which wharfd itself creates; it is not part of the
-- model). Never edit a released migration: add 0002_*.sql instead.
--
-- Conventions: snake_case names; every table carries worker_name (for
-- workers, name is that worker's name) and container_name; times are
-- ISO-8601 UTC text with milliseconds ("2026-11-27T09:30:00.123Z"), which
-- sort as text in time order; JSON values (args, env, metadata, payload)
-- are JSON text.

-- One row per worker, upserted by every heartbeat.
CREATE TABLE workers (
    name            TEXT NOT NULL PRIMARY KEY,
    container_name  TEXT,
    agent_version   TEXT,
    first_seen      TEXT NOT NULL,
    last_seen       TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'online'
);

-- One row per supervised process instance of a worker.
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
    UNIQUE (worker_name, instance_id)
);
CREATE INDEX container_processes_status
    ON container_processes (status, worker_name);

-- Deduplicated errors: a repeat of (worker, instance, error_hash) bumps
-- occurrence_count and last_seen instead of adding a row.
CREATE TABLE container_errors (
    worker_name      TEXT NOT NULL,
    container_name   TEXT,
    instance_id      TEXT NOT NULL,
    process_id       TEXT,
    error_hash       TEXT NOT NULL,
    timestamp        TEXT NOT NULL,
    level            INTEGER NOT NULL,
    message          TEXT NOT NULL,
    raw_output       TEXT,
    occurrence_count INTEGER NOT NULL DEFAULT 1,
    first_seen       TEXT NOT NULL,
    last_seen        TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    UNIQUE (worker_name, instance_id, error_hash)
);
-- Lists newest first per instance, and retention by age.
CREATE INDEX container_errors_instance_last_seen
    ON container_errors (worker_name, instance_id, last_seen);
CREATE INDEX container_errors_last_seen
    ON container_errors (last_seen);

-- Log lines. (worker, instance, sequence) is unique, so a batch resent by
-- an agent after a lost answer is a no-op.
CREATE TABLE container_logs (
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
-- The unique constraint's index serves per-instance reads in sequence
-- order; these serve time filters across a worker and retention by age.
CREATE INDEX container_logs_worker_timestamp
    ON container_logs (worker_name, timestamp);
CREATE INDEX container_logs_created_at
    ON container_logs (created_at);

-- Lifecycle and health events (process started, crashed, ...).
CREATE TABLE container_events (
    worker_name     TEXT NOT NULL,
    container_name  TEXT,
    instance_id     TEXT,
    process_id      TEXT,
    type            TEXT NOT NULL,
    payload         TEXT,
    timestamp       TEXT NOT NULL
);
CREATE INDEX container_events_worker_timestamp
    ON container_events (worker_name, instance_id, timestamp);
CREATE INDEX container_events_timestamp
    ON container_events (timestamp);
