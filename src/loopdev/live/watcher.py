"""The one shared file watcher: raw events -> coalesced ``FilesChanged`` actions.

Every consumer (live update, rebuilds, local commands) subscribes to ``FilesChanged`` on the
store; nobody else watches files. When a directory appears inside a flat-watched directory,
or an ignore file changes (at a root or nested, even one the rules exclude), the watch plan
is recomputed and the watchers restarted.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from loopdev.engine.actions import FilesChanged
from loopdev.live.coalesce import Coalescer
from loopdev.live.ignore import IGNORE_FILES
from loopdev.live.roots import RootSet, WatchPlan, plan_watch

RULE_FILES = frozenset({*IGNORE_FILES, ".dockerignore"})
OVERLAP = 0.05  # seconds both watchers run during a re-plan


class RawEvents(Protocol):
    added: set[str]
    modified: set[str]
    deleted: set[str]


WatchFn = Callable[[list[str], list[str], Callable[[str], bool]], AsyncIterator[RawEvents]]
Dispatch = Callable[[FilesChanged], None]
Events = asyncio.Queue[RawEvents | BaseException]


class _Replan:
    """Queued by ``replan()``: the roots changed (a reloaded loopfile)."""

    added: set[str] = set()
    modified: set[str] = set()
    deleted: set[str] = set()


REPLAN = _Replan()


def default_watch_fn() -> WatchFn:
    from loopdev.adapters.watch import watch_paths

    return watch_paths


class SharedWatcher:
    def __init__(
        self,
        roots_factory: Callable[[], RootSet],
        dispatch: Dispatch,
        watch_fn: WatchFn | None = None,
        # watchfiles yields a batch only after one quiet step of its own (10 ms), so a next
        # batch from the same watcher is at least a step away: this window only joins what
        # arrives together (the recursive and the flat watcher). 5 ms cost every save 4.5 ms.
        quiet: float = 0.001,
        max_window: float = 0.3,
        clock: Callable[[], float] = time.monotonic,
        warn: Callable[[str], None] = lambda _m: None,
    ) -> None:
        self._roots_factory = roots_factory
        self._dispatch = dispatch
        self._watch_fn = watch_fn or default_watch_fn()
        self._coalescer = Coalescer(quiet=quiet, max_window=max_window, clock=clock)
        self._clock = clock
        self._warn = warn
        self.plan: WatchPlan | None = None
        self.ready = asyncio.Event()  # set once the watchers are running (tests, benches)
        self.generation = 0  # bumped on every (re)start of the watchers
        self._queue: Events | None = None

    async def run(self) -> None:
        """Watch until cancelled, re-planning when the tree's shape or ignore rules change.

        On a re-plan the old watcher keeps running (into the same queue) until the new one
        is up, so nothing saved meanwhile is lost.
        """
        from loopdev.adapters.watch import count_dirs_hint

        queue: Events = asyncio.Queue()
        self._queue = queue
        pump: asyncio.Task[None] | None = None
        try:
            while True:
                roots = await asyncio.to_thread(self._roots_factory)
                plan = await asyncio.to_thread(plan_watch, roots)
                hint = count_dirs_hint(plan.dirs)
                if hint:
                    self._warn(hint)
                self.ready.clear()
                new = asyncio.create_task(self._pump(roots, plan, queue))
                await asyncio.sleep(OVERLAP)  # the new notify instance registers its watches
                await _stop(pump)
                pump, self.plan = new, plan
                self.generation += 1
                self.ready.set()
                await self._consume(roots, plan, queue)
        finally:
            await _stop(pump)

    def replan(self) -> None:
        """Recompute the roots (the loopfile changed) without losing events meanwhile."""
        if self._queue is not None:
            self._queue.put_nowait(REPLAN)

    async def _consume(self, roots: RootSet, plan: WatchPlan, queue: Events) -> None:
        """Feed the coalescer and flush on time; return when a re-plan is needed."""
        flat = set(plan.flat)
        while True:
            item = await self._next(queue)
            if isinstance(item, BaseException):
                raise item
            if item is REPLAN:
                self._flush()
                return
            if item is not None and self._feed(item, roots, flat):
                self._flush()
                return
            if self._coalescer.due():
                self._flush()

    async def _pump(self, roots: RootSet, plan: WatchPlan, queue: Events) -> None:
        def accept(path: str) -> bool:
            if os.path.basename(path) in RULE_FILES:  # even one its own rules exclude: it
                return roots.owns(path)  # changes them (a re-plan, the reconciler's reload)
            return roots.accepts(path, os.path.isdir(path))

        try:
            async for raw in self._watch_fn(list(plan.recursive), list(plan.flat), accept):
                queue.put_nowait(raw)
        except Exception as exc:  # surfaced in run(): the session reports it
            queue.put_nowait(exc)

    async def _next(self, queue: Events) -> RawEvents | BaseException | None:
        deadline = self._coalescer.deadline()
        if deadline is None:
            return await queue.get()
        timeout = max(0.0, deadline - self._clock())
        try:
            return await asyncio.wait_for(queue.get(), timeout)
        except TimeoutError:
            return None

    def _feed(self, raw: RawEvents, roots: RootSet, flat: set[str]) -> bool:
        """Add one raw batch; True when the watch plan must be recomputed."""
        both = raw.added & raw.deleted
        alive = {p for p in both if os.path.lexists(p)}
        modified = {p for p in raw.modified if not os.path.isdir(p)}
        self._coalescer.add(modified | alive, raw.deleted - alive, raw.added)
        new_dirs = {p for p in raw.added if os.path.dirname(p) in flat and os.path.isdir(p)}
        touched = raw.added | raw.modified | raw.deleted
        rules = any(os.path.basename(p) in RULE_FILES for p in touched)
        return bool(new_dirs) or rules

    def _flush(self) -> None:
        if not self._coalescer.pending:
            return
        changed, deleted = self._coalescer.take()
        if changed or deleted:
            self._dispatch(FilesChanged(changed, deleted))


async def _stop(task: asyncio.Task[None] | None) -> None:
    """Cancel and wait, without swallowing our own cancellation."""
    if task is not None:
        task.cancel()
        await asyncio.wait([task])
