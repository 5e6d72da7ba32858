"""Decide what to apply and what to prune: a pure function over rendered and live objects.

The rendered object's hash is stored on the live object as an annotation when we apply it,
so "unchanged" is judged against the cluster itself, not our memory: a second process with
the same inputs makes no write call, and an object someone deleted is applied again.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

HASH_ANNOTATION = "loopdev.dev/applied-hash"


@dataclass(frozen=True, order=True)
class ObjectKey:
    """Identity of an object across API versions: group, kind, namespace ("" if cluster), name."""

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectKey:
        api_version = str(obj.get("apiVersion", ""))
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        meta = obj.get("metadata") or {}
        return cls(
            group, str(obj.get("kind", "")), meta.get("namespace") or "", meta.get("name", "")
        )

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class LiveObject:
    """What we need to know about an object found in the cluster with our project labels."""

    key: ObjectKey
    applied_hash: str | None  # our annotation; None = not applied by loopdev
    owned: bool = False  # has a controller ownerReference (a ReplicaSet, a Pod): never pruned


@dataclass(frozen=True)
class ApplyPlan:
    apply: tuple[dict[str, Any], ...]  # stamped with HASH_ANNOTATION, in rendered order
    unchanged: tuple[ObjectKey, ...]
    prune: tuple[ObjectKey, ...]


def object_hash(obj: Mapping[str, Any]) -> str:
    """A stable digest of what we would send (without our own hash annotation)."""
    clean = copy.deepcopy(dict(obj))
    annotations = (clean.get("metadata") or {}).get("annotations")
    if annotations and HASH_ANNOTATION in annotations:
        del annotations[HASH_ANNOTATION]
        if not annotations:
            del clean["metadata"]["annotations"]
    text = json.dumps(clean, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def stamped(obj: Mapping[str, Any], digest: str) -> dict[str, Any]:
    """A copy of ``obj`` carrying its digest as an annotation."""
    out = copy.deepcopy(dict(obj))
    meta = out.setdefault("metadata", {})
    meta["annotations"] = {**(meta.get("annotations") or {}), HASH_ANNOTATION: digest}
    return out


def diff_applied(
    rendered: Sequence[Mapping[str, Any]],
    live: Iterable[LiveObject],
    held: Iterable[ObjectKey] = (),
) -> ApplyPlan:
    """Rendered objects whose live hash differs are applied; ours no longer rendered are pruned.

    ``held`` objects (rendered, but waiting on dependencies) are neither applied nor pruned.
    """
    live_by_key = {obj.key: obj for obj in live}
    to_apply: list[dict[str, Any]] = []
    unchanged: list[ObjectKey] = []
    seen: set[ObjectKey] = set(held)
    for obj in rendered:
        key = ObjectKey.of(obj)
        if key in seen:
            continue
        seen.add(key)
        digest = object_hash(obj)
        current = live_by_key.get(key)
        if current is not None and current.applied_hash == digest:
            unchanged.append(key)
        else:
            to_apply.append(stamped(obj, digest))
    prune = sorted(
        key
        for key, obj in live_by_key.items()
        if key not in seen and obj.applied_hash is not None and not obj.owned
    )
    return ApplyPlan(tuple(to_apply), tuple(unchanged), tuple(prune))


def live_object(obj: Mapping[str, Any]) -> LiveObject:
    """Summarise a live object (as returned by a list) for ``diff_applied``."""
    meta = obj.get("metadata") or {}
    owners = meta.get("ownerReferences") or ()
    return LiveObject(
        ObjectKey.of(obj),
        (meta.get("annotations") or {}).get(HASH_ANNOTATION),
        any(o.get("controller") for o in owners),
    )
