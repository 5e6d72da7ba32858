"""The live-update planner: a pure decision from changed paths to a sync or a full rebuild.

It never mixes the two: if any path in the batch needs a rebuild, the whole batch rebuilds
(the image is rebuilt from the same files anyway). Paths outside the image context are not
this image's business and yield no plan at all.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from loopdev.config.model import Image, RunStep, SyncRule
from loopdev.live.globs import has_glob, matches_any, static_prefix


@dataclass(frozen=True)
class SyncPlan:
    """Copy these files, delete these container paths, then run these steps in order."""

    copies: tuple[tuple[str, str], ...]  # (absolute local path, absolute container path)
    deletes: tuple[str, ...]  # absolute container paths
    run_steps: tuple[RunStep, ...] = ()
    restart: bool = False

    @property
    def file_count(self) -> int:
        return len(self.copies) + len(self.deletes)


@dataclass(frozen=True)
class Rebuild:
    reason: str  # "Dockerfile changed", "app.cfg changed and no sync rule covers it"


def dest_problem(dest: str) -> str | None:
    """Why a sync ``dest`` is unsafe (relative, or climbing with ``..``), or None if fine."""
    if not dest.startswith("/"):
        return f"sync dest {dest!r} is not an absolute path"
    if ".." in dest.split("/"):
        return f"sync dest {dest!r} contains '..'"
    return None


def container_path(rule: SyncRule, rel: str) -> str | None:
    """Where context-relative ``rel`` lands in the container under ``rule``, or None."""
    src = rule.src.strip().removeprefix("./")
    dest = rule.dest
    if has_glob(src):
        if not matches_any([src], rel):
            return None
        base = static_prefix(src)
        rest = rel[len(base) + 1 :] if base else rel
        return posixpath.join(dest, rest)
    src = src.rstrip("/")
    if src in ("", "."):
        return posixpath.join(dest, rel)
    if rel == src:
        return posixpath.join(dest, posixpath.basename(rel)) if dest.endswith("/") else dest
    if rel.startswith(src + "/"):
        return posixpath.join(dest, rel[len(src) + 1 :])
    return None


def map_path(rules: Iterable[SyncRule], rel: str) -> str | None:
    """The first rule that covers ``rel`` decides its container path."""
    for rule in rules:
        target = container_path(rule, rel)
        if target is not None:
            return posixpath.normpath(target)
    return None


def relative_to(context: Path, path: str) -> str | None:
    root = str(context).rstrip("/") + "/"
    return path[len(root) :] if path.startswith(root) else None


def plan_live_update(
    image: Image,
    changed: Iterable[str],
    deleted: Iterable[str],
    live: bool = True,
    ignored: Callable[[str], bool] | None = None,
) -> SyncPlan | Rebuild | None:
    """Decide what a batch of file events means for ``image``; None when it is unaffected.

    ``changed`` and ``deleted`` are absolute paths; ``ignored`` (absolute path -> bool) drops
    paths the build would not see anyway (.dockerignore and friends).
    """
    ctx = image.context
    changed_rel = _relevant(ctx, changed, ignored)
    deleted_rel = _relevant(ctx, deleted, ignored)
    dockerfile = relative_to(ctx, str(image.dockerfile))
    if str(image.dockerfile) in set(changed) | set(deleted) and dockerfile is None:
        return Rebuild(f"{image.dockerfile.name} changed")
    if not changed_rel and not deleted_rel:
        return None
    every = sorted(changed_rel | deleted_rel)
    live_rules = image.live
    if not live or live_rules is None or not live_rules.sync and not live_rules.run:
        why = "live update is off" if not live else "no live update rules"
        return Rebuild(f"{every[0]} changed ({why})")
    for rel in every:
        if rel == dockerfile or matches_any(live_rules.rebuild_on, rel):
            return Rebuild(f"{rel} changed")
    for rule in live_rules.sync:
        problem = dest_problem(rule.dest)
        if problem:
            return Rebuild(problem)
    copies, deletes = [], []
    for rel in every:
        target = map_path(live_rules.sync, rel)
        if target is None:
            return Rebuild(f"{rel} changed and no sync rule covers it")
        if rel in deleted_rel:
            deletes.append(target)
        else:
            copies.append((str(ctx / rel), target))
    steps = tuple(
        s for s in live_rules.run if not s.trigger or any(matches_any(s.trigger, r) for r in every)
    )
    return SyncPlan(tuple(copies), tuple(deletes), steps, live_rules.restart)


def _relevant(
    context: Path, paths: Iterable[str], ignored: Callable[[str], bool] | None
) -> set[str]:
    out = set()
    for p in paths:
        rel = relative_to(context, p)
        if rel and (ignored is None or not ignored(p)):
            out.add(rel)
    return out
