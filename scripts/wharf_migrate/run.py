"""One migration run: plan, stage, validate, then (unless --dry-run) back
up and move into place, recording everything in the report."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import secrets
import shutil
import sys

from . import orchestrator
from .manifest import Manifest, load_manifest
from .move import (back_up, ensure_destination_unchanged, make_stage_root, missing_folders,
                   move_into_place)
from .plan import Plan, make_plan
from .recipes import recipe_names, recipe_path
from .report import choose_report_base, new_report, report_paths, write_report
from .stage import FileResult, stage_all
from .util import EXIT_FAILED, EXIT_OK, PartialMoveError, RunError, UsageError, is_inside, now_iso, say
from .validate import changed_since_last_run, typescript_line, validate_run
from .view import build_result_tree


def load(args: argparse.Namespace) -> tuple[Manifest, dict | None]:
    """The manifest of this run (a file, or a recipe read against its
    checkout) and the recipe facts for the report."""
    if not args.recipe:
        return load_manifest(args.manifest), None
    path = recipe_path(args.recipe)
    if path is None:
        raise UsageError(f"no such recipe (recipes: {', '.join(recipe_names())})")
    checkout = os.path.realpath(args.checkout)
    if not os.path.isdir(checkout):
        raise UsageError(f"checkout {args.checkout} is not a folder")
    try:
        manifest = load_manifest(path, roots_base=checkout, recipe=args.recipe)
    except UsageError as exc:
        raise UsageError(f"{exc} (is {args.checkout} a checkout this recipe is for? "
                         f"The recipe is {path})") from None
    return manifest, {"name": args.recipe, "checkout": checkout}


def error_label(args: argparse.Namespace) -> str:
    """What a manifest error names: the manifest file, or the recipe."""
    return f"recipe {args.recipe}" if args.recipe else args.manifest


def concrete_manifest(manifest: Manifest, plan: Plan) -> dict:
    """The manifest this run amounts to, with discovery written out:
    what --print-manifest shows, to be kept and edited like any manifest."""
    raw = manifest.raw
    out = {"version": 1, "description": manifest.description,
           "source_root": manifest.source_root, "destination_root": manifest.destination_root,
           "mappings": [{"from": f.source, "to": f.destination,
                         **({"description": f"role {f.role}: {f.why}"} if f.role else {})}
                        for f in plan.moves()],
           "skip": sorted({s["source"].rstrip("/") for s in plan.skipped}),
           "unmapped": "error"}
    for key in ("rewrites", "include_paths", "validation", "orchestrator"):
        if key in raw:
            out[key] = raw[key]
    if plan.edits():
        out["edit_in_place"] = [f.destination for f in plan.edits()]
    if manifest.follow_references:
        out["follow_references"] = True
    return out


def print_plan(report: dict, dry_run: bool) -> None:
    """What the run did (or, dry, would do), on stdout."""
    s = report["summary"]
    verb = "would" if dry_run else "did"
    recipe = report.get("recipe")
    what = f"recipe {recipe['name']} on {recipe['checkout']}" if recipe else report["manifest"]["path"]
    print(f"{'Dry run' if dry_run else 'Migration'}: {what}")
    print(f"  source:      {report['source_root']}")
    print(f"  destination: {report['destination_root']}")
    roles = (report.get("discovery") or {}).get("roles", [])
    if roles:
        print(f"Roles ({len(roles)}):")
        for r in roles:
            print(f"  {r['role'] or 'skipped':<16} {r['source']}  ({r['why']})")
    print(f"Files ({s['files']}): {s['created']} new, {s['overwritten']} overwrite "
          f"({s['edited_in_place']} edited in place), {s['unchanged']} unchanged")
    for f in report["files"]:
        note = "  (backup first)" if f["action"] == "overwrite" else ""
        arrow = f"{f['source']} -> {f['destination']}" if f["source"] else f"{f['destination']} (in place)"
        print(f"  {f['action']:<9} {arrow}{note}")
    print(f"Rewrites ({s['rewritten_lines']} lines in {s['rewritten_files']} files):")
    for f in report["files"]:
        for r in f["rewrites"]:
            label = f"follow ({', '.join(r.get('kinds', []))})" if r["rule"] == "follow" else f"rewrites[{r['rule']}]"
            print(f"  {f['destination']}:{r['line']}: {label}")
            print(f"    - {r['old']}")
            print(f"    + {r['new']}")
    print(f"Skipped ({s['skipped']}):")
    for k in report["skipped"]:
        print(f"  skip      {k['source']}  ({k['reason']})")
    if report["work_left"]:
        print(f"Work left ({len(report['work_left'])}), to do by hand:")
        for w in report["work_left"]:
            print(f"  {w['file']}{':' + str(w['line']) if w['line'] else ''}: {w['reason']}")
    if report["orchestrator"]:
        print(f"Orchestrator ({len(report['orchestrator'])}): what replaces the local database")
        for o in report["orchestrator"]:
            rpc = ", ".join(o["rpc"]) or "nothing to call"
            print(f"  {o['file']}:{o['line']}: {o['access']:<11} {rpc}  <- {o['text'][:70]}")
    for w in report["warnings"]:
        print(f"Warning: {w}")
    v = report["validation"]
    if v is not None:
        print(f"Validation {'passed' if v['passed'] else 'FAILED'}: "
              f"C syntax {v['c_syntax']['files_checked']} files, "
              f"JSON {v['json']['files_checked']} files, shell {v['shell']['files_checked']} files, "
              f"{v['references']['includes_checked']} includes and "
              f"{v['references']['imports_checked']} imports checked")
        print(typescript_line(v.get("typescript") or {}))
    if dry_run:
        print(f"Nothing was changed ({verb} {'fail' if v and not v['passed'] else 'succeed'}).")


def report_failures(validation: dict) -> None:
    """Each validation failure as file:line: why, on stderr."""
    failures = validation["failures"]
    say(f"validation failed ({len(failures)} problem(s)); the destination was not changed:")
    for f in failures:
        where = f"{f['file']}:{f['line']}" if f["line"] else f["file"]
        print(f"  {where}: [{f['check']}] {f['message']}", file=sys.stderr)


def finish(report: dict, results: list[FileResult], status: str) -> None:
    """Stamp the end of the run and write the report."""
    report["status"], report["finished_at"] = status, now_iso()
    write_report(report, results)


def general_work_left(manifest: Manifest, plan: Plan) -> list[dict]:
    """What every run of this kind leaves to the team, beyond single lines."""
    out = []
    if manifest.follow_references and is_inside(manifest.source_root, manifest.destination_root) \
            and plan.moves():
        rel = os.path.relpath(manifest.source_root, manifest.destination_root)
        out.append({"file": rel + "/", "line": None, "text": "",
                    "reason": "the old folder is still there (the tool never deletes sources): remove it "
                              "once the migrated package works"})
    for s in plan.skipped:
        if s["source"].rstrip("/").split("/")[-1] == "node_modules":
            out.append({"file": s["source"], "line": None, "text": "",
                        "reason": "installed dependencies are not migrated: install them again in the "
                                  "migrated package"})
    return out


def stage_and_validate(manifest: Manifest, plan: Plan, report: dict,
                       stage_root: str) -> list[FileResult]:
    """Stage all files and validate the resulting tree; record both, and
    what is left to do and what replaces the local database."""
    say(f"staging {len(plan.files)} files ({len(plan.skipped)} skipped)")
    staged = stage_all(manifest, plan, os.path.join(stage_root, "tree"))
    results = staged.results
    report["warnings"] += staged.warnings
    report["work_left"] = [w.as_dict() for w in staged.work_left] + general_work_left(manifest, plan)
    moved = [(r.destination, staged.texts[r.destination]) for r in results
             if r.kind == "move" and r.destination in staged.texts]
    report["orchestrator"] = orchestrator.scan(manifest.orchestrator, moved)
    report["work_left"] += [{"file": o["file"], "line": o["line"], "text": o["text"], "reason": o["note"]}
                            for o in report["orchestrator"] if o["access"] == "unknown"]
    if staged.errors:
        report["errors"] += staged.errors
        finish(report, results, "failed")
        raise RunError(f"{len(staged.errors)} file(s) could not be staged; the destination was not changed:\n  "
                       + "\n  ".join(staged.errors))
    report["warnings"] += changed_since_last_run(manifest.destination_root, results)
    say("validating the resulting tree")
    tree = build_result_tree(manifest.destination_root, stage_root, [r.destination for r in results])
    report["validation"] = validate_run(manifest, tree, results,
                                        lambda r: os.path.normpath(os.path.join(manifest.source_root, r.source)))
    return results


def prepare_move(manifest: Manifest, report: dict, results: list[FileResult]) -> None:
    """Recheck the destination and take the backups; a failure here has
    touched nothing but the backup folder."""
    try:
        ensure_destination_unchanged(manifest, results)
        if any(r.action == "overwrite" for r in results):
            base = report["report"]["json"][:-len(".json")]
            report["backup_dir"] = report_paths(base)["backup_dir"]
            back_up(manifest, results, report["backup_dir"])
    except (RunError, OSError) as exc:
        message = str(exc) if isinstance(exc, RunError) else f"backup failed: {exc}; nothing was moved"
        report["errors"].append(message)
        finish(report, results, "failed")
        raise RunError(message) from None


def apply_run(manifest: Manifest, report: dict, results: list[FileResult], stage_root: str) -> None:
    """Back up, record, then move: the report says "in-progress" with every
    planned change before the first move, so even a crash can be rolled back.
    A run with nothing to move leaves the destination untouched and says so."""
    prepare_move(manifest, report, results)
    # The report's own folder may be one the destination needs (a --report
    # beside it): create it first so it is not counted as a folder the run
    # created inside the destination's path.
    os.makedirs(os.path.dirname(report["report"]["json"]), exist_ok=True)
    folders = missing_folders(manifest.destination_root, results)
    to_move = [r for r in results if r.action != "unchanged"]
    if not to_move and not folders:
        say("nothing to move: every file is already in place")
        return
    report["created_directories"] = folders
    report["destination_touched"] = True
    finish(report, results, "in-progress")
    say(f"moving {len(to_move)} files into place")
    try:
        move_into_place(manifest, results, os.path.join(stage_root, "tree"), folders)
    except PartialMoveError as exc:
        report["errors"].append(str(exc))
        finish(report, results, "in-progress")
        raise
    except RunError as exc:
        report["errors"].append(str(exc))
        report["destination_touched"] = False
        finish(report, results, "failed")
        raise


def run_migration(args: argparse.Namespace) -> int:
    """Plan, stage, validate and (unless --dry-run) move into place."""
    try:
        manifest, recipe = load(args)
        plan = make_plan(manifest)
    except UsageError as exc:
        raise UsageError(f"{error_label(args)}: {exc}") from None
    if args.print_manifest:
        print(json.dumps(concrete_manifest(manifest, plan), indent=2))
        return EXIT_OK
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_id = f"{stamp}-{secrets.token_hex(3)}"
    base = choose_report_base(args.report, manifest, run_id) if (args.report or not args.dry_run) else None
    report = new_report(manifest, run_id, base, plan, recipe)
    stage_root = make_stage_root(manifest.destination_root, args.dry_run)
    try:
        results = stage_and_validate(manifest, plan, report, stage_root)
        passed = report["validation"]["passed"]
        if args.dry_run:
            finish(report, results, "dry-run")
            print_plan(report, dry_run=True)
            if not passed:
                report_failures(report["validation"])
            return EXIT_OK if passed else EXIT_FAILED
        if not passed:
            finish(report, results, "validation-failed")
            report_failures(report["validation"])
            say(f"report: {report['report']['json']}")
            return EXIT_FAILED
        apply_run(manifest, report, results, stage_root)
        finish(report, results, "success")
    finally:
        shutil.rmtree(stage_root, ignore_errors=True)
    print_plan(report, dry_run=False)
    print(f"Report: {report['report']['json']} and {report['report']['markdown']}")
    if report["backup_dir"]:
        print(f"Backups: {report['backup_dir']}")
    print(f"Undo with: {sys.argv[0]} --rollback {report['report']['json']}")
    return EXIT_OK
