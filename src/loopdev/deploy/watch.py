"""Informers: one list+watch per kind for the project's objects, shared by every reconciler.

Each informer keeps a local copy of its objects, re-lists on 410 Gone, and retries with
back-off when the API server is unreachable; the cluster watch reports reachability, so the
state can say "cluster unreachable" and recover by itself when the server returns. A watch
the server ends after its ``timeoutSeconds`` is resumed from the last resourceVersion seen
(as client-go's reflector does), without listing again: an idle session costs one watch
request per kind every few minutes, nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

from loopdev.errors import ClusterUnreachable

log = logging.getLogger(__name__)

WATCHED_KINDS: tuple[tuple[str, str], ...] = (
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"),
    ("v1", "Pod"),
)

MIN_WATCH = 1.0  # seconds: a watch ending sooner is retried after a back-off
ChangeListener = Callable[[str, str, dict[str, Any]], None]  # kind, event type, object


class WatchApi(Protocol):
    async def list(
        self, api_version: str, kind: str, namespace: str | None, label_selector: str = ""
    ) -> tuple[list[dict[str, Any]], str]: ...
    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        label_selector: str,
        resource_version: str,
        timeout: int = 240,
    ) -> AsyncIterator[dict[str, Any]]: ...


class WatchExpired(Exception):
    """The watch's resourceVersion is too old (410 Gone): list again, then watch."""


class Backoff:
    """Exponential back-off with a ceiling; reset after a success."""

    def __init__(self, first: float = 0.2, ceiling: float = 5.0) -> None:
        self.first, self.ceiling, self.current = first, ceiling, first

    def next(self) -> float:
        delay, self.current = self.current, min(self.current * 2, self.ceiling)
        return delay

    def reset(self) -> None:
        self.current = self.first


class Informer:
    """A local, always-refreshing copy of one kind's objects matching a label selector."""

    def __init__(
        self,
        kube: WatchApi,
        api_version: str,
        kind: str,
        namespace: str,
        selector: str,
        on_change: ChangeListener,
        on_health: Callable[[str, str | None], None],
        backoff: Backoff | None = None,
        on_warning: Callable[[str, str], None] = lambda kind, message: None,
    ) -> None:
        self.kube, self.api_version, self.kind = kube, api_version, kind
        self.namespace, self.selector = namespace, selector
        self.objects: dict[str, dict[str, Any]] = {}  # name -> object
        self.synced = False
        self._on_change, self._on_health, self._on_warning = on_change, on_health, on_warning
        self._backoff = backoff or Backoff()

    async def run(self) -> None:
        """List, then watch from the list's version; forever, surviving any failure."""
        version: str | None = None
        while True:
            try:
                if version is None:
                    version = await self._relist()
                    self._on_health(self.kind, None)
                    self._backoff.reset()
                started = asyncio.get_running_loop().time()
                version = await self._watch(version)  # the server ended it: resume from there
                if asyncio.get_running_loop().time() - started < MIN_WATCH:
                    await asyncio.sleep(self._backoff.next())  # ended at once: do not spin
                else:
                    self._backoff.reset()
            except asyncio.CancelledError:
                raise
            except ClusterUnreachable as err:
                version = None
                self._on_health(self.kind, err.message)
                await asyncio.sleep(self._backoff.next())
            except WatchExpired:
                version = None
                continue
            except Exception as err:  # noqa: BLE001 - a broken watch must never end the session
                version = None
                log.debug("watch %s failed: %s", self.kind, err)
                msg = getattr(err, "message", None) or f"{type(err).__name__}: {err}"
                # The server answered (e.g. 403 on one kind): carry on without this kind
                # rather than holding every state back, say so, and keep retrying.
                self.synced = True
                self._on_health(self.kind, None)
                self._on_warning(self.kind, f"watching {self.kind} failed: {msg}")
                await asyncio.sleep(self._backoff.next())

    async def _relist(self) -> str:
        items, version = await self.kube.list(
            self.api_version, self.kind, self.namespace, self.selector
        )
        fresh = {i["metadata"]["name"]: i for i in items}
        for name, obj in list(self.objects.items()):
            if name not in fresh:
                del self.objects[name]
                self._on_change(self.kind, "DELETED", obj)
        for name, obj in fresh.items():
            if self.objects.get(name) != obj:
                self.objects[name] = obj
                self._on_change(self.kind, "MODIFIED", obj)
        self.synced = True
        self._on_change(self.kind, "SYNCED", {})
        return version

    async def _watch(self, version: str) -> str:
        """Apply events until the server ends the watch; the last resourceVersion seen."""
        stream = self.kube.watch(
            self.api_version, self.kind, self.namespace, self.selector, version
        )
        try:
            async for event in stream:
                kind, obj = event.get("type", ""), event.get("object") or {}
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                if kind == "BOOKMARK" or not obj.get("metadata"):
                    continue
                obj = {"apiVersion": self.api_version, "kind": self.kind, **obj}
                name = obj["metadata"]["name"]
                if kind == "DELETED":
                    self.objects.pop(name, None)
                else:
                    self.objects[name] = obj
                self._on_change(self.kind, kind, obj)
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()  # type: ignore[attr-defined]
        return version


class ClusterWatch:
    """The project's workloads and pods, one informer per kind and namespace, with
    reachability. ``namespace`` is one namespace or several (the project's first): a Helm
    release may deploy into its own."""

    def __init__(
        self,
        kube: WatchApi,
        namespace: str | Sequence[str],
        selector: str,
        kinds: tuple[tuple[str, str], ...] = WATCHED_KINDS,
    ) -> None:
        self._listeners: list[ChangeListener] = []
        self._health_listeners: list[Callable[[str | None], None]] = []
        self._failing: dict[str, str] = {}
        self._warning_listeners: list[Callable[[str], None]] = []
        self._kube, self._selector, self._kinds = kube, selector, kinds
        self._group: asyncio.TaskGroup | None = None  # while running: where new watches go
        names = [namespace] if isinstance(namespace, str) else list(dict.fromkeys(namespace))
        self.namespaces: tuple[str, ...] = ()
        self.by_namespace: dict[str, dict[str, Informer]] = {}
        self.add_namespaces(names)
        self.informers = self.by_namespace[names[0]]  # the project namespace's

    def add_namespaces(self, names: Sequence[str]) -> None:
        """Watch these namespaces too (a manifest may name its own); started at once when
        the watch runs already. A namespace watched already is left as it is."""
        for ns in names:
            if ns in self.by_namespace:
                continue
            first = not self.by_namespace
            health = self._health if first else _in(ns, self._health)
            informers = {
                kind: Informer(
                    self._kube, v, kind, ns, self._selector, self._changed, health,
                    on_warning=self._warn,
                )
                for v, kind in self._kinds
            }  # fmt: skip
            self.by_namespace[ns] = informers
            self.namespaces = (*self.namespaces, ns)
            if self._group is not None:
                for inf in informers.values():
                    self._group.create_task(inf.run(), name=f"watch-{inf.kind}-{ns}")

    def _all(self) -> list[Informer]:
        return [inf for kinds in self.by_namespace.values() for inf in kinds.values()]

    def subscribe(self, fn: ChangeListener) -> Callable[[], None]:
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn)

    def on_health(self, fn: Callable[[str | None], None]) -> None:
        """``fn(None)`` when every watch works again, ``fn(reason)`` when one fails."""
        self._health_listeners.append(fn)

    def on_warning(self, fn: Callable[[str], None]) -> None:
        """``fn(message)`` when a watch fails for a reason other than reachability."""
        self._warning_listeners.append(fn)

    def _warn(self, kind: str, message: str) -> None:
        for fn in list(self._warning_listeners):
            fn(message)

    @property
    def problem(self) -> str | None:
        return next(iter(self._failing.values()), None)

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object of this kind and name: in ``namespace``, else the first namespace
        (project's first) that has one."""
        for ns in (namespace,) if namespace is not None else self.namespaces:
            inf = self.by_namespace.get(ns, {}).get(kind)
            found = None if inf is None else inf.objects.get(name)
            if found is not None:
                return found
        return None

    def pods(self) -> list[dict[str, Any]]:
        """Every namespace's pods (names may repeat across namespaces: key by both)."""
        pods = [kinds["Pod"] for kinds in self.by_namespace.values() if "Pod" in kinds]
        return [p for inf in pods for p in inf.objects.values()]

    @property
    def synced(self) -> bool:
        return all(i.synced for i in self._all())

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                for inf in self._all():
                    group.create_task(inf.run(), name=f"watch-{inf.kind}-{inf.namespace}")
                await asyncio.Event().wait()  # the group ends only when cancelled
            finally:
                self._group = None

    def _changed(self, kind: str, event: str, obj: dict[str, Any]) -> None:
        for fn in list(self._listeners):
            try:
                fn(kind, event, obj)
            except Exception:  # noqa: BLE001 - one bad listener must not stop the watch
                log.exception("watch listener failed")

    def _health(self, kind: str, problem: str | None) -> None:
        before = self.problem
        if problem is None:
            self._failing.pop(kind, None)
        else:
            self._failing[kind] = problem
        if self.problem != before:
            for fn in list(self._health_listeners):
                fn(self.problem)


def _in(
    namespace: str, health: Callable[[str, str | None], None]
) -> Callable[[str, str | None], None]:
    """A health listener that tells one namespace's watch of a kind from another's."""
    return lambda kind, problem: health(f"{kind} in {namespace}", problem)
