"""What to watch: one set of roots for every image context and local command, planned once.

Overlapping roots are watched once. We walk the tree ourselves and watch each kept directory
flat, so ``.git``, ``node_modules``, a virtualenv or a tree excluded by a (nested)
``.gitignore`` never costs a single inotify watch (a recursive notify watch would crawl into
them). The walk's own listings tell the rules which directories hold ignore files, so nested
ignore files cost no extra pass over the tree.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from loopdev.config.model import Loopfile
from loopdev.live.globs import static_prefix
from loopdev.live.ignore import IGNORE_FILES, RootIgnore, for_dir, for_image, is_virtualenv


@dataclass(frozen=True)
class WatchPlan:
    recursive: tuple[str, ...]  # trees watched whole (unused by plan_watch: see its docstring)
    flat: tuple[str, ...]  # directories watched without their subtrees
    dirs: int  # inotify watches this costs


class RootSet:
    """Every watched root with its rules; a path matters if any root containing it keeps it."""

    def __init__(self, roots: Iterable[RootIgnore], extra_files: Iterable[str] = ()) -> None:
        self.roots = tuple(roots)
        self.extra_files = frozenset(extra_files)  # e.g. a Dockerfile outside its context

    def accepts(self, path: str, is_dir: bool = False) -> bool:
        if path in self.extra_files:
            return True
        return any(not r.ignored(path, is_dir) for r in self.roots if r.relative(path) is not None)

    def owns(self, path: str) -> bool:
        """Whether ``path`` lies in some root (whether or not its rules keep it)."""
        return any(r.relative(path) is not None for r in self.roots)

    def learn(self, dir_path: str, names: Collection[str]) -> None:
        """Tell every root containing ``dir_path`` which ignore files it holds (a listing)."""
        for r in self.roots:
            r.learn(dir_path, names)

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
    """Walk the roots once, skipping pruned trees; every kept directory is watched flat.

    One non-recursive notify instance over all of them costs one polling thread (watchfiles
    wakes every ``step`` ms per instance: the idle cost), never touches an ignored tree, and
    a new directory is picked up by re-planning (the watcher does that).
    """
    dirs: list[str] = []
    for top in roots.top_roots():
        if os.path.isdir(top):
            _walk(top, roots, dirs)
    parents = {os.path.dirname(f) for f in roots.extra_files} - set(dirs)
    flat = [*dirs, *sorted(p for p in parents if os.path.isdir(p))]
    return WatchPlan((), tuple(flat), len(flat))


def _walk(path: str, roots: RootSet, out: list[str]) -> None:
    out.append(path)
    try:
        with os.scandir(path) as it:
            entries = list(it)
        dirs = [de.path for de in entries if de.is_dir(follow_symlinks=False)]
        if dirs:  # judging them takes this directory's ignore files: known from the listing
            roots.learn(path, [de.name for de in entries if de.name in IGNORE_FILES])
        children = [d for d in dirs if not roots.prunes(d)]
    except OSError:
        return
    for child in sorted(children):
        _walk(child, roots, out)
