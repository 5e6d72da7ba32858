"""`loopdev down`: delete every object carrying this project's labels, and only those.

Its cost on the wire is bounded: discovery once (cached), one list per kind, one delete per
object we made, then it waits only on what it deleted (one list per kind, and one watch while
something of that kind is still there) and returns as soon as those are gone. Pods that a
deleted controller owned stop in the background, as after ``tilt down`` or ``skaffold
delete``: a re-`up` makes new pods beside them. What would collide with a re-`up` is waited
for: objects still there under the same name (a bare Pod in its grace period, a PVC held by
its protection finalizer) and the namespace (nothing can be created in a terminating one).

The namespace goes only when loopdev created it AND nothing in it is someone else's
(``ownership.sort_contents``); otherwise it stays and the report names what kept it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from loopdev.deploy.apply import KubeApi
from loopdev.deploy.diff import ObjectKey
from loopdev.deploy.ownership import (
    UNLISTED_KINDS,
    capped,
    labelled_ours,
    one_version_per_kind,
    sort_contents,
)
from loopdev.deploy.watch import WatchApi, WatchExpired
from loopdev.errors import ClusterUnreachable, DeployError, UnknownKind
from loopdev.render.labels import project_selector

Obj = dict[str, Any]


class DownApi(KubeApi, WatchApi, Protocol):
    """What `down` needs beyond apply's port: the informers' watch, to wait without polling."""


@dataclass
class DownReport:
    deleted: list[str] = field(default_factory=list)  # "Deployment/web"
    namespace_deleted: bool = False
    still_there: list[str] = field(default_factory=list)  # not gone within the timeout
    kept_for: list[str] = field(default_factory=list)  # foreign objects that kept our namespace
    stopping_pods: int = 0  # pods of deleted controllers, stopping in the background


def _controlled(obj: Obj) -> bool:
    owners = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return any(o.get("controller") for o in owners)


@dataclass
class _Listing:
    objects: list[Obj] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # kinds we may not list (403)


async def _list_kinds(
    kube: KubeApi, kinds: Sequence[tuple[str, str]], namespace: str | None, selector: str
) -> _Listing:
    """One list per kind, in parallel; a kind the server stopped serving has no objects."""

    async def one(api_version: str, kind: str) -> tuple[list[Obj], str]:
        try:
            items, _ = await kube.list(api_version, kind, namespace, selector)
        except UnknownKind:
            return [], ""
        except ClusterUnreachable:
            raise
        except DeployError:  # e.g. 403: we cannot have made any, nor see what is there
            return [], kind
        return items, ""

    found = await asyncio.gather(*(one(v, k) for v, k in kinds))
    out = _Listing()
    for items, unreadable in found:
        out.objects.extend(items)
        if unreadable:
            out.unreadable.append(unreadable)
    return out


async def _split_kinds(
    kube: KubeApi, extra: set[tuple[str, str]]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(namespaced, cluster-scoped) kinds the server can list and delete, one version each."""
    kinds = one_version_per_kind((await kube.served_kinds()) | extra)
    namespaced: list[tuple[str, str]] = []
    cluster: list[tuple[str, str]] = []
    for api_version, kind in sorted(kinds):
        if kind == "Namespace" or kind in UNLISTED_KINDS:
            continue
        try:
            scoped = await kube.is_namespaced(api_version, kind)
        except UnknownKind:
            continue
        (namespaced if scoped else cluster).append((api_version, kind))
    return namespaced, cluster


async def _our_namespace(kube: KubeApi, namespace: str, project: str) -> Obj | None:
    """The namespace object when loopdev created it for this project, else None."""
    try:
        ns = await kube.get("v1", "Namespace", namespace)
    except ClusterUnreachable:
        raise
    except DeployError:  # may not read it (403): not ours to delete
        return None
    return ns if ns is not None and labelled_ours(ns, project) else None


def _unique(objects: Sequence[Obj]) -> list[Obj]:
    seen: dict[ObjectKey, Obj] = {}
    for obj in objects:
        seen.setdefault(ObjectKey.of(obj), obj)
    return list(seen.values())


async def tear_down(
    kube: DownApi,
    namespace: str,
    project: str,
    keep_namespace: bool = False,
    extra_kinds: set[tuple[str, str]] | None = None,
    timeout: float = 60.0,
    cluster_scoped: bool = True,
) -> DownReport:
    """Delete our objects (controllers cascade to their pods) and, when it is ours and holds
    nothing foreign, our namespace; wait until what was deleted is gone. Our cluster-scoped
    objects go too unless ``cluster_scoped`` is False (another namespace's pass takes them)."""
    report = DownReport()
    deadline = time.monotonic() + timeout
    selector = project_selector(project)
    namespaced, cluster = await _split_kinds(kube, extra_kinds or set())
    cluster = cluster if cluster_scoped else []
    ns_obj = None if keep_namespace else await _our_namespace(kube, namespace, project)
    # Deciding about the namespace needs all of its objects; otherwise ours are enough.
    scan, cluster_wide = await asyncio.gather(
        _list_kinds(kube, namespaced, namespace, "" if ns_obj else selector),
        _list_kinds(kube, cluster, None, selector),
    )
    in_namespace = [o for o in scan.objects if labelled_ours(o, project)]
    if ns_obj is not None:
        contents = sort_contents(scan.objects, project)
        report.kept_for = [*contents.foreign, *(f"{k} (may not list)" for k in scan.unreadable)]
        if report.kept_for:
            ns_obj = None
    ours = _unique([*in_namespace, *(o for o in cluster_wide.objects if labelled_ours(o, project))])
    targets = [o for o in ours if not _controlled(o)]
    targets.sort(key=lambda o: o["kind"] == "CustomResourceDefinition")  # instances first
    if ns_obj is not None:  # the namespace takes its objects with it
        report.deleted = [str(ObjectKey.of(o)) for o in targets if _in_namespace(o)]
        targets = [o for o in targets if not _in_namespace(o)]
    else:
        report.stopping_pods = sum(1 for o in ours if o["kind"] == "Pod" and _controlled(o))
    gone_soon = [o for o in targets if await _delete(kube, o)]
    report.deleted += [str(ObjectKey.of(o)) for o in gone_soon]
    if ns_obj is not None:
        if await kube.delete("v1", "Namespace", namespace, None):
            report.namespace_deleted = True
            gone_soon.append({"apiVersion": "v1", "kind": "Namespace", **_only_meta(ns_obj)})
    report.still_there = await wait_gone(kube, gone_soon, selector, deadline)
    return report


async def tear_down_all(
    kube: DownApi,
    namespaces: Sequence[str],
    project: str,
    keep_namespace: bool = False,
    timeout: float = 60.0,
) -> list[tuple[str, DownReport]]:
    """``tear_down`` in every namespace the project uses (the project's first, which also
    takes the cluster-scoped objects), in parallel, each deciding about its own namespace."""
    reports = await asyncio.gather(
        *(
            tear_down(kube, ns, project, keep_namespace, timeout=timeout, cluster_scoped=i == 0)
            for i, ns in enumerate(namespaces)
        )
    )
    return list(zip(namespaces, reports, strict=True))


def describe_all(reports: Sequence[tuple[str, DownReport]]) -> str:
    """Every namespace's summary; one namespace reads exactly as ``describe``."""
    return "\n".join(describe(report, ns) for ns, report in reports)


def _in_namespace(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("namespace"))


def _only_meta(obj: Obj) -> Obj:
    meta = obj.get("metadata") or {}
    return {"metadata": {"name": meta.get("name", ""), "uid": meta.get("uid", "")}}


async def _delete(kube: KubeApi, obj: Obj) -> bool:
    key = ObjectKey.of(obj)
    return await kube.delete(obj["apiVersion"], key.kind, key.name, key.namespace or None)


async def wait_gone(
    kube: DownApi, objects: Sequence[Obj], selector: str, deadline: float
) -> list[str]:
    """Wait until each of these objects is gone (404, or its name now holds a new uid);
    per kind: one list, then one watch while any remains. Returns those still there."""
    groups: dict[tuple[str, str, str | None], dict[str, str]] = {}
    for obj in objects:
        meta = obj.get("metadata") or {}
        where = (obj["apiVersion"], obj["kind"], meta.get("namespace") or None)
        groups.setdefault(where, {})[meta.get("name", "")] = meta.get("uid", "")
    left = await asyncio.gather(
        *(_wait_kind(kube, *where, names, selector, deadline) for where, names in groups.items())
    )
    kinds = [kind for _, kind, _ in groups]
    return sorted(
        f"{kind}/{name}" for kind, names in zip(kinds, left, strict=True) for name in names
    )


async def _wait_kind(
    kube: DownApi,
    api_version: str,
    kind: str,
    namespace: str | None,
    names: dict[str, str],
    selector: str,
    deadline: float,
) -> dict[str, str]:
    """The names (-> uid) of this kind still there at the deadline (empty: all gone)."""
    pause = 0.1
    while names:
        try:
            items, rv = await kube.list(api_version, kind, namespace, selector)
        except UnknownKind:  # the kind went away (its CRD was deleted): so did its objects
            return {}
        live = {_name(o): _uid(o) for o in items}
        names = {n: uid for n, uid in names.items() if n in live and _same(uid, live[n])}
        left = deadline - time.monotonic()
        if not names or left <= 0:
            return names
        try:
            async with asyncio.timeout(left):
                async for event in kube.watch(
                    api_version, kind, namespace, selector, rv, timeout=max(1, int(left))
                ):
                    obj = event.get("object") or {}
                    name = _name(obj)
                    if name not in names:
                        continue
                    if event.get("type") == "DELETED" or not _same(names[name], _uid(obj)):
                        del names[name]
                    if not names:
                        return names
        except TimeoutError:
            return names
        except (WatchExpired, DeployError):  # list again (it raises if the server is gone)
            await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 2.0)
    return names


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid", ""))


def _same(uid: str, live_uid: str) -> bool:
    """The live object is the one we deleted (a new uid under its name is someone's new one)."""
    return not uid or not live_uid or uid == live_uid


def describe(report: DownReport, namespace: str) -> str:
    """The summary `loopdev down` prints."""
    lines = [f"deleted {name}" for name in report.deleted]
    if report.namespace_deleted:
        lines.append(f"deleted Namespace/{namespace}")
    if report.kept_for:
        lines.append(
            f"kept Namespace/{namespace}: it holds objects loopdev did not make: "
            + capped(report.kept_for)
        )
    if report.stopping_pods:
        plural = "s" if report.stopping_pods != 1 else ""
        lines.append(f"{report.stopping_pods} pod{plural} stopping in the background")
    if not report.deleted and not report.namespace_deleted:
        lines.insert(0, f"nothing to delete in namespace {namespace}")
    return "\n".join(lines)
