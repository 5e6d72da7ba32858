"""ClusterWatch over several namespaces (a Helm release's own): one informer per kind per
namespace, pods of every namespace, and a failure in one namespace reported."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from loopdev.deploy.watch import ClusterWatch
from loopdev.errors import ClusterUnreachable


async def run_for(watch: ClusterWatch, seconds: float) -> None:
    task = asyncio.create_task(watch.run())
    await asyncio.sleep(seconds)
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, BaseExceptionGroup):
        pass


class PerNamespaceApi:
    """list() answers each namespace's own pods (same names in both); watches stay open."""

    def __init__(self, pods: dict[str, list[str]], unreachable: set[str] = frozenset()) -> None:
        self.pods, self.unreachable = pods, unreachable
        self.listed: list[tuple[str, str]] = []

    async def list(self, api_version: str, kind: str, namespace: Any, label_selector: str = ""):
        self.listed.append((kind, namespace))
        if namespace in self.unreachable:
            raise ClusterUnreachable(f"{namespace} down")
        items = [{"metadata": {"name": n, "namespace": namespace}} for n in self.pods[namespace]]
        return items, "1"

    def watch(self, *args: Any, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        return self._idle()

    async def _idle(self) -> AsyncIterator[dict[str, Any]]:
        await asyncio.sleep(3600)
        yield {}


async def test_every_namespace_is_watched_once_per_kind_and_same_names_stay_apart() -> None:
    api = PerNamespaceApi({"shop": ["web-1"], "cache": ["web-1", "redis-0"]})
    kinds = (("apps/v1", "Deployment"), ("v1", "Pod"))
    watch = ClusterWatch(api, ["shop", "cache", "shop"], "x=y", kinds=kinds)
    await run_for(watch, 0.1)
    assert sorted(api.listed) == sorted(
        [("Deployment", "shop"), ("Deployment", "cache"), ("Pod", "shop"), ("Pod", "cache")]
    )
    assert watch.synced
    pods = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in watch.pods()}
    assert pods == {("shop", "web-1"), ("cache", "web-1"), ("cache", "redis-0")}
    assert watch.get("Pod", "redis-0")["metadata"]["namespace"] == "cache"
    assert watch.get("Pod", "web-1")["metadata"]["namespace"] == "shop"  # project's first
    assert watch.get("Pod", "web-1", "cache")["metadata"]["namespace"] == "cache"


async def test_one_namespace_failing_is_a_problem_even_while_the_other_works() -> None:
    api = PerNamespaceApi({"shop": ["a"], "cache": []}, unreachable={"cache"})
    watch = ClusterWatch(api, ["shop", "cache"], "", kinds=(("v1", "Pod"),))
    health: list[str | None] = []
    watch.on_health(health.append)
    await run_for(watch, 0.1)
    assert watch.problem == "cache down"
    assert not watch.synced
    assert health and health[-1] == "cache down"


async def test_a_namespace_added_while_running_is_listed_and_watched_at_once() -> None:
    """A manifest naming its own namespace is known only after the render: its watch
    starts then, beside the running ones, and one added twice is watched once."""
    api = PerNamespaceApi({"shop": ["web-1"], "other": ["api-0"]})
    watch = ClusterWatch(api, "shop", "", kinds=(("v1", "Pod"),))
    task = asyncio.create_task(watch.run())
    try:
        await asyncio.sleep(0.05)
        assert api.listed == [("Pod", "shop")]
        watch.add_namespaces(["shop", "other", "other"])
        await asyncio.sleep(0.05)
        assert api.listed == [("Pod", "shop"), ("Pod", "other")]
        assert watch.namespaces == ("shop", "other") and watch.synced
        assert watch.get("Pod", "api-0")["metadata"]["namespace"] == "other"
    finally:
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, BaseExceptionGroup):
            pass
