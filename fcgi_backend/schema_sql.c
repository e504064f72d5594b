/*
 * The SQL migrations of schema/sqlite/ and schema/postgresql/, embedded
 * into the binary at build time so wharfd needs no schema directory at
 * run time.
 *
 * The assembler's .incbin copies each file's bytes into .rodata, followed
 * by a NUL that makes it a C string. Paths are relative to the repository
 * root, where make runs the compiler; the Makefile makes this object
 * depend on the schema/ files, which the compiler's own dependency files cannot
 * see.
 *
 * To add a migration: add schema/sqlite/000N_name.sql and
 * schema/postgresql/000N_name.sql (the same number and name; both engines
 * stay at the same version), their WHARFD_SQL_FILE lines and one row of
 * wharfd_migrations[], in version order. Never change a file that has
 * been released.
 */
#include "migrate.h"

#define WHARFD_SQL_FILE(sym, path)                 \
    __asm__(".pushsection .rodata\n"               \
            ".global " #sym "\n"                   \
            ".hidden " #sym "\n"                   \
            ".type " #sym ", @object\n" #sym ":\n" \
            ".incbin \"" path "\"\n"               \
            ".byte 0\n"                            \
            ".size " #sym ", . - " #sym "\n"       \
            ".popsection\n");                      \
    extern const char sym[] __attribute__((visibility("hidden")))

WHARFD_SQL_FILE(wharfd_sqlite_0001_init, "schema/sqlite/0001_init.sql");
WHARFD_SQL_FILE(wharfd_sqlite_0002_error_sequence,
                "schema/sqlite/0002_error_sequence.sql");
WHARFD_SQL_FILE(wharfd_pg_0001_init, "schema/postgresql/0001_init.sql");
WHARFD_SQL_FILE(wharfd_pg_0002_error_sequence,
                "schema/postgresql/0002_error_sequence.sql");

const struct wharfd_migration wharfd_migrations[] = {
    { 1, "0001_init", wharfd_sqlite_0001_init, wharfd_pg_0001_init },
    { 2, "0002_error_sequence", wharfd_sqlite_0002_error_sequence,
      wharfd_pg_0002_error_sequence },
};

const size_t wharfd_migrations_count =
    sizeof(wharfd_migrations) / sizeof(wharfd_migrations[0]);

int
wharfd_schema_version_known(void)
{
    return wharfd_migrations[wharfd_migrations_count - 1].version;
}
