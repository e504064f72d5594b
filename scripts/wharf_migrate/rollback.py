"""Rollback: undo a run from its report, judging each file by its current
hash; refuse over local changes unless --force."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass

from .move import remove_empty_folders, restore_file
from .report import load_report
from .util import EXIT_OK, RunError, UsageError, now_iso, sha256_file, write_atomically


@dataclass
class Step:
    """One rollback action on one destination file."""
    kind: str          # remove | restore | nothing
    destination: str
    path: str
    backup: str | None
    note: str


def plan_file_rollback(root: str, entry: dict) -> tuple[Step, str | None, str | None]:
    """Decide what to do with one reported file from its current state.

    Returns (step, conflict, problem): a conflict is a local modification
    that --force may discard; a problem (missing or damaged backup) makes
    the rollback impossible.
    """
    rel, action = entry["destination"], entry["action"]
    path = os.path.join(root, rel)
    current = sha256_file(path)
    if action == "unchanged":
        return Step("nothing", rel, path, None, "not written by the run"), None, None
    target_gone = action == "create"
    if (current is None and target_gone) or (current is not None and current == entry["previous_sha256"]):
        return Step("nothing", rel, path, None, "already as before the run"), None, None
    conflict = None
    if current is not None and current != entry["sha256_after"]:
        conflict = (f"{rel}: modified since the migration (sha256 now {current[:12]}, "
                    f"the migration wrote {entry['sha256_after'][:12]})")
    if target_gone:
        return Step("remove", rel, path, None, "created by the run"), conflict, None
    backup = entry["backup"]
    if not backup or sha256_file(backup) != entry["previous_sha256"]:
        return (Step("restore", rel, path, backup, ""), conflict,
                f"{rel}: backup {backup} is missing or does not match the recorded sha256")
    return Step("restore", rel, path, backup, "overwritten by the run"), conflict, None


def run_rollback(args: argparse.Namespace) -> int:
    """Undo a run from its report: remove created files and folders, restore
    overwritten files from backup; refuse over local changes unless --force."""
    report = load_report(args.rollback)
    if report.get("status") == "dry-run":
        raise UsageError(f"--rollback: {args.rollback} is a dry-run report; a dry run changes nothing")
    if not report.get("destination_touched"):
        print(f"Nothing to roll back: run {report.get('run_id')} ended '{report.get('status')}' "
              f"without changing the destination.")
        return EXIT_OK
    root = report["destination_root"]
    steps, conflicts, problems = [], [], []
    for entry in report["files"]:
        step, conflict, problem = plan_file_rollback(root, entry)
        steps.append(step)
        conflicts += [conflict] if conflict else []
        problems += [problem] if problem else []
    if problems:
        raise RunError("cannot roll back, nothing was changed:\n  " + "\n  ".join(problems))
    if conflicts and not args.force:
        raise RunError(f"refusing to roll back: {len(conflicts)} file(s) changed since the migration; "
                       f"nothing was changed. Save what you need, then use --force to discard:\n  "
                       + "\n  ".join(conflicts))
    todo = [s for s in steps if s.kind != "nothing"]
    for s in todo:
        print(f"  {'would ' if args.dry_run else ''}{s.kind:<7} {s.destination}  ({s.note})")
    if args.dry_run:
        print(f"Dry run: {len(todo)} file(s) would be rolled back; nothing was changed.")
        return EXIT_OK
    for s in todo:
        if s.kind == "remove":
            os.remove(s.path)
        else:
            restore_file(s.backup, s.path)
    kept = remove_empty_folders(report.get("created_directories", []))
    for folder in kept:
        print(f"  kept folder {folder}: it holds files the run did not create")
    mark_rolled_back(args.rollback, report)
    print(f"Rolled back run {report['run_id']}: {sum(s.kind == 'remove' for s in todo)} removed, "
          f"{sum(s.kind == 'restore' for s in todo)} restored"
          + (f", {len(conflicts)} local change(s) discarded (--force)" if conflicts else "") + ".")
    return EXIT_OK


def mark_rolled_back(path: str, report: dict) -> None:
    """Stamp the report, so validate DEST no longer takes it for the state
    of the tree (the report stays: it still tells what the run did)."""
    report["rolled_back_at"] = now_iso()
    try:
        write_atomically(path, json.dumps(report, indent=2) + "\n")
    except OSError as exc:
        print(f"  note: could not mark {path} as rolled back: {exc.strerror}")
