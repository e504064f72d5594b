"""Staging: read each file, follow its references, apply the manifest's
rewrites, and write the result into the temporary tree.

Rewrites are line based (a rewrite may not add or remove a line), so every
change is recorded with its line number, which is both the source's and
the destination's.  Built-in reference following (references.py) runs
first on each line, then the manifest's rules in order.
"""

from __future__ import annotations

import os
import posixpath
import shutil
from dataclasses import dataclass, field

from .discover import walk_files
from .manifest import Manifest, Rewrite
from .plan import Plan, PlannedFile
from .references import References, WorkLeft
from .util import Progress, RunError, is_inside, nearest_existing, sha256_bytes, sha256_file, split_lines


@dataclass
class FileResult:
    """One migrated (or edited) file: the report's `files[]` entry."""
    source: str | None
    destination: str
    mapping: int | None
    kind: str = "move"                     # move | edit (in place)
    role: str | None = None
    action: str = ""                       # create | overwrite | unchanged
    sha256_before: str = ""                # source content (an edit: the file before)
    sha256_after: str = ""                 # content written to the destination
    previous_sha256: str | None = None     # destination content before the run
    mode: str = ""
    backup: str | None = None
    rewrites: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The JSON shape of this entry."""
        return {"source": self.source, "destination": self.destination, "mapping": self.mapping,
                "kind": self.kind, "role": self.role,
                "action": self.action, "sha256_before": self.sha256_before,
                "sha256_after": self.sha256_after, "previous_sha256": self.previous_sha256,
                "backup": self.backup, "mode": self.mode, "rewrites": self.rewrites}


@dataclass
class Staged:
    """What staging produced: results, errors, warnings, work left, and
    the staged text of each file (for the scans that follow)."""
    results: list[FileResult]
    errors: list[str]
    warnings: list[str]
    work_left: list[WorkLeft]
    texts: dict[str, str]


def rewrite_text(result: FileResult, text: str, rules: list[Rewrite], used: set[int],
                 follower) -> tuple[str, list[str]]:
    """Follow references, then apply the rules that target this
    destination, line by line, in order; record every change."""
    bodies, ends = split_lines(text)
    errors = []
    for number, body in enumerate(bodies, start=1):
        if follower is not None:
            new, kinds = follower.line(number, body)
            if new != body:
                result.rewrites.append({"line": number, "rule": "follow", "kinds": kinds,
                                        "old": body, "new": new})
                body = new
        for rule in rules:
            new = rule.regex.sub(rule.replacement, body)
            if new == body:
                continue
            if new.count("\n") or new.count("\r") != body.count("\r"):
                errors.append(f"{result.destination}:{number}: rewrites[{rule.index}] would insert a "
                              f"line break; a rewrite must keep each line on one line")
                continue
            result.rewrites.append({"line": number, "rule": rule.index, "old": body, "new": new})
            used.add(rule.index)
            body = new
        bodies[number - 1] = body
    return "".join(b + e for b, e in zip(bodies, ends)), errors


def apply_rewrites(result: FileResult, data: bytes, rules: list[Rewrite], used: set[int],
                   follower) -> tuple[bytes, list[str]]:
    """The new content of one file, and errors.  Files that are not UTF-8
    are copied as they are (a rule that targets one is an error)."""
    active = [r for r in rules if r.applies_to(result.destination)]
    if not active and follower is None:
        return data, []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not active:
            return data, []
        return data, [f"{result.source or result.destination}: cannot apply "
                      f"{', '.join(f'rewrites[{r.index}]' for r in active)}: not UTF-8 text "
                      f"(byte {exc.start}); exclude it from the rules' \"files\""]
    new, errors = rewrite_text(result, text, active, used, follower)
    return new.encode("utf-8"), errors


def read_input(path: str, name: str) -> bytes:
    """Read a file the run takes in (a source, or a file edited in place);
    failures are run errors that name it."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        why = exc.strerror or str(exc)
        if os.path.islink(path) and not os.path.exists(path):
            why = f"dangling symbolic link to {os.readlink(path)!r}"
        raise RunError(f"cannot read {name} ({path}): {why}") from None


def inspect_destination(root: str, rel: str) -> str | None:
    """Hash of what is at a destination path now, refusing what the tool
    cannot back up and restore exactly (folders, symlinks) and paths that
    would leave the destination through a symlinked folder."""
    path = os.path.join(root, rel)
    if os.path.islink(path):
        raise RunError(f"destination {rel} is a symbolic link; the tool does not replace links "
                       f"(remove it or map the file elsewhere)")
    if os.path.isdir(path):
        raise RunError(f"destination {rel} is an existing folder; map the file elsewhere")
    parent = nearest_existing(os.path.dirname(path))
    if not os.path.isdir(parent):
        raise RunError(f"destination {rel}: {parent} is a file where a folder is needed")
    if is_inside(parent, root) and not is_inside(os.path.realpath(parent), root):
        raise RunError(f"destination {rel}: {parent} is a symbolic link out of destination_root; "
                       f"the tool does not write through links")
    try:
        return sha256_file(path)
    except OSError as exc:
        raise RunError(f"cannot read destination {rel}: {exc.strerror}") from None


def stage_one(manifest: Manifest, planned: PlannedFile, stage_tree: str, used: set[int],
              refs: References | None) -> tuple[FileResult, list[str], list[WorkLeft], str | None]:
    """Read, follow, rewrite and write one file into the staging tree."""
    result = FileResult(planned.source, planned.destination, planned.mapping, planned.kind, planned.role)
    if planned.kind == "edit":
        source_path = os.path.join(manifest.destination_root, planned.destination)
        data = read_input(source_path, planned.destination)
    else:
        source_path = os.path.join(manifest.source_root, planned.source)
        data = read_input(source_path, f"source {planned.source}")
    follower = None
    if refs is not None:
        first = data[:200].decode("utf-8", errors="replace").split("\n")[0]
        follower = refs.follower(os.path.normpath(source_path),
                                 os.path.normpath(os.path.join(manifest.destination_root, planned.destination)),
                                 planned.destination, first)
    new_data, errors = apply_rewrites(result, data, manifest.rewrites, used, follower)
    staged = os.path.join(stage_tree, planned.destination)
    os.makedirs(os.path.dirname(staged), exist_ok=True)
    with open(staged, "wb") as f:
        f.write(new_data)
    shutil.copymode(source_path, staged)
    result.mode = f"{os.stat(staged).st_mode & 0o7777:04o}"
    result.sha256_before, result.sha256_after = sha256_bytes(data), sha256_bytes(new_data)
    result.previous_sha256 = inspect_destination(manifest.destination_root, planned.destination)
    if result.previous_sha256 is None:
        result.action = "create"
    elif result.previous_sha256 == result.sha256_after:
        result.action = "unchanged"
    else:
        result.action = "overwrite"
    try:
        text = new_data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return result, errors, follower.work_left if follower else [], text


def build_references(manifest: Manifest, plan: Plan) -> References | None:
    """The run's reference follower, when the manifest asks for one."""
    if not manifest.follow_references:
        return None

    def read(path: str) -> str:
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    destinations = {f.destination for f in plan.files}
    other_names = {posixpath.basename(rel) for rel in walk_files(manifest.destination_root, {manifest.source_root})
                   if rel not in destinations}
    return References(manifest.source_root, manifest.destination_root,
                      [(f.source, f.destination) for f in plan.moves()],
                      {s["source"]: s["reason"] for s in plan.skipped},
                      [f.destination for f in plan.edits()], read, other_names)


def stage_all(manifest: Manifest, plan: Plan, stage_tree: str) -> Staged:
    """Stage every planned file; collect every error rather than stopping at
    the first, so one run shows the whole list of problems."""
    results, errors, used, work_left, texts = [], [], set(), [], {}
    refs = build_references(manifest, plan)
    progress = Progress("staging", len(plan.files))
    for planned in plan.files:
        try:
            result, file_errors, left, text = stage_one(manifest, planned, stage_tree, used, refs)
            results.append(result)
            errors += file_errors
            work_left += left
            if text is not None:
                texts[planned.destination] = text
        except RunError as exc:
            errors.append(str(exc))
        except OSError as exc:
            errors.append(f"cannot stage {planned.destination}: {exc.strerror or exc}")
        progress.step()
    progress.finish()
    warnings = [f"rewrites[{r.index}] ({r.pattern!r}) changed nothing in files matching "
                f"{', '.join(r.file_globs)}" for r in manifest.rewrites if r.index not in used]
    return Staged(results, errors, warnings, work_left, texts)
