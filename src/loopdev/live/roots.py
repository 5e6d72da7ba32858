"""What to watch: one set of roots for every image context and local command, planned once.

Overlapping roots are watched once. Directories whose trees hold nothing ignored are watched
recursively; directories that contain an ignored tree are watched flat, and we descend into
their other children ourselves, so ``.git``, ``node_modules`` or a virtualenv never costs a
single inotify watch.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from loopdev.config.model import Loopfile
from loopdev.live.globs import static_prefix
from loopdev.live.ignore import RootIgnore, for_dir, for_image, is_virtualenv


@dataclass(frozen=True)
class WatchPlan:
    recursive: tuple[str, ...]  # trees watched whole
    flat: tuple[str, ...]  # directories (or single files) watched without their subtrees
    dirs: int  # directories covered: roughly the inotify watches this costs


class RootSet:
    """Every watched root with its rules; a path matters if any root containing it keeps it."""

    def __init__(self, roots: Iterable[RootIgnore], extra_files: Iterable[str] = ()) -> None:
        self.roots = tuple(roots)
        self.extra_files = frozenset(extra_files)  # e.g. a Dockerfile outside its context

    def accepts(self, path: str, is_dir: bool = False) -> bool:
        if path in self.extra_files:
            return True
        return any(not r.ignored(path, is_dir) for r in self.roots if r.relative(path) is not None)

    def prunes(self, dir_path: str) -> bool:
        if is_virtualenv(dir_path):
            return True
        owners = [r for r in self.roots if r.relative(dir_path) is not None]
        return all(r.prunes(dir_path) for r in owners)

    def top_roots(self) -> list[str]:
        """Roots not inside another root (overlaps are walked once)."""
        paths = sorted({r.root for r in self.roots})
        out: list[str] = []
        for p in paths:
            if not any(p == o or p.startswith(o.rstrip("/") + "/") for o in out):
                out.append(p)
        return out


def roots_for(config: Loopfile) -> RootSet:
    """Image contexts (their Dockerfiles too) and every local command's deps roots."""
    roots = [for_image(img) for img in config.images.values()]
    extra = []
    for img in config.images.values():
        if not str(img.dockerfile.resolve()).startswith(str(img.context.resolve()) + "/"):
            extra.append(str(img.dockerfile.resolve()))
    for cmd in config.local.values():
        workdir = cmd.workdir if cmd.workdir.is_absolute() else config.root / cmd.workdir
        for dep in cmd.deps:
            base = workdir / static_prefix(dep)
            roots.append(for_dir(base if base.is_dir() else base.parent))
    return RootSet(roots, extra)


def plan_watch(roots: RootSet) -> WatchPlan:
    """Walk the roots once (skipping pruned trees) and split them into recursive/flat watches."""
    recursive: list[str] = []
    flat: list[str] = []
    count = 0
    for top in roots.top_roots():
        if os.path.isdir(top):
            count += _plan_dir(top, roots, recursive, flat)
    missing = [f for f in sorted(roots.extra_files) if os.path.exists(f)]
    return WatchPlan(tuple(recursive), tuple([*flat, *missing]), count)


def _plan_dir(path: str, roots: RootSet, recursive: list[str], flat: list[str]) -> int:
    """Returns the directories under ``path`` that will be watched; fills the two lists."""
    clean, count, children = _scan(path, roots)
    if clean:
        recursive.append(path)
        return count
    flat.append(path)
    return 1 + sum(_plan_dir(c, roots, recursive, flat) for c in children)


def _scan(path: str, roots: RootSet) -> tuple[bool, int, list[str]]:
    """(tree has nothing pruned, directories in it, kept child directories)."""
    children: list[str] = []
    clean = True
    try:
        with os.scandir(path) as it:
            for de in it:
                if de.is_dir(follow_symlinks=False):
                    if roots.prunes(de.path):
                        clean = False
                    else:
                        children.append(de.path)
    except OSError:
        return True, 1, []
    count = 1
    for child in children:
        child_clean, child_count, _ = _scan(child, roots)
        clean = clean and child_clean
        count += child_count
    return clean, count, children
