"""managedFields and server-side-apply conflicts, the way a real API server tracks them.

Field sets use the FieldsV1 shape (``f:<field>``, ``k:{<merge key json>}``, ``.``). Lists
whose items carry a known merge key are associative (items tracked one by one); other lists
and the maps the real schemas mark atomic (label selectors) are tracked as one leaf. An apply
conflicts where another manager owns a leaf the config sets to a different value than the live
object holds (so an unchanged ``stringData`` conflicts too: the live object has none, as on a
real server, kubectl#30). ``force=true`` takes the leaf over instead.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ApiError
from .store import now_iso

Obj = dict[str, Any]
Path = tuple[str, ...]
# list field -> the item fields forming its key (what the real schemas' listMapKeys say)
LIST_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "volumes": ("name",),
    "env": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "imagePullSecrets": ("name",),
    "conditions": ("type",),
    "hostAliases": ("ip",),
    "ownerReferences": ("uid",),
}
PORT_KEYS = {"containerPort": ("containerPort", "protocol"), "port": ("port", "protocol")}
ATOMIC_MAPS = {"selector", "nodeSelector", "podSelector", "namespaceSelector", "labelSelector"}
UNTRACKED_TOP = {"apiVersion", "kind", "status"}
TRACKED_META = {"labels", "annotations", "finalizers", "ownerReferences"}


def _item_key(field: str, item: Any) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        return None
    keys = LIST_KEYS.get(field)
    if keys is None and field == "ports":
        keys = next((k for probe, k in PORT_KEYS.items() if probe in item), None)
    if keys is None or keys[0] not in item:
        return None
    out = {k: item[k] for k in keys if k in item}
    if "protocol" in keys:
        out.setdefault("protocol", "TCP")  # the defaulted key, as in kubectl#8's managedFields
    return out


def _k(key: dict[str, Any]) -> str:
    return "k:" + json.dumps(key, separators=(",", ":"), sort_keys=False)


def leaves(obj: Obj) -> dict[Path, Any]:
    """Every tracked leaf path of an object (or apply config) with its value."""
    out: dict[Path, Any] = {}
    for key, value in obj.items():
        if key in UNTRACKED_TOP:
            continue
        if key == "metadata" and isinstance(value, dict):
            for mkey in TRACKED_META & value.keys():
                _walk(mkey, value[mkey], ("f:metadata",), out)
            continue
        _walk(key, value, (), out)
    return out


def _walk(field: str, value: Any, base: Path, out: dict[Path, Any]) -> None:
    path = (*base, f"f:{field}")
    if isinstance(value, dict) and value and field not in ATOMIC_MAPS:
        for sub, subval in value.items():
            _walk(sub, subval, path, out)
        return
    if isinstance(value, list) and value and all(_item_key(field, i) for i in value):
        for item in value:
            key = _item_key(field, item)
            assert key is not None
            ipath = (*path, _k(key))
            out[(*ipath, ".")] = True
            for sub, subval in item.items():
                _walk(sub, subval, ipath, out)
        return
    out[path] = value


def value_at(obj: Any, path: Path) -> Any:
    """The live value at a leaf path, or a sentinel when absent."""
    cur = obj
    for seg in path:
        if seg == ".":
            return True
        if seg.startswith("f:"):
            if not isinstance(cur, dict) or seg[2:] not in cur:
                return _MISSING
            cur = cur[seg[2:]]
        else:
            want = json.loads(seg[2:])
            if not isinstance(cur, list):
                return _MISSING
            match = [
                i
                for i in cur
                if isinstance(i, dict)
                and all(i.get(k, "TCP" if k == "protocol" else None) == v for k, v in want.items())
            ]
            if not match:
                return _MISSING
            cur = match[0]
    return cur


_MISSING = object()


def to_fields(paths: set[Path]) -> Obj:
    tree: Obj = {}
    for path in sorted(paths):
        node = tree
        for seg in path:
            node = node.setdefault(seg, {})
    return tree


def from_fields(tree: Obj, base: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for seg, sub in tree.items():
        if isinstance(sub, dict) and sub:
            out |= from_fields(sub, (*base, seg))
        else:
            out.add((*base, seg))
    return out


def _entry(manager: str, operation: str, api_version: str, paths: set[Path]) -> Obj:
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now_iso(),
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields(paths),
    }


def _owned(entries: list[Obj]) -> list[tuple[Obj, set[Path]]]:
    return [(e, from_fields(e.get("fieldsV1") or {})) for e in entries]


def _conflict_error(conflicts: list[tuple[Obj, Path]]) -> ApiError:
    def who(e: Obj) -> str:
        name = f'conflict with "{e["manager"]}"'
        return name if e.get("operation") == "Apply" else f"{name} using {e.get('apiVersion')}"

    def dotted(path: Path) -> str:
        out = ""
        for seg in path:
            if seg.startswith("f:"):
                out += "." + seg[2:]
            elif seg.startswith("k:"):
                key = json.loads(seg[2:])
                out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in key.items()) + "]"
        return out

    causes = [
        {"reason": "FieldManagerConflict", "message": who(e), "field": dotted(p)}
        for e, p in conflicts
    ]
    if len(causes) == 1:
        head = f"Apply failed with 1 conflict: {causes[0]['message']}: {causes[0]['field']}"
    else:
        lines = "\n".join(f"- {c['message']}: {c['field']}" for c in causes)
        head = f"Apply failed with {len(causes)} conflicts: {lines}"
    return ApiError(409, "Conflict", head, {"causes": causes})


def apply_fields(
    live: Obj | None, config: Obj, manager: str, api_version: str, force: bool
) -> tuple[list[Obj], set[Path]]:
    """New managedFields after ``manager`` applies ``config``; 409 on conflicts unless forced.

    Also the paths to remove from the object: what this manager applied before, applies no
    more, and no other manager owns (a real server prunes exactly those)."""
    entries = list(((live or {}).get("metadata") or {}).get("managedFields") or [])
    cfg = leaves(config)
    mine = set(cfg)
    conflicts: list[tuple[Obj, Path]] = []
    if live is not None:
        for entry, paths in _owned(entries):
            if entry["manager"] == manager and entry.get("operation") == "Apply":
                continue
            for path in sorted(mine & paths):
                if path[-1] != "." and value_at(live, path) != cfg[path]:
                    conflicts.append((entry, path))
    if conflicts and not force:
        raise _conflict_error(conflicts)
    taken = {p for _, p in conflicts}
    out: list[Obj] = []
    previous = None
    for entry, paths in _owned(entries):
        if entry["manager"] == manager and entry.get("operation") == "Apply":
            previous = entry
            continue
        left = paths - taken
        if left != paths:
            entry = dict(entry, fieldsV1=to_fields(left))
        if left:
            out.append(entry)
    before = from_fields(previous.get("fieldsV1") or {}) if previous is not None else set()
    others = set().union(*(from_fields(e.get("fieldsV1") or {}) for e in out))
    removed = before - mine - others
    if previous is not None and before == mine:
        mine_entry = previous
    else:
        mine_entry = _entry(manager, "Apply", api_version, mine)
    return ([mine_entry, *out] if mine else out), removed


def prune(obj: Obj, removed: set[Path]) -> None:
    """Delete the given leaf paths (and list items whose ``.`` is given) from ``obj``."""
    # whole list items first (their key fields are among the leaves), then deepest leaves
    for path in sorted(removed, key=lambda p: (p[-1] != ".", -len(p))):
        if path[-1] == ".":
            items = value_at(obj, path[:-2])
            item = value_at(obj, path[:-1])
            if isinstance(items, list) and item is not _MISSING:
                items[:] = [i for i in items if i is not item]
            continue
        parent = value_at(obj, path[:-1]) if len(path) > 1 else obj
        if isinstance(parent, dict) and path[-1].startswith("f:"):
            parent.pop(path[-1][2:], None)


def update_fields(old: Obj | None, new: Obj, manager: str, api_version: str) -> list[Obj]:
    """New managedFields after a create/PUT/PATCH by ``manager``: it owns what it changed."""
    entries = list(((old or {}).get("metadata") or {}).get("managedFields") or [])
    before = leaves(old) if old is not None else {}
    after = leaves(new)
    changed = {p for p, v in after.items() if before.get(p, _MISSING) != v}
    gone = set(before) - set(after)
    if not changed and not gone:
        return entries
    out: list[Obj] = []
    mine: set[Path] = set(changed)
    for entry, paths in _owned(entries):
        if entry["manager"] == manager and entry.get("operation") == "Update":
            mine |= paths - gone
            continue
        left = paths - changed - gone
        if left != paths:
            entry = dict(entry, fieldsV1=to_fields(left))
        if left:
            out.append(entry)
    return [*out, _entry(manager, "Update", api_version, mine)] if mine else out


def default_manager(user_agent: str) -> str:
    """The real default: the User-Agent up to its first '/' (e.g. ``kubectl``)."""
    return (user_agent or "unknown").split("/", 1)[0][:128] or "unknown"
