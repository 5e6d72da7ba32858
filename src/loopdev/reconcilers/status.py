"""The status reconciler: the cluster watch's objects -> each workload resource's state.

Classification is the pure ``deploy.status.classify``; this module adds time (rollout
timeouts), the crashing container's previous log, and "cluster unreachable" while the
watches are failing (they retry by themselves, and states recover when they succeed).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from loopdev.deploy.status import Classified, classify
from loopdev.deploy.watch import WATCHED_KINDS, ClusterWatch
from loopdev.engine import actions as a
from loopdev.engine.reconciler import SessionContext
from loopdev.errors import LoopdevError
from loopdev.render.labels import RESOURCE_LABEL

KIND_BY_KEY = {kind.lower(): kind for _, kind in WATCHED_KINDS}
CRASH_LOG_LINES = 20
SHOWN_CRASH_LINES = 3


def cluster_watch(ctx: SessionContext) -> ClusterWatch:
    """The session's shared watch (the session creates and runs it)."""
    watch = ctx.shared.get("cluster")
    if not isinstance(watch, ClusterWatch):
        raise RuntimeError("the session did not start a cluster watch")
    return watch


def pods_by_resource(pods: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        name = ((pod.get("metadata") or {}).get("labels") or {}).get(RESOURCE_LABEL)
        if name:
            out.setdefault(name, []).append(pod)
    return out


def with_timeout(c: Classified, started: float | None, now: float, limit: float) -> Classified:
    """A rollout that is still not ready ``limit`` seconds after it started is an error."""
    if c.state in ("ready", "crashing", "image-error", "error", "unschedulable"):
        return c
    if started is None or now - started <= limit:
        return c
    why = f"rollout not finished after {limit:.0f}s" + (f": {c.reason}" if c.reason else "")
    return replace(c, state="error", reason=why)


class StatusReconciler:
    name = "status"

    def __init__(
        self,
        tick: float = 1.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tick, self._clock, self._mono = tick, clock, monotonic
        self._dirty = asyncio.Event()
        self._last: dict[str, tuple[Any, ...]] = {}
        self._unready_since: dict[str, float] = {}
        # (namespace, pod, container, restarts) -> that crashed instance's last lines
        self._crash_logs: dict[tuple[str, str, str, int], list[str]] = {}
        self._fetching: set[tuple[str, str, str, int]] = set()
        self._fetches: set[asyncio.Task[None]] = set()
        self._last_warning = ""

    async def run(self, ctx: SessionContext) -> None:
        watch = cluster_watch(ctx)
        watch.subscribe(lambda kind, event, obj: self._dirty.set())
        watch.on_health(lambda problem: self._health(ctx, problem))
        watch.on_warning(lambda message: self._warn(ctx, message))
        ctx.store.subscribe(lambda state, batch: self._on_actions(batch))
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._tick):  # unlike wait_for, never eats a cancel
                    await self._dirty.wait()
            self._dirty.clear()
            self.recompute(ctx, watch)

    def _on_actions(self, batch: Sequence[a.Action]) -> None:
        if any(isinstance(act, a.DeployFinished) for act in batch):
            self._dirty.set()

    def _warn(self, ctx: SessionContext, message: str) -> None:
        if message != self._last_warning:  # a watch retrying forever says it once
            self._last_warning = message
            ctx.logs.append("loopdev", message, "loopdev")

    def _health(self, ctx: SessionContext, problem: str | None) -> None:
        ctx.store.dispatch(a.ClusterReachability(problem is None, problem or ""))
        if problem is None:
            self._last.clear()  # re-announce every state once the watches work again
            self._dirty.set()
            return
        for name in ctx.shared.get("workloads", {}):
            ctx.store.dispatch(a.StateChanged(name, "cluster-unreachable", problem))
            self._last[name] = ("cluster-unreachable",)

    def recompute(self, ctx: SessionContext, watch: ClusterWatch) -> None:
        """Classify every deployed workload resource and dispatch what changed."""
        if watch.problem is not None or not watch.synced:
            return
        pods = pods_by_resource(watch.pods())
        deployed_at: dict[str, float] = ctx.shared.get("deployed_at", {})
        for name, key in ctx.shared.get("tracked", {}).items():
            kind, _, obj_name = key.partition("/")
            if kind not in KIND_BY_KEY:
                untracked = Classified("ready", f"{kind} applied (not tracked)", stable_since=0.0)
                self._publish(ctx, name, untracked)
                continue
            got = classify(
                watch.get(KIND_BY_KEY[kind], obj_name), pods.get(name, []), self._clock()
            )
            started = self._started(name, got, deployed_at.get(key))
            got = with_timeout(got, started, self._mono(), ctx.config.deploy.rollout_timeout)
            if got.crashing is not None:
                with_log = self._with_crash_log(ctx, name, got, pods.get(name, []))
                if with_log is None:
                    continue  # publish once the previous log is here (a moment)
                got = with_log
            self._publish(ctx, name, got)

    def _started(self, name: str, got: Classified, deployed: float | None) -> float | None:
        """When the current not-ready period began: the last apply or the last time ready."""
        if got.state == "ready":
            self._unready_since.pop(name, None)
            return None
        since = self._unready_since.setdefault(name, self._mono())
        return max(since, deployed or 0.0)

    def _publish(self, ctx: SessionContext, name: str, got: Classified) -> None:
        shown = (got.state, got.reason, got.pods_ready, got.pods_total, got.restarts)
        if self._last.get(name) == (*shown, got.stable_since):
            return
        self._last[name] = (*shown, got.stable_since)
        fields: dict[str, Any] = {"pods_ready": got.pods_ready, "pods_total": got.pods_total}
        fields |= {"restarts": got.restarts, "stable_since": got.stable_since}
        ctx.store.dispatch(a.StatusPatched(name, fields))
        ctx.store.dispatch(a.StateChanged(name, got.state, got.reason))

    def _with_crash_log(
        self, ctx: SessionContext, name: str, got: Classified, pods: list[dict[str, Any]]
    ) -> Classified | None:
        """The crash state with the crashed instance's last lines; None while fetching them."""
        pod, container = got.crashing or ("", "")
        restarts = _restart_count(pods, pod, container)
        key = (_namespace(pods, pod) or ctx.namespace, pod, container, restarts)
        lines = self._crash_logs.get(key)
        if lines is None:
            if key not in self._fetching:
                self._fetching.add(key)
                task = asyncio.get_running_loop().create_task(self._fetch(ctx, name, key))
                self._fetches.add(task)
                task.add_done_callback(self._fetches.discard)
            return None
        tail = " | ".join(line.strip() for line in lines[-SHOWN_CRASH_LINES:] if line.strip())
        return replace(got, reason=f"{got.reason}; last log: {tail}" if tail else got.reason)

    async def _fetch(self, ctx: SessionContext, name: str, key: tuple[str, str, str, int]) -> None:
        namespace, pod, container, _ = key
        text = ""
        for previous in (True, False):  # the crashed instance; else what the current one said
            try:
                text = await ctx.kube.read_log(
                    pod, namespace, container, previous=previous, tail=CRASH_LOG_LINES
                )
            except LoopdevError:
                continue
            if text.strip():
                break
        lines = text.splitlines()
        self._crash_logs[key] = lines
        for line in lines:
            ctx.logs.append(name, line, f"{pod}/{container} (previous)")
        self._last.pop(name, None)
        self._dirty.set()


def _namespace(pods: list[dict[str, Any]], pod: str) -> str:
    """The namespace of the resource's pod ``pod`` (a resource's pods share one)."""
    for p in pods:
        if p["metadata"]["name"] == pod:
            return str(p["metadata"].get("namespace") or "")
    return ""


def _restart_count(pods: list[dict[str, Any]], pod: str, container: str) -> int:
    for p in pods:
        if p["metadata"]["name"] == pod:
            for cs in (p.get("status") or {}).get("containerStatuses") or ():
                if cs.get("name") == container:
                    return int(cs.get("restartCount") or 0)
    return 0
