"""Which pod a forward targets, and which container port a name means (pure).

Why keep the current pod while it stays Ready: moving on every pod event would drop a
healthy target during a rolling update; moving as soon as it stops being Ready (or starts
terminating) is what makes a forward survive pod replacement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from loopdev.render.labels import PROJECT_LABEL, RESOURCE_LABEL

__all__ = ["PROJECT_LABEL", "RESOURCE_LABEL", "choose_pod", "is_ready", "resolve_port"]

Pod = Mapping[str, Any]


def of_resource(pods: Iterable[Pod], resource: str) -> list[Pod]:
    """The pods (of a project-wide list) that belong to ``resource``."""
    return [
        p
        for p in pods
        if ((p.get("metadata") or {}).get("labels") or {}).get(RESOURCE_LABEL) == resource
    ]


def selector(project: str, resource: str) -> str:
    """The label selector of a resource's pods."""
    return f"{PROJECT_LABEL}={project},{RESOURCE_LABEL}={resource}"


def is_ready(pod: Pod) -> bool:
    """Running, Ready condition True, and not being deleted."""
    meta = pod.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )


def choose_pod(pods: Iterable[Pod], current: str | None) -> Pod | None:
    """The pod to forward to: the current one while it is Ready, else the newest Ready pod."""
    ready = [p for p in pods if is_ready(p)]
    for pod in ready:
        if pod["metadata"]["name"] == current:
            return pod
    if not ready:
        return None
    return max(ready, key=lambda p: (_created(p), p["metadata"]["name"]))


def _created(pod: Pod) -> str:
    # RFC 3339 timestamps in UTC ("2024-05-01T10:00:00Z") sort correctly as strings.
    return str((pod.get("metadata") or {}).get("creationTimestamp") or "")


class PortNotFound(ValueError):
    """A named remote port that no container of the pod declares."""


def resolve_port(pod: Pod, remote: int | str) -> int:
    """A port number, or the ``containerPort`` of the named port in the pod spec."""
    if isinstance(remote, int):
        return remote
    if remote.isdigit():
        return int(remote)
    names: list[str] = []
    for container in _containers(pod):
        for port in container.get("ports") or ():
            if port.get("name") == remote:
                return int(port["containerPort"])
            if port.get("name"):
                names.append(str(port["name"]))
    valid = ", ".join(sorted(set(names))) or "none (the pod declares no named ports)"
    name = (pod.get("metadata") or {}).get("name", "?")
    raise PortNotFound(f"pod {name} has no container port named '{remote}'; named ports: {valid}")


def _containers(pod: Pod) -> Sequence[Mapping[str, Any]]:
    return list((pod.get("spec") or {}).get("containers") or ())
