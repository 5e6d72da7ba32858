"""Deterministic YAML output: the bytes ``loopdev render`` prints and writes.

Each object starts with ``apiVersion``, ``kind``, ``metadata``; other keys keep their
rendered order. Documents are separated by ``---``. Same objects, same bytes, on any
machine (no sorting by locale, no line folding, no dates, no flow style).
"""

from __future__ import annotations

import re
from typing import Any

from loopdev.render.yamlio import dump

_HEAD_KEYS = ("apiVersion", "kind", "metadata")
_UNSAFE = re.compile(r"[^a-z0-9._-]+")


def canonical(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with apiVersion, kind, metadata first, and name, namespace first in metadata."""
    head = {k: obj[k] for k in _HEAD_KEYS if k in obj}
    meta = head.get("metadata")
    if isinstance(meta, dict):
        first = {k: meta[k] for k in ("name", "namespace") if k in meta}
        head["metadata"] = {**first, **{k: v for k, v in meta.items() if k not in first}}
    return {**head, **{k: v for k, v in obj.items() if k not in head}}


def object_yaml(obj: dict[str, Any]) -> str:
    return dump(canonical(obj))


def to_yaml(objects: list[dict[str, Any]]) -> str:
    """All objects as one multi-document YAML stream."""
    return "---\n".join(object_yaml(obj) for obj in objects)


def object_filename(index: int, obj: dict[str, Any]) -> str:
    """``003-deployment-hello-web.yaml``: apply order, kind and name, filesystem-safe."""
    kind = _UNSAFE.sub("_", str(obj.get("kind", "object")).lower())
    name = _UNSAFE.sub("_", str(obj.get("metadata", {}).get("name", "unnamed")).lower())
    return f"{index:03d}-{kind}-{name}.yaml"
