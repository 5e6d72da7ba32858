"""File watching through ``watchfiles`` (the only module that imports it).

``watchfiles`` batches events itself: it returns once ``step`` ms pass without a new event
(10 ms: a single save is handed over almost at once; 5 ms measured ~5 ms faster per save
but twice the idle wake-ups, over 1% of a core on a 100,000-file repository) or ``debounce``
ms after the first (50 ms, so a burst arrives in few pieces). Deciding what is one update is left to
``loopdev.live.coalesce``. Each notify instance polls every ``step`` ms even when idle, so
the shared watcher uses one: a flat watch of every kept directory (``live.roots``); a
recursive instance is started only for paths passed as ``recursive``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from watchfiles import Change, awatch

from loopdev.errors import LoopdevError

INOTIFY_LIMIT_FILE = Path("/proc/sys/fs/inotify/max_user_watches")
INOTIFY_FIX = "sysctl fs.inotify.max_user_watches=524288"


@dataclass
class RawBatch:
    added: set[str] = field(default_factory=set)
    modified: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)


class WatchLimitReached(LoopdevError):
    """The OS ran out of inotify watches: say how many there are and how to raise the limit."""


def inotify_limit() -> int | None:
    """``fs.inotify.max_user_watches`` (None where there is no inotify, e.g. macOS)."""
    try:
        return int(INOTIFY_LIMIT_FILE.read_text().strip())
    except (OSError, ValueError):
        return None


def limit_error(needed: int) -> WatchLimitReached:
    limit = inotify_limit()
    return WatchLimitReached(
        f"file watch limit reached: fs.inotify.max_user_watches is {limit}, "
        f"and loopdev needs about {needed} directories watched (plus other programs' watches)",
        hint=f"raise it: sudo {INOTIFY_FIX}",
    )


def to_batch(changes: set[tuple[Change, str]]) -> RawBatch:
    out = RawBatch()
    for kind, path in changes:
        if kind == Change.added:
            out.added.add(path)
        elif kind == Change.modified:
            out.modified.add(path)
        else:
            out.deleted.add(path)
    return out


async def _pump(
    paths: list[str],
    recursive: bool,
    accept: Callable[[str], bool],
    queue: asyncio.Queue[RawBatch | BaseException],
    stop: anyio.Event,
    step_ms: int,
    debounce_ms: int,
) -> None:
    try:
        async for changes in awatch(
            *paths,
            watch_filter=lambda _c, p: accept(p),
            debounce=debounce_ms,
            step=step_ms,
            stop_event=stop,
            recursive=recursive,
            ignore_permission_denied=True,
            rust_timeout=10_000,
        ):
            queue.put_nowait(to_batch(changes))
    except OSError as exc:  # notify reports "OS file watch limit reached" as an OSError
        queue.put_nowait(exc)


async def watch_paths(
    recursive: list[str],
    flat: list[str],
    accept: Callable[[str], bool],
    step_ms: int = 10,
    debounce_ms: int = 50,
) -> AsyncIterator[RawBatch]:
    """Yield raw event batches from both watchers until cancelled."""
    queue: asyncio.Queue[RawBatch | BaseException] = asyncio.Queue()
    stop = anyio.Event()
    tasks = [
        asyncio.create_task(_pump(paths, rec, accept, queue, stop, step_ms, debounce_ms))
        for paths, rec in ((recursive, True), (flat, False))
        if paths
    ]
    try:
        while True:
            item = await queue.get()
            if isinstance(item, BaseException):
                if "limit" in str(item).lower() or getattr(item, "errno", 0) == 28:
                    raise limit_error(len(recursive) + len(flat)) from item
                raise item
            yield item
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)  # never swallows the caller's own cancellation


def count_dirs_hint(n: int) -> str | None:
    """A warning when ``n`` directories would use most of the inotify watch limit."""
    limit = inotify_limit()
    if limit is None or n < 0.8 * limit:
        return None
    return (
        f"watching {n} directories uses {n * 100 // limit}% of fs.inotify.max_user_watches "
        f"({limit}); raise it with: sudo {INOTIFY_FIX}"
    )
