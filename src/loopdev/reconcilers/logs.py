"""The logs reconciler: follow every container of every pod of each workload resource.

Pods come from the session's shared cluster watch (no extra watch). One stream per
container instance (pod uid, container, restart count): a replaced pod or a restarted
container gets a new stream; a stream cut by a network failure resumes from about where it
stopped. Lines go to the bounded LogStore, prefixed ``pod/container``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from loopdev.deploy.watch import Backoff, ClusterWatch
from loopdev.engine.reconciler import SessionContext
from loopdev.errors import ClusterUnreachable, LoopdevError
from loopdev.reconcilers.status import cluster_watch
from loopdev.render.labels import RESOURCE_LABEL

log = logging.getLogger(__name__)

StreamKey = tuple[str, str, int]  # pod uid, container, restart count


def streams_wanted(pods: list[dict[str, Any]]) -> dict[StreamKey, tuple[str, str, str]]:
    """Container instances that have started: key -> (resource, pod name, container)."""
    out: dict[StreamKey, tuple[str, str, str]] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        resource = (meta.get("labels") or {}).get(RESOURCE_LABEL)
        if not resource or meta.get("deletionTimestamp"):
            continue
        status = pod.get("status") or {}
        for cs in [
            *(status.get("initContainerStatuses") or ()),
            *(status.get("containerStatuses") or ()),
        ]:
            state = cs.get("state") or {}
            if "running" in state or "terminated" in state:
                key = (
                    meta.get("uid") or meta["name"],
                    cs["name"],
                    int(cs.get("restartCount") or 0),
                )
                out[key] = (resource, meta["name"], cs["name"])
    return out


class LogsReconciler:
    name = "logs"

    def __init__(self) -> None:
        self._tasks: dict[StreamKey, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()

    async def run(self, ctx: SessionContext) -> None:
        watch = cluster_watch(ctx)

        def on_change(kind: str, event: str, obj: dict[str, Any]) -> None:
            if kind == "Pod":
                self._wake.set()

        watch.subscribe(on_change)
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                self._reconcile(ctx, watch)
        finally:
            for task in self._tasks.values():
                task.cancel()

    def _reconcile(self, ctx: SessionContext, watch: ClusterWatch) -> None:
        pods = watch.pods()
        wanted = streams_wanted(pods)
        live_uids = {(p.get("metadata") or {}).get("uid") for p in pods}
        for key, task in list(self._tasks.items()):
            if key[0] not in live_uids:  # pod gone: stop following it
                task.cancel()
                del self._tasks[key]
        for key, (resource, pod, container) in wanted.items():
            if key not in self._tasks:
                follow = self._follow(ctx, watch, key, resource, pod, container)
                self._tasks[key] = asyncio.get_running_loop().create_task(follow)

    async def _follow(
        self,
        ctx: SessionContext,
        watch: ClusterWatch,
        key: StreamKey,
        resource: str,
        pod: str,
        container: str,
    ) -> None:
        source = f"{pod}/{container}"
        last_line_at: float | None = None
        last_stamp = ""  # the newest line's timestamp: a resumed stream skips what we have
        backoff = Backoff(first=0.5, ceiling=5.0)
        while True:
            since = None if last_line_at is None else int(time.time() - last_line_at) + 2
            stream = ctx.kube.follow_log(pod, ctx.namespace, container, since, timestamps=True)
            try:
                async for raw in stream:
                    stamp, line = split_timestamp(raw)
                    if stamp and last_stamp and stamp <= last_stamp:
                        continue
                    last_stamp, last_line_at = stamp or last_stamp, time.time()
                    ctx.logs.append(resource, line, source)
                if not _running(watch, key):
                    return  # the container stopped; a restart makes a new stream
            except asyncio.CancelledError:
                raise
            except ClusterUnreachable as err:
                log.debug("log stream %s broke: %s", source, err)
            except LoopdevError as err:  # gone, or not started: the watch will tell us more
                log.debug("log stream %s refused: %s", source, err)
                return
            except Exception as err:  # noqa: BLE001 - keep following; never end the session
                log.debug("log stream %s failed: %s", source, err)
            await asyncio.sleep(backoff.next())


def split_timestamp(raw: str) -> tuple[str, str]:
    """("2026-01-02T03:04:05.120000000Z", text) from a ``timestamps=true`` log line; the
    fraction is padded so stamps compare as strings (the API trims trailing zeros)."""
    head, sep, text = raw.partition(" ")
    if not sep or len(head) < 20 or head[4:5] != "-" or head[10:11] != "T":
        return "", raw
    base, _, frac = head.rstrip("Z").partition(".")
    return f"{base}.{frac.ljust(9, '0')[:9]}Z", text


def _running(watch: ClusterWatch, key: StreamKey) -> bool:
    """Is this container instance still running (so a stream that ended was cut, not done)?"""
    for pod in watch.pods():
        meta = pod.get("metadata") or {}
        if (meta.get("uid") or meta.get("name")) != key[0]:
            continue
        for cs in (pod.get("status") or {}).get("containerStatuses") or ():
            if cs.get("name") == key[1] and int(cs.get("restartCount") or 0) == key[2]:
                return "running" in (cs.get("state") or {})
    return False
