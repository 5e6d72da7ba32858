"""The logs reconciler: follow every container of every pod of each workload resource.

Pods come from the session's shared cluster watch (no extra watch). One stream per
container instance (pod uid, container, restart count): a replaced pod or a restarted
container gets a new stream; a stream cut by a network failure resumes from about where it
stopped. Lines go to the bounded LogStore, prefixed ``pod/container``.

A container that started during the session is streamed from its first line. One that was
already running when the session started (``up`` attaching to an older pod) is streamed from
the session start plus its last ``ATTACH_TAIL`` lines from before, as Tilt streams from its own
start (PodLogStream ``sinceTime``): a 26-minute-old pod must not replay thousands of lines. The
API applies ``tailLines`` and ``sinceTime`` together as an intersection, so the short tail is
one plain read and the stream a ``sinceTime`` follow.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from datetime import UTC, datetime
from typing import Any

from loopdev.deploy.watch import Backoff, ClusterWatch
from loopdev.engine.reconciler import SessionContext
from loopdev.errors import ClusterUnreachable, LoopdevError
from loopdev.reconcilers.secrets import ensure_secrets_known
from loopdev.reconcilers.status import cluster_watch
from loopdev.render.labels import RESOURCE_LABEL

log = logging.getLogger(__name__)

StreamKey = tuple[str, str, int]  # pod uid, container, restart count
ATTACH_TAIL = 20  # lines from before the session shown for a container that was running already
HISTORY_CAP = 20_000  # most lines read to find that tail (a very chatty pod shows fewer)
START_SLACK = 2.0  # seconds: startedAt has whole seconds; a start this close counts as ours


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


def namespace_of(pods: list[dict[str, Any]], uid: str) -> str:
    """The namespace of the pod with this uid (or name), "" when it is not in ``pods``."""
    for pod in pods:
        meta = pod.get("metadata") or {}
        if (meta.get("uid") or meta.get("name")) == uid:
            return str(meta.get("namespace") or "")
    return ""


def started_at(pods: list[dict[str, Any]], key: StreamKey) -> float | None:
    """When this container instance started (epoch seconds), from its status; None if unknown."""
    for pod in pods:
        meta = pod.get("metadata") or {}
        if (meta.get("uid") or meta.get("name")) != key[0]:
            continue
        status = pod.get("status") or {}
        for cs in [
            *(status.get("initContainerStatuses") or ()),
            *(status.get("containerStatuses") or ()),
        ]:
            if cs.get("name") != key[1] or int(cs.get("restartCount") or 0) != key[2]:
                continue
            state = cs.get("state") or {}
            stamp = (state.get("running") or state.get("terminated") or {}).get("startedAt")
            if not stamp:
                return None
            try:
                return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
            except ValueError:
                return None
    return None


def attach_cut(started: float | None, session_start: float) -> str | None:
    """Where to start a container's stream: None for its first line (it started during the
    session, or its start is unknown), else the session start as an RFC 3339 ``sinceTime``
    in whole seconds (what every API server parses), rounded down so nothing is lost."""
    if started is None or started >= session_start - START_SLACK:
        return None
    return rfc3339(math.floor(session_start))


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LogsReconciler:
    name = "logs"

    def __init__(self, session_start: float | None = None) -> None:
        self._tasks: dict[StreamKey, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self.session_start = session_start  # wall-clock time; default: when run() starts

    async def run(self, ctx: SessionContext) -> None:
        if self.session_start is None:
            self.session_start = time.time()
        watch = cluster_watch(ctx)

        def on_change(kind: str, event: str, obj: dict[str, Any]) -> None:
            if kind == "Pod":
                self._wake.set()

        watch.subscribe(on_change)
        await ensure_secrets_known(
            ctx
        )  # a pod may print a Secret value this session never rendered
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
                start = time.time() if self.session_start is None else self.session_start
                cut = attach_cut(started_at(pods, key), start)
                where = (namespace_of(pods, key[0]) or ctx.namespace, pod)
                follow = self._follow(ctx, watch, key, resource, where, container, cut)
                self._tasks[key] = asyncio.get_running_loop().create_task(follow)

    async def _follow(
        self,
        ctx: SessionContext,
        watch: ClusterWatch,
        key: StreamKey,
        resource: str,
        where: tuple[str, str],
        container: str,
        cut: str | None = None,
    ) -> None:
        """Follow one container instance of the pod ``where`` (namespace, name); ``cut``
        (see ``attach_cut``): show its last ``ATTACH_TAIL`` lines from before that time,
        then stream from it."""
        namespace, pod = where
        source = f"{pod}/{container}"
        last_line_at: float | None = None
        last_stamp = ""  # the newest line's timestamp: a resumed stream skips what we have
        tail_pending = cut is not None
        backoff = Backoff(first=0.5, ceiling=5.0)
        while True:
            since = None if last_line_at is None else int(time.time() - last_line_at) + 2
            since_time = cut if since is None else None
            stream = ctx.kube.follow_log(
                pod, namespace, container, since, timestamps=True, since_time=since_time
            )
            try:
                if tail_pending and cut is not None:
                    last_stamp = await self._history(ctx, resource, where, container, cut)
                    tail_pending = False
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

    async def _history(
        self, ctx: SessionContext, resource: str, where: tuple[str, str], container: str, cut: str
    ) -> str:
        """The container's last ``ATTACH_TAIL`` lines from before ``cut``; returns the newest
        stamp shown. The API has no "until": read the log's end, larger while the lines since
        ``cut`` (written before we attached) crowd out the ones before it."""
        namespace, pod = where
        limit, _ = split_timestamp(f"{cut} -")
        want = ATTACH_TAIL + 200
        while True:
            text = await ctx.kube.read_log(pod, namespace, container, tail=want, timestamps=True)
            lines = text.splitlines()
            older = [(s, t) for s, t in map(split_timestamp, lines) if s and s < limit]
            if len(older) >= ATTACH_TAIL or len(lines) < want or want >= HISTORY_CAP:
                break
            want *= 4
        for _stamp, line in older[-ATTACH_TAIL:]:
            ctx.logs.append(resource, line, f"{pod}/{container}")
        return older[-1][0] if older else ""


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
