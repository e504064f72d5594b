"""Staging location, backups, and moving staged files into place (all or
nothing against ordinary failures)."""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import tempfile
from typing import Iterable

from .manifest import Manifest
from .stage import FileResult
from .util import PartialMoveError, Progress, RunError, nearest_existing, sha256_file


class MoveError(OSError):
    """A move into place that failed, naming the destination that refused
    (os.replace names the staged file, which tells the user nothing)."""

    def __init__(self, target: str, exc: OSError):
        super().__init__(exc.errno, exc.strerror, target)


def staging_parent(destination_root: str) -> str:
    """A folder on the destination's filesystem, outside the destination
    when possible, so the final moves are renames that leave no trace.

    If the destination is itself a mount point its parent is elsewhere, so
    the staging folder goes (hidden, temporarily) inside it.
    """
    if os.path.isdir(destination_root):
        parent = os.path.dirname(destination_root)
        if os.stat(parent).st_dev == os.stat(destination_root).st_dev:
            return parent
        return destination_root
    return nearest_existing(destination_root)


def make_stage_root(destination_root: str, dry_run: bool) -> str:
    """The run's private staging folder (a dry run never moves, so it
    stages in the system temp folder and leaves the destination's
    surroundings alone)."""
    parent = tempfile.gettempdir() if dry_run else staging_parent(destination_root)
    prefix = f".{os.path.basename(destination_root)}.migrate-stage-"
    try:
        return tempfile.mkdtemp(prefix=prefix, dir=parent)
    except OSError as exc:
        raise RunError(f"cannot create a staging folder in {parent}: {exc.strerror}; the "
                       f"destination's parent must be writable") from None


def move_file(staged: str, target: str) -> None:
    """Rename staged into place (atomic replace); across filesystems, copy
    next to the target first so the replace itself is still a rename."""
    try:
        os.replace(staged, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        tmp = f"{target}.migrate-tmp-{secrets.token_hex(4)}"
        shutil.copy2(staged, tmp)
        os.replace(tmp, target)


def restore_file(backup: str, target: str) -> None:
    """Put a backed-up file back atomically (copy beside, then rename)."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = f"{target}.migrate-tmp-{secrets.token_hex(4)}"
    shutil.copy2(backup, tmp)
    os.replace(tmp, target)


def missing_folders(destination_root: str, results: list[FileResult]) -> list[str]:
    """Folders the move will have to create, shallowest first (absolute)."""
    needed = set()
    for r in results:
        if r.action == "unchanged":
            continue
        folder = os.path.dirname(os.path.join(destination_root, r.destination))
        while not os.path.exists(folder) and folder not in needed:
            needed.add(folder)
            folder = os.path.dirname(folder)
    return sorted(needed, key=lambda p: (p.count(os.sep), p))


def remove_empty_folders(folders: Iterable[str]) -> list[str]:
    """Remove the given folders deepest first when empty; return the ones
    left because something else now lives in them."""
    kept = []
    for folder in sorted(folders, key=lambda p: p.count(os.sep), reverse=True):
        try:
            os.rmdir(folder)
        except FileNotFoundError:
            pass
        except OSError:
            kept.append(folder)
    return kept


def ensure_destination_unchanged(manifest: Manifest, results: list[FileResult]) -> None:
    """Between staging and moving, nobody else may have written the
    destination files: the backups and the report would be wrong."""
    changed = [r.destination for r in results
               if sha256_file(os.path.join(manifest.destination_root, r.destination)) != r.previous_sha256]
    if changed:
        raise RunError(f"destination changed during the run: {', '.join(changed)}; nothing was moved, "
                       f"run again")


def back_up(manifest: Manifest, results: list[FileResult], backup_dir: str) -> None:
    """Copy every file about to be overwritten into the backup folder and
    check the copy, before the first move."""
    for r in results:
        if r.action != "overwrite":
            continue
        backup = os.path.join(backup_dir, r.destination)
        os.makedirs(os.path.dirname(backup), exist_ok=True)
        shutil.copy2(os.path.join(manifest.destination_root, r.destination), backup)
        if sha256_file(backup) != r.previous_sha256:
            raise RunError(f"backup of {r.destination} does not match the destination file; "
                           f"nothing was moved")
        r.backup = backup


def undo_moves(manifest: Manifest, moved: list[FileResult], folders: list[str]) -> None:
    """Put back what a failed move phase already changed."""
    for r in reversed(moved):
        target = os.path.join(manifest.destination_root, r.destination)
        if r.action == "overwrite":
            restore_file(r.backup, target)
        else:
            os.remove(target)
    remove_empty_folders(folders)


def move_into_place(manifest: Manifest, results: list[FileResult], stage_tree: str,
                    folders: list[str]) -> None:
    """Create the missing folders and rename every staged file into place.

    On any failure (or interrupt) the files already moved are put back, so
    the destination ends as it was: all or nothing.
    """
    to_move = [r for r in results if r.action != "unchanged"]
    progress = Progress("moving", len(to_move))
    moved: list[FileResult] = []
    try:
        for folder in folders:
            os.mkdir(folder)
        for r in to_move:
            target = os.path.join(manifest.destination_root, r.destination)
            try:
                move_file(os.path.join(stage_tree, r.destination), target)
            except OSError as exc:
                raise MoveError(target, exc) from None
            moved.append(r)
            progress.step()
    except BaseException as exc:
        progress.finish()
        try:
            undo_moves(manifest, moved, folders)
        except OSError as undo_exc:
            raise PartialMoveError(f"moving into place failed ({exc}) and putting back the moved files "
                                   f"failed too ({undo_exc}); finish with --rollback") from None
        if isinstance(exc, OSError):
            raise RunError(f"moving into place failed ({exc.filename}: {exc.strerror}); "
                           f"the {len(moved)} file(s) already moved were put back") from None
        raise
    progress.finish()


