"""Bookkeeping for ``trigger: manual`` cluster resources, shared by the reconcilers that hold
their changes back.

Like Tilt's manual trigger mode, such a resource is built and deployed once at start; after
that its changes wait for a trigger. Two reconcilers hold different parts of them: the
live-update reconciler holds file changes (syncs and rebuilds), the deploy reconciler holds
rendered objects. The flag the user sees (``pending_changes``) is the union of both, kept
here so that one reconciler clearing its part never hides the other's.
"""

from __future__ import annotations

from typing import Literal

from loopdev.config.model import Loopfile
from loopdev.engine import actions as a
from loopdev.engine.reconciler import SessionContext
from loopdev.engine.store import Store

# ctx.shared keys
CONTROLLED = "manual_controlled"  # frozenset: manual resources applied at least once (deploy)
PENDING = "manual_pending"  # PendingChanges
LIVE_PLANS_TRIGGERS = "live_plans_triggers"  # True while the live-update reconciler runs

Source = Literal["files", "objects"]


def manual_resources(config: Loopfile) -> frozenset[str]:
    """Cluster resources declared ``trigger: manual`` in the loopfile."""
    return frozenset(n for n, r in config.resources.items() if r.trigger == "manual")


def under_manual_control(ctx: SessionContext) -> frozenset[str]:
    """Manual resources past their first deploy: their changes now wait for a trigger
    (before it they follow every change, so the first deploy has all of them)."""
    got = ctx.shared.get(CONTROLLED)
    return got if isinstance(got, frozenset) else frozenset()


def live_update_plans(ctx: SessionContext, act: a.TriggerRequested) -> bool:
    """Does the live-update reconciler carry out this trigger? A plain trigger of a manual
    resource that runs images of ours: only it knows the held file changes, so it decides
    between syncing them and rebuilding (and the build reconciler must not build on its own).
    A forced trigger is a rebuild, done by the build reconciler as for any resource."""
    spec = ctx.config.resources.get(act.name)
    return (
        spec is not None
        and spec.trigger == "manual"
        and not act.force_rebuild
        and ctx.shared.get(LIVE_PLANS_TRIGGERS) is True
        and bool(ctx.shared.get("resource_images", {}).get(act.name))
    )


class PendingChanges:
    """Which parts of the session hold unapplied changes for each manual resource."""

    def __init__(self) -> None:
        self._sources: dict[str, set[Source]] = {}

    def mark(self, store: Store, name: str, source: Source) -> None:
        held = self._sources.setdefault(name, set())
        if not held:
            store.dispatch(a.StatusPatched(name, {"pending_changes": True}))
        held.add(source)

    def clear(self, store: Store, name: str, source: Source) -> None:
        held = self._sources.get(name)
        if held and source in held:
            held.discard(source)
            if not held:
                store.dispatch(a.StatusPatched(name, {"pending_changes": False}))

    def holds(self, name: str, source: Source) -> bool:
        return source in self._sources.get(name, ())


def pending_changes(ctx: SessionContext) -> PendingChanges:
    """The session's one ``PendingChanges`` (created on first use)."""
    got = ctx.shared.get(PENDING)
    if not isinstance(got, PendingChanges):
        got = ctx.shared[PENDING] = PendingChanges()
    return got
