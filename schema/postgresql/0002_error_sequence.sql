-- wharf data model, version 2, PostgreSQL: idempotent resends of errors,
-- as schema/sqlite/0002_error_sequence.sql (the reasons are there).
--
-- NULL: no occurrence with a sequence counted yet. Adding a nullable
-- column without a default rewrites no row.
ALTER TABLE container_errors ADD COLUMN last_sequence bigint;
