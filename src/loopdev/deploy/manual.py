"""What a deploy pass may apply when some resources are ``trigger: manual``: a pure decision.

A manual resource that has been applied once keeps its last applied objects until it is
triggered: the pass sends those again instead of the new render (their applied-hash matches
the cluster, so nothing is written, and being sent they are never pruned). Everything else
in the render is applied as usual, in the same pass.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from loopdev.deploy.diff import object_hash

Objects = tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class ManualDecision:
    objects: Objects  # what to apply, in render order
    applied: Mapping[str, Objects]  # manual resource -> its objects in the cluster after this pass
    held: Mapping[str, str] = field(default_factory=dict)  # resource -> digest of the held render
    fresh: tuple[str, ...] = ()  # held resources whose held render is new (to say so once)


def objects_of(objects: Sequence[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """The rendered objects of the workload ``kind/name`` (kind lower-case)."""
    kind, _, name = key.partition("/")
    return [
        o
        for o in objects
        if str(o.get("kind", "")).lower() == kind and o["metadata"]["name"] == name
    ]


def digest(objects: Sequence[dict[str, Any]]) -> str:
    return "|".join(object_hash(o) for o in objects)


def hold_manual(
    rendered: Sequence[dict[str, Any]],
    owners: Mapping[str, str],
    last: Mapping[str, Objects],
    manual: Set[str],
    released: Set[str] = frozenset(),
    waiting: Set[str] = frozenset(),
    seen: Mapping[str, str] | None = None,
) -> ManualDecision:
    """Decide one pass.

    ``owners``: resource -> its workload ``kind/name``; ``last``: manual resource -> the
    objects last applied for it (absent until its first deploy, which is never held);
    ``released``: manual resources triggered since, whose new render goes out now;
    ``waiting``: resources held back for their dependsOn (not applied this pass at all);
    ``seen``: held resource -> digest of the render already reported as pending.
    """
    seen = seen or {}
    out = list(rendered)
    applied: dict[str, Objects] = {}
    held: dict[str, str] = {}
    for name in sorted(manual):
        if name in waiting:
            continue
        key = owners.get(name)
        new = tuple(objects_of(rendered, key)) if key else ()
        old = last.get(name)
        if old is None or name in released or digest(new) == digest(old):
            if key:  # (a resource the render no longer has has nothing to apply)
                applied[name] = new
            continue
        held[name] = digest(new)
        applied[name] = old
        out = _replaced(out, new, old)
    fresh = tuple(n for n in held if seen.get(n) != held[n])
    return ManualDecision(tuple(out), applied, held, fresh)


def _replaced(objects: list[dict[str, Any]], new: Objects, old: Objects) -> list[dict[str, Any]]:
    """``objects`` with ``new`` swapped for ``old`` where the first of ``new`` stood."""
    ids = {id(o) for o in new}
    at = next((i for i, o in enumerate(objects) if id(o) in ids), len(objects))
    kept = [o for o in objects[:at] if id(o) not in ids]
    return [*kept, *old, *(o for o in objects[at:] if id(o) not in ids)]


def describe(
    old: Sequence[dict[str, Any]],
    new: Sequence[dict[str, Any]],
    old_refs: Mapping[str, str],
    new_refs: Mapping[str, str],
) -> str:
    """What a held change is, for the log: "new image api", "manifest changed", or both."""
    old_text, new_text = _text(old), _text(new)
    images = sorted(
        n for n, ref in new_refs.items() if ref and ref in new_text and ref != old_refs.get(n)
    )
    parts = [f"new image {', '.join(images)}"] if images else []
    if _without_refs(old_text, old_refs) != _without_refs(new_text, new_refs):
        parts.append("manifest changed")
    return "; ".join(parts) or "changed"


def _text(objects: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(objects), sort_keys=True, default=str)


def _without_refs(text: str, refs: Mapping[str, str]) -> str:
    for name, ref in sorted(refs.items(), key=lambda kv: -len(kv[1])):
        if ref:
            text = text.replace(ref, f"<image {name}>")
    return text
