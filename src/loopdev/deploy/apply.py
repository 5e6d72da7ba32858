"""Apply rendered objects with server-side apply, skipping unchanged ones, then prune.

Reads first (one list per kind, by our project labels), then writes only what differs:
an unchanged redeploy, even from a fresh process, makes no write call.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from loopdev.deploy.diff import ObjectKey, diff_applied, live_object
from loopdev.errors import ClusterUnreachable, DeployError, UnknownKind
from loopdev.render.labels import PROJECT_LABEL, ownership_labels, project_selector

__all__ = ["PROJECT_LABEL", "ApplyReport", "KubeApi", "apply_objects", "project_selector"]

CRD_WAIT = 15.0  # seconds a custom resource may wait for its CRD to be established

# Kinds looked at for pruning and `down` besides those rendered now (when the server has them).
COMMON_KINDS: tuple[tuple[str, str], ...] = (
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "Pod"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
    ("networking.k8s.io/v1", "Ingress"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
)


class KubeApi(Protocol):
    """The part of ``loopdev.adapters.kube.KubeClient`` that apply/prune/down use."""

    async def apply(self, obj: dict[str, Any], namespace: str | None) -> dict[str, Any]: ...
    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None: ...
    async def list(
        self, api_version: str, kind: str, namespace: str | None, label_selector: str = ""
    ) -> tuple[list[dict[str, Any]], str]: ...
    async def delete(
        self, api_version: str, kind: str, name: str, namespace: str | None
    ) -> bool: ...
    async def is_namespaced(self, api_version: str, kind: str) -> bool: ...
    async def served_kinds(self) -> set[tuple[str, str]]: ...


@dataclass
class ApplyReport:
    applied: list[str] = field(default_factory=list)  # "Deployment/web"
    unchanged: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    namespace_created: bool = False


async def ensure_namespace(kube: KubeApi, namespace: str, project: str) -> bool:
    """Create the namespace (labelled as ours, so `down` may remove it) when it is missing."""
    try:
        if await kube.get("v1", "Namespace", namespace) is not None:
            return False
    except ClusterUnreachable:
        raise
    except DeployError:  # may not read namespaces (403): it is someone else's, and exists
        return False
    labels = ownership_labels(project)
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": labels},
    }
    await kube.apply(body, None)
    return True


async def normalized(
    kube: KubeApi, objects: Sequence[dict[str, Any]], namespace: str
) -> list[dict[str, Any]]:
    """Copies with ``metadata.namespace`` set on namespaced kinds, as the server will store them."""
    out = []
    for obj in objects:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        try:
            namespaced = await kube.is_namespaced(obj["apiVersion"], obj["kind"])
        except UnknownKind:  # a custom resource whose CRD is in this same apply: trust the render
            out.append(obj)
            continue
        if namespaced:
            meta.setdefault("namespace", namespace)
        else:
            meta.pop("namespace", None)
        out.append(obj)
    return out


async def list_ours(
    kube: KubeApi, kinds: Iterable[tuple[str, str]], namespaces: Sequence[str], project: str
) -> list[dict[str, Any]]:
    """Every live object of these kinds carrying our project labels, in each namespace
    (cluster-scoped kinds once); kinds and namespaces listed in parallel."""

    async def one(api_version: str, kind: str) -> list[dict[str, Any]]:
        try:
            scoped = await kube.is_namespaced(api_version, kind)
            where: Sequence[str | None] = namespaces if scoped else (None,)
            found = await asyncio.gather(
                *(kube.list(api_version, kind, ns, project_selector(project)) for ns in where)
            )
        except UnknownKind:  # not served (yet): nothing of it can exist
            return []
        except ClusterUnreachable:
            raise
        except DeployError:  # e.g. 403 on a cluster-scoped kind: we cannot have made any
            return []
        return [obj for items, _ in found for obj in items]

    found = await asyncio.gather(*(one(v, k) for v, k in sorted(set(kinds))))
    return [obj for items in found for obj in items]


# Kinds whose objects copy our labels from another object and belong to a controller.
DERIVED_KINDS = frozenset({"Event", "Endpoints", "EndpointSlice", "ControllerRevision"})


async def known_kinds(
    kube: KubeApi, extra: Iterable[tuple[str, str]] = (), everything: bool = False
) -> set[tuple[str, str]]:
    """Kinds to look through: the common ones (fast, for every deploy), or every kind the
    server lists (for `down`, so CRDs and custom resources go too)."""
    served = await kube.served_kinds()
    if everything:
        return {k for k in served if k[1] not in DERIVED_KINDS} | set(extra)
    return {k for k in COMMON_KINDS if k in served} | set(extra)


async def apply_objects(
    kube: KubeApi,
    objects: Sequence[dict[str, Any]],
    namespace: str,
    project: str,
    held: Iterable[ObjectKey] = (),
    others: Sequence[str] = (),
) -> ApplyReport:
    """Ensure the namespaces, apply what changed (in order), prune what is no longer rendered.

    ``namespace`` is the project's (objects without one go there); ``others`` are further
    namespaces the deploy uses (Helm releases' own), ensured and pruned the same way.
    ``held`` objects wait for their dependencies: not applied yet, and not pruned either.
    """
    namespaces = list(dict.fromkeys([namespace, *others]))
    report = ApplyReport()
    for ns in namespaces:
        created = await ensure_namespace(kube, ns, project)
        report.namespace_created = report.namespace_created or created
    rendered = await normalized(kube, objects, namespace)
    kinds = await known_kinds(kube, {(o["apiVersion"], o["kind"]) for o in rendered})
    live_objs = await list_ours(kube, kinds, namespaces, project)
    versions = {ObjectKey.of(o): str(o["apiVersion"]) for o in live_objs}
    plan = diff_applied(rendered, [live_object(o) for o in live_objs], held)
    report.unchanged = [str(k) for k in plan.unchanged]
    crds = False
    for obj in plan.apply:
        await _apply_one(kube, obj, wait_for_kind=crds)
        crds = crds or obj["kind"] == "CustomResourceDefinition"
        report.applied.append(str(ObjectKey.of(obj)))
    for key in plan.prune:
        await kube.delete(versions[key], key.kind, key.name, key.namespace or None)
        report.pruned.append(str(key))
    return report


async def _apply_one(kube: KubeApi, obj: dict[str, Any], wait_for_kind: bool) -> None:
    """Apply one object; right after a CRD, give the server a moment to start serving it."""
    delay, waited = 0.2, 0.0
    while True:
        try:
            await kube.apply(obj, obj["metadata"].get("namespace"))
            return
        except UnknownKind:
            if not wait_for_kind or waited >= CRD_WAIT:
                raise
        await asyncio.sleep(delay)
        waited += delay
        delay = min(delay * 2, 2.0)
