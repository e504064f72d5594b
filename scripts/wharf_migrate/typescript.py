"""The TypeScript check: `tsc --noEmit` on the migrated TypeScript files,
before (the sources where they are) and after (the resulting tree).

A migration must not make the code worse: a diagnostic the original did not
have (same file, line and code) fails validation, and so does any syntax
error (TS1xxx: the file does not parse), even one the original had.
Diagnostics the original already had are reported, not failed: a checkout
without its dependencies installed has "cannot find module 'zod'" before
and after alike.

Which tsc: $WHARF_TSC (a path, or "off"), else the project's own
node_modules/.bin/tsc (found walking up from the destination and the
sources), else wharf's pinned one (scripts/package.json, installed by
`make migrate-deps`).  Without one the report says "not checked" and why.
"""

from __future__ import annotations

import os
import posixpath
import re
import subprocess
from collections import Counter
from dataclasses import dataclass

from .util import is_inside

TSC_ENV = "WHARF_TSC"
# The same compiler options before and after; no tsconfig.json is read
# (files given on the command line), so a package without one is checked
# as its code is written today: modern ESM TypeScript for a bundler/Bun.
DEFAULT_OPTIONS = ["--target", "ES2022", "--module", "ESNext", "--moduleResolution", "Bundler",
                   "--strict", "--skipLibCheck", "--esModuleInterop", "--resolveJsonModule",
                   "--allowImportingTsExtensions"]
# Always on: check only; machine-readable; resolve packages from where a
# file appears (the resulting tree is a folder of symlinks).
FORCED_OPTIONS = ["--noEmit", "--pretty", "false", "--preserveSymlinks"]
TSC_TIMEOUT = 900
DIAGNOSTIC = re.compile(r"^(?P<file>.+?)\((?P<line>\d+),(?P<col>\d+)\): (?:error|warning) TS(?P<code>\d+): "
                        r"(?P<msg>.*)$")
GLOBAL_DIAGNOSTIC = re.compile(r"^(?:error|warning) TS(?P<code>\d+): (?P<msg>.*)$")
CANNOT_FIND_MODULE = {2307, 2792}


@dataclass
class Tsc:
    """A TypeScript compiler found for the check."""
    path: str
    version: str
    found_by: str


@dataclass
class Diagnostic:
    """One tsc diagnostic, its file named destination-relative."""
    file: str | None
    line: int | None
    code: int
    message: str

    def key(self) -> tuple:
        return (self.file, self.line, self.code)

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "code": self.code, "message": self.message}

    @staticmethod
    def from_dict(d: dict) -> "Diagnostic":
        return Diagnostic(d.get("file"), d.get("line"), int(d["code"]), d.get("message", ""))

    def is_syntax(self) -> bool:
        return 1000 <= self.code < 2000


def scripts_dir() -> str:
    """wharf's scripts/ folder (this package's parent)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tsc_version(path: str) -> tuple[str | None, str]:
    """`tsc --version` -> ("5.9.3", "") or (None, why it did not run)."""
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    except OSError as exc:
        return None, f"{path} does not run ({exc.strerror}; tsc needs node on PATH)"
    except subprocess.TimeoutExpired:
        return None, f"{path} --version did not answer"
    m = re.search(r"Version\s+(\S+)", proc.stdout)
    if proc.returncode != 0 or not m:
        return None, f"{path} --version failed: {(proc.stderr or proc.stdout).strip()[:200]}"
    return m.group(1), ""


def find_tsc(start_dirs: list[str]) -> tuple[Tsc | None, str]:
    """The compiler to use, or None and the reason there is none."""
    env = os.environ.get(TSC_ENV, "")
    candidates: list[tuple[str, str]] = []
    if env == "off":
        return None, f"{TSC_ENV}=off"
    if env:
        if not (os.path.isfile(env) and os.access(env, os.X_OK)):
            return None, f"{TSC_ENV}={env} is not an executable file"
        candidates.append((env, f"${TSC_ENV}"))
    else:
        seen = set()
        for start in start_dirs:
            folder = start
            while True:
                tsc = os.path.join(folder, "node_modules", ".bin", "tsc")
                if tsc not in seen and os.path.isfile(tsc):
                    candidates.append((tsc, "the project's node_modules"))
                seen.add(tsc)
                parent = os.path.dirname(folder)
                if parent == folder:
                    break
                folder = parent
        own = os.path.join(scripts_dir(), "node_modules", ".bin", "tsc")
        if os.path.isfile(own):
            candidates.append((own, "wharf's scripts/package.json (make migrate-deps)"))
    if not candidates:
        return None, ("no TypeScript compiler found: `make migrate-deps` installs the pinned one "
                      "(scripts/package.json), or set WHARF_TSC=/path/to/tsc")
    path, found_by = candidates[0]
    version, why = tsc_version(path)
    if version is None:
        return None, why
    return Tsc(path, version, found_by), ""


def parse_output(output: str, cwd: str, name) -> list[Diagnostic]:
    """tsc's --pretty false output as diagnostics; `name(abs path)` gives
    the destination-relative name of a file."""
    out: list[Diagnostic] = []
    for line in output.splitlines():
        m = DIAGNOSTIC.match(line)
        if m:
            path = posixpath.normpath(posixpath.join(cwd, m.group("file")))
            out.append(Diagnostic(name(path), int(m.group("line")), int(m.group("code")), m.group("msg")))
            continue
        m = GLOBAL_DIAGNOSTIC.match(line)
        if m:
            out.append(Diagnostic(None, None, int(m.group("code")), m.group("msg")))
        elif line.startswith(" ") and out:
            out[-1].message += " " + line.strip()
    return out


def run_tsc(tsc: Tsc, cwd: str, files: list[str], options: list[str], name) -> tuple[list[Diagnostic], str]:
    """One tsc run over files (paths relative to cwd): (diagnostics, error)."""
    cmd = [tsc.path, *FORCED_OPTIONS, *options, *files]
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, errors="replace",
                              timeout=TSC_TIMEOUT, env={**os.environ, "LC_ALL": "C"})
    except OSError as exc:
        return [], f"{tsc.path} did not run: {exc.strerror}"
    except subprocess.TimeoutExpired:
        return [], f"tsc took longer than {TSC_TIMEOUT} s"
    diagnostics = parse_output(proc.stdout + proc.stderr, cwd, name)
    if proc.returncode != 0 and not diagnostics:
        text = (proc.stderr or proc.stdout).strip().splitlines()
        return [], f"tsc failed without diagnostics: {text[0] if text else proc.returncode}"
    return diagnostics, ""


def namer(view: str, destination_root: str, renames: dict[str, str]):
    """A function giving each diagnostic's file its destination-relative
    name: a source by where it goes, a view path by what it shows,
    anything else relative to destination_root (or absolute)."""
    def name(path: str) -> str:
        if path in renames:
            return renames[path]
        if view and is_inside(path, view):
            return posixpath.relpath(path, view)
        if is_inside(path, destination_root):
            return posixpath.relpath(path, destination_root)
        return path
    return name


def compare(before: list[Diagnostic], after: list[Diagnostic]) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """(new diagnostics, syntax errors) of the resulting tree."""
    left = Counter(d.key() for d in before)
    new = []
    for d in after:
        if left[d.key()] > 0:
            left[d.key()] -= 1
        else:
            new.append(d)
    return new, [d for d in after if d.is_syntax()]


def counts(diagnostics: list[Diagnostic]) -> dict:
    """The numbers the report and docs quote."""
    return {"diagnostics": len(diagnostics),
            "cannot_find_module": sum(1 for d in diagnostics if d.code in CANNOT_FIND_MODULE),
            "syntax": sum(1 for d in diagnostics if d.is_syntax())}

