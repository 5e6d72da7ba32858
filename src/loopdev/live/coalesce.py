"""The one place file events are batched: a quiet window plus a maximum window.

A single save (an editor touches one to three paths) flushes ``quiet`` seconds after its
last event. A burst (``git checkout``, a code generator: more paths, or more than one raw
batch) waits ``burst_quiet`` instead, so it becomes one sync rather than several, and
``max_window`` after it began the batch flushes anyway, so a stream of writes can never
starve updates. The clock is injected so tests drive time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

SAVE_PATHS = 3  # an editor's save touches at most this many paths (file, temp, backup)


@dataclass
class Coalescer:
    quiet: float = 0.005
    max_window: float = 0.3
    burst_quiet: float = 0.06
    clock: Callable[[], float] = field(default=lambda: 0.0)
    _changed: set[str] = field(default_factory=set)
    _deleted: set[str] = field(default_factory=set)
    _born: set[str] = field(default_factory=set)  # first seen in this batch as created
    _first: float | None = None
    _last: float = 0.0
    _raw: int = 0  # raw batches in the current batch

    def add(
        self, changed: Iterable[str] = (), deleted: Iterable[str] = (), added: Iterable[str] = ()
    ) -> None:
        """Record one raw batch; the latest event for a path wins.

        A path created and deleted within one batch (an editor's temp file) vanishes from
        it entirely: it never existed as far as the container is concerned.
        """
        now = self.clock()
        if self._first is None:
            self._first = now
        self._last = now
        self._raw += 1
        for p in added:
            if p not in self._changed and p not in self._deleted:
                self._born.add(p)
        for p in (*added, *changed):
            self._deleted.discard(p)
            self._changed.add(p)
        for p in deleted:
            self._changed.discard(p)
            if p in self._born:
                self._born.discard(p)
            else:
                self._deleted.add(p)

    @property
    def pending(self) -> bool:
        return self._first is not None

    def deadline(self) -> float | None:
        """When the current batch must be flushed (None when nothing is pending)."""
        if self._first is None:
            return None
        burst = self._raw > 1 or len(self._changed) + len(self._deleted) > SAVE_PATHS
        quiet = max(self.quiet, self.burst_quiet) if burst else self.quiet
        return min(self._last + quiet, self._first + self.max_window)

    def due(self) -> bool:
        deadline = self.deadline()
        return deadline is not None and self.clock() >= deadline

    def take(self) -> tuple[frozenset[str], frozenset[str]]:
        """Hand over the batch and start a new one."""
        out = frozenset(self._changed), frozenset(self._deleted)
        self._changed, self._deleted, self._born = set(), set(), set()
        self._first = None
        self._raw = 0
        return out
