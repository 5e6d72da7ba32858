from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from loopdev.deploy.watch import Backoff, ClusterWatch, WatchExpired
from loopdev.errors import ClusterUnreachable


def pod(name: str, rv: str = "1") -> dict[str, Any]:
    return {"metadata": {"name": name, "resourceVersion": rv}}


class ScriptedApi:
    """list() answers from ``lists``; each watch() plays the next script (events or errors)."""

    def __init__(self, lists: list[Any], watches: list[list[Any]]) -> None:
        self.lists, self.watches = lists, watches
        self.list_calls = 0
        self.watch_versions: list[str] = []

    async def list(self, api_version: str, kind: str, namespace: Any, label_selector: str = ""):
        self.list_calls += 1
        item = self.lists.pop(0) if len(self.lists) > 1 else self.lists[0]
        if isinstance(item, Exception):
            raise item
        return item

    def watch(self, *args: Any, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        self.watch_versions.append(args[4])
        script = self.watches.pop(0) if self.watches else None
        return self._play(script)

    async def _play(self, script: list[Any] | None) -> AsyncIterator[dict[str, Any]]:
        if script is None:
            await asyncio.sleep(3600)
        for step in script or ():
            if isinstance(step, Exception):
                raise step
            yield step


async def run_for(watch: ClusterWatch, seconds: float) -> None:
    task = asyncio.create_task(watch.run())
    await asyncio.sleep(seconds)
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, BaseExceptionGroup):
        pass


async def test_relists_after_410_and_keeps_events() -> None:
    api = ScriptedApi(
        lists=[([pod("a")], "10"), ([pod("a"), pod("b")], "20")],
        watches=[[{"type": "ADDED", "object": pod("c")}, WatchExpired("too old")]],
    )
    watch = ClusterWatch(api, "ns", "x=y", kinds=(("v1", "Pod"),))
    seen: list[tuple[str, str]] = []
    watch.subscribe(
        lambda kind, ev, obj: seen.append((ev, obj.get("metadata", {}).get("name", "")))
    )
    await run_for(watch, 0.1)
    assert api.watch_versions[:2] == ["10", "20"]
    assert ("ADDED", "c") in seen and ("MODIFIED", "b") in seen
    assert ("DELETED", "c") in seen  # the re-list no longer has it
    assert set(watch.informers["Pod"].objects) == {"a", "b"}
    assert watch.problem is None


async def test_unreachable_reports_a_problem_then_recovers() -> None:
    api = ScriptedApi(
        lists=[ClusterUnreachable("down"), ClusterUnreachable("down"), ([pod("a")], "5")],
        watches=[],
    )
    watch = ClusterWatch(api, "ns", "", kinds=(("v1", "Pod"),))
    watch.informers["Pod"]._backoff = Backoff(first=0.01, ceiling=0.02)
    health: list[str | None] = []
    watch.on_health(health.append)
    await run_for(watch, 0.2)
    assert health == ["down", None]
    assert watch.synced and watch.get("Pod", "a") is not None


def test_backoff_doubles_to_a_ceiling_and_resets() -> None:
    b = Backoff(first=0.5, ceiling=2.0)
    assert [b.next() for _ in range(4)] == [0.5, 1.0, 2.0, 2.0]
    b.reset()
    assert b.next() == 0.5


async def test_a_refused_kind_warns_but_does_not_block_the_others() -> None:
    from loopdev.errors import DeployError

    api = ScriptedApi(lists=[DeployError("forbidden (403)")], watches=[])
    watch = ClusterWatch(api, "ns", "", kinds=(("apps/v1", "DaemonSet"),))
    watch.informers["DaemonSet"]._backoff = Backoff(first=0.01, ceiling=0.02)
    warnings: list[str] = []
    health: list[str | None] = []
    watch.on_warning(warnings.append)
    watch.on_health(health.append)
    await run_for(watch, 0.05)
    assert watch.synced and watch.problem is None and not health
    assert warnings and "forbidden" in warnings[0]
