"""The store: one state, actions queued without blocking, subscribers notified in order.

``dispatch`` may be called from the event loop or (via ``dispatch_threadsafe``) from worker
threads. The store drains every queued action, reduces them, then calls each subscriber once
with the new state and the batch of actions. A subscriber never overlaps itself: it is
awaited before the next batch is delivered to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import Awaitable, Callable, Sequence

from loopdev.engine.actions import Action
from loopdev.engine.reducer import reduce
from loopdev.engine.state import EngineState

Subscriber = Callable[[EngineState, Sequence[Action]], Awaitable[None] | None]

# Who subscribes: set by the session around each reconciler's task (and inherited by the
# tasks it starts), so a reconciler run afresh after a loopfile reload leaves no listener.
OWNER: contextvars.ContextVar[str] = contextvars.ContextVar("loopdev_store_owner", default="")


class Store:
    def __init__(
        self,
        state: EngineState | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._state = state or EngineState()
        self._clock = clock
        self._queue: asyncio.Queue[Action] = asyncio.Queue()
        self._subscribers: list[tuple[Subscriber, str]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def state(self) -> EngineState:
        return self._state

    def subscribe(self, fn: Subscriber) -> None:
        self._subscribers.append((fn, OWNER.get()))

    @property
    def owners(self) -> tuple[str, ...]:
        """Who holds each subscription, in order (a reconciler's name, or "")."""
        return tuple(who for _fn, who in self._subscribers)

    def unsubscribe_owner(self, owner: str) -> None:
        """Drop every subscriber ``owner`` (a reconciler's name) added."""
        self._subscribers = [(fn, who) for fn, who in self._subscribers if who != owner]

    def dispatch(self, action: Action) -> None:
        """Queue an action; never blocks. Call from the event loop thread."""
        self._idle.clear()
        self._queue.put_nowait(action)

    def dispatch_threadsafe(self, action: Action) -> None:
        """Queue an action from a worker thread."""
        assert self._loop is not None, "store is not running"
        self._loop.call_soon_threadsafe(self.dispatch, action)

    def reduce_now(self, action: Action) -> EngineState:
        """Apply an action synchronously without notifying (for setup and tests)."""
        self._state = reduce(self._state, action, self._clock())
        return self._state

    async def run(self) -> None:
        """Drain, reduce, notify; forever (cancel to stop)."""
        self._loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            batch = [first]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            now = self._clock()
            for act in batch:
                self._state = reduce(self._state, act, now)
            for sub, _owner in list(self._subscribers):
                result = sub(self._state, batch)
                if result is not None:
                    await result
            if self._queue.empty():
                self._idle.set()

    async def settled(self, timeout: float = 5.0) -> None:
        """Wait until every queued action has been reduced and delivered (tests)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)
