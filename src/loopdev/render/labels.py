"""Ownership labels: how loopdev finds (and only ever prunes or deletes) its own objects."""

from __future__ import annotations

from typing import Any

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "loopdev"
PROJECT_LABEL = "loopdev.dev/project"
RESOURCE_LABEL = "loopdev.dev/resource"


def project_selector(name: str) -> str:
    """The label selector matching every object of project ``name``."""
    return f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{PROJECT_LABEL}={name}"


def ownership_labels(project: str) -> dict[str, str]:
    return {MANAGED_BY_LABEL: MANAGED_BY_VALUE, PROJECT_LABEL: project}


def add_labels(obj: dict[str, Any], labels: dict[str, str]) -> None:
    """Set ``labels`` on ``obj``'s metadata, creating ``metadata.labels`` when absent."""
    set_labels(obj.setdefault("metadata", {}), labels)


def set_labels(meta: dict[str, Any], labels: dict[str, str]) -> None:
    """Set ``labels`` in a metadata mapping (an object's or a pod template's)."""
    current = meta.get("labels")
    if not isinstance(current, dict):
        current = {}
        meta["labels"] = current
    current.update(labels)
