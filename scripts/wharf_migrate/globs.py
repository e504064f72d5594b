"""One glob syntax for mappings, skips, rewrite targets and roles.

`*` and `?` stay within one folder, `**` as a whole segment spans any number
of folders (including none), `[abc]`/`[!abc]` are classes.
"""

from __future__ import annotations

import re

from .util import UsageError

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
