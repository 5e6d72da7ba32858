"""In-memory doubles for the session's ports: a tiny Kubernetes API with an instant
"controller", and a builder that only counts. No Docker, no HTTP, no threads."""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from loopdev.deploy.apply import COMMON_KINDS
from loopdev.errors import ClusterUnreachable

CLUSTER_KINDS = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
Key = tuple[str, str, str]  # kind, namespace, name


def _matches(obj: dict[str, Any], selector: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, selector.split(",")):
        k, _, v = term.partition("=")
        if labels.get(k) != v:
            return False
    return True


@dataclass
class MemKube:
    objects: dict[Key, dict[str, Any]] = field(default_factory=dict)
    writes: int = 0
    unreachable: bool = False
    ready_pods: bool = True  # the fake controller makes Ready pods (False: crash-looping ones)
    logs: dict[str, list[str]] = field(default_factory=dict)  # pod name -> lines
    _rv: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _watchers: list[tuple[str, str, asyncio.Queue[dict[str, Any]]]] = field(default_factory=list)

    def _check(self) -> None:
        if self.unreachable:
            raise ClusterUnreachable("cannot reach the Kubernetes API at mem://")

    def _put(self, obj: dict[str, Any], event: str) -> None:
        meta = obj["metadata"]
        meta["resourceVersion"] = str(next(self._rv))
        self.objects[(obj["kind"], meta.get("namespace", ""), meta["name"])] = obj
        for kind, ns, queue in self._watchers:
            if kind == obj["kind"] and ns in ("", meta.get("namespace", "")):
                queue.put_nowait({"type": event, "object": copy.deepcopy(obj)})

    async def apply(self, obj: dict[str, Any], namespace: str | None) -> dict[str, Any]:
        self._check()
        self.writes += 1
        obj = copy.deepcopy(obj)
        key = (obj["kind"], namespace or "", obj["metadata"]["name"])
        old = self.objects.get(key)
        gen = (old or {}).get("metadata", {}).get("generation", 0)
        if old is None or old.get("spec") != obj.get("spec"):
            gen += 1
        obj["metadata"]["generation"] = gen
        if namespace:
            obj["metadata"]["namespace"] = namespace
        self._put(obj, "ADDED" if old is None else "MODIFIED")
        if obj["kind"] == "Deployment":
            self._control(obj)
        return obj

    def _control(self, dep: dict[str, Any]) -> None:
        """Replace the deployment's pods and report the rollout as finished (or crashing)."""
        ns = dep["metadata"]["namespace"]
        mine = f"{dep['metadata']['name']}-g"
        for key in [k for k in self.objects if k[:2] == ("Pod", ns) and k[2].startswith(mine)]:
            gone = self.objects.pop(key)
            for kind, wns, queue in self._watchers:
                if kind == "Pod" and wns in ("", ns):
                    queue.put_nowait({"type": "DELETED", "object": gone})
        labels = dep["spec"]["template"]["metadata"]["labels"]
        name = f"{dep['metadata']['name']}-g{dep['metadata']['generation']}"
        spec = copy.deepcopy(dep["spec"]["template"].get("spec") or {})
        statuses = []
        for c in spec.get("containers") or [{"name": "main"}]:
            cs = {
                "name": c["name"],
                "containerID": f"mem://{name}/{c['name']}",
                "restartCount": 0,
                "ready": self.ready_pods,
                "state": {"running": {}},
            }
            if not self.ready_pods:
                cs.update(restartCount=2, state={"waiting": {"reason": "CrashLoopBackOff"}})
            statuses.append(cs)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels, "uid": name},
            "spec": spec,
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": str(self.ready_pods)}],
                "containerStatuses": statuses,
            },
        }
        self._put(pod, "ADDED")
        want = dep["spec"].get("replicas", 1)
        ready = want if self.ready_pods else 0
        dep = copy.deepcopy(dep)
        dep["status"] = {
            "observedGeneration": dep["metadata"]["generation"],
            "replicas": want,
            "updatedReplicas": want,
            "readyReplicas": ready,
        }
        self._put(dep, "MODIFIED")

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        self._check()
        ns = "" if kind in CLUSTER_KINDS else namespace or ""
        obj = self.objects.get((kind, ns, name))
        return copy.deepcopy(obj) if obj else None

    async def list(
        self, api_version: str, kind: str, namespace: str | None, label_selector: str = ""
    ) -> tuple[list[dict[str, Any]], str]:
        self._check()
        items = [
            copy.deepcopy(o)
            for (k, ns, _), o in sorted(self.objects.items())
            if k == kind and (not namespace or ns == namespace) and _matches(o, label_selector)
        ]
        return items, str(next(self._rv))

    async def delete(self, api_version: str, kind: str, name: str, namespace: str | None) -> bool:
        self._check()
        self.writes += 1
        obj = self.objects.pop((kind, namespace or "", name), None)
        if obj is not None:
            for k, _ns, queue in self._watchers:
                if k == kind:
                    queue.put_nowait({"type": "DELETED", "object": obj})
        if obj is not None and kind == "Namespace":  # its objects go with it
            for k, ns, n in [key for key in self.objects if key[1] == name]:
                await self.delete("v1", k, n, ns)
        return obj is not None

    async def is_namespaced(self, api_version: str, kind: str) -> bool:
        return kind not in CLUSTER_KINDS

    async def served_kinds(self) -> set[tuple[str, str]]:
        self._check()
        return set(COMMON_KINDS)

    async def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        label_selector: str,
        resource_version: str,
        timeout: int = 240,
    ) -> AsyncIterator[dict[str, Any]]:
        self._check()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        entry = (kind, namespace or "", queue)
        self._watchers.append(entry)
        try:
            while True:
                try:
                    async with asyncio.timeout(0.05):
                        event = await queue.get()
                except TimeoutError:
                    self._check()  # an outage breaks open watches too
                    continue
                if _matches(event["object"], label_selector):
                    yield event
        finally:
            self._watchers.remove(entry)

    async def read_log(
        self,
        pod: str,
        namespace: str,
        container: str,
        previous: bool = False,
        tail: int = 20,
        timestamps: bool = False,
    ) -> str:
        self._check()
        return "\n".join(self.logs.get(pod, [])[-tail:])

    async def follow_log(
        self,
        pod: str,
        namespace: str,
        container: str,
        since_seconds: int | None = None,
        timestamps: bool = False,
        since_time: str | None = None,
    ) -> AsyncIterator[str]:
        self._check()
        for line in self.logs.get(pod, []):
            yield line

    async def events(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return []

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class Built:
    image: str
    ref: str
    reused: bool
    duration: float


@dataclass
class CountingBuilder:
    """Builds instantly; a new tag per forced build, so a rebuild changes the reference."""

    calls: list[tuple[tuple[str, ...], bool]] = field(default_factory=list)
    delay: float = 0.0

    async def build(
        self, names: Sequence[str] | None = None, force: bool = False
    ) -> dict[str, Built]:
        self.calls.append((tuple(names or ()), force))
        await asyncio.sleep(self.delay)
        n = len(self.calls)
        return {name: Built(name, f"{name}:v{n}", False, 0.01) for name in names or ()}
