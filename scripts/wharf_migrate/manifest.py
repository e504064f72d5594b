"""The manifest: read it, check it strictly, compile it.

Every error names the field (`rewrites[1].pattern: ...`) and is a
UsageError (exit 2, nothing written).  A recipe (recipes/*.json) is a
manifest too; its relative roots resolve against the checkout given on the
command line instead of the manifest's folder.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from .globs import check_relative_pattern, glob_base, glob_to_regex, has_wildcard
from .util import UsageError, is_inside, sha256_bytes

MANIFEST_VERSION = 1


@dataclass
class Mapping:
    """One `mappings[]` entry (or one name glob of a role), compiled."""
    index: int | None            # position in mappings[]; None for a role's
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
class Role:
    """One `roles[]` entry: what a kind of file looks like and where it goes."""
    name: str
    description: str
    names: list[Mapping]                 # one per name glob, in order
    content: list[re.Pattern]            # any of them must match (if given)
    skip: bool
    reason: str

    def matching_mapping(self, source: str) -> Mapping | None:
        """The name glob this source matches, if any."""
        return next((m for m in self.names if m.regex.match(source)), None)


@dataclass
class OrchestratorRule:
    """One `orchestrator[]` entry: lines or SQL statements of the migrated
    code and the wharfd RPC method that takes their place."""
    index: int
    match: str                           # "line" | "statement"
    regex: re.Pattern
    files: list[re.Pattern]
    access: str
    rpc: list[str]
    note: str


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
    roles: list[Role] = field(default_factory=list)
    edit_in_place: list[tuple[str, re.Pattern]] = field(default_factory=list)
    find_consumers: bool = False
    follow_references: bool = False
    orchestrator: list[OrchestratorRule] = field(default_factory=list)
    typescript_options: list[str] | None = None
    typescript_check: bool = True
    recipe: str | None = None
    raw: dict = field(default_factory=dict)      # the JSON as read, for --print-manifest


TOP_KEYS = {"version", "description", "source_root", "destination_root", "mappings",
            "rewrites", "skip", "unmapped", "include_paths", "validation", "roles",
            "edit_in_place", "find_consumers", "follow_references", "orchestrator"}
TOP_REQUIRED = {"version", "source_root", "destination_root"}
MAPPING_KEYS = {"from", "to", "flatten", "optional", "description"}
REWRITE_KEYS = {"pattern", "replacement", "files", "ignore_case", "description"}
VALIDATION_KEYS = {"compiler", "cflags", "typescript"}
TYPESCRIPT_KEYS = {"check", "options"}
ROLE_KEYS = {"name", "description", "names", "content", "to", "flatten", "skip", "reason"}
ORCHESTRATOR_KEYS = {"match", "pattern", "files", "access", "rpc", "note"}
ACCESS_KINDS = {"write", "read", "schema", "maintenance", "event", "client"}


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


def compile_regex(pattern: str, where: str, flags: int = 0) -> re.Pattern:
    """A regular expression from the manifest; errors name the field."""
    if not pattern:
        raise UsageError(f"{where}: must not be empty")
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise UsageError(f"{where}: not a valid regular expression: {exc}") from None


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


def resolve_root(value: str, base_dir: str) -> str:
    """Relative roots resolve against the manifest's folder (a recipe's:
    against the checkout), so a manifest means the same thing wherever the
    tool is started from."""
    return os.path.realpath(os.path.join(base_dir, os.path.expanduser(value)))


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


def compile_mapping(source: str, to: str, index: int | None, where: str, source_root: str,
                    flatten: bool, optional: bool, must_exist: bool) -> Mapping:
    """A `from` glob and a `to` path as a Mapping.  A `from` naming a folder
    means everything in it; one naming a file is copied to exactly `to`
    unless `to` ends in '/'."""
    dest, to_is_dir = normalise_destination(to, f"{where}.to")
    pattern = source.rstrip("/")
    check_relative_pattern(pattern, f"{where}.from" if index is not None else where)
    exact_file = False
    if not has_wildcard(pattern):
        full = os.path.join(source_root, pattern)
        if os.path.isdir(full):
            pattern += "/**"
        elif os.path.lexists(full) or optional or not must_exist:
            exact_file = True
        else:
            raise UsageError(f"{where}.from: {source!r} does not exist in source_root "
                             f"({source_root}); fix the path or mark the mapping \"optional\": true")
    if not exact_file:
        to_is_dir = True
    regex = glob_to_regex(pattern, f"{where}.from" if index is not None else where)
    base = posixpath.dirname(pattern) if exact_file else glob_base(pattern)
    return Mapping(index, source, regex, base, dest, to_is_dir, flatten, optional, exact_file)


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
    return compile_mapping(source, to, index, where, source_root, flatten, optional, True)


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
    regex = compile_regex(pattern, f"{where}.pattern", re.IGNORECASE if ignore_case else 0)
    check_replacement(regex, replacement, f"{where}.replacement")
    files = [glob_to_regex(g, f"{where}.files[{i}]") for i, g in enumerate(file_globs)]
    return Rewrite(index, pattern, regex, replacement, file_globs, files, description)


def parse_role(obj: Any, index: int, source_root: str) -> Role:
    """Validate and compile one role: name globs, content patterns, and
    the destination its files go to (or skip with a reason)."""
    where = f"roles[{index}]"
    check_keys(obj, ROLE_KEYS, {"name", "names"}, where)
    name = get_typed(obj, "name", str, where)
    if not name:
        raise UsageError(f"{where}.name: must not be empty")
    skip = get_typed(obj, "skip", bool, where, False)
    to = get_typed(obj, "to", str, where)
    if skip == (to is not None):
        raise UsageError(f"{where}: give either \"to\" (where its files go) or \"skip\": true")
    flatten = get_typed(obj, "flatten", bool, where, False)
    names = [compile_mapping(g, to or "", None, f"{where}.names[{i}]", source_root, flatten, True, False)
             for i, g in enumerate(get_string_list(obj, "names", where, non_empty=True))]
    content = [compile_regex(p, f"{where}.content[{i}]", re.MULTILINE)
               for i, p in enumerate(get_string_list(obj, "content", where))]
    return Role(name, get_typed(obj, "description", str, where, ""), names, content, skip,
                get_typed(obj, "reason", str, where, ""))


def parse_orchestrator(obj: Any, index: int) -> OrchestratorRule:
    """Validate and compile one orchestrator rule."""
    where = f"orchestrator[{index}]"
    check_keys(obj, ORCHESTRATOR_KEYS, {"match", "pattern", "files", "access"}, where)
    match = get_typed(obj, "match", str, where)
    if match not in ("line", "statement"):
        raise UsageError(f"{where}.match: must be \"line\" or \"statement\", got {json.dumps(match)}")
    access = get_typed(obj, "access", str, where)
    if access not in ACCESS_KINDS:
        raise UsageError(f"{where}.access: must be one of {', '.join(sorted(ACCESS_KINDS))}, "
                         f"got {json.dumps(access)}")
    regex = compile_regex(get_typed(obj, "pattern", str, where), f"{where}.pattern", re.IGNORECASE)
    files = [glob_to_regex(g, f"{where}.files[{i}]")
             for i, g in enumerate(get_string_list(obj, "files", where, non_empty=True))]
    return OrchestratorRule(index, match, regex, files, access, get_string_list(obj, "rpc", where),
                            get_typed(obj, "note", str, where, ""))


def parse_validation(obj: dict) -> tuple[str, list[str], bool, list[str] | None]:
    """The C compiler and flags for the syntax check, and the TypeScript
    check's switch and compiler options."""
    section = get_typed(obj, "validation", dict, "manifest", {})
    check_keys(section, VALIDATION_KEYS, set(), "validation")
    compiler = get_typed(section, "compiler", str, "validation", "cc")
    if not compiler:
        raise UsageError("validation.compiler: must not be empty")
    cflags = get_string_list(section, "cflags", "validation")
    ts = get_typed(section, "typescript", dict, "validation", {})
    check_keys(ts, TYPESCRIPT_KEYS, set(), "validation.typescript")
    check = get_typed(ts, "check", bool, "validation.typescript", True)
    options = get_string_list(ts, "options", "validation.typescript") if "options" in ts else None
    return compiler, cflags, check, options


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


def load_manifest(path: str, roots_base: str | None = None, recipe: str | None = None) -> Manifest:
    """Read and strictly validate a manifest.  Every error names the field.

    roots_base: the folder relative roots resolve against (a recipe's
    checkout); the manifest's own folder when None.
    """
    data, digest = read_manifest_json(path)
    check_keys(data, TOP_KEYS, TOP_REQUIRED, "manifest")
    version = get_typed(data, "version", int, "manifest")
    if version != MANIFEST_VERSION:
        raise UsageError(f"version: this tool reads manifest version {MANIFEST_VERSION}, got {version}")
    base_dir = roots_base or os.path.dirname(os.path.abspath(path))
    for key in ("source_root", "destination_root"):
        if not get_typed(data, key, str, "manifest"):
            raise UsageError(f"{key}: must not be empty")
    source_root = resolve_root(data["source_root"], base_dir)
    destination_root = resolve_root(data["destination_root"], base_dir)
    check_roots(source_root, destination_root)
    raw_mappings = get_typed(data, "mappings", list, "manifest", [])
    raw_roles = get_typed(data, "roles", list, "manifest", [])
    if not raw_mappings and not raw_roles:
        raise UsageError("mappings: must list at least one mapping (or give roles to discover them)")
    mappings = [parse_mapping(m, i, source_root) for i, m in enumerate(raw_mappings)]
    roles = [parse_role(r, i, source_root) for i, r in enumerate(raw_roles)]
    rewrites = [parse_rewrite(r, i) for i, r in enumerate(get_typed(data, "rewrites", list, "manifest", []))]
    skip_globs = get_string_list(data, "skip", "manifest")
    skip = [(g, glob_to_regex(g, f"skip[{i}]")) for i, g in enumerate(skip_globs)]
    unmapped = get_typed(data, "unmapped", str, "manifest", "error")
    if unmapped not in ("error", "skip"):
        raise UsageError(f"unmapped: must be \"error\" or \"skip\", got {json.dumps(unmapped)}")
    include_paths = get_string_list(data, "include_paths", "manifest")
    compiler, cflags, ts_check, ts_options = parse_validation(data)
    edit_globs = get_string_list(data, "edit_in_place", "manifest")
    edit = [(g, glob_to_regex(g, f"edit_in_place[{i}]")) for i, g in enumerate(edit_globs)]
    orchestrator = [parse_orchestrator(o, i)
                    for i, o in enumerate(get_typed(data, "orchestrator", list, "manifest", []))]
    return Manifest(os.path.abspath(path), digest, get_typed(data, "description", str, "manifest", ""),
                    source_root, destination_root, mappings, rewrites, skip, unmapped,
                    include_paths, compiler, cflags, roles, edit,
                    get_typed(data, "find_consumers", bool, "manifest", False),
                    get_typed(data, "follow_references", bool, "manifest", False),
                    orchestrator, ts_options, ts_check, recipe, data)
