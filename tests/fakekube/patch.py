"""Patch semantics: JSON merge, strategic merge (by merge key), JSON patch and server-side apply.

Strategic merge is approximated: lists of objects whose items carry a known merge key
(``name``, ``containerPort``, ``mountPath``...) merge item by item; other lists replace.
Server-side apply merges the applied config into the live object with the config winning
(``managed.py`` tracks ownership and prunes what a manager stopped applying).
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from .errors import ApiError

MERGE_KEYS = ("name", "containerPort", "mountPath", "devicePath", "ip", "port", "type")


def _merge_key(items: list[Any]) -> str | None:
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in MERGE_KEYS:
        if all(key in i for i in items):
            return key
    return None


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge(target: Any, patch: Any) -> Any:
    """Merge patch plus keyed merging of object lists and ``$patch: delete`` items."""
    if isinstance(patch, list) and isinstance(target, list):
        key = _merge_key(patch) if patch else None
        if key is None or _merge_key(target) not in (key, None):
            return [i for i in copy.deepcopy(patch) if not _is_delete(i)]
        out = copy.deepcopy(target)
        index = {item.get(key): n for n, item in enumerate(out)}
        for item in patch:
            if item.get(key) in index:
                pos = index[item[key]]
                if _is_delete(item):
                    out[pos] = None
                else:
                    out[pos] = strategic_merge(out[pos], item)
            elif not _is_delete(item):
                out.append(copy.deepcopy(item))
        return [i for i in out if i is not None]
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = strategic_merge(result.get(key), value)
    return result


def _is_delete(item: Any) -> bool:
    return isinstance(item, dict) and item.get("$patch") == "delete"


def json_patch(target: dict[str, Any], ops: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = jsonpatch.apply_patch(target, ops)
        return result
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise ApiError(
            422, "Invalid", f"the server rejected our request due to an error in our request: {exc}"
        ) from exc
