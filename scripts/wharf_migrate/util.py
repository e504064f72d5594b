"""Small helpers shared by every part of the migration engine."""

from __future__ import annotations

import datetime
import hashlib
import os
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
PROGRESS_THRESHOLD = 50          # more files than this earn a progress bar
C_SUFFIXES = (".c", ".h")
JS_SUFFIXES = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx")
TS_SUFFIXES = (".ts", ".mts", ".cts", ".tsx")


class UsageError(Exception):
    """A mistake in the command line or the manifest: exit 2, nothing written."""


class RunError(Exception):
    """An operation failed (unreadable source, validation, I/O): exit 1."""


class PartialMoveError(RunError):
    """The move failed and so did undoing it: only --rollback can finish."""


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


def nearest_existing(path: str) -> str:
    """The closest folder at or above path that exists."""
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


def say(message: str) -> None:
    """Progress and phase lines go to stderr so stdout stays the result."""
    print(f"migrate: {message}", file=sys.stderr, flush=True)


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


def read_text_lines(path: str) -> list[str]:
    """A text file's lines (undecodable bytes replaced), for the scans."""
    with open(path, "rb") as f:
        return split_lines(f.read().decode("utf-8", errors="replace"))[0]


def write_atomically(path: str, text: str) -> None:
    """Write beside and rename, so a report is never half written."""
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
