"""The checks a migrated file has to pass, on the resulting tree (or, for
validate DEST, on the tree on disk): C syntax (cc -fsyntax-only), JSON,
shell syntax (bash -n / sh -n), quoted #include and relative JS/TS imports
that must resolve.  TypeScript is typescript.py.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import posixpath
import re
import subprocess
from dataclasses import dataclass

from .references import RELATIVE_IMPORT, resolve_module
from .util import Progress, is_inside, read_text_lines
from .view import ResultTree

QUOTED_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
SHELLS = {"sh": "sh", "dash": "dash", "bash": "bash", "ksh": "bash", "zsh": "bash"}


# `manifest` below is anything with compiler, cflags, include_paths and
# destination_root: a Manifest, or what validate DEST reads from a report.


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


def include_dirs(manifest, tree: ResultTree) -> tuple[list[tuple[str, str, str]], list[Failure]]:
    """Resolve include_paths: (as written, root-relative or None, path for cc).

    Relative include paths name folders of the resulting tree (so cc gets
    the view); absolute ones are used as they are.
    """
    dirs, failures = [], []
    for i, written in enumerate(manifest.include_paths):
        absolute = os.path.normpath(os.path.join(manifest.destination_root, written))
        if is_inside(absolute, manifest.destination_root):
            rel = os.path.relpath(absolute, manifest.destination_root).replace(os.sep, "/")
            present = tree.is_dir(rel)
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


def compile_check(manifest, tree: ResultTree, rel: str, cc_dirs: list[str]) -> Failure | None:
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


def check_c_syntax(manifest, tree: ResultTree, files: list[str],
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
            with open(tree.path(rel), "rb") as f:
                json.loads(f.read().decode("utf-8"))
        except UnicodeDecodeError:
            failures.append(Failure("json", rel, None, "not UTF-8 text"))
        except json.JSONDecodeError as exc:
            failures.append(Failure("json", rel, exc.lineno,
                                    f"not valid JSON: {exc.msg} (column {exc.colno})"))
    return failures


def read_view_lines(tree: ResultTree, rel: str) -> list[str]:
    """A migrated text file's lines, for the reference scans."""
    return read_text_lines(tree.path(rel))


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


def check_imports(tree: ResultTree, files: list[str]) -> tuple[int, list[Failure]]:
    """No relative JS/TS import, export-from, require or import() may point
    at nothing in the resulting tree."""
    checked, failures = 0, []
    for rel in files:
        for number, line in enumerate(read_view_lines(tree, rel), start=1):
            for m in RELATIVE_IMPORT.finditer(line):
                checked += 1
                if resolve_module(posixpath.dirname(rel), m.group(2).split("?")[0], tree.is_file) is None:
                    failures.append(Failure("references", rel, number,
                                            f"import {m.group(2)!r} matches no file or folder index"))
    return checked, failures


def shell_for(path: str) -> str:
    """The shell that checks a script: its shebang's (sh, dash, bash), else
    bash."""
    try:
        with open(path, "rb") as f:
            first = f.readline().decode("utf-8", errors="replace")
    except OSError:
        return "bash"
    m = re.match(r"^#!\s*(?:/usr)?/bin/(?:env\s+)?(\w+)", first)
    return SHELLS.get(m.group(1), "bash") if m else "bash"


def check_shell_files(tree: ResultTree, files: list[str]) -> list[Failure]:
    """`bash -n` (or the shebang's shell) on every shell script."""
    failures = []
    for rel in files:
        shell = shell_for(tree.path(rel))
        try:
            proc = subprocess.run([shell, "-n", rel], cwd=tree.view, capture_output=True, text=True,
                                  errors="replace", env={**os.environ, "LC_ALL": "C"})
        except FileNotFoundError:
            failures.append(Failure("shell", rel, None, f"{shell} is not installed"))
            continue
        if proc.returncode != 0:
            text = proc.stderr.strip().splitlines()
            first = text[0] if text else f"{shell} -n failed"
            m = re.search(r"line (\d+): (.*)$", first)
            failures.append(Failure("shell", rel, int(m.group(1)) if m else None,
                                    f"{shell} -n: {m.group(2) if m else first}", proc.stderr[:2000]))
    return failures


def is_shell_script(tree: ResultTree, rel: str) -> bool:
    """A .sh/.bash file, or one whose shebang names a shell."""
    if rel.endswith((".sh", ".bash")):
        return True
    try:
        with open(tree.path(rel), "rb") as f:
            first = f.readline(200)
    except OSError:
        return False
    return re.match(rb"^#!\s*\S*(?:/|env\s+)(?:ba|da|k)?sh\b", first) is not None
