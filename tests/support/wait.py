"""Polling helpers for integration tests (a condition, a deadline, a clear failure)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    fn: Callable[[], T | None], timeout: float = 30, interval: float = 0.05, what: str = "condition"
) -> T:
    """Call ``fn`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


async def await_for(
    fn: Callable[[], Awaitable[T | None]],
    timeout: float = 30,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Async twin of ``wait_for`` for coroutines."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await fn()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


async def until(check: Callable[[], T | None], what: str, timeout: float = 60.0) -> T:
    """Poll a blocking ``check`` (it may read the fake cluster's store, or make an HTTP
    request) in a worker thread until it returns something truthy; that is returned."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        got = await asyncio.to_thread(check)
        if got:
            return got
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
