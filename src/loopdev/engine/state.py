"""The one engine state: frozen plain data, replaced (never mutated) by the reducer.

Each reconciler owns some fields of a resource's status and changes them only by
dispatching actions; the TUI and output modes only read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

ResourceKind = Literal["image", "workload", "local"]

# Every state a resource can be in; the reason says why (shown next to it).
STATES = (
    "pending",
    "waiting",  # on dependencies or a manual trigger
    "building",
    "deploying",
    "updating",  # live update or rollout in progress
    "ready",
    "crashing",
    "image-error",
    "unschedulable",
    "probe-failing",
    "error",
    "cluster-unreachable",
    "stopped",
)
FAILED_STATES = frozenset({"crashing", "image-error", "unschedulable", "error"})


@dataclass(frozen=True)
class BuildInfo:
    ref: str = ""  # the image reference built or reused
    reused: bool = False
    duration: float = 0.0  # seconds
    step: str = ""  # current build step while building


@dataclass(frozen=True)
class ForwardInfo:
    local: int
    remote: int | str
    host: str = "127.0.0.1"
    state: str = "waiting for pod"  # "listening" | "waiting for pod" | "error: <cause>"
    listen_error: str = ""  # the local port cannot be bound (in use, ...): `ci` fails on it


@dataclass(frozen=True)
class ResourceStatus:
    name: str
    kind: ResourceKind
    state: str = "pending"
    reason: str = ""
    since: float = 0.0  # monotonic time of the last state change
    build: BuildInfo | None = None
    pods_ready: int = 0
    pods_total: int = 0
    restarts: int = 0
    stable_since: float | None = None  # wall clock: pods Ready and unrestarted since (status)
    forwards: tuple[ForwardInfo, ...] = ()
    last_update: str = ""  # "synced 3 files in 84 ms", "rebuilding: Dockerfile changed"
    pending_changes: bool = False  # manual-trigger resources with unapplied changes
    last_error: str = ""
    objects: tuple[str, ...] = ()  # "Deployment/api", ...
    labels: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()


def _empty() -> Mapping[str, ResourceStatus]:
    return MappingProxyType({})


@dataclass(frozen=True)
class EngineState:
    project: str = ""
    context: str = ""
    namespace: str = ""
    profiles: tuple[str, ...] = ()
    resources: Mapping[str, ResourceStatus] = field(default_factory=_empty)
    order: tuple[str, ...] = ()  # display order of resources
    cluster_reachable: bool = True
    unreachable_since: float = 0.0  # store clock when the cluster was last lost (0: reachable)
    unreachable_reason: str = ""  # the cause, as the failed call reported it
    config_error: str = ""  # why the edited loopfile is not in use (the last good one runs)
    config_reloads: int = 0  # loopfile edits taken into use this session
    version: int = 0  # bumped by every reduce; cheap change detection for views

    def resource(self, name: str) -> ResourceStatus | None:
        return self.resources.get(name)
