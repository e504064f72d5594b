"""The report: JSON for tools (--rollback, validate DEST) and Markdown for
people, with the same facts.  A report is the only way back, so it is never
overwritten, and by default it is written outside the destination."""

from __future__ import annotations

import json
import os
import re

from .manifest import Manifest
from .plan import Plan
from .util import UsageError, is_inside, nearest_existing, now_iso, write_atomically

REPORT_FORMAT = "wharf-migrate-report"
REPORT_VERSION = 1
REPORT_FILE_KEYS = ("destination", "action", "sha256_after", "previous_sha256", "backup")


def report_paths(base: str) -> dict:
    """The files a report base names."""
    return {"json": base + ".json", "markdown": base + ".md", "backup_dir": base + ".backup"}


def default_report_base(destination_root: str, run_id: str) -> str:
    """Beside the destination, in the nearest folder above it that exists:
    never inside the destination, and never a folder created for the
    report (so a rollback leaves the tree byte for byte as it was)."""
    folder = nearest_existing(os.path.dirname(destination_root))
    return os.path.join(folder, f"{os.path.basename(destination_root)}.migrate-{run_id}")


def choose_report_base(requested: str | None, manifest: Manifest, run_id: str) -> str:
    """--report PATH (with or without .json/.md), or the default base.
    A report is the only way back, so never overwrite one."""
    dest = manifest.destination_root
    if requested:
        base = os.path.abspath(re.sub(r"\.(json|md)$", "", requested))
    else:
        base = default_report_base(dest, run_id)
    real_base = os.path.realpath(base)        # resolves the part that exists
    for root, name in ((dest, "destination_root"), (manifest.source_root, "source_root")):
        if is_inside(real_base, root):
            raise UsageError(f"--report: {base} is inside {name}; put the report elsewhere")
    taken = [p for p in report_paths(base).values() if os.path.lexists(p)]
    if taken:
        raise UsageError(f"--report: {taken[0]} already exists; choose another --report base")
    return base


def new_report(manifest: Manifest, run_id: str, base: str | None, plan: Plan,
               recipe: dict | None) -> dict:
    """The report skeleton, filled in as the run goes."""
    paths = report_paths(base) if base else {}
    return {
        "format": REPORT_FORMAT, "version": REPORT_VERSION, "run_id": run_id,
        "status": "planned", "destination_touched": False,
        "started_at": now_iso(), "finished_at": None, "rolled_back_at": None,
        "manifest": {"path": manifest.path, "sha256": manifest.sha256, "description": manifest.description},
        "recipe": recipe,
        "source_root": manifest.source_root, "destination_root": manifest.destination_root,
        "report": {"json": paths.get("json"), "markdown": paths.get("markdown")},
        "backup_dir": None, "summary": {}, "discovery": plan.discovery, "files": [],
        "skipped": plan.skipped, "created_directories": [], "validation": None,
        "work_left": [], "orchestrator": [], "warnings": [], "errors": [],
    }


def summarise(report: dict) -> dict:
    """Counts for the report's head."""
    files = report["files"]

    def count(action: str, kind: str | None = None) -> int:
        return sum(1 for f in files if f["action"] == action and (kind is None or f.get("kind") == kind))

    validation = report["validation"]
    ts = (validation or {}).get("typescript") or {}
    return {"files": len(files), "created": count("create"), "overwritten": count("overwrite"),
            "unchanged": count("unchanged"), "edited_in_place": count("overwrite", "edit"),
            "skipped": len(report["skipped"]),
            "rewritten_files": sum(1 for f in files if f["rewrites"]),
            "rewritten_lines": len({(f["destination"], r["line"]) for f in files for r in f["rewrites"]}),
            "work_left": len(report["work_left"]), "orchestrator": len(report["orchestrator"]),
            "validation": ("not run" if validation is None
                           else "passed" if validation["passed"] else "failed"),
            "typescript": ("checked" if ts.get("checked") else "not checked") if validation else "not run"}


def cell(text: str) -> str:
    """Text that may sit in a Markdown table cell (a pipe would end it)."""
    return text.replace("|", "\\|")


def md_code(text: str) -> str:
    """Inline Markdown code that survives backticks and table pipes."""
    text = cell(text)
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`"


def rule_label(rewrite: dict) -> str:
    """How a rewrite's rule is named: rewrites[i], or the reference
    following and the kinds of references it followed."""
    if rewrite["rule"] == "follow":
        return f"follow: {', '.join(rewrite.get('kinds', []))}"
    return f"rewrites[{rewrite['rule']}]"


def render_head(report: dict) -> list[str]:
    """Summary lines."""
    s = report["summary"]
    recipe = report.get("recipe")
    return [f"# Migration report {report['run_id']}", "",
            f"- status: **{report['status']}**",
            (f"- recipe: `{recipe['name']}` on `{recipe['checkout']}` "
             f"(`{report['manifest']['path']}`)" if recipe else
             f"- manifest: `{report['manifest']['path']}` (sha256 {report['manifest']['sha256'][:12]})"),
            f"- source: `{report['source_root']}`",
            f"- destination: `{report['destination_root']}`",
            f"- backups: `{report['backup_dir']}`" if report["backup_dir"] else "- backups: none",
            f"- started {report['started_at']}, finished {report['finished_at']}",
            f"- {s['files']} files: {s['created']} created, {s['overwritten']} overwritten "
            f"({s['edited_in_place']} edited in place), {s['unchanged']} unchanged; {s['skipped']} skipped; "
            f"{s['rewritten_lines']} lines rewritten in {s['rewritten_files']} files; "
            f"{s['work_left']} things left to do by hand; validation {s['validation']}", ""]


def render_discovery(report: dict) -> list[str]:
    """Roles and consumers found."""
    d = report.get("discovery") or {}
    if not d:
        return []
    out = ["## Discovery", "", "| source | role | destination | why |", "|---|---|---|---|"]
    out += [f"| `{r['source']}` | {r['role'] or 'skipped'} | {md_code(r.get('destination') or '-')} "
            f"| {cell(r['why'])} |" for r in d.get("roles", [])]
    out += ["", "Files outside the migrated folder that name it (edited in place):", ""]
    out += [f"- `{c['file']}`: {c['why']}" for c in d.get("consumers", [])] or ["none"]
    return out + [""]


def render_validation(v: dict | None) -> list[str]:
    """The validation section."""
    from .validate import typescript_line
    out = ["## Validation", ""]
    if v is None:
        return out + ["not run"]
    out += [f"- C syntax (`{v['c_syntax']['compiler']} -fsyntax-only`): "
            f"{v['c_syntax']['files_checked']} files, {v['c_syntax']['failed']} failed",
            f"- JSON: {v['json']['files_checked']} files, {v['json']['failed']} failed",
            f"- shell (`bash -n`): {v.get('shell', {}).get('files_checked', 0)} files, "
            f"{v.get('shell', {}).get('failed', 0)} failed",
            f"- references: {v['references']['includes_checked']} includes and "
            f"{v['references']['imports_checked']} imports, {v['references']['failed']} dangling",
            f"- {typescript_line(v.get('typescript') or {})}"]
    out += [f"- **{f['check']}** `{f['file']}{':' + str(f['line']) if f['line'] else ''}`: {f['message']}"
            for f in v["failures"]]
    return out


def render_markdown(report: dict) -> str:
    """The report for people: the same facts as the JSON, in sections."""
    out = render_head(report) + render_discovery(report)
    out += ["## Files", "", "| action | source | destination | sha256 before | sha256 after |",
            "|---|---|---|---|---|"]
    out += [f"| {f['action']} | {'`' + f['source'] + '`' if f['source'] else '(edited in place)'} "
            f"| `{f['destination']}` | {f['sha256_before'][:12]} | {f['sha256_after'][:12]} |"
            for f in report["files"]]
    out += ["", "## Rewrites", ""]
    rewritten = [f for f in report["files"] if f["rewrites"]]
    for f in rewritten:
        out.append(f"### `{f['destination']}`")
        out += [f"- line {r['line']} ({rule_label(r)}): {md_code(r['old'])} → {md_code(r['new'])}"
                for r in f["rewrites"]]
        out.append("")
    if not rewritten:
        out += ["none", ""]
    out += ["## Work left", ""]
    out += [f"- `{w['file']}{':' + str(w['line']) if w['line'] else ''}`: {w['reason']}"
            + (f" ({md_code(w['text'])})" if w["text"] else "") for w in report["work_left"]] or ["none"]
    if report["orchestrator"]:
        out += ["", "## Orchestrator: what replaces the local database", "",
                "| where | what | access | wharfd RPC | note |", "|---|---|---|---|---|"]
        out += [f"| `{o['file']}:{o['line']}` | {md_code(o['text'])} | {o['access']} "
                f"| {', '.join(o['rpc']) or '-'} | {cell(o['note'])} |" for o in report["orchestrator"]]
    overwritten = [f for f in report["files"] if f["action"] == "overwrite"]
    out += ["", "## Overwritten files", ""]
    out += [f"- `{f['destination']}` (was {(f['previous_sha256'] or '')[:12]}), backup `{f['backup']}`"
            for f in overwritten] or ["none"]
    out += ["", "## Skipped", ""]
    out += [f"- `{k['source']}`: {k['reason']}" for k in report["skipped"]] or ["none"]
    out += [""] + render_validation(report["validation"])
    for title, key in (("Warnings", "warnings"), ("Errors", "errors")):
        out += ["", f"## {title}", ""]
        out += [f"- {m}" for m in report[key]] or ["none"]
    return "\n".join(out) + "\n"


def write_report(report: dict, results: list) -> None:
    """Refresh the report's derived fields and write both files."""
    report["files"] = [r.as_dict() for r in results]
    report["summary"] = summarise(report)
    if report["report"]["json"]:
        write_atomically(report["report"]["json"], json.dumps(report, indent=2) + "\n")
        write_atomically(report["report"]["markdown"], render_markdown(report))


def load_report(path: str, who: str = "--rollback") -> dict:
    """Read a report and check it is one of ours, complete enough to use."""
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
    except OSError as exc:
        raise UsageError(f"{who}: cannot read {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{who}: {path} is not a JSON report ({exc})") from None
    if not isinstance(report, dict) or report.get("format") != REPORT_FORMAT:
        raise UsageError(f"{who}: {path} is not a migrate report (no \"format\": \"{REPORT_FORMAT}\")")
    if report.get("version") != REPORT_VERSION:
        raise UsageError(f"{who}: report version {report.get('version')} is not supported")
    for i, entry in enumerate(report.get("files", [])):
        if not isinstance(entry, dict) or any(k not in entry for k in REPORT_FILE_KEYS):
            raise UsageError(f"{who}: {path}: files[{i}] is incomplete")
    return report
