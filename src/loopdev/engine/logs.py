"""Bounded per-resource log buffers, kept outside the frozen state because they change often.

Readers (TUI, plain/JSON output) subscribe to new lines; memory stays bounded however
many lines arrive.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class LogLine:
    seq: int  # global order across resources
    resource: str
    source: str  # "pod/container", "build", "loopdev", "local"
    text: str
    time: float


LogListener = Callable[[LogLine], None]


class LogStore:
    def __init__(self, per_resource: int = 5000, total: int = 20000) -> None:
        self._per_resource = per_resource
        self._buffers: dict[str, deque[LogLine]] = {}
        self._all: deque[LogLine] = deque(maxlen=total)
        self._seq = itertools.count(1)
        self._listeners: list[LogListener] = []

    def append(self, resource: str, text: str, source: str = "loopdev") -> LogLine:
        line = LogLine(next(self._seq), resource, source, text.rstrip("\n"), time.time())
        buf = self._buffers.get(resource)
        if buf is None:
            buf = self._buffers[resource] = deque(maxlen=self._per_resource)
        buf.append(line)
        self._all.append(line)
        for fn in self._listeners:
            fn(line)
        return line

    def listen(self, fn: LogListener) -> Callable[[], None]:
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn)

    def lines(self, resource: str | None = None) -> Iterator[LogLine]:
        """Buffered lines for one resource, or for all resources interleaved in order."""
        return iter(self._all if resource is None else self._buffers.get(resource, ()))

    def tail(self, resource: str, n: int) -> list[str]:
        buf = self._buffers.get(resource, deque())
        return [line.text for line in list(buf)[-n:]]

    def __len__(self) -> int:
        return len(self._all)
