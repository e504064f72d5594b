"""Following moved files: every reference to an old place, rewritten.

With `"follow_references": true` the run rewrites, line by line, what
points at a migrated file's old place, in the migrated files and in the
`edit_in_place` files (consumers):

* relative JS/TS imports (`from './types.js'`, `require('./x')`,
  `import('./x')`), in the same form they were written (`.js` for a `.ts`,
  no extension, a folder's index);
* path tokens of package.json values (`main`, `bin`, `scripts`, ...),
  relative to the package.json's folder;
* shell scripts of a moved package: paths relative to the package root
  (the folder they are run from), or to the script's folder on lines that
  use `$0`, `BASH_SOURCE` or `dirname`;
* Dockerfiles: `COPY`/`ADD` sources (relative to the Dockerfile's folder,
  the build context), and image paths below a copied folder
  (`/workspace/container/cli-tools.ts`), also relative ones after a
  `WORKDIR` there, in every followed file (a spawned script path);
* whole string literals of JS/TS (`'cli-tools.ts'` as a spawned argument)
  relative to the package root, or to the file's folder on lines using
  `__dirname`/`import.meta`;
* other path tokens with a `/` (`container/**/*.ts`,
  `**/container/x.test.ts`, `/container/` in docs) relative to the
  file's folder, then to destination_root.

What it cannot rewrite (a reference to a skipped file, a glob whose files
went different ways, an image path outside any copied folder, a bare file
name in prose) is returned as work left, with file and line.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field

from .globs import glob_base, glob_to_regex, has_wildcard
from .util import JS_SUFFIXES, UsageError, is_inside, split_lines

# Extensions and index files tried, in this order, when a relative import
# names a module without its extension (the resolution bundlers and tsc use).
JS_RESOLVE_SUFFIXES = (".ts", ".tsx", ".mts", ".cts", ".js", ".mjs", ".cjs", ".jsx", ".json")
# TypeScript lets "./x.js" name the source "./x.ts".
JS_TS_TWINS = {".js": (".ts", ".tsx"), ".mjs": (".mts",), ".cjs": (".cts",), ".jsx": (".tsx",)}
RELATIVE_IMPORT = re.compile(
    r"""(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)(['"])(\.{1,2}/[^'"]*)\1""")

TOKEN = re.compile(r"[\w@+.*/-]+")
WHOLE_LITERAL = re.compile(r"""(['"`])([\w@+.*/-]+)\1""")
FILE_RELATIVE_JS = re.compile(r"__dirname|__filename|import\.meta")
# A literal compared with a name (`argv[1].endsWith('cli-tools.ts')`) is a
# name, not a path: left as it is.
NAME_TEST = re.compile(r"(?:\b(?:endsWith|startsWith|includes|indexOf|lastIndexOf|basename|match|test)\s*\(\s*|[!=]==?\s*)$")
FILE_RELATIVE_SH = re.compile(r"\$0\b|\$\{0\}|BASH_SOURCE|\bdirname\b")
JSON_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:')
DOCKER_INSTRUCTION = re.compile(r"^\s*([A-Za-z]+)\b(.*)$")
SHELL_SHEBANG = re.compile(r"^#!.*\b(?:ba|da|z|k)?sh\b")
DOC_SUFFIXES = (".md", ".markdown", ".txt", ".rst", ".adoc")
HANDLED = {"file", "root", "folder", "glob", "outside", "image", "import"}
MOVED_AWAY = "was not migrated"


@dataclass
class Change:
    """What became of one token of a line."""
    start: int
    end: int
    new: str | None             # replacement, None when left as it is
    kind: str                   # import | package.json | script | dockerfile | string | path
    status: str                 # see map_path; "image", "import", "glob" too
    problem: str = ""           # why it is work left


@dataclass
class WorkLeft:
    """One thing the team has to do by hand."""
    file: str                   # destination-relative
    line: int | None
    text: str
    reason: str

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "text": self.text, "reason": self.reason}


def file_kind(rel: str, first_line: str) -> str:
    """How a file's references are read: by name, then by shebang."""
    name = posixpath.basename(rel)
    lower = name.lower()
    if name == "package.json":
        return "package.json"
    if "dockerfile" in lower and not lower.endswith(DOC_SUFFIXES + (".json", ".yml", ".yaml") + JS_SUFFIXES):
        return "dockerfile"
    if lower.endswith(JS_SUFFIXES):
        return "js"
    if lower.endswith((".json", ".jsonc")):
        return "json"
    if lower.endswith((".sh", ".bash")) or SHELL_SHEBANG.match(first_line) or "/.husky/" in f"/{rel}":
        return "shell"
    if lower.endswith(DOC_SUFFIXES):
        return "docs"
    if lower.endswith((".c", ".h", ".cc", ".cpp", ".hpp")):
        return "c"
    return "other"


def split_token(text: str) -> tuple[int, int]:
    """Trim Markdown emphasis stars around a token (`**cli-tools.ts**`)
    while keeping glob stars (`**/x`, `dir/**`): (leading, trailing) cut."""
    lead = 0
    while lead < len(text) and text[lead] == "*" and not text.startswith("**/", lead):
        lead += 1
    trail = 0
    while trail < len(text) - lead and text[len(text) - 1 - trail] == "*" \
            and not text[: len(text) - trail].endswith("/*") and not text[: len(text) - trail].endswith("/**"):
        trail += 1
    return lead, trail


class References:
    """Everything one run needs to follow its moves: old and new places of
    every migrated file, moved folders and packages, and the folders the
    Dockerfiles copy into images."""

    def __init__(self, source_root: str, destination_root: str, moves: list[tuple[str, str]],
                 skipped: dict[str, str], edits: list[str], read, other_names: set[str] = frozenset()):
        """moves: (source rel, destination rel); skipped: source rel -> why;
        edits: destination-relative consumer files; read(abs) -> text;
        other_names: file names found elsewhere in the destination tree (a
        mention of such a name may well mean that other file)."""
        self.src = source_root
        self.dst = destination_root
        self.moved = {self.old_abs(s): self.new_abs(d) for s, d in moves}
        self.skipped = {self.old_abs(s): why for s, why in skipped.items()}
        self.edits = {self.new_abs(e) for e in edits}
        self.root_new = self.root_destination(moves)
        self.folders = self.folder_moves()
        # file names whose place in the package changed and that no other
        # file of the tree carries: a bare mention of one may need a hand
        self.by_name: dict[str, list[tuple[str, str]]] = {}
        for old, new in sorted(self.moved.items()):
            if posixpath.relpath(old, self.src) != posixpath.relpath(new, self.root_new) \
                    and posixpath.basename(old) not in other_names:
                self.by_name.setdefault(posixpath.basename(old), []).append((old, new))
        self.packages = sorted(((posixpath.dirname(o), posixpath.dirname(n)) for o, n in self.moved.items()
                                if posixpath.basename(o) == "package.json"), key=lambda p: -len(p[0]))
        self.marker = None
        if is_inside(self.src, self.dst) and self.src != self.dst:
            self.marker = re.compile(r"(?:^|/)" + re.escape(os.path.relpath(self.src, self.dst)) + r"/")
        self.images: list[tuple[str, str, str]] = []     # (image dir, old dir, new dir)
        for old, new in list(self.moved.items()) + [(e, e) for e in sorted(self.edits)]:
            if file_kind(new, "") == "dockerfile":
                self.scan_dockerfile(old, read(old))
        self.images.sort(key=lambda m: -len(m[0]))

    # --- places ------------------------------------------------------------

    def old_abs(self, rel: str) -> str:
        return posixpath.normpath(posixpath.join(self.src, rel))

    def new_abs(self, rel: str) -> str:
        return posixpath.normpath(posixpath.join(self.dst, rel))

    def root_destination(self, moves: list[tuple[str, str]]) -> str:
        """Where the source root as a whole went: the folder its top-level
        package.json went to, else the folder all destinations share."""
        for s, d in moves:
            if s == "package.json":
                return posixpath.dirname(self.new_abs(d))
        if not moves:
            return self.dst
        common = posixpath.commonpath([self.new_abs(d) for _s, d in moves])
        return common if len(moves) > 1 else posixpath.dirname(common)

    def folder_moves(self) -> dict[str, str]:
        """Source folders whose files all moved together, keeping their
        paths below the folder: old folder -> new folder."""
        candidates: dict[str, set[str]] = {}
        for old, new in self.moved.items():
            folder = posixpath.dirname(old)
            while folder != self.src and is_inside(folder, self.src):
                tail = posixpath.relpath(old, folder)
                target = new[: -len(tail) - 1] if new.endswith("/" + tail) else None
                candidates.setdefault(folder, set()).add(target)
                folder = posixpath.dirname(folder)
        moves = {}
        for folder, targets in candidates.items():
            if len(targets) == 1 and None not in targets and \
                    not any(is_inside(s, folder) for s in self.skipped):
                moves[folder] = targets.pop()
        return moves

    def map_path(self, p: str) -> tuple[str | None, str]:
        """Where an old place is now, and what it was:
        file/root/folder (migrated), virtual (nothing there, below the source
        root: follows the root), outside (not under the source root),
        skipped, split (a folder whose files went different ways),
        not-migrated."""
        if p in self.moved:
            return self.moved[p], "file"
        if p == self.src:
            return self.root_new, "root"
        if p in self.folders:
            return self.folders[p], "folder"
        if is_inside(p, self.src):
            if p in self.skipped:
                return None, "skipped"
            if os.path.isdir(p):
                return None, "split"
            if os.path.lexists(p):
                return None, "not-migrated"
            return posixpath.join(self.root_new, posixpath.relpath(p, self.src)), "virtual"
        return p, "outside"

    def package_of(self, old_file: str) -> tuple[str, str] | None:
        """(old, new) folder of the moved package holding a file."""
        return next(((o, n) for o, n in self.packages if is_inside(old_file, o)), None)

    # --- one token -----------------------------------------------------------

    def rewrite_path(self, token: str, old_base: str, new_base: str,
                     config: bool) -> tuple[str | None, str, str]:
        """A path token read against a base that was at old_base and is now
        at new_base: (new token or None, status, problem)."""
        prefix = ""
        core = token
        if core.startswith("**/"):
            prefix, core = "**/", core[3:]
        dot = core.startswith("./")
        core = core[2:] if dot else core
        trailing = core.endswith("/") and len(core) > 1
        core = core.rstrip("/")
        if not core or core in (".", "..") or core.startswith("-"):
            return None, "none", ""
        if has_wildcard(core):
            return self.rewrite_glob(prefix + ("./" if dot else ""), core, old_base, new_base, trailing, config)
        p = posixpath.normpath(posixpath.join(old_base, core))
        new, status = self.map_path(p)
        if status == "virtual" and not (config and old_base == new_base):
            return None, status, ""
        if status == "outside":
            if old_base == new_base or not os.path.lexists(p) or "/" not in core:
                return None, status if os.path.lexists(p) else "none", ""
        if new is None:
            what = {"skipped": f"{self.show_old(p)} {MOVED_AWAY} ({self.skipped.get(p, 'skipped')})",
                    "split": f"folder {self.show_old(p)} was split: its files went to different places",
                    "not-migrated": f"{self.show_old(p)} {MOVED_AWAY}"}[status]
            return None, status, f"refers to {what}; fix by hand"
        rel = posixpath.relpath(new, new_base)
        out = ("./" + rel if dot and not rel.startswith("../") else rel)
        return prefix + out + ("/" if trailing else ""), status, ""

    def rewrite_glob(self, prefix: str, core: str, old_base: str, new_base: str,
                     trailing: bool, config: bool) -> tuple[str | None, str, str]:
        """A glob below a migrated folder: rewritten only when the new glob
        matches exactly the moved versions of what the old one matched."""
        fixed = glob_base(core)
        old_fixed = posixpath.normpath(posixpath.join(old_base, fixed)) if fixed else posixpath.normpath(old_base)
        new_fixed, status = self.map_path(old_fixed)
        if status == "outside":
            return None, "outside" if os.path.isdir(old_fixed) else "none", ""
        if status == "virtual" and not (config and old_base == new_base):
            return None, "virtual", ""           # names nothing that was there
        if status not in ("root", "folder", "virtual"):
            return None, "glob-split", f"glob {core!r}: its files went to different places; write it by hand"
        rest = core[len(fixed):].lstrip("/") if fixed else core
        try:
            regex = glob_to_regex(rest, "glob")
        except UsageError:
            return None, "none", ""
        old_matches = {f for f in list(self.moved) + list(self.skipped)
                       if is_inside(f, old_fixed) and regex.match(posixpath.relpath(f, old_fixed))}
        expected = {self.moved[f] for f in old_matches if f in self.moved}
        got = {n for n in self.moved.values()
               if is_inside(n, new_fixed) and regex.match(posixpath.relpath(n, new_fixed))}
        if expected != got:
            return None, "glob-split", (f"glob {core!r} matched {len(old_matches)} file(s); below "
                                        f"{self.show_new(new_fixed)} the same glob would match "
                                        f"{len(got)}: write it by hand")
        rel = posixpath.relpath(new_fixed, new_base)
        dot = prefix.endswith("./")
        prefix = prefix[:-2] if dot else prefix
        out = rest if rel == "." else f"{rel}/{rest}"
        out = "./" + out if dot and not out.startswith("../") else out
        return prefix + out + ("/" if trailing else ""), "glob", ""

    def show_old(self, p: str) -> str:
        return posixpath.relpath(p, self.dst) if is_inside(p, self.dst) else p

    def show_new(self, p: str) -> str:
        return posixpath.relpath(p, self.dst) if is_inside(p, self.dst) else p

    def rewrite_image_path(self, token: str, config: bool = True) -> tuple[str | None, str, str] | None:
        """An absolute path inside an image, below a folder a Dockerfile
        copied from the source: None when it is below no such folder."""
        for image_dir, old_dir, new_dir in self.images:
            if token != image_dir and not token.startswith(image_dir.rstrip("/") + "/"):
                continue
            tail = token[len(image_dir):].strip("/")
            trailing = token.endswith("/") and tail != ""
            p = posixpath.normpath(posixpath.join(old_dir, tail)) if tail else old_dir
            new, status = self.map_path(p)
            if status == "outside" or (status == "virtual" and not config):
                return None, "image", ""
            if new is None:
                return None, status, f"image path {token}: {self.show_old(p)} {MOVED_AWAY}; fix by hand"
            rel = posixpath.relpath(new, new_dir)
            if rel.startswith("../"):
                return None, "image-outside", (f"image path {token}: {self.show_new(new)} is outside the "
                                               f"folder copied to {image_dir}; fix by hand")
            out = image_dir if rel == "." else f"{image_dir.rstrip('/')}/{rel}"
            return out + ("/" if trailing else ""), "image", ""
        return None

    # --- Dockerfiles ---------------------------------------------------------

    def scan_dockerfile(self, path: str, text: str) -> None:
        """Record the folders a Dockerfile copies into the image from the
        source root (or from where they now are), before any rewrite."""
        context = posixpath.dirname(path)
        for line in split_lines(text)[0]:
            args = docker_copy_args(line)
            if not args:
                continue
            *sources, target = args
            for s in sources:
                p = posixpath.normpath(posixpath.join(context, s.strip("/") or "."))
                if s.startswith("/") or not os.path.isdir(p):
                    continue
                new, status = self.map_path(p)
                if status in ("root", "folder", "outside") and target.startswith("/"):
                    self.images.append((posixpath.normpath(target), p, new))

    # --- one file ------------------------------------------------------------

    def follower(self, old_file: str, new_file: str, rel: str, first_line: str) -> "Follower":
        """The per-file state (a Dockerfile's WORKDIR) for following one file."""
        return Follower(self, old_file, new_file, rel, file_kind(rel, first_line))


def docker_copy_args(line: str) -> list[str] | None:
    """The path arguments of a COPY/ADD line (flags dropped), or None."""
    m = DOCKER_INSTRUCTION.match(line)
    if not m or m.group(1).upper() not in ("COPY", "ADD"):
        return None
    rest = m.group(2).strip()
    if rest.startswith("["):
        args = re.findall(r'"([^"]*)"', rest)
    else:
        args = [a for a in rest.split() if not a.startswith("--")]
    return args if len(args) >= 2 else None


@dataclass
class Follower:
    """Follows references line by line in one file."""
    refs: References
    old_file: str
    new_file: str
    rel: str
    kind: str
    workdir: str | None = None
    work_left: list[WorkLeft] = field(default_factory=list)

    @property
    def moved(self) -> bool:
        return self.old_file != self.new_file

    def file_base(self) -> tuple[str, str]:
        return posixpath.dirname(self.old_file), posixpath.dirname(self.new_file)

    def package_base(self) -> tuple[str, str]:
        return self.refs.package_of(self.old_file) or self.file_base()

    def root_base(self) -> tuple[str, str]:
        return self.refs.dst, self.refs.dst

    def line(self, number: int, body: str) -> tuple[str, list[str]]:
        """The line with its references followed, and the kinds of changes."""
        if self.kind == "c":
            return body, []
        changes: list[Change] = []
        taken: list[tuple[int, int]] = []
        if self.kind == "js":
            for m in RELATIVE_IMPORT.finditer(body):
                changes.append(self.follow_import(m.start(2), m.end(2), m.group(2)))
                taken.append((m.start(2), m.end(2)))
        if self.kind == "dockerfile":
            self.docker_line(body, changes, taken)
        if self.kind in ("package.json", "json"):
            taken += [(m.start(1), m.end(1)) for m in JSON_KEY.finditer(body)]     # keys are names
        literals = {(m.start(2), m.end(2)) for m in WHOLE_LITERAL.finditer(body)}
        for m in TOKEN.finditer(body):
            lead, trail = split_token(m.group(0))
            start, end = m.start() + lead, m.end() - trail
            if start >= end or any(s < end and start < e for s, e in taken):
                continue
            change = self.follow_token(body[start:end], start, end, body, (start, end) in literals)
            if change:
                changes.append(change)
        return self.apply(number, body, changes)

    def apply(self, number: int, body: str, changes: list[Change]) -> tuple[str, list[str]]:
        """Replace the changed spans (right to left) and collect work left."""
        kinds = []
        out = body
        for c in sorted(changes, key=lambda c: c.start, reverse=True):
            if c.problem:
                self.work_left.append(WorkLeft(self.rel, number, body.strip(), c.problem))
            elif c.new is not None and c.new != body[c.start:c.end]:
                out = out[:c.start] + c.new + out[c.end:]
                kinds.append(c.kind)
            elif c.status not in HANDLED:
                self.mention(number, body, body[c.start:c.end])
        return out, sorted(set(kinds))

    def mention(self, number: int, body: str, token: str) -> None:
        """A token left alone that still names an old place: work left."""
        refs = self.refs
        if "/" in token and refs.marker and refs.marker.search(token.lstrip("./") + "/") \
                and not token.startswith("//"):
            self.work_left.append(WorkLeft(self.rel, number, body.strip(),
                                           f"mentions {token!r}, an old place the tool cannot follow "
                                           f"here; fix by hand"))
            return
        if "/" in token or "." not in token:
            return
        for old, new in refs.by_name.get(token, ()):
            here_old, here_new = self.file_base()
            if self.moved and posixpath.dirname(old) == here_old and posixpath.dirname(new) == here_new:
                return            # still a sibling: the name still works
            self.work_left.append(WorkLeft(self.rel, number, body.strip(),
                                           f"mentions {token} by name; it is now "
                                           f"{refs.show_new(new)}: check by hand"))
            return

    def follow_import(self, start: int, end: int, spec: str) -> Change:
        """A relative import: resolved where the file was, pointed at where
        its target is now, in the form it was written."""
        old_dir, new_dir = self.file_base()
        path_part = spec.split("?")[0]
        query = spec[len(path_part):]            # `?raw` and the like stay
        found = resolve_module(old_dir, path_part)
        if found is None:
            return Change(start, end, None, "import", "import")
        target, dropped, twin = found
        new, status = self.refs.map_path(target)
        if new is None:
            return Change(start, end, None, "import", status,
                          f"imports {self.refs.show_old(target)}, which {MOVED_AWAY}; fix by hand")
        if new == target and old_dir == new_dir:
            return Change(start, end, None, "import", "import")
        rel = posixpath.relpath(new, new_dir)
        if twin:
            rel = posixpath.splitext(rel)[0] + twin
        elif dropped:
            if rel.endswith("/index" + dropped) and spec.rstrip("/").split("/")[-1] != "index":
                rel = rel[: -len("/index" + dropped)]
            elif rel.endswith(dropped):
                rel = rel[: -len(dropped)]
        rel = rel if rel.startswith("../") else "./" + rel
        return Change(start, end, rel + query, "import", "import")

    def follow_token(self, token: str, start: int, end: int, body: str, whole_literal: bool) -> Change | None:
        """Any other token: by the rules of the file's kind."""
        if token.startswith("//") or "://" in body[max(0, start - 3):start + 1]:
            return None
        if token.startswith("/") and self.kind == "shell" and start > 0 and body[start - 1] in ")}":
            # "$(dirname "$0")/cli-tools.ts", "${DIR}/x": below a folder the
            # shell computes; read as the script's folder or the package root
            base = self.file_base() if FILE_RELATIVE_SH.search(body) else self.package_base()
            return self.try_bases(token[1:], start + 1, end, [base], True, "script")
        if token.startswith("/"):
            image = self.refs.rewrite_image_path(token)
            if image:
                return Change(start, end, image[0], "dockerfile" if self.kind == "dockerfile" else "image-path",
                              image[1], image[2])
            if self.kind == "docs":
                return self.try_bases(token.lstrip("/"), start, end, [self.root_base()], False, "path",
                                      leading="/")
            return Change(start, end, None, "path", "none")
        kind, config, bases = self.token_rules(token, body, whole_literal, start)
        if not bases:
            return Change(start, end, None, kind, "none")
        return self.try_bases(token, start, end, bases, config, kind)

    def token_rules(self, token: str, body: str, whole_literal: bool, start: int) -> tuple[str, bool, list]:
        """(kind of change, config context, bases to try) for a token."""
        bare = "/" not in token
        k = self.kind
        if k == "package.json":
            return "package.json", True, [self.file_base()]
        if k == "shell":
            if self.refs.package_of(self.old_file):
                base = self.file_base() if FILE_RELATIVE_SH.search(body) else self.package_base()
                return "script", True, [base]
            return "script", True, [] if bare else [self.file_base(), self.root_base()]
        if k == "js":
            if whole_literal:
                if NAME_TEST.search(body[:max(start - 1, 0)]):
                    return "string", False, []
                if self.refs.package_of(self.old_file) and not FILE_RELATIVE_JS.search(body):
                    return "string", False, [self.package_base()]
                return "string", False, [self.file_base()] + ([] if bare else [self.root_base()])
            return "path", False, [] if bare else [self.file_base(), self.root_base()]
        if k == "json":
            return "path", True, [] if bare else [self.file_base(), self.root_base()]
        if k == "dockerfile" and self.workdir:
            image_token = posixpath.normpath(posixpath.join(self.workdir, token))
            if self.refs.rewrite_image_path(image_token) is not None:
                return "dockerfile", True, []
        return "path", False, [] if bare else [self.file_base(), self.root_base()]

    def try_bases(self, token: str, start: int, end: int, bases: list, config: bool, kind: str,
                  leading: str = "") -> Change:
        """The first base under which the token names a followed place (or
        a place the tool knows it cannot follow)."""
        for old_base, new_base in bases:
            new, status, problem = self.refs.rewrite_path(token, old_base, new_base, config)
            if new is not None or problem or status in HANDLED:
                return Change(start, end, leading + new if new is not None else None, kind, status, problem)
        return Change(start, end, None, kind, "none")

    def docker_line(self, body: str, changes: list[Change], taken: list) -> None:
        """COPY/ADD sources against the build context; WORKDIR kept so that
        relative paths of later lines are read in the image."""
        m = DOCKER_INSTRUCTION.match(body)
        if not m:
            return
        instruction = m.group(1).upper()
        if instruction == "WORKDIR":
            arg = m.group(2).strip().strip('"')
            self.workdir = posixpath.normpath(posixpath.join(self.workdir or "/", arg))
            return
        args = docker_copy_args(body)
        if not args:
            if self.workdir:
                self.workdir_tokens(body, m.start(2), changes, taken)
            return
        context = posixpath.dirname(self.old_file), posixpath.dirname(self.new_file)
        offset = m.start(2)
        for source in args[:-1]:
            at = body.find(source, offset)
            offset = at + len(source)
            if source.startswith("/"):
                continue
            new, status, problem = self.refs.rewrite_path(source, context[0], context[1], True)
            changes.append(Change(at, at + len(source), new, "dockerfile", status, problem))
            taken.append((at, at + len(source)))
        target = args[-1]
        at = body.find(target, offset)
        taken.append((at, at + len(target)))

    def workdir_tokens(self, body: str, from_pos: int, changes: list[Change], taken: list) -> None:
        """Relative tokens after WORKDIR inside a copied folder are image
        paths: `RUN bun run cli-tools.ts` in /workspace/container."""
        for m in TOKEN.finditer(body, from_pos):
            token = m.group(0)
            if token.startswith(("/", "-")) or "$" in token:
                continue
            image_token = posixpath.normpath(posixpath.join(self.workdir, token))
            image = self.refs.rewrite_image_path(image_token)
            if image is None:
                continue
            new, status, problem = image
            if new is not None:
                new = posixpath.relpath(new, self.workdir)
                new = "./" + new if token.startswith("./") and not new.startswith("../") else new
                new = new + "/" if token.endswith("/") and not new.endswith("/") else new
            changes.append(Change(m.start(), m.end(), new, "dockerfile", status, problem))
            taken.append((m.start(), m.end()))


def resolve_module(folder: str, spec: str, is_file=os.path.isfile) -> tuple[str, str, str] | None:
    """Resolve a relative import as bundlers and tsc do: the exact file, a
    TypeScript twin of a .js name (`./x.js` -> x.ts), the name plus an
    extension, or a folder's index file.  Returns (file, extension the spec
    left out, the .js-style extension the spec used for a twin)."""
    base = posixpath.normpath(posixpath.join(folder, spec))
    if is_file(base):
        return base, "", ""
    stem, ext = posixpath.splitext(base)
    for twin in JS_TS_TWINS.get(ext, ()):
        if is_file(stem + twin):
            return stem + twin, "", ext
    for s in JS_RESOLVE_SUFFIXES:
        if is_file(base + s):
            return base + s, s, ""
    for s in JS_RESOLVE_SUFFIXES:
        index = posixpath.join(base, "index" + s)
        if is_file(index):
            return index, s, ""
    return None
