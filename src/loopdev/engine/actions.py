"""Actions: facts in the past tense, or user commands. The reducer turns them into state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loopdev.engine.state import ResourceStatus


@dataclass(frozen=True)
class SessionStarted:
    project: str
    context: str
    namespace: str
    profiles: tuple[str, ...]


@dataclass(frozen=True)
class ResourceAdded:
    status: ResourceStatus


@dataclass(frozen=True)
class ResourceRemoved:
    name: str


@dataclass(frozen=True)
class StateChanged:
    """A resource moved to ``state`` because of ``reason``."""

    name: str
    state: str
    reason: str = ""


@dataclass(frozen=True)
class StatusPatched:
    """A reconciler updates fields it owns (e.g. pods_ready, build, forwards, last_update)."""

    name: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class ClusterReachability:
    reachable: bool
    reason: str = ""


@dataclass(frozen=True)
class FilesChanged:
    """A coalesced batch of file events (absolute paths)."""

    changed: frozenset[str]
    deleted: frozenset[str]


@dataclass(frozen=True)
class TriggerRequested:
    """A user command: run this resource's update now (manual trigger or forced rebuild)."""

    name: str
    force_rebuild: bool = False


@dataclass(frozen=True)
class ShutdownRequested:
    down: bool = False


@dataclass(frozen=True)
class RebuildRequested:
    """Rebuild these images (e.g. live update cannot apply a change), then redeploy."""

    images: tuple[str, ...]
    reason: str = ""
    # Manual resources whose trigger this serves: the deploy applies them once it is built
    # (with no images, once whatever build is running has finished).
    triggered: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImagesBuilt:
    """Builds finished: ``refs`` holds the reference of every image; the deploy follows."""

    refs: dict[str, str]
    built: tuple[str, ...] = ()  # images actually (re)built this time
    triggered: tuple[str, ...] = ()  # resources whose trigger asked for this build


@dataclass(frozen=True)
class DeployFinished:
    """An apply pass ended: what changed in the cluster ("Deployment/web"), or why it failed."""

    applied: tuple[str, ...] = ()
    pruned: tuple[str, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class ConfigReloaded:
    """The loopfile changed and loaded: ``config`` (a ``Loopfile``) replaces the running one;
    ``diff`` (an ``engine.reload.ConfigDiff``) says what to re-plan."""

    config: Any
    diff: Any


@dataclass(frozen=True)
class ConfigInvalid:
    """The loopfile changed but does not load (or cannot be applied while running): the last
    good config keeps running; ``message`` names file:line and key."""

    message: str


Action = (
    SessionStarted
    | ResourceAdded
    | ResourceRemoved
    | StateChanged
    | StatusPatched
    | ClusterReachability
    | FilesChanged
    | TriggerRequested
    | ShutdownRequested
    | RebuildRequested
    | ImagesBuilt
    | DeployFinished
    | ConfigReloaded
    | ConfigInvalid
)
