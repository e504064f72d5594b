"""Validation: every check on the files of a run, before anything moves
(on the resulting tree), and `validate DEST` at any time after (on the tree
on disk, against the run's report: hashes, imports, syntax)."""

from __future__ import annotations

import json
import os
import posixpath
import sys
from types import SimpleNamespace

from . import typescript as ts
from .checks import (Failure, check_c_syntax, check_imports, check_includes, check_json_files,
                     check_shell_files, include_dirs, is_shell_script)
from .util import C_SUFFIXES, EXIT_FAILED, EXIT_OK, JS_SUFFIXES, TS_SUFFIXES, UsageError, is_inside, \
    sha256_file
from .view import ResultTree, disk_tree


def original_is_broken(path: str, check) -> bool:
    """Did a file edited in place already fail this check before the run?
    (An edit must not make a file worse; it need not make it better.)"""
    folder, name = os.path.split(path)
    return bool(check(disk_tree(folder), [name]))


def file_checks(cfg, tree: ResultTree, files: list[str], edited: set[str]) -> tuple[dict, list[Failure]]:
    """C syntax, JSON, shell syntax, includes and imports of the files."""
    c_files = [f for f in files if f.endswith(C_SUFFIXES)]
    json_files = [f for f in files if f.endswith(".json")]
    js_files = [f for f in files if f.endswith(JS_SUFFIXES)]
    shell_files = [f for f in files if is_shell_script(tree, f)]
    dirs, failures = include_dirs(cfg, tree)
    c_failures = check_c_syntax(cfg, tree, c_files, [d[2] for d in dirs]) if c_files else []
    json_failures = [f for f in check_json_files(tree, json_files)
                     if f.file not in edited or not original_is_broken(
                         os.path.join(cfg.destination_root, f.file), check_json_files)]
    shell_failures = [f for f in check_shell_files(tree, shell_files)
                      if f.file not in edited or not original_is_broken(
                          os.path.join(cfg.destination_root, f.file), check_shell_files)]
    includes_checked, include_failures = check_includes(tree, c_files, dirs)
    imports_checked, import_failures = check_imports(tree, js_files)
    failures += c_failures + json_failures + shell_failures + include_failures + import_failures
    return {
        "c_syntax": {"compiler": cfg.compiler, "flags": cfg.cflags,
                     "include_paths": cfg.include_paths, "files_checked": len(c_files),
                     "failed": len(c_failures)},
        "json": {"files_checked": len(json_files), "failed": len(json_failures)},
        "shell": {"files_checked": len(shell_files), "failed": len(shell_failures)},
        "references": {"includes_checked": includes_checked, "imports_checked": imports_checked,
                       "failed": len(include_failures) + len(import_failures)},
    }, failures


def typescript_failures(new: list[ts.Diagnostic], syntax: list[ts.Diagnostic]) -> list[Failure]:
    """New diagnostics and syntax errors as validation failures."""
    out, seen = [], set()
    for d, why in [(d, "does not parse") for d in syntax] + [(d, "new: the original had no such "
                                                               "diagnostic there") for d in new]:
        if id(d) in seen:
            continue
        seen.add(id(d))
        out.append(Failure("typescript", d.file or "(tsc)", d.line, f"TS{d.code}: {d.message} ({why})"))
    return out


def typescript_section(tsc: ts.Tsc | None, why: str, options: list[str], files: list[str]) -> dict:
    """The report's typescript section before any run."""
    if tsc is None:
        return {"checked": False, "reason": why, "files": len(files)}
    return {"checked": True, "tsc": tsc.path, "version": tsc.version, "found_by": tsc.found_by,
            "options": ts.FORCED_OPTIONS + options, "files": len(files)}


def check_typescript_run(manifest, tree: ResultTree, moves: list[tuple[str, str]]) -> tuple[dict, list[Failure]]:
    """tsc on the sources where they are, then on the resulting tree:
    (report section, failures).  moves: (source abs, destination rel) of
    the migrated TypeScript files."""
    options = manifest.typescript_options if manifest.typescript_options is not None else ts.DEFAULT_OPTIONS
    if not moves:
        return {"checked": False, "reason": "no TypeScript file migrated", "files": 0}, []
    if not manifest.typescript_check:
        return {"checked": False, "reason": "validation.typescript.check is false", "files": len(moves)}, []
    tsc, why = ts.find_tsc([manifest.destination_root, manifest.source_root])
    section = typescript_section(tsc, why, options, [d for _s, d in moves])
    if tsc is None:
        return section, []
    renames = {s: d for s, d in moves}
    before_cwd = posixpath.commonpath([posixpath.dirname(s) for s, _d in moves])
    before, error = ts.run_tsc(tsc, before_cwd, [posixpath.relpath(s, before_cwd) for s, _d in moves],
                               options, ts.namer("", manifest.destination_root, renames))
    if error:
        return section, [Failure("typescript", "(tsc)", None, f"on the original: {error}")]
    after_rel = posixpath.commonpath([posixpath.dirname(d) for _s, d in moves])
    after_cwd = os.path.join(tree.view, after_rel)
    after, error = ts.run_tsc(tsc, after_cwd, [posixpath.relpath(d, after_rel) for _s, d in moves],
                              options, ts.namer(tree.view, manifest.destination_root, {}))
    if error:
        return section, [Failure("typescript", "(tsc)", None, error)]
    new, syntax = ts.compare(before, after)
    section.update({"before": ts.counts(before), "after": ts.counts(after),
                    "new": [d.as_dict() for d in new], "syntax": [d.as_dict() for d in syntax],
                    "baseline": [d.as_dict() for d in before], "diagnostics": [d.as_dict() for d in after]})
    return section, typescript_failures(new, syntax)


def validate_run(manifest, tree: ResultTree, results, source_of) -> dict:
    """Every check on the files of a run, on the resulting tree.
    source_of(result) gives the absolute source path of a moved file."""
    files = [r.destination for r in results]
    edited = {r.destination for r in results if r.kind == "edit"}
    section, failures = file_checks(manifest, tree, files, edited)
    ts_moves = [(source_of(r), r.destination) for r in results
                if r.kind == "move" and r.destination.endswith(TS_SUFFIXES)]
    section["typescript"], ts_fail = check_typescript_run(manifest, tree, ts_moves)
    failures += ts_fail
    failures.sort(key=lambda f: (f.file, f.line or 0, f.check))
    return {"passed": not failures, **section, "failures": [f.as_dict() for f in failures]}


def typescript_line(section: dict) -> str:
    """One line saying what the TypeScript check did (or why it did not)."""
    if not section or not section.get("checked"):
        reason = (section or {}).get("reason", "not run")
        return f"TypeScript: not checked ({reason})"
    line = f"TypeScript: tsc {section['version']} on {section['files']} files"
    if "after" in section:
        b, a = section.get("before"), section["after"]
        before = (f"{b['diagnostics']} diagnostics ({b['cannot_find_module']} cannot find module) "
                  f"on the original, " if b else "")
        line += (f": {before}{a['diagnostics']} ({a['cannot_find_module']} cannot find module) "
                 f"after; {len(section.get('new', []))} new, {len(section.get('syntax', []))} syntax errors")
    return line


# --------------------------------------------------------------------------
# validate DEST


def latest_report(dest: str) -> str | None:
    """The newest successful, not rolled back report of a run whose files
    lie under dest, searched where reports go by default (beside each
    folder from dest up), or None."""
    best = None
    folder = dest
    while True:
        parent = os.path.dirname(folder)
        try:
            names = sorted(os.listdir(parent))
        except OSError:
            names = []
        for name in names:
            if ".migrate-" not in name or not name.endswith(".json"):
                continue
            path = os.path.join(parent, name)
            try:
                with open(path, encoding="utf-8") as f:
                    report = json.load(f)
            except (OSError, ValueError):
                continue
            root = report.get("destination_root") if isinstance(report, dict) else None
            if not root or report.get("format") != "wharf-migrate-report" \
                    or report.get("status") != "success" or report.get("rolled_back_at"):
                continue
            if not any(is_inside(os.path.join(root, f.get("destination", "")), dest)
                       for f in report.get("files", [])):
                continue
            key = (report.get("finished_at") or "", report.get("run_id") or "")
            if best is None or key > best[0]:
                best = (key, path)
        if parent == folder:
            break
        folder = parent
    return best[1] if best else None


def find_report(dest: str) -> str:
    """latest_report, or a usage error saying where it looked."""
    found = latest_report(dest)
    if found is None:
        raise UsageError(f"validate: no report of a successful run found for {dest} (looked beside "
                         f"it and each folder above); give one with --report REPORT.json")
    return found


def changed_since_last_run(destination_root: str, results) -> list[str]:
    """Warnings for files this run overwrites that changed since the last
    run wrote them: a dry run would otherwise just say "overwrite"."""
    path = latest_report(destination_root) if os.path.isdir(destination_root) else None
    if path is None:
        return []
    try:
        with open(path, encoding="utf-8") as f:
            last = json.load(f)
    except (OSError, ValueError):
        return []
    wrote = {e.get("destination"): e.get("sha256_after") for e in last.get("files", [])}
    return [f"{r.destination} changed since run {last.get('run_id')} wrote it (sha256 now "
            f"{(r.previous_sha256 or '')[:12]}, that run wrote {wrote[r.destination][:12]}); this run "
            f"overwrites it (backup first); `validate` shows what changed"
            for r in results if r.action == "overwrite" and r.destination in wrote
            and wrote[r.destination] and wrote[r.destination] != r.previous_sha256]


def check_hashes(root: str, entries: list[dict]) -> list[Failure]:
    """Each file as the run left it: present, same bytes."""
    failures = []
    for e in entries:
        current = sha256_file(os.path.join(root, e["destination"]))
        if current is None:
            failures.append(Failure("hash", e["destination"], None, "missing: the migration wrote it"))
        elif current != e["sha256_after"]:
            failures.append(Failure("hash", e["destination"], None,
                                    f"changed since the migration (sha256 now {current[:12]}, the "
                                    f"migration wrote {e['sha256_after'][:12]})"))
    return failures


def check_typescript_dest(report: dict, root: str, entries: list[dict]) -> tuple[dict, list[Failure]]:
    """tsc on the migrated TypeScript files as they are, against the
    original's diagnostics the report recorded."""
    recorded = (report.get("validation") or {}).get("typescript") or {}
    files = [e["destination"] for e in entries
             if e.get("kind", "move") == "move" and e["destination"].endswith(TS_SUFFIXES)
             and os.path.isfile(os.path.join(root, e["destination"]))]
    options = [o for o in recorded.get("options", []) if o not in ts.FORCED_OPTIONS] \
        if recorded.get("options") else ts.DEFAULT_OPTIONS
    if not files:
        return {"checked": False, "reason": "no TypeScript file to check", "files": 0}, []
    tsc, why = ts.find_tsc([root])
    section = typescript_section(tsc, why, options, files)
    if tsc is None:
        return section, []
    cwd_rel = posixpath.commonpath([posixpath.dirname(f) for f in files])
    cwd = os.path.join(root, cwd_rel)
    after, error = ts.run_tsc(tsc, cwd, [posixpath.relpath(f, cwd_rel) for f in files], options,
                              ts.namer("", root, {}))
    if error:
        return section, [Failure("typescript", "(tsc)", None, error)]
    if "baseline" in recorded:
        before = [ts.Diagnostic.from_dict(d) for d in recorded["baseline"]]
        section["before"] = ts.counts(before)
    else:
        before = after
        section["note"] = "the report has no diagnostics of the original: only syntax errors fail"
    new, syntax = ts.compare(before, after)
    section.update({"after": ts.counts(after), "new": [d.as_dict() for d in new],
                    "syntax": [d.as_dict() for d in syntax]})
    return section, typescript_failures(new, syntax)


def validate_dest(dest_arg: str, report_arg: str | None) -> int:
    """`validate DEST`: re-check a migrated tree against its report."""
    from .report import load_report
    dest = os.path.realpath(dest_arg)
    if not os.path.isdir(dest):
        raise UsageError(f"validate: {dest_arg} is not a folder")
    report_path = os.path.abspath(report_arg) if report_arg else find_report(dest)
    report = load_report(report_path, "validate")
    root = report["destination_root"]
    entries = [e for e in report["files"] if is_inside(os.path.join(root, e["destination"]), dest)]
    if not entries:
        raise UsageError(f"validate: {report_path} records no file under {dest}")
    c = (report.get("validation") or {}).get("c_syntax") or {}
    cfg = SimpleNamespace(compiler=c.get("compiler", "cc"), cflags=c.get("flags", []),
                          include_paths=c.get("include_paths", []), destination_root=root)
    failures = check_hashes(root, entries)
    present = [e["destination"] for e in entries if os.path.isfile(os.path.join(root, e["destination"]))]
    edited = {e["destination"] for e in entries if e.get("kind") == "edit"}
    section, file_failures = file_checks(cfg, disk_tree(root), present, set())
    failures += [f for f in file_failures if f.file not in edited or f.check == "references"]
    section["typescript"], ts_fail = check_typescript_dest(report, root, entries)
    failures += ts_fail
    failures.sort(key=lambda f: (f.file, f.line or 0, f.check))
    print(f"Validate: {dest}")
    print(f"  report:  {report_path} (run {report.get('run_id')}, {report.get('finished_at')})")
    print(f"  {len(entries)} files recorded, {len(present)} present; C syntax "
          f"{section['c_syntax']['files_checked']} files, JSON {section['json']['files_checked']}, "
          f"shell {section['shell']['files_checked']}, {section['references']['imports_checked']} imports "
          f"and {section['references']['includes_checked']} includes checked")
    print(f"  {typescript_line(section['typescript'])}")
    for f in failures:
        print(f"  {f.location()}: [{f.check}] {f.message}", file=sys.stderr)
    print("Validation passed." if not failures else f"Validation FAILED: {len(failures)} problem(s).")
    return EXIT_OK if not failures else EXIT_FAILED

