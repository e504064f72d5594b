"""The resulting tree: the destination as it will be after the move,
without moving.

`view` is a folder that mirrors destination_root: the folders on the way to
a staged file are real folders, every staged file is a symlink to its staged
copy, and everything else is a symlink to what is already there (a whole
folder with one link, so a big checkout with node_modules costs a few links).
Compilers run in the view (with symlinks preserved) see exactly the
resulting tree, including the package folders found by walking up.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass

from .util import is_inside


@dataclass
class ResultTree:
    """A destination (or its future) seen through `view`."""
    destination_root: str
    view: str

    def path(self, rel: str) -> str:
        """Where to look for a root-relative path; paths that climb out of
        the destination are looked up on disk."""
        if rel == ".." or rel.startswith("../"):
            return os.path.join(self.destination_root, rel)
        return os.path.join(self.view, rel)

    def is_file(self, rel: str) -> bool:
        return os.path.isfile(self.path(rel))

    def is_dir(self, rel: str) -> bool:
        return os.path.isdir(self.path(rel))


def disk_tree(destination_root: str) -> ResultTree:
    """The destination as it is on disk (validate DEST)."""
    return ResultTree(destination_root, destination_root)


def build_result_tree(destination_root: str, stage_root: str, destinations: list[str]) -> ResultTree:
    """Mirror the destination with the staged files laid over it."""
    view = os.path.join(stage_root, "view")
    staged = {rel: os.path.join(stage_root, "tree", rel) for rel in destinations}
    needed = {"."}
    for rel in staged:
        parent = posixpath.dirname(rel)
        while parent:
            needed.add(parent)
            parent = posixpath.dirname(parent)
    for folder in sorted(needed, key=lambda d: (d.count("/"), d)):
        os.makedirs(os.path.join(view, folder), exist_ok=True)
        real = os.path.join(destination_root, folder)
        if not os.path.isdir(real):
            continue
        for name in sorted(os.listdir(real)):
            rel = name if folder == "." else f"{folder}/{name}"
            full = os.path.join(real, name)
            if rel in staged or rel in needed or is_inside(full, stage_root):
                continue
            os.symlink(full, os.path.join(view, rel))
    for rel, target in staged.items():
        os.symlink(target, os.path.join(view, rel))
    return ResultTree(destination_root, view)
