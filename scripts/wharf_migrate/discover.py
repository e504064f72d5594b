"""Discovery: which role each source file plays, and which files outside
the migrated folder refer to it (consumers, edited in place).

Roles (`roles[]` of a manifest, the Vibe SDK recipe's process monitor,
storage, CLI, types, tests, scripts, package files, ...) are tried in
order; the first whose name globs match, and whose content patterns (if
any) match the file's text, takes the file.  Consumers are the text files
below destination_root that name the source folder as a path
(`container/...`); the searches skip `.git`, `node_modules`, the sources
and the migrated files themselves.
"""

from __future__ import annotations

import os
import posixpath
import re

from .globs import glob_base, has_wildcard
from .manifest import Manifest, Mapping, Role
from .util import UsageError, is_inside

SCAN_BYTES = 256 * 1024          # enough of a file to judge its role
CONSUMER_MAX_BYTES = 2 * 1024 * 1024
PRUNE = {".git", "node_modules", ".hg", ".svn"}


def head_text(path: str) -> str:
    """The start of a file as text ('' when it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return f.read(SCAN_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""


def classify(manifest: Manifest, source: str) -> tuple[Role, Mapping, str] | None:
    """The first role that claims a source file, the name glob it matched,
    and why (for the report)."""
    text = None
    for role in manifest.roles:
        mapping = role.matching_mapping(source)
        if mapping is None:
            continue
        why = f"name matches {mapping.source!r}"
        if role.content:
            if text is None:
                text = head_text(os.path.join(manifest.source_root, source))
            hit = next((p for p in role.content if p.search(text)), None)
            if hit is None:
                continue
            why += f", content matches /{hit.pattern}/"
        return role, mapping, why
    return None


def walk_files(root: str, prune: set[str]):
    """Files below root (root-relative, sorted), not entering the pruned
    folders (absolute) or PRUNE names, nor symlinked folders."""
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in PRUNE and os.path.join(folder, d) not in prune
                         and not os.path.islink(os.path.join(folder, d)))
        rel = os.path.relpath(folder, root).replace(os.sep, "/")
        for name in sorted(names):
            full = os.path.join(folder, name)
            if os.path.isfile(full) and not os.path.islink(full):
                yield name if rel == "." else f"{rel}/{name}"


def text_of(path: str) -> str | None:
    """A small text file's content, None for binaries and big files."""
    try:
        if os.path.getsize(path) > CONSUMER_MAX_BYTES:
            return None
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def find_consumers(manifest: Manifest, destinations: set[str]) -> list[tuple[str, str]]:
    """Files below destination_root naming the source folder as a path:
    (destination-relative file, why)."""
    if not is_inside(manifest.source_root, manifest.destination_root) \
            or manifest.source_root == manifest.destination_root:
        raise UsageError("find_consumers: source_root must be inside destination_root "
                         "(consumers are searched there)")
    marker = os.path.relpath(manifest.source_root, manifest.destination_root).replace(os.sep, "/")
    name = re.escape(marker)
    pattern = re.compile(r"(?<![\w.-])" + name + r"/|(?<=[\"'`])" + name + r"(?=[\"'`])")
    prune = {manifest.source_root}
    found = []
    for rel in walk_files(manifest.destination_root, prune):
        if rel in destinations:
            continue
        text = text_of(os.path.join(manifest.destination_root, rel))
        m = pattern.search(text) if text else None
        if m:
            line = text.count("\n", 0, m.start()) + 1
            found.append((rel, f"names {marker}/ at line {line}"))
    return found


def find_edits(manifest: Manifest, destinations: set[str]) -> list[tuple[str, str]]:
    """Files below destination_root matching edit_in_place globs (a glob
    without wildcards names one file; the others are searched below their
    fixed folder)."""
    found, seen = [], set(destinations)
    for glob, regex in manifest.edit_in_place:
        if not has_wildcard(glob):
            candidates = [glob] if os.path.isfile(os.path.join(manifest.destination_root, glob)) else []
        else:
            base = glob_base(glob)
            start = os.path.join(manifest.destination_root, base)
            candidates = ([posixpath.join(base, r) if base else r
                           for r in walk_files(start, {manifest.source_root})]
                          if os.path.isdir(start) else [])
        for rel in candidates:
            full = os.path.join(manifest.destination_root, rel)
            if rel in seen or not regex.match(rel) or is_inside(os.path.realpath(full), manifest.source_root):
                continue
            seen.add(rel)
            found.append((rel, f"matches edit_in_place {glob!r}"))
    return found
