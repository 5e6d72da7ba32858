"""JSON-patch profiles (Skaffold's ``patches``): RFC 6902 operations over the merged document.

A profile's overlay merges first, then its ``patches`` apply in order. The patching itself is
the ``jsonpatch`` library's; this module only decides which paths a patch may touch and words
its failures at the line of the failing operation.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import jsonpatch
import jsonpointer

from loopdev.config.problems import Path_, Problems
from loopdev.config.source import Marks

# Keys a profile may not change by overlay either (checked there by the schema).
_FIXED = ("version", "name", "profiles")


def apply_patches(
    data: dict[str, Any], marks: Marks, profile: str, patches: Sequence[Any], problems: Problems
) -> tuple[dict[str, Any], Marks]:
    """``data`` with each operation of ``patches`` applied, and marks for what they set.

    A failing operation is reported at its ``path`` and the ones after it are skipped (they
    were written against the document the failed one would have made).
    """
    result = copy.deepcopy(data)
    for i, op in enumerate(patches):
        where: Path_ = ("profiles", profile, "patches", i)
        if not isinstance(op, dict):  # malformed: already reported by the schema check
            return result, marks
        reason = _refused(op)
        if reason is None:
            try:
                result = jsonpatch.apply_patch(result, [op])
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as err:
                reason = _worded(op, result, err)
        if reason is not None:
            key = "from" if reason.startswith("from ") else "path"
            problems.add_at(marks.value_at((*where, key)), (*where, key), reason)
            return result, marks
        if "value" in op and op.get("op") in ("add", "replace"):
            target = _landed_path(op["path"], result)
            marks = marks.overlay(marks, (*where, "value"), target)
    return result, marks


def _refused(op: dict[str, Any]) -> str | None:
    """Why loopdev refuses an operation before trying it (the schema cannot say which
    members each op needs; jsonpatch's own wording names no fix)."""
    kind = op.get("op")
    if kind in ("add", "replace", "test") and "value" not in op:
        return f"{kind} needs a value, expected {{op: {kind}, path: ..., value: ...}}"
    if kind in ("move", "copy") and "from" not in op:
        return f"{kind} needs a from, expected {{op: {kind}, from: /source, path: /target}}"
    for key in ("path", "from"):
        pointer = op.get(key)
        if not isinstance(pointer, str):
            continue
        parts = jsonpointer.JsonPointer(pointer).parts if pointer else []
        if not parts or parts[0] in _FIXED:
            shown = pointer or "'' (the whole document)"
            return (
                f"{key + ' ' if key == 'from' else ''}{shown!r} may not be patched, expected a "
                f"path below a top-level key other than {', '.join(_FIXED)}"
            )
    return None


def _worded(op: dict[str, Any], doc: Any, err: Exception) -> str:
    """One line saying what failed and what would work (never jsonpatch's own text: it
    prints the document, and the document may hold secret values)."""
    kind = op.get("op")
    if isinstance(err, jsonpatch.JsonPatchTestFailed):
        return f"test of {op.get('path')!r} failed: the value there differs from the one given"
    key = "from" if kind in ("move", "copy") and _missing(op["from"], doc, False) else "path"
    pointer = str(op[key])
    gap = _missing(pointer, doc, kind == "add" and key == "path")
    prefix = "from " if key == "from" else ""
    return f"{prefix}{pointer!r} {gap or 'cannot be patched'}, expected " + (
        "an existing parent mapping, or a list index up to its length ('-' appends)"
        if kind == "add" and key == "path"
        else "a path to an existing key or list item"
    )


def _missing(pointer: str, doc: Any, parent_only: bool) -> str | None:
    """What part of ``pointer`` does not exist in ``doc`` (None when it all does)."""
    parts = jsonpointer.JsonPointer(pointer).parts
    node = doc
    for depth, raw in enumerate(parts):
        last = depth == len(parts) - 1
        here = "/" + "/".join(parts[:depth]) if depth else "the top level"
        if isinstance(node, dict):
            if raw not in node:
                if last and parent_only:
                    return None
                keys = ", ".join(repr(k) for k in sorted(node)[:8]) or "no keys"
                return f"does not exist: {here} has no {raw!r} (it has {keys})"
            node = node[raw]
        elif isinstance(node, list):
            limit = len(node) if last and parent_only else len(node) - 1
            if raw == "-" and last and parent_only:
                return None
            if not raw.isdigit() or int(raw) > limit:
                return f"does not exist: {here} is a list of {len(node)} (index {raw!r})"
            node = node[int(raw)] if int(raw) < len(node) else None
        else:
            return f"does not exist: {here} is not a mapping or list"
    return None


def _landed_path(pointer: str, doc: Any) -> Path_:
    """The path a patch's value now sits at (``-`` resolved to the list's last index)."""
    parts: list[str | int] = []
    node = doc
    for raw in jsonpointer.JsonPointer(pointer).parts:
        if isinstance(node, list):
            index = len(node) - 1 if raw == "-" else int(raw)
            parts.append(index)
            node = node[index] if 0 <= index < len(node) else None
        else:
            parts.append(raw)
            node = node.get(raw) if isinstance(node, dict) else None
    return tuple(parts)
