"""Planning: which source goes where, before reading a byte of content.

Each source file goes to the first mapping that claims it (like a routing
table), else to the first role (discover.py) that claims it; `skip` wins
over both.  Consumers (edit_in_place, find_consumers) are planned as edits
of destination files in place.  Problems a manifest edit fixes are usage
errors.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field

from .discover import classify, find_consumers, find_edits
from .manifest import Manifest, Mapping
from .util import RunError, UsageError


@dataclass
class PlannedFile:
    """A source file and where it will go, or a destination file edited in
    place (kind "edit", source None)."""
    source: str | None
    destination: str
    mapping: int | None
    kind: str = "move"
    role: str | None = None
    why: str = ""


@dataclass
class Plan:
    """Everything decided before reading a byte of content."""
    files: list[PlannedFile]
    skipped: list[dict]
    discovery: dict = field(default_factory=dict)

    def moves(self) -> list[PlannedFile]:
        return [f for f in self.files if f.kind == "move"]

    def edits(self) -> list[PlannedFile]:
        return [f for f in self.files if f.kind == "edit"]


def walk_source(root: str, skip_folder=lambda rel: None) -> tuple[list[str], list[dict], list[str]]:
    """Every file below root as sorted root-relative '/' paths.

    Symlinked folders are not followed (they could loop or leave the tree)
    and are returned as skipped; links to files count as files, so a
    dangling link shows up later as an unreadable source.  A folder a skip
    pattern matches is listed once (`node_modules/`), not file by file.
    """
    files, skipped, errors = [], [], []

    def on_error(exc: OSError) -> None:
        errors.append(f"cannot list {exc.filename}: {exc.strerror}")

    for folder, dirs, names in os.walk(root, onerror=on_error):
        dirs.sort()
        rel_folder = os.path.relpath(folder, root).replace(os.sep, "/")
        prefix = "" if rel_folder == "." else rel_folder + "/"
        for d in list(dirs):
            if os.path.islink(os.path.join(folder, d)):
                dirs.remove(d)
                skipped.append({"source": prefix + d, "reason": "symbolic link to a folder (not followed)"})
            elif (reason := skip_folder(prefix + d)) is not None:
                dirs.remove(d)
                skipped.append({"source": prefix + d + "/", "reason": reason})
        for name in sorted(names):
            full = os.path.join(folder, name)
            if os.path.exists(full) and not os.path.isfile(full):
                skipped.append({"source": prefix + name, "reason": "not a regular file"})
            else:
                files.append(prefix + name)
    return files, skipped, errors


def destination_for(mapping: Mapping, source: str) -> str:
    """Where a matched source file lands under this mapping."""
    if mapping.exact_file and not mapping.to_is_dir:
        return mapping.to
    if mapping.flatten:
        tail = posixpath.basename(source)
    else:
        tail = posixpath.relpath(source, mapping.base) if mapping.base else source
    return posixpath.join(mapping.to, tail) if mapping.to else tail


def skip_reason(source: str, manifest: Manifest) -> str | None:
    """Skips win over mappings, so a skip can carve files out of a glob.

    A pattern that matches a folder skips everything below it, as in
    .gitignore: `build` or `build/` leaves out `build/worker.o`.
    """
    candidates = [source]
    parent = posixpath.dirname(source)
    while parent:
        candidates.append(parent)
        parent = posixpath.dirname(parent)
    for glob, regex in manifest.skip:
        if any(regex.match(c) for c in candidates):
            return f"matches skip pattern {glob!r}"
    return None


def claim(f: PlannedFile) -> str:
    """What put a file on a destination, for collision messages."""
    if f.kind == "edit":
        return "edited in place"
    return f"mappings[{f.mapping}]" if f.mapping is not None else f"role {f.role}"


def find_collisions(files: list[PlannedFile]) -> list[str]:
    """Two sources for one destination, or a destination that is both a file
    and a folder of another destination: either would lose a file."""
    problems, by_dest = [], {}
    for f in files:
        if f.destination in by_dest:
            other = by_dest[f.destination]
            problems.append(f"destination {f.destination!r} would receive both {other.source!r} "
                            f"({claim(other)}) and {f.source!r} ({claim(f)})")
        else:
            by_dest[f.destination] = f
    for f in files:
        parent = posixpath.dirname(f.destination)
        while parent:
            if parent in by_dest:
                problems.append(f"destination {parent!r} (from {by_dest[parent].source!r}) is also "
                                f"the folder of {f.destination!r} (from {f.source!r})")
                break
            parent = posixpath.dirname(parent)
    return problems


def assign(manifest: Manifest, source: str) -> tuple[Mapping | None, PlannedFile | dict | None]:
    """A mapping's claim first, then a role's: the planned file, a skip
    entry (a skipping role), or None (unmapped)."""
    mapping = next((m for m in manifest.mappings if m.regex.match(source)), None)
    if mapping is not None:
        return mapping, PlannedFile(source, destination_for(mapping, source), mapping.index)
    found = classify(manifest, source) if manifest.roles else None
    if found is None:
        return None, None
    role, role_mapping, why = found
    if role.skip:
        return None, {"source": source, "reason": f"role {role.name}: {role.reason or 'skipped'} ({why})"}
    return role_mapping, PlannedFile(source, destination_for(role_mapping, source), None, "move",
                                     role.name, why)


def plan_edits(manifest: Manifest, moves: list[PlannedFile]) -> tuple[list[PlannedFile], list[dict]]:
    """Destination files to edit in place: the edit_in_place globs and,
    with find_consumers, the files that name the source folder."""
    destinations = {f.destination for f in moves}
    found = dict(find_edits(manifest, destinations))
    consumers = []
    if manifest.find_consumers:
        for rel, why in find_consumers(manifest, destinations):
            consumers.append({"file": rel, "why": why})
            found.setdefault(rel, why)
    return [PlannedFile(None, rel, None, "edit", None, why) for rel, why in sorted(found.items())], consumers


def make_plan(manifest: Manifest) -> Plan:
    """Match every source file to the first mapping (or role) that claims
    it, then add the files edited in place."""
    sources, skipped, errors = walk_source(manifest.source_root, lambda rel: skip_reason(rel, manifest))
    if errors:
        raise RunError("; ".join(errors))
    files, unmapped, used, roles = [], [], set(), []
    for source in sources:
        reason = skip_reason(source, manifest)
        if reason:
            skipped.append({"source": source, "reason": reason})
            continue
        mapping, planned = assign(manifest, source)
        if isinstance(planned, dict):
            skipped.append(planned)
            roles.append({"source": source, "role": None, "skipped": True, "why": planned["reason"]})
        elif planned is None:
            unmapped.append(source)
        else:
            if planned.mapping is not None:
                used.add(planned.mapping)
            else:
                roles.append({"source": source, "role": planned.role, "destination": planned.destination,
                              "why": planned.why})
            files.append(planned)
    for m in manifest.mappings:
        if m.index not in used and not m.optional:
            raise UsageError(f"mappings[{m.index}].from: {m.source!r} matched no file (or only "
                             f"skipped files, or files an earlier mapping took); fix it or mark "
                             f"it \"optional\": true")
    if unmapped and manifest.unmapped == "error":
        shown = ", ".join(unmapped[:10]) + (", ..." if len(unmapped) > 10 else "")
        raise UsageError(f"unmapped: {len(unmapped)} source file(s) match no mapping and no skip "
                         f"pattern: {shown}; add a mapping or a skip pattern, or set \"unmapped\": \"skip\"")
    skipped += [{"source": s, "reason": "matches no mapping (\"unmapped\": \"skip\")"} for s in unmapped]
    edits, consumers = plan_edits(manifest, files)
    collisions = find_collisions(files + edits)
    if collisions:
        raise UsageError("mapping collision: " + "; ".join(collisions)
                         + "; give one of them its own mapping (earlier in the list) or skip it")
    skipped.sort(key=lambda s: s["source"])
    discovery = {}
    if manifest.roles or manifest.find_consumers:
        discovery = {"roles": roles, "consumers": consumers}
    return Plan(files + edits, skipped, discovery)
