"""How a reconciler plugs into a running session.

A reconciler is a long-running coroutine that reads ``ctx.store.state``, reacts to actions
(through ``ctx.store.subscribe``), does its work in tasks or worker threads, and reports back
only by dispatching actions and appending log lines. A failure lands in the affected
resource's status; a reconciler never lets an exception end the session.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from loopdev.config.model import Loopfile
from loopdev.config.namespaces import deploy_namespaces
from loopdev.engine.logs import LogStore
from loopdev.engine.store import Store


@dataclass
class SessionOptions:
    live: bool = True  # False with `up --no-live`: every change rebuilds
    once: bool = False  # `loopdev ci`: run everything once, no watching
    set_values: tuple[str, ...] = ()  # --set a.b=c
    values_files: tuple[str, ...] = ()  # --values FILE


@dataclass
class SessionContext:
    """Everything a reconciler may use. Adapters are typed loosely here to keep this module
    free of SDK imports; each reconciler casts to the adapter protocol it needs."""

    config: Loopfile
    store: Store
    logs: LogStore
    kube_context: str
    namespace: str
    options: SessionOptions = field(default_factory=SessionOptions)
    kube: Any = None  # loopdev.adapters.kube client wrapper
    docker: Any = None  # loopdev.adapters.docker client wrapper
    # Filled in as the session goes: image name -> built reference; last applied objects.
    image_refs: dict[str, str] = field(default_factory=dict)
    applied: Mapping[str, Any] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)  # cross-reconciler handles by name
    # Every namespace this session applied into (set by the deploy reconciler).
    applied_namespaces: tuple[str, ...] = ()
    # Loads the loopfile again as the session first did (``up`` follows edits with it).
    reload: Callable[[], Loopfile] | None = None

    def namespaces(self) -> tuple[str, ...]:
        """The loopfile's namespaces, then those this session applied into (a manifest or
        chart may name its own): what syncs, Secrets and a closing `down` cover."""
        return deploy_namespaces(self.config, seen=self.applied_namespaces)


class Reconciler(Protocol):
    name: str

    async def run(self, ctx: SessionContext) -> None:
        """Run until cancelled. Must not raise for per-resource failures."""
        ...
