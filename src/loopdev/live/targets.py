"""Which containers a live update goes into: a pure selection over pod objects.

Only pods of this project (by our labels), not terminating, and within them only running
containers whose image is the reference injected for this image (matched by reference,
never by position), so a sidecar or another project's pod running the same image is never
touched. Running rather than Ready: the edit that fixes a failing readiness probe must be
able to reach the container it fixes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from loopdev.render.labels import PROJECT_LABEL, RESOURCE_LABEL


@dataclass(frozen=True)
class Target:
    namespace: str
    pod: str
    container: str
    pod_uid: str
    container_id: str  # changes when the container restarts (its filesystem is new)
    resource: str

    @property
    def key(self) -> str:
        return self.container_id or f"{self.pod_uid}/{self.container}"


def select_targets(pods: Iterable[dict[str, Any]], project: str, image_ref: str) -> list[Target]:
    """Every running container of this project that runs ``image_ref``, sorted by pod name."""
    out: list[Target] = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        if labels.get(PROJECT_LABEL) != project or meta.get("deletionTimestamp"):
            continue
        status = pod.get("status") or {}
        if status.get("phase") != "Running":
            continue
        running = {
            cs.get("name"): cs.get("containerID") or ""
            for cs in status.get("containerStatuses") or []
            if (cs.get("state") or {}).get("running") is not None
        }
        for c in (pod.get("spec") or {}).get("containers") or []:
            name = c.get("name")
            if c.get("image") == image_ref and name in running:
                out.append(
                    Target(
                        meta.get("namespace", ""),
                        meta.get("name", ""),
                        name,
                        meta.get("uid", ""),
                        running[name],
                        labels.get(RESOURCE_LABEL, ""),
                    )
                )
    return sorted(out, key=lambda t: (t.pod, t.container))
