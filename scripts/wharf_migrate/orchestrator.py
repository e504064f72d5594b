"""The orchestrator side of a migration: which wharfd RPC method takes the
place of each local database write and read of the migrated code.

A manifest's `orchestrator[]` rules name, per line pattern or per SQL
statement pattern, the access (write, read, schema, ...) and the
`ContainerMonitoringOps.*` methods of wharfd's /rpc (docs/wharfd.md) that
replace it.  The scan runs on the migrated files as staged (destination
names and lines); every SQL statement no rule explains is listed too, so
nothing the old code did to its database goes unmentioned.
"""

from __future__ import annotations

import re

from .manifest import OrchestratorRule

# A string literal that opens with an upper-case SQL statement.
SQL_OPEN = re.compile(r"""([`'"])\s*(?=(?:SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|PRAGMA|REPLACE|DROP|ALTER)\b)""")
SQL_STATEMENT = re.compile(
    r"^(?:SELECT\b.*\bFROM\b|INSERT\s+(?:OR\s+\w+\s+)?INTO\b|REPLACE\s+INTO\b|UPDATE\s+\w+\s+SET\b|"
    r"DELETE\s+FROM\b|WITH\b.*\bSELECT\b|CREATE\s+(?:TABLE|INDEX|UNIQUE|VIEW|TRIGGER)\b|PRAGMA\b|"
    r"DROP\s+(?:TABLE|INDEX)\b|ALTER\s+TABLE\b)", re.S)
TEXT_MAX = 160


def sql_statements(text: str) -> list[tuple[int, str]]:
    """(line, statement with whitespace collapsed) for each SQL literal."""
    found = []
    for m in SQL_OPEN.finditer(text):
        quote, start = m.group(1), m.end()
        end = text.find(quote, start)
        if end < 0 or (quote != "`" and "\n" in text[start:end]):
            continue
        statement = " ".join(text[start:end].split())
        if SQL_STATEMENT.match(statement):
            found.append((text.count("\n", 0, start) + 1, statement))
    return found


def short(text: str) -> str:
    """A statement or line cut to a readable length for the report."""
    text = text.strip()
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 3] + "..."


def entry(rule: OrchestratorRule | None, file: str, line: int, text: str, match: str) -> dict:
    """One row of the report's orchestrator map."""
    if rule is None:
        return {"file": file, "line": line, "match": match, "text": short(text), "access": "unknown",
                "rpc": [], "rule": None,
                "note": "no orchestrator rule explains this statement: map it to wharfd by hand"}
    return {"file": file, "line": line, "match": match, "text": short(text), "access": rule.access,
            "rpc": [f"ContainerMonitoringOps.{m}" for m in rule.rpc], "rule": rule.index,
            "note": rule.note}


def scan(rules: list[OrchestratorRule], files: list[tuple[str, str]]) -> list[dict]:
    """Map every matching line and every SQL statement of the given
    (destination, text) files.  The first matching rule wins."""
    if not rules:
        return []
    out = []
    for dest, text in files:
        line_rules = [r for r in rules if r.match == "line" and any(g.match(dest) for g in r.files)]
        statement_rules = [r for r in rules if r.match == "statement" and any(g.match(dest) for g in r.files)]
        for number, body in enumerate(text.split("\n"), start=1):
            rule = next((r for r in line_rules if r.regex.search(body)), None)
            if rule:
                out.append(entry(rule, dest, number, body, "line"))
        if statement_rules:
            for number, statement in sql_statements(text):
                rule = next((r for r in statement_rules if r.regex.search(statement)), None)
                out.append(entry(rule, dest, number, statement, "statement"))
    out.sort(key=lambda e: (e["file"], e["line"], e["match"]))
    return out
