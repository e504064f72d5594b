"""wharf's migration engine behind scripts/migrate.py (see docs/migrate.md).

Modules by concern: manifest (reading and checking), plan (which file goes
where, with role discovery), stage (reading, rewriting), references
(following moved files into imports, package.json, scripts, Dockerfiles),
view/checks/typescript/validate (judging the resulting tree), move,
report, rollback, run (one migration) and cli (the command line).
"""
