#!/usr/bin/env python3
"""Move existing worker code into the wharf worker template layout.

A JSON manifest says which source files go where (glob mappings) and how
include/import paths change on the way (ordered, line-based regex
rewrites).  The run is careful and reversible:

* everything is staged in a temporary folder on the destination's
  filesystem and validated there (``cc -fsyntax-only``, JSON parsing, no
  quoted ``#include`` or relative JS/TS import left dangling) before a
  single destination file is touched;
* every destination file that will be overwritten is copied to a backup
  folder first, and staged files are then moved into place with renames;
* a report (JSON for tools, Markdown for people) records every file,
  rewrite, skip, overwrite, backup and validation result, and
  ``--rollback REPORT.json`` uses it to restore the previous state byte
  for byte.

Exit status: 0 success, 1 failed operation (nothing or everything moved),
2 usage or manifest error.  Standard library only; see docs/migrate.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import errno
import hashlib
import json
import os
import posixpath
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, Iterable

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MANIFEST_VERSION = 1
REPORT_FORMAT = "wharf-migrate-report"
REPORT_VERSION = 1
PROGRESS_THRESHOLD = 50          # more files than this earn a progress bar
C_SUFFIXES = (".c", ".h")
JS_SUFFIXES = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx")
# Extensions and index files tried, in this order, when a relative import
# names a module without its extension (the resolution bundlers and tsc use).
JS_RESOLVE_SUFFIXES = (".ts", ".tsx", ".mts", ".cts", ".js", ".mjs", ".cjs", ".jsx", ".json")
# TypeScript lets "./x.js" name the source "./x.ts".
JS_TS_TWINS = {".js": (".ts", ".tsx"), ".mjs": (".mts",), ".cjs": (".cts",), ".jsx": (".tsx",)}

QUOTED_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
RELATIVE_IMPORT = re.compile(
    r"""(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)(['"])(\.{1,2}/[^'"]*)\1""")


class UsageError(Exception):
    """A mistake in the command line or the manifest: exit 2, nothing written."""


class RunError(Exception):
    """An operation failed (unreadable source, validation, I/O): exit 1."""


class PartialMoveError(RunError):
    """The move failed and so did undoing it: only --rollback can finish."""


# --------------------------------------------------------------------------
# small helpers


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of bytes: the identity of a file's content in the report."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str) -> str | None:
    """Hex SHA-256 of a file, or None when there is no file there.

    Rollback and the pre-move check compare states, and "absent" is a state.
    """
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except FileNotFoundError:
        return None


def now_iso() -> str:
    """UTC time in ISO-8601, as every timestamp in the report."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def is_inside(path: str, root: str) -> bool:
    """True if absolute `path` is `root` or below it (no symlink games: both
    are realpath'd by the caller)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def say(message: str) -> None:
    """Progress and phase lines go to stderr so stdout stays the result."""
    print(f"migrate: {message}", file=sys.stderr, flush=True)


class Progress:
    """A one-line progress bar on stderr.

    Only drawn when stderr is a terminal and the phase has many files: in a
    log file or a pipe a bar is noise, and for a handful of files it only
    flickers.  Otherwise every method does nothing.
    """

    def __init__(self, label: str, total: int, stream=sys.stderr):
        self.label, self.total, self.stream, self.done_count = label, total, stream, 0
        self.enabled = total > PROGRESS_THRESHOLD and stream.isatty()

    def step(self, n: int = 1) -> None:
        """Advance the bar by n files and redraw it."""
        if not self.enabled:
            return
        self.done_count += n
        width = 30
        filled = width * self.done_count // max(self.total, 1)
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r{self.label:<10} [{bar}] {self.done_count}/{self.total}")
        self.stream.flush()

    def finish(self) -> None:
        """End the bar's line so the next message starts clean."""
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


# --------------------------------------------------------------------------
# globs: one syntax for mappings, skips and rewrite targets


GLOB_CHARS = set("*?[")


def has_wildcard(text: str) -> bool:
    """True if a glob (segment) contains a wildcard character."""
    return any(c in GLOB_CHARS for c in text)


def translate_segment(segment: str) -> str:
    """Regex for one path segment: `*` and `?` never cross a `/`."""
    out, i = [], 0
    while i < len(segment):
        c = segment[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = segment.find("]", i + 2 if segment[i + 1:i + 2] in ("!", "]") else i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = segment[i + 1:end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def check_relative_pattern(pattern: str, where: str) -> None:
    """Globs are relative paths below their root: no '/', '..', empty parts."""
    if not pattern:
        raise UsageError(f"{where}: must not be empty")
    if pattern.startswith("/"):
        raise UsageError(f"{where}: must be relative to its root, not absolute (got {pattern!r})")
    parts = pattern.rstrip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise UsageError(f"{where}: must not contain empty, '.' or '..' parts (got {pattern!r})")


def glob_to_regex(pattern: str, where: str) -> re.Pattern:
    """Compile a glob matched against a whole root-relative path.

    `*` and `?` stay within one folder, `**` as a whole segment spans any
    number of folders (including none), `[abc]`/`[!abc]` are classes.
    """
    check_relative_pattern(pattern, where)
    segments = pattern.rstrip("/").split("/")
    parts = []
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == "**":
            parts.append(".*" if last else "(?:[^/]+/)*")
            continue
        if "**" in seg:
            raise UsageError(f"{where}: '**' must be a whole path segment (got {pattern!r})")
        parts.append(translate_segment(seg) + ("" if last else "/"))
    try:
        return re.compile("".join(parts) + r"\Z")
    except re.error as exc:
        raise UsageError(f"{where}: not a valid glob ({exc}) (got {pattern!r})") from None


def glob_base(pattern: str) -> str:
    """The fixed folder in front of a glob's first wildcard ('' for none).

    Destinations keep the path below this folder, so `lib/**` -> `web/lib/`
    puts `lib/a/b.js` at `web/lib/a/b.js`.
    """
    fixed = []
    for seg in pattern.rstrip("/").split("/")[:-1]:
        if has_wildcard(seg):
            break
        fixed.append(seg)
    return "/".join(fixed)


# --------------------------------------------------------------------------
# manifest


@dataclass
class Mapping:
    """One `mappings[]` entry, compiled."""
    index: int
    source: str                  # as written in the manifest
    regex: re.Pattern
    base: str                    # folder whose relative paths are kept
    to: str                      # normalised destination ('' = the root)
    to_is_dir: bool
    flatten: bool
    optional: bool
    exact_file: bool


@dataclass
class Rewrite:
    """One `rewrites[]` entry, compiled."""
    index: int
    pattern: str
    regex: re.Pattern
    replacement: str
    file_globs: list[str]
    files: list[re.Pattern]
    description: str

    def applies_to(self, destination: str) -> bool:
        """Rewrites target files by their destination path."""
        return any(g.match(destination) for g in self.files)


@dataclass
class Manifest:
    """A validated manifest with every path resolved."""
    path: str
    sha256: str
    description: str
    source_root: str
    destination_root: str
    mappings: list[Mapping]
    rewrites: list[Rewrite]
    skip: list[tuple[str, re.Pattern]]
    unmapped: str
    include_paths: list[str]     # as written (relative to destination_root, or absolute)
    compiler: str
    cflags: list[str]


TOP_KEYS = {"version", "description", "source_root", "destination_root", "mappings",
            "rewrites", "skip", "unmapped", "include_paths", "validation"}
TOP_REQUIRED = {"version", "source_root", "destination_root", "mappings"}
MAPPING_KEYS = {"from", "to", "flatten", "optional", "description"}
REWRITE_KEYS = {"pattern", "replacement", "files", "ignore_case", "description"}
VALIDATION_KEYS = {"compiler", "cflags"}


def check_keys(obj: Any, allowed: set, required: set, where: str) -> None:
    """Strict objects: an unknown key is almost always a typo that would
    otherwise be silently ignored."""
    if not isinstance(obj, dict):
        raise UsageError(f"{where}: must be an object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise UsageError(f"{where}: unknown field {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    missing = sorted(required - set(obj))
    if missing:
        raise UsageError(f"{where}.{missing[0]}: required field is missing" if where != "manifest"
                         else f"{missing[0]}: required field is missing")


def field_path(where: str, key: str) -> str:
    """Dotted name of a field, as used in every manifest error."""
    return key if where == "manifest" else f"{where}.{key}"


def get_typed(obj: dict, key: str, kind: type, where: str, default: Any = None) -> Any:
    """Read an optional field and insist on its JSON type."""
    if key not in obj:
        return default
    value = obj[key]
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        names = {str: "a string", bool: "true or false", list: "an array",
                 dict: "an object", int: "an integer"}
        raise UsageError(f"{field_path(where, key)}: must be {names.get(kind, kind.__name__)}, "
                         f"got {json.dumps(value)}")
    return value


def get_string_list(obj: dict, key: str, where: str, non_empty: bool = False) -> list[str]:
    """Read an optional array of strings."""
    values = get_typed(obj, key, list, where, [])
    if non_empty and not values:
        raise UsageError(f"{field_path(where, key)}: must list at least one entry")
    for i, v in enumerate(values):
        if not isinstance(v, str) or not v:
            raise UsageError(f"{field_path(where, key)}[{i}]: must be a non-empty string, "
                             f"got {json.dumps(v)}")
    return values


def reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    """json object hook: a key written twice means one of them is ignored."""
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise UsageError(f"field {key!r} appears twice in the same object")
        out[key] = value
    return out


def read_manifest_json(path: str) -> tuple[Any, str]:
    """Parse the manifest file; errors name the line and column."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise UsageError(f"cannot read manifest: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
        return json.loads(text, object_pairs_hook=reject_duplicate_keys), sha256_bytes(raw)
    except UnicodeDecodeError:
        raise UsageError("manifest is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def resolve_root(value: str, manifest_dir: str) -> str:
    """Relative roots resolve against the manifest's folder, so a manifest
    means the same thing wherever the tool is started from."""
    return os.path.realpath(os.path.join(manifest_dir, os.path.expanduser(value)))


def normalise_destination(value: str, where: str) -> tuple[str, bool]:
    """Check a mapping's `to` and return (path, names_a_folder)."""
    if value.startswith("/"):
        raise UsageError(f"{where}: must be a path relative to destination_root, "
                         f"not absolute (got {value!r})")
    is_dir = value in ("", ".") or value.endswith("/")
    norm = posixpath.normpath(value) if value else "."
    if norm == ".":
        return "", True
    if norm.startswith("../") or norm == ".." or has_wildcard(norm):
        raise UsageError(f"{where}: must be a plain path inside destination_root (got {value!r})")
    return norm, is_dir


def parse_mapping(obj: Any, index: int, source_root: str) -> Mapping:
    """Validate and compile one mapping; the source must exist unless
    the mapping is optional, because a typo here silently drops files."""
    where = f"mappings[{index}]"
    check_keys(obj, MAPPING_KEYS, {"from", "to"}, where)
    source = get_typed(obj, "from", str, where)
    to = get_typed(obj, "to", str, where)
    flatten = get_typed(obj, "flatten", bool, where, False)
    optional = get_typed(obj, "optional", bool, where, False)
    get_typed(obj, "description", str, where)
    dest, to_is_dir = normalise_destination(to, f"{where}.to")
    pattern = source.rstrip("/")
    check_relative_pattern(pattern, f"{where}.from")
    exact_file = False
    if not has_wildcard(pattern):
        full = os.path.join(source_root, pattern)
        if os.path.isdir(full):
            pattern += "/**"
        elif os.path.lexists(full):
            exact_file = True
        elif not optional:
            raise UsageError(f"{where}.from: {source!r} does not exist in source_root "
                             f"({source_root}); fix the path or mark the mapping \"optional\": true")
        else:
            exact_file = True
    if not exact_file:
        to_is_dir = True
    regex = glob_to_regex(pattern, f"{where}.from")
    base = posixpath.dirname(pattern) if exact_file else glob_base(pattern)
    return Mapping(index, source, regex, base, dest, to_is_dir, flatten, optional, exact_file)


def check_replacement(regex: re.Pattern, replacement: str, where: str) -> None:
    """Group references are only checked by `re` when a match is expanded;
    expanding against an empty subject parses them now, before any file."""
    try:
        regex.sub(replacement, "")
    except (re.error, IndexError) as exc:
        raise UsageError(f"{where}: {exc}") from None


def parse_rewrite(obj: Any, index: int) -> Rewrite:
    """Validate and compile one rewrite rule."""
    where = f"rewrites[{index}]"
    check_keys(obj, REWRITE_KEYS, {"pattern", "replacement", "files"}, where)
    pattern = get_typed(obj, "pattern", str, where)
    replacement = get_typed(obj, "replacement", str, where)
    ignore_case = get_typed(obj, "ignore_case", bool, where, False)
    description = get_typed(obj, "description", str, where, "")
    file_globs = get_string_list(obj, "files", where, non_empty=True)
    if not pattern:
        raise UsageError(f"{where}.pattern: must not be empty")
    try:
        regex = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise UsageError(f"{where}.pattern: not a valid regular expression: {exc}") from None
    check_replacement(regex, replacement, f"{where}.replacement")
    files = [glob_to_regex(g, f"{where}.files[{i}]") for i, g in enumerate(file_globs)]
    return Rewrite(index, pattern, regex, replacement, file_globs, files, description)


def parse_validation(obj: dict) -> tuple[str, list[str]]:
    """The C compiler and flags used for the syntax check."""
    section = get_typed(obj, "validation", dict, "manifest", {})
    check_keys(section, VALIDATION_KEYS, set(), "validation")
    compiler = get_typed(section, "compiler", str, "validation", "cc")
    if not compiler:
        raise UsageError("validation.compiler: must not be empty")
    cflags = get_string_list(section, "cflags", "validation")
    return compiler, cflags


def check_roots(source_root: str, destination_root: str) -> None:
    """The roots must exist/not overlap: a destination inside the source
    would be read back as sources on the next run."""
    if not os.path.isdir(source_root):
        raise UsageError(f"source_root: {source_root} is not an existing folder")
    if is_inside(destination_root, source_root):
        raise UsageError(f"destination_root: {destination_root} is inside source_root "
                         f"{source_root}; choose a destination outside the sources")
    if os.path.lexists(destination_root) and not os.path.isdir(destination_root):
        raise UsageError(f"destination_root: {destination_root} exists and is not a folder")


def load_manifest(path: str) -> Manifest:
    """Read and strictly validate a manifest.  Every error names the field."""
    data, digest = read_manifest_json(path)
    check_keys(data, TOP_KEYS, TOP_REQUIRED, "manifest")
    version = get_typed(data, "version", int, "manifest")
    if version != MANIFEST_VERSION:
        raise UsageError(f"version: this tool reads manifest version {MANIFEST_VERSION}, got {version}")
    manifest_dir = os.path.dirname(os.path.abspath(path))
    for key in ("source_root", "destination_root"):
        if not get_typed(data, key, str, "manifest"):
            raise UsageError(f"{key}: must not be empty")
    source_root = resolve_root(data["source_root"], manifest_dir)
    destination_root = resolve_root(data["destination_root"], manifest_dir)
    check_roots(source_root, destination_root)
    raw_mappings = get_typed(data, "mappings", list, "manifest")
    if not raw_mappings:
        raise UsageError("mappings: must list at least one mapping")
    mappings = [parse_mapping(m, i, source_root) for i, m in enumerate(raw_mappings)]
    rewrites = [parse_rewrite(r, i) for i, r in enumerate(get_typed(data, "rewrites", list, "manifest", []))]
    skip_globs = get_string_list(data, "skip", "manifest")
    skip = [(g, glob_to_regex(g, f"skip[{i}]")) for i, g in enumerate(skip_globs)]
    unmapped = get_typed(data, "unmapped", str, "manifest", "error")
    if unmapped not in ("error", "skip"):
        raise UsageError(f"unmapped: must be \"error\" or \"skip\", got {json.dumps(unmapped)}")
    include_paths = get_string_list(data, "include_paths", "manifest")
    compiler, cflags = parse_validation(data)
    return Manifest(os.path.abspath(path), digest, get_typed(data, "description", str, "manifest", ""),
                    source_root, destination_root, mappings, rewrites, skip, unmapped,
                    include_paths, compiler, cflags)


# --------------------------------------------------------------------------
# planning: which source goes where


@dataclass
class PlannedFile:
    """A source file and where it will go."""
    source: str
    destination: str
    mapping: int


@dataclass
class Plan:
    """Everything decided before reading a byte of content."""
    files: list[PlannedFile]
    skipped: list[dict]


def walk_source(root: str) -> tuple[list[str], list[dict], list[str]]:
    """Every file below root as sorted root-relative '/' paths.

    Symlinked folders are not followed (they could loop or leave the tree)
    and are returned as skipped; links to files count as files, so a
    dangling link shows up later as an unreadable source.
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


def find_collisions(files: list[PlannedFile]) -> list[str]:
    """Two sources for one destination, or a destination that is both a file
    and a folder of another destination: either would lose a file."""
    problems, by_dest = [], {}
    for f in files:
        if f.destination in by_dest:
            other = by_dest[f.destination]
            problems.append(f"destination {f.destination!r} would receive both {other.source!r} "
                            f"(mappings[{other.mapping}]) and {f.source!r} (mappings[{f.mapping}])")
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


def make_plan(manifest: Manifest) -> Plan:
    """Match every source file to the first mapping that claims it.

    First match wins, like a routing table: put specific mappings before
    general ones.  Problems a manifest edit fixes are usage errors.
    """
    sources, skipped, errors = walk_source(manifest.source_root)
    if errors:
        raise RunError("; ".join(errors))
    files, unmapped, used = [], [], set()
    for source in sources:
        reason = skip_reason(source, manifest)
        if reason:
            skipped.append({"source": source, "reason": reason})
            continue
        mapping = next((m for m in manifest.mappings if m.regex.match(source)), None)
        if mapping is None:
            unmapped.append(source)
            continue
        used.add(mapping.index)
        files.append(PlannedFile(source, destination_for(mapping, source), mapping.index))
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
    collisions = find_collisions(files)
    if collisions:
        raise UsageError("mapping collision: " + "; ".join(collisions)
                         + "; give one of them its own mapping (earlier in the list) or skip it")
    skipped.sort(key=lambda s: s["source"])
    return Plan(files, skipped)


# --------------------------------------------------------------------------
# staging: read, rewrite, write into the temporary tree


@dataclass
class FileResult:
    """One migrated file: the report's `files[]` entry."""
    source: str
    destination: str
    mapping: int
    action: str = ""                       # create | overwrite | unchanged
    sha256_before: str = ""                # source content
    sha256_after: str = ""                 # content written to the destination
    previous_sha256: str | None = None     # destination content before the run
    mode: str = ""
    backup: str | None = None
    rewrites: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The JSON shape of this entry."""
        return {"source": self.source, "destination": self.destination, "mapping": self.mapping,
                "action": self.action, "sha256_before": self.sha256_before,
                "sha256_after": self.sha256_after, "previous_sha256": self.previous_sha256,
                "backup": self.backup, "mode": self.mode, "rewrites": self.rewrites}


def split_lines(text: str) -> tuple[list[str], list[str]]:
    """Split on '\\n' only (as cc counts lines) into bodies and terminators,
    so rewrites never see or change line endings."""
    pieces = text.split("\n")
    bodies, ends = [], []
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        if last and piece == "":
            break
        end = "" if last else "\n"
        if piece.endswith("\r") and not last:
            piece, end = piece[:-1], "\r\n"
        bodies.append(piece)
        ends.append(end)
    return bodies, ends


def apply_rewrites(result: FileResult, data: bytes, rules: list[Rewrite],
                   used: set[int]) -> tuple[bytes, list[str]]:
    """Apply the rules that target this destination, line by line, in order.

    Each change is recorded with its line number (in the source, which is
    also the destination's: a rewrite may not add or remove lines).
    Returns the new content and a list of errors.
    """
    active = [r for r in rules if r.applies_to(result.destination)]
    if not active:
        return data, []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data, [f"{result.source}: cannot apply "
                      f"{', '.join(f'rewrites[{r.index}]' for r in active)}: not UTF-8 text "
                      f"(byte {exc.start}); exclude it from the rules' \"files\""]
    bodies, ends = split_lines(text)
    errors = []
    for number, body in enumerate(bodies, start=1):
        for rule in active:
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
    return "".join(b + e for b, e in zip(bodies, ends)).encode("utf-8"), errors


def read_source(manifest: Manifest, source: str) -> bytes:
    """Read one source file; failures are run errors that name the file."""
    path = os.path.join(manifest.source_root, source)
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        why = exc.strerror or str(exc)
        if os.path.islink(path) and not os.path.exists(path):
            why = f"dangling symbolic link to {os.readlink(path)!r}"
        raise RunError(f"cannot read source {source} ({path}): {why}") from None


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


def stage_one(manifest: Manifest, planned: PlannedFile, stage_tree: str,
              used: set[int]) -> tuple[FileResult, list[str]]:
    """Read, rewrite and write one file into the staging tree."""
    result = FileResult(planned.source, planned.destination, planned.mapping)
    source_path = os.path.join(manifest.source_root, planned.source)
    data = read_source(manifest, planned.source)
    new_data, errors = apply_rewrites(result, data, manifest.rewrites, used)
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
    return result, errors


def stage_all(manifest: Manifest, plan: Plan,
              stage_tree: str) -> tuple[list[FileResult], list[str], list[str]]:
    """Stage every planned file; collect every error rather than stopping at
    the first, so one run shows the whole list of problems.

    Returns (results, errors, warnings).
    """
    results, errors, used = [], [], set()
    progress = Progress("staging", len(plan.files))
    for planned in plan.files:
        try:
            result, file_errors = stage_one(manifest, planned, stage_tree, used)
            results.append(result)
            errors += file_errors
        except RunError as exc:
            errors.append(str(exc))
        except OSError as exc:
            errors.append(f"cannot stage {planned.destination}: {exc.strerror or exc}")
        progress.step()
    progress.finish()
    warnings = [f"rewrites[{r.index}] ({r.pattern!r}) changed nothing in files matching "
                f"{', '.join(r.file_globs)}" for r in manifest.rewrites if r.index not in used]
    return results, errors, warnings


# --------------------------------------------------------------------------
# validation: the resulting tree, before anything moves


@dataclass
class Failure:
    """One validation problem, located as precisely as the check allows."""
    check: str
    file: str
    line: int | None
    message: str
    detail: str = ""

    def as_dict(self) -> dict:
        return {"check": self.check, "file": self.file, "line": self.line,
                "message": self.message, "detail": self.detail}

    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class ResultTree:
    """The destination as it will be after the move, without moving.

    `view` is a folder of symlinks (existing destination files, overlaid by
    staged files) so the compiler sees exactly the resulting tree; `files`
    is the same set as relative paths for cheap existence checks.
    """
    destination_root: str
    view: str
    files: set[str]
    folders: set[str]

    def exists(self, rel: str) -> bool:
        """Does a root-relative path exist in the resulting tree?  Paths that
        climb out of the destination are looked up on disk."""
        if rel == ".." or rel.startswith("../"):
            return os.path.exists(os.path.join(self.destination_root, rel))
        return rel in self.files or rel in self.folders or rel == "."

    def is_file(self, rel: str) -> bool:
        if rel == ".." or rel.startswith("../"):
            return os.path.isfile(os.path.join(self.destination_root, rel))
        return rel in self.files


def existing_destination_files(root: str, exclude: str) -> list[str]:
    """Files already in the destination (root-relative), minus the staging
    folder when it had to live inside the destination."""
    found = []
    if not os.path.isdir(root):
        return found
    for folder, dirs, names in os.walk(root):
        if is_inside(folder, exclude):
            dirs[:] = []
            continue
        dirs[:] = [d for d in dirs if not is_inside(os.path.join(folder, d), exclude)]
        rel = os.path.relpath(folder, root).replace(os.sep, "/")
        found += [n if rel == "." else f"{rel}/{n}" for n in names]
    return found


def build_result_tree(destination_root: str, stage_root: str, results: list[FileResult]) -> ResultTree:
    """Link existing destination files, then staged files over them, into a
    view folder: what cc and the reference check look at."""
    view = os.path.join(stage_root, "view")
    links = {rel: os.path.join(destination_root, rel)
             for rel in existing_destination_files(destination_root, stage_root)}
    for r in results:
        links[r.destination] = os.path.join(stage_root, "tree", r.destination)
    folders = {"."}
    for rel, target in links.items():
        link = os.path.join(view, rel)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(target, link)
        parent = posixpath.dirname(rel)
        while parent:
            folders.add(parent)
            parent = posixpath.dirname(parent)
    os.makedirs(view, exist_ok=True)
    return ResultTree(destination_root, view, set(links), folders)


def include_dirs(manifest: Manifest, tree: ResultTree) -> tuple[list[tuple[str, str, str]], list[Failure]]:
    """Resolve include_paths: (as written, root-relative or None, path for cc).

    Relative include paths name folders of the resulting tree (so cc gets
    the view); absolute ones are used as they are.
    """
    dirs, failures = [], []
    for i, written in enumerate(manifest.include_paths):
        absolute = os.path.normpath(os.path.join(manifest.destination_root, written))
        if is_inside(absolute, manifest.destination_root):
            rel = os.path.relpath(absolute, manifest.destination_root).replace(os.sep, "/")
            present = rel in tree.folders
            dirs.append((written, rel, os.path.join(tree.view, rel)))
        else:
            present = os.path.isdir(absolute)
            dirs.append((written, None, absolute))
        if not present:
            failures.append(Failure("include-paths", f"include_paths[{i}]", None,
                                    f"{written!r} is not a folder of the resulting tree"))
    return dirs, failures


def first_compiler_error(output: str) -> tuple[int | None, str]:
    """The line number and text of the first diagnostic cc printed."""
    for line in output.splitlines():
        m = re.match(r"^(.*?):(\d+):(?:\d+:)? (?:fatal )?error: (.*)$", line)
        if m:
            return int(m.group(2)), f"{m.group(1)}:{m.group(2)}: {m.group(3)}"
    lines = [l for l in output.splitlines() if l.strip()]
    return None, lines[0] if lines else "compiler failed without a message"


def compile_check(manifest: Manifest, tree: ResultTree, rel: str, cc_dirs: list[str]) -> Failure | None:
    """`cc -fsyntax-only` one C file of the view; None if it passes."""
    cmd = [manifest.compiler, "-fsyntax-only", *manifest.cflags, *(f"-I{d}" for d in cc_dirs), rel]
    try:
        proc = subprocess.run(cmd, cwd=tree.view, capture_output=True, text=True, errors="replace",
                              env={**os.environ, "LC_ALL": "C"})   # stable, ASCII diagnostics
    except FileNotFoundError:
        return Failure("c-syntax", rel, None, f"C compiler {manifest.compiler!r} not found; install it "
                       f"or set validation.compiler")
    if proc.returncode == 0:
        return None
    output = proc.stderr.replace(tree.view + "/", "")
    line, message = first_compiler_error(output)
    own = f"{rel}:{line}: "
    if message.startswith(own):
        message = message[len(own):]        # the failure's location says it already
    else:
        line = None                         # the error is in an included file
    return Failure("c-syntax", rel, line, message, "\n".join(output.splitlines()[:40]))


def check_c_syntax(manifest: Manifest, tree: ResultTree, files: list[str],
                   cc_dirs: list[str]) -> list[Failure]:
    """Compile-check every migrated C file, in parallel (each is a process)."""
    progress = Progress("validating", len(files))
    failures: list[Failure] = []
    workers = min(8, os.cpu_count() or 2)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for failure in pool.map(lambda rel: compile_check(manifest, tree, rel, cc_dirs), files):
            progress.step()
            if failure:
                failures.append(failure)
    progress.finish()
    return failures


def check_json_files(tree: ResultTree, files: list[str]) -> list[Failure]:
    """Every migrated .json file must parse."""
    failures = []
    for rel in files:
        try:
            with open(os.path.join(tree.view, rel), "rb") as f:
                json.loads(f.read().decode("utf-8"))
        except UnicodeDecodeError:
            failures.append(Failure("json", rel, None, "not UTF-8 text"))
        except json.JSONDecodeError as exc:
            failures.append(Failure("json", rel, exc.lineno,
                                    f"not valid JSON: {exc.msg} (column {exc.colno})"))
    return failures


def read_view_lines(tree: ResultTree, rel: str) -> list[str]:
    """A migrated text file's lines, for the reference scans."""
    with open(os.path.join(tree.view, rel), "rb") as f:
        return split_lines(f.read().decode("utf-8", errors="replace"))[0]


def resolve_include(tree: ResultTree, rel: str, target: str,
                    dirs: list[tuple[str, str | None, str]]) -> bool:
    """Quoted include search as cc does it: the including file's folder,
    then each include path."""
    here = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
    if tree.is_file(here):
        return True
    for _written, root_rel, cc_path in dirs:
        if root_rel is not None:
            if tree.is_file(posixpath.normpath(posixpath.join(root_rel, target))):
                return True
        elif os.path.isfile(os.path.join(cc_path, target)):
            return True
    return False


def check_includes(tree: ResultTree, files: list[str], dirs) -> tuple[int, list[Failure]]:
    """No quoted #include may point at nothing in the resulting tree."""
    checked, failures = 0, []
    searched = ", ".join(["the file's folder"] + [w for w, _r, _c in dirs])
    for rel in files:
        for number, line in enumerate(read_view_lines(tree, rel), start=1):
            m = QUOTED_INCLUDE.match(line)
            if not m:
                continue
            checked += 1
            if not resolve_include(tree, rel, m.group(1), dirs):
                failures.append(Failure("references", rel, number,
                                        f'#include "{m.group(1)}" matches no file (searched {searched})'))
    return checked, failures


def resolve_import(tree: ResultTree, rel: str, spec: str) -> bool:
    """Relative import resolution: exact file, TS twin of a .js name, added
    extension, or a folder's index file."""
    base = posixpath.normpath(posixpath.join(posixpath.dirname(rel), spec.split("?")[0]))
    if tree.is_file(base):
        return True
    stem, ext = posixpath.splitext(base)
    if any(tree.is_file(stem + twin) for twin in JS_TS_TWINS.get(ext, ())):
        return True
    if any(tree.is_file(base + s) for s in JS_RESOLVE_SUFFIXES):
        return True
    return any(tree.is_file(posixpath.join(base, "index" + s)) for s in JS_RESOLVE_SUFFIXES)


def check_imports(tree: ResultTree, files: list[str]) -> tuple[int, list[Failure]]:
    """No relative JS/TS import, export-from, require or import() may point
    at nothing in the resulting tree."""
    checked, failures = 0, []
    for rel in files:
        for number, line in enumerate(read_view_lines(tree, rel), start=1):
            for m in RELATIVE_IMPORT.finditer(line):
                checked += 1
                if not resolve_import(tree, rel, m.group(2)):
                    failures.append(Failure("references", rel, number,
                                            f"import {m.group(2)!r} matches no file or folder index"))
    return checked, failures


def validate(manifest: Manifest, tree: ResultTree, results: list[FileResult]) -> dict:
    """Run every check on the migrated files of the resulting tree."""
    migrated = [r.destination for r in results]
    c_files = [f for f in migrated if f.endswith(C_SUFFIXES)]
    json_files = [f for f in migrated if f.endswith(".json")]
    js_files = [f for f in migrated if f.endswith(JS_SUFFIXES)]
    dirs, failures = include_dirs(manifest, tree)
    c_failures = check_c_syntax(manifest, tree, c_files, [d[2] for d in dirs]) if c_files else []
    json_failures = check_json_files(tree, json_files)
    includes_checked, include_failures = check_includes(tree, c_files, dirs)
    imports_checked, import_failures = check_imports(tree, js_files)
    failures += c_failures + json_failures + include_failures + import_failures
    failures.sort(key=lambda f: (f.file, f.line or 0, f.check))
    return {
        "passed": not failures,
        "c_syntax": {"compiler": manifest.compiler, "flags": manifest.cflags,
                     "include_paths": manifest.include_paths, "files_checked": len(c_files),
                     "failed": len(c_failures)},
        "json": {"files_checked": len(json_files), "failed": len(json_failures)},
        "references": {"includes_checked": includes_checked, "imports_checked": imports_checked,
                       "failed": len(include_failures) + len(import_failures)},
        "failures": [f.as_dict() for f in failures],
    }


# --------------------------------------------------------------------------
# staging location and moving into place


def nearest_existing(path: str) -> str:
    """The closest folder at or above path that exists."""
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


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
            move_file(os.path.join(stage_tree, r.destination),
                      os.path.join(manifest.destination_root, r.destination))
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


# --------------------------------------------------------------------------
# report


def report_paths(base: str) -> dict:
    """The files a report base names."""
    return {"json": base + ".json", "markdown": base + ".md", "backup_dir": base + ".backup"}


def choose_report_base(requested: str | None, manifest: Manifest, run_id: str) -> str:
    """--report PATH (with or without .json/.md), or a unique name beside
    the destination.  A report is the only way back, so never overwrite one."""
    dest = manifest.destination_root
    if requested:
        base = os.path.abspath(re.sub(r"\.(json|md)$", "", requested))
    else:
        base = os.path.join(os.path.dirname(dest), f"{os.path.basename(dest)}.migrate-{run_id}")
    real_base = os.path.realpath(base)        # resolves the part that exists
    for root, name in ((dest, "destination_root"), (manifest.source_root, "source_root")):
        if is_inside(real_base, root):
            raise UsageError(f"--report: {base} is inside {name}; put the report elsewhere")
    taken = [p for p in report_paths(base).values() if os.path.lexists(p)]
    if taken:
        raise UsageError(f"--report: {taken[0]} already exists; choose another --report base")
    return base


def new_report(manifest: Manifest, run_id: str, base: str | None, plan: Plan) -> dict:
    """The report skeleton, filled in as the run goes."""
    paths = report_paths(base) if base else {}
    return {
        "format": REPORT_FORMAT, "version": REPORT_VERSION, "run_id": run_id,
        "status": "planned", "destination_touched": False,
        "started_at": now_iso(), "finished_at": None,
        "manifest": {"path": manifest.path, "sha256": manifest.sha256, "description": manifest.description},
        "source_root": manifest.source_root, "destination_root": manifest.destination_root,
        "report": {"json": paths.get("json"), "markdown": paths.get("markdown")},
        "backup_dir": None, "summary": {}, "files": [], "skipped": plan.skipped,
        "created_directories": [], "validation": None, "warnings": [], "errors": [],
    }


def summarise(report: dict) -> dict:
    """Counts for the report's head."""
    files = report["files"]

    def count(action: str) -> int:
        return sum(1 for f in files if f["action"] == action)

    validation = report["validation"]
    return {"files": len(files), "created": count("create"), "overwritten": count("overwrite"),
            "unchanged": count("unchanged"), "skipped": len(report["skipped"]),
            "rewritten_files": sum(1 for f in files if f["rewrites"]),
            "rewritten_lines": len({(f["destination"], r["line"]) for f in files for r in f["rewrites"]}),
            "validation": ("not run" if validation is None
                           else "passed" if validation["passed"] else "failed")}


def md_code(text: str) -> str:
    """Inline Markdown code that survives backticks and table pipes."""
    text = text.replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`"


def render_markdown(report: dict) -> str:
    """The report for people: the same facts as the JSON, in sections."""
    s = report["summary"]
    out = [f"# Migration report {report['run_id']}", "",
           f"- status: **{report['status']}**",
           f"- manifest: `{report['manifest']['path']}` (sha256 {report['manifest']['sha256'][:12]})",
           f"- source: `{report['source_root']}`",
           f"- destination: `{report['destination_root']}`",
           f"- backups: `{report['backup_dir']}`" if report["backup_dir"] else "- backups: none",
           f"- started {report['started_at']}, finished {report['finished_at']}",
           f"- {s['files']} files: {s['created']} created, {s['overwritten']} overwritten, "
           f"{s['unchanged']} unchanged; {s['skipped']} skipped; "
           f"{s['rewritten_lines']} lines rewritten in {s['rewritten_files']} files; "
           f"validation {s['validation']}", ""]
    out += ["## Files", "", "| action | source | destination | sha256 before | sha256 after |",
            "|---|---|---|---|---|"]
    out += [f"| {f['action']} | `{f['source']}` | `{f['destination']}` | {f['sha256_before'][:12]} "
            f"| {f['sha256_after'][:12]} |" for f in report["files"]]
    out += ["", "## Rewrites", ""]
    rewritten = [f for f in report["files"] if f["rewrites"]]
    for f in rewritten:
        out.append(f"### `{f['destination']}`")
        out += [f"- line {r['line']} (rewrites[{r['rule']}]): {md_code(r['old'])} → {md_code(r['new'])}"
                for r in f["rewrites"]]
        out.append("")
    if not rewritten:
        out += ["none", ""]
    overwritten = [f for f in report["files"] if f["action"] == "overwrite"]
    out += ["## Overwritten files", ""]
    out += [f"- `{f['destination']}` (was {(f['previous_sha256'] or '')[:12]}), backup `{f['backup']}`"
            for f in overwritten] or ["none"]
    out += ["", "## Skipped", ""]
    out += [f"- `{k['source']}`: {k['reason']}" for k in report["skipped"]] or ["none"]
    out += ["", "## Validation", ""]
    v = report["validation"]
    if v is None:
        out.append("not run")
    else:
        out += [f"- C syntax (`{v['c_syntax']['compiler']} -fsyntax-only`): "
                f"{v['c_syntax']['files_checked']} files, {v['c_syntax']['failed']} failed",
                f"- JSON: {v['json']['files_checked']} files, {v['json']['failed']} failed",
                f"- references: {v['references']['includes_checked']} includes and "
                f"{v['references']['imports_checked']} imports, {v['references']['failed']} dangling"]
        out += [f"- **{f['check']}** `{f['file']}{':' + str(f['line']) if f['line'] else ''}`: {f['message']}"
                for f in v["failures"]]
    for title, key in (("Warnings", "warnings"), ("Errors", "errors")):
        out += ["", f"## {title}", ""]
        out += [f"- {m}" for m in report[key]] or ["none"]
    return "\n".join(out) + "\n"


def write_atomically(path: str, text: str) -> None:
    """Write beside and rename, so a report is never half written."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{secrets.token_hex(4)}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_report(report: dict, results: list[FileResult]) -> None:
    """Refresh the report's derived fields and write both files."""
    report["files"] = [r.as_dict() for r in results]
    report["summary"] = summarise(report)
    if report["report"]["json"]:
        write_atomically(report["report"]["json"], json.dumps(report, indent=2) + "\n")
        write_atomically(report["report"]["markdown"], render_markdown(report))


# --------------------------------------------------------------------------
# the migration run


def print_plan(report: dict, dry_run: bool) -> None:
    """What the run did (or, dry, would do), on stdout."""
    s = report["summary"]
    verb = "would" if dry_run else "did"
    print(f"{'Dry run' if dry_run else 'Migration'}: {report['manifest']['path']}")
    print(f"  source:      {report['source_root']}")
    print(f"  destination: {report['destination_root']}")
    print(f"Files ({s['files']}): {s['created']} new, {s['overwritten']} overwrite, "
          f"{s['unchanged']} unchanged")
    for f in report["files"]:
        note = "  (backup first)" if f["action"] == "overwrite" else ""
        print(f"  {f['action']:<9} {f['source']} -> {f['destination']}{note}")
    print(f"Rewrites ({s['rewritten_lines']} lines in {s['rewritten_files']} files):")
    for f in report["files"]:
        for r in f["rewrites"]:
            print(f"  {f['destination']}:{r['line']}: rewrites[{r['rule']}]")
            print(f"    - {r['old']}")
            print(f"    + {r['new']}")
    print(f"Skipped ({s['skipped']}):")
    for k in report["skipped"]:
        print(f"  skip      {k['source']}  ({k['reason']})")
    for w in report["warnings"]:
        print(f"Warning: {w}")
    v = report["validation"]
    if v is not None:
        print(f"Validation {'passed' if v['passed'] else 'FAILED'}: "
              f"C syntax {v['c_syntax']['files_checked']} files, "
              f"JSON {v['json']['files_checked']} files, {v['references']['includes_checked']} includes and "
              f"{v['references']['imports_checked']} imports checked")
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


def stage_and_validate(manifest: Manifest, plan: Plan, report: dict,
                       stage_root: str) -> list[FileResult]:
    """Stage all files and validate the resulting tree; record both."""
    say(f"staging {len(plan.files)} files ({len(plan.skipped)} skipped)")
    results, errors, warnings = stage_all(manifest, plan, os.path.join(stage_root, "tree"))
    report["warnings"] += warnings
    if errors:
        report["errors"] += errors
        finish(report, results, "failed")
        raise RunError(f"{len(errors)} file(s) could not be staged; the destination was not changed:\n  "
                       + "\n  ".join(errors))
    say("validating the resulting tree")
    tree = build_result_tree(manifest.destination_root, stage_root, results)
    report["validation"] = validate(manifest, tree, results)
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
    planned change before the first move, so even a crash can be rolled back."""
    prepare_move(manifest, report, results)
    # The report's own folder may be one the destination needs (it sits
    # beside the destination): create it first so it is not counted as a
    # folder the run created inside the destination's path.
    os.makedirs(os.path.dirname(report["report"]["json"]), exist_ok=True)
    folders = missing_folders(manifest.destination_root, results)
    report["created_directories"] = folders
    report["destination_touched"] = True
    finish(report, results, "in-progress")
    say(f"moving {sum(1 for r in results if r.action != 'unchanged')} files into place")
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
        manifest = load_manifest(args.manifest)
        plan = make_plan(manifest)
    except UsageError as exc:
        raise UsageError(f"{args.manifest}: {exc}") from None
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_id = f"{stamp}-{secrets.token_hex(3)}"
    base = choose_report_base(args.report, manifest, run_id) if (args.report or not args.dry_run) else None
    report = new_report(manifest, run_id, base, plan)
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


# --------------------------------------------------------------------------
# rollback


REPORT_FILE_KEYS = ("destination", "action", "sha256_after", "previous_sha256", "backup")


def load_report(path: str) -> dict:
    """Read a report and check it is one of ours, complete enough to use."""
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
    except OSError as exc:
        raise UsageError(f"--rollback: cannot read {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"--rollback: {path} is not a JSON report ({exc})") from None
    if not isinstance(report, dict) or report.get("format") != REPORT_FORMAT:
        raise UsageError(f"--rollback: {path} is not a migrate report (no \"format\": \"{REPORT_FORMAT}\")")
    if report.get("version") != REPORT_VERSION:
        raise UsageError(f"--rollback: report version {report.get('version')} is not supported")
    for i, entry in enumerate(report.get("files", [])):
        if not isinstance(entry, dict) or any(k not in entry for k in REPORT_FILE_KEYS):
            raise UsageError(f"--rollback: {path}: files[{i}] is incomplete")
    return report


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
    print(f"Rolled back run {report['run_id']}: {sum(s.kind == 'remove' for s in todo)} removed, "
          f"{sum(s.kind == 'restore' for s in todo)} restored"
          + (f", {len(conflicts)} local change(s) discarded (--force)" if conflicts else "") + ".")
    return EXIT_OK


# --------------------------------------------------------------------------
# command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Flags; argparse itself exits 2 on usage errors."""
    parser = argparse.ArgumentParser(
        prog="migrate.py",
        description="Move worker code into the wharf worker template layout, as a JSON manifest "
                    "says: stage, validate, back up, then move; reversible with --rollback.",
        epilog="Exit status: 0 success, 1 failed operation, 2 usage or manifest error. "
               "See docs/migrate.md for the manifest and report formats.")
    parser.add_argument("manifest", nargs="?", help="the migration manifest (JSON)")
    parser.add_argument("--dry-run", action="store_true",
                        help="show what would be copied, rewritten, overwritten and skipped, and "
                             "validate it; change nothing (with --rollback: show what it would undo)")
    parser.add_argument("--report", metavar="PATH",
                        help="report base: writes PATH.json and PATH.md (backups in PATH.backup/); "
                             "default: beside the destination, DEST.migrate-RUNID.*")
    parser.add_argument("--rollback", metavar="REPORT.json",
                        help="undo the run recorded in this report")
    parser.add_argument("--force", action="store_true",
                        help="with --rollback: also undo files modified since the run, discarding "
                             "those changes")
    args = parser.parse_args(argv)
    if bool(args.manifest) == bool(args.rollback):
        parser.error("give either a MANIFEST to migrate or --rollback REPORT.json")
    if args.force and not args.rollback:
        parser.error("--force only applies to --rollback")
    if args.rollback and args.report:
        parser.error("--report does not apply to --rollback")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run, and turn our two error kinds into their exit statuses."""
    args = parse_args(argv)
    try:
        return run_rollback(args) if args.rollback else run_migration(args)
    except UsageError as exc:
        print(f"migrate: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RunError as exc:
        print(f"migrate: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"migrate: error: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
