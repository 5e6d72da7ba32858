"""The one place file events are batched: a quiet window plus a maximum window.

A single save flushes ``quiet`` seconds after its last event; a long burst (``git
checkout``, a code generator) flushes at the latest ``max_window`` seconds after it began, so
a stream of writes can never starve updates. The clock is injected so tests drive time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass
class Coalescer:
    quiet: float = 0.015
    max_window: float = 0.25
    clock: Callable[[], float] = field(default=lambda: 0.0)
    _changed: set[str] = field(default_factory=set)
    _deleted: set[str] = field(default_factory=set)
    _born: set[str] = field(default_factory=set)  # first seen in this batch as created
    _first: float | None = None
    _last: float = 0.0

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
        return min(self._last + self.quiet, self._first + self.max_window)

    def due(self) -> bool:
        deadline = self.deadline()
        return deadline is not None and self.clock() >= deadline

    def take(self) -> tuple[frozenset[str], frozenset[str]]:
        """Hand over the batch and start a new one."""
        out = frozenset(self._changed), frozenset(self._deleted)
        self._changed, self._deleted, self._born = set(), set(), set()
        self._first = None
        return out
