"""`loopdev down`: delete every object carrying this project's labels, and only those."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from loopdev.deploy.apply import PROJECT_LABEL, KubeApi, known_kinds, list_ours
from loopdev.deploy.diff import ObjectKey
from loopdev.errors import ClusterUnreachable, DeployError


@dataclass
class DownReport:
    deleted: list[str] = field(default_factory=list)  # "Deployment/web"
    namespace_deleted: bool = False
    still_there: list[str] = field(default_factory=list)  # not gone within the timeout


def _controlled(obj: dict[str, Any]) -> bool:
    owners = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return any(o.get("controller") for o in owners)


async def tear_down(
    kube: KubeApi,
    namespace: str,
    project: str,
    keep_namespace: bool = False,
    extra_kinds: set[tuple[str, str]] | None = None,
    timeout: float = 60.0,
) -> DownReport:
    """Delete our objects (controllers cascade to their pods), wait until they are gone."""
    report = DownReport()
    kinds = await known_kinds(kube, extra_kinds or set(), everything=True)
    kinds = {k for k in kinds if k[1] != "Namespace"}  # the namespace is decided below
    targets = [o for o in await list_ours(kube, kinds, namespace, project) if not _controlled(o)]
    targets.sort(key=lambda o: o["kind"] == "CustomResourceDefinition")  # instances first
    for obj in targets:
        key = ObjectKey.of(obj)
        if await kube.delete(obj["apiVersion"], key.kind, key.name, key.namespace or None):
            report.deleted.append(str(key))
    try:
        ns = await kube.get("v1", "Namespace", namespace)
    except ClusterUnreachable:
        raise
    except DeployError:  # may not read it (403): not ours to delete
        ns = None
    ours = ((ns or {}).get("metadata") or {}).get("labels", {}).get(PROJECT_LABEL) == project
    deadline = time.monotonic() + timeout
    report.still_there = await _wait_gone(kube, kinds, namespace, project, deadline)
    if ours and not keep_namespace:
        await kube.delete("v1", "Namespace", namespace, None)
        report.namespace_deleted = True
        while time.monotonic() < deadline and await kube.get("v1", "Namespace", namespace):
            await asyncio.sleep(0.2)
    return report


async def _wait_gone(
    kube: KubeApi, kinds: set[tuple[str, str]], namespace: str, project: str, deadline: float
) -> list[str]:
    """Poll until no object with our labels is left (pods included), or the deadline passes."""
    while True:
        left = [str(ObjectKey.of(o)) for o in await list_ours(kube, kinds, namespace, project)]
        if not left or time.monotonic() >= deadline:
            return left
        await asyncio.sleep(0.2)


def describe(report: DownReport, namespace: str) -> str:
    """The summary `loopdev down` prints."""
    if not report.deleted and not report.namespace_deleted:
        return f"nothing to delete in namespace {namespace}"
    lines = [f"deleted {name}" for name in report.deleted]
    if report.namespace_deleted:
        lines.append(f"deleted Namespace/{namespace}")
    return "\n".join(lines)
