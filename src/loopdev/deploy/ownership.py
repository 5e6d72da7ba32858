"""Who owns what in a namespace: pure decisions for `loopdev down` over listed objects.

loopdev may delete a namespace it created only when nothing in it is someone else's: every
object is loopdev's (its labels, or derived by a controller from one of loopdev's objects
through ownerReferences), or one the cluster makes in every namespace by itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loopdev.render.labels import MANAGED_BY_LABEL, MANAGED_BY_VALUE, PROJECT_LABEL

Obj = Mapping[str, Any]

# Made by the cluster in every namespace (service-account controller, root-CA publisher).
AUTOMATIC = frozenset({("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")})
TOKEN_TYPE = "kubernetes.io/service-account-token"  # the default SA's token Secret (< 1.24)
# Never listed: the cluster writes them about objects; they are not worth keeping a namespace.
UNLISTED_KINDS = frozenset({"Event"})
SHOWN_FOREIGN = 5

_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


@dataclass(frozen=True)
class Contents:
    """A namespace's objects by owner, each as "Kind/name"."""

    ours: tuple[str, ...] = ()
    automatic: tuple[str, ...] = ()
    foreign: tuple[str, ...] = ()


def _meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def key_of(obj: Obj) -> str:
    return f"{obj.get('kind', '?')}/{_meta(obj).get('name', '?')}"


def labelled_ours(obj: Obj, project: str) -> bool:
    labels = _meta(obj).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE and labels.get(PROJECT_LABEL) == project


def _automatic(obj: Obj) -> bool:
    kind, meta = obj.get("kind", ""), _meta(obj)
    if (kind, meta.get("name", "")) in AUTOMATIC:
        return True
    annotations = meta.get("annotations") or {}
    return (
        kind == "Secret"
        and obj.get("type") == TOKEN_TYPE
        and annotations.get("kubernetes.io/service-account.name") == "default"
    )


def sort_contents(objects: Sequence[Obj], project: str) -> Contents:
    """Split a namespace's objects into ours, automatic and foreign. Objects already being
    deleted are left out: deleting the namespace loses nothing of theirs."""
    live = [o for o in objects if not _meta(o).get("deletionTimestamp")]
    ours_uids = {_meta(o).get("uid") for o in live if labelled_ours(o, project)}
    ours_uids.discard(None)
    grown = True
    while grown:  # ownership is transitive: Deployment -> ReplicaSet -> Pod
        grown = False
        for obj in live:
            uid = _meta(obj).get("uid")
            if uid in ours_uids:
                continue
            refs = _meta(obj).get("ownerReferences") or ()
            if any(ref.get("uid") in ours_uids for ref in refs):
                ours_uids.add(uid)
                grown = True
    ours, automatic, foreign = [], [], []
    for obj in live:
        if labelled_ours(obj, project) or _meta(obj).get("uid") in ours_uids:
            ours.append(key_of(obj))
        elif _automatic(obj):
            automatic.append(key_of(obj))
        else:
            foreign.append(key_of(obj))
    return Contents(tuple(ours), tuple(automatic), tuple(sorted(foreign)))


def capped(keys: Sequence[str], limit: int = SHOWN_FOREIGN) -> str:
    """``A/x, B/y`` with at most ``limit`` names, then how many more."""
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _version_rank(version: str) -> tuple[int, int, int]:
    """Kubernetes' version priority: GA over beta over alpha, then the higher numbers."""
    m = _VERSION.match(version)
    if m is None:
        return (-1, 0, 0)
    stability = {"alpha": 0, "beta": 1}.get(m.group(2) or "", 2)
    return (stability, int(m.group(1)), int(m.group(3) or 0))


def one_version_per_kind(kinds: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """One (apiVersion, kind) per group and kind: the versions of a kind serve the same
    objects (HPA as autoscaling/v1 and /v2), so listing each would list them twice."""
    best: dict[tuple[str, str], tuple[str, str]] = {}
    for api_version, kind in kinds:
        group, _, version = api_version.rpartition("/")
        held = best.get((group, kind))
        if held is None or _version_rank(version) > _version_rank(held[0].rpartition("/")[2]):
            best[(group, kind)] = (api_version, kind)
    return set(best.values())
