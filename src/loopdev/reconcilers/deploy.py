"""The deploy reconciler: render with the built references, apply what changed, prune.

Objects come only from ``loopdev.render.render_objects`` (what `loopdev render` prints).
One deploy runs at a time; requests during a deploy collapse into one more pass. An
unreachable cluster is retried with back-off; any other failure lands in the resources'
state and the session carries on. A ``trigger: manual`` resource keeps its last applied
objects until it is triggered (``deploy.manual``); the rest of a pass goes out as usual.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
import itertools
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from loopdev.config.namespaces import deploy_namespaces
from loopdev.deploy.apply import ApplyReport, apply_objects
from loopdev.deploy.diff import ObjectKey
from loopdev.deploy.manual import ManualDecision, Objects, describe, hold_manual, objects_of
from loopdev.deploy.watch import Backoff
from loopdev.engine import actions as a
from loopdev.engine.manual import CONTROLLED, manual_resources, pending_changes
from loopdev.engine.reconciler import SessionContext
from loopdev.engine.scheduler import blocked
from loopdev.engine.state import EngineState, ResourceStatus
from loopdev.errors import ClusterUnreachable, LoopdevError
from loopdev.reconcilers.secrets import ensure_secrets_known
from loopdev.redact import REDACTOR
from loopdev.render import render_objects
from loopdev.render.inputs import kustomize_dirs
from loopdev.render.resources import workload_resources


def render_for(ctx: SessionContext, refs: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The objects to apply now (blocking: run in a thread), with ``refs`` (default: the
    session's current image references).

    Secret values are registered with the redactor here, before anything can print them
    (container logs that echo a password included). A live session (not ``ci``, not
    ``--no-live``) wraps ``live.restart`` containers so a sync restarts them in place.
    """
    refs = dict(ctx.image_refs) if refs is None else refs
    processes = None
    notes: list[str] = []
    if ctx.options.live and not ctx.options.once:
        from loopdev.adapters.image_process import restart_processes

        docker = ctx.docker
        processes = restart_processes(ctx.config, refs, getattr(docker, "api", None))
    objects = render_objects(
        ctx.config,
        refs,
        set_values=ctx.options.set_values,
        values_files=tuple(Path(v) for v in ctx.options.values_files),
        processes=processes,
        notes=notes,
    )
    ctx.shared["render_notes"] = notes  # logged by the caller, on the event loop
    REDACTOR.add_manifests(objects)
    return objects


def images_of(objects: Sequence[dict[str, Any]], refs: dict[str, str]) -> set[str]:
    """Loopfile images whose built reference appears anywhere in these objects."""
    text = repr(objects)
    return {name for name, ref in refs.items() if ref and ref in text}


def source_trees(config: Any) -> list[Path]:
    """Directories the deploy source reads: the chart (or Helm chart) directory, or a
    kustomization and every local base, component and patch directory it references
    (an edit to ``../base`` must redeploy an overlay). Re-read on each call: cheap, and a
    kustomization that gains a base is followed at once."""
    source = config.deploy.source
    if source is None:
        return []
    if config.deploy.kind == "kustomize":
        return kustomize_dirs(source)
    return [r.chart for r in config.deploy.helm] or [source]


def touches_deploy(
    ctx: SessionContext, paths: Iterable[str], dirs: list[Path] | None = None
) -> bool:
    """Does a changed file feed the renderer (chart, manifests, values)? Then redeploy.

    ``dirs``: the source trees when the caller already has them (a per-event filter must not
    re-read kustomization files for every event)."""
    cfg = ctx.config
    if dirs is None:
        dirs = source_trees(cfg)
    files = {*cfg.deploy.values_files, *(Path(v) for v in ctx.options.values_files)}
    files |= {f for r in cfg.deploy.helm for f in r.values_files}
    files = {f if f.is_absolute() else cfg.root / f for f in files}
    for raw in paths:
        path = Path(raw)
        if path in files or any(path.is_relative_to(d) for d in dirs):
            return True
        if path.is_relative_to(cfg.root):
            rel = path.relative_to(cfg.root).as_posix()
            if any(fnmatch.fnmatch(rel, pattern) for pattern in cfg.deploy.manifests):
                return True
    return False


def deploy_inputs(ctx: SessionContext) -> tuple[list[str], list[str]]:
    """What to watch for redeploys: (trees watched whole, directories watched flat)."""
    cfg = ctx.config
    trees: set[Path] = set(source_trees(cfg))
    for pattern in cfg.deploy.manifests:
        parts = Path(pattern).parts
        static = [p for p in itertools.takewhile(lambda p: not set(p) & set("*?["), parts)]
        base = cfg.root.joinpath(*static)
        trees.add(base if base.is_dir() else base.parent)
    values = {*cfg.deploy.values_files, *(Path(v) for v in ctx.options.values_files)}
    flat = {(v if v.is_absolute() else cfg.root / v).parent for v in values}
    keep = sorted(str(t) for t in trees if t.is_dir())
    inside = [str(f) for f in flat if f.is_dir() and not any(f.is_relative_to(t) for t in trees)]
    return keep, sorted(inside)


def holds(
    ctx: SessionContext, state: EngineState, names: Iterable[str], started: set[str]
) -> dict[str, str]:
    """Workload resources not started yet whose dependsOn are not ready: name -> why."""
    deps = {
        n: spec.depends_on
        for n in names
        if n not in started and (spec := ctx.config.resources.get(n)) and spec.depends_on
    }
    return blocked(state, deps)


class DeployReconciler:
    name = "deploy"

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self.passes = 0
        self._started: set[str] = set()  # workload resources applied at least once
        self._held: dict[str, str] = {}  # resource -> the dependencies it waits for
        # trigger: manual resources, once applied: what they run, until triggered again
        self._last: dict[str, Objects] = {}  # the objects last applied for each
        self._last_refs: dict[str, dict[str, str]] = {}  # the image references those used
        self._seen: dict[str, str] = {}  # digest of the held render already reported
        self._released: set[str] = set()  # triggered: their next render goes out
        self._watcher: asyncio.Task[None] | None = None

    async def run(self, ctx: SessionContext) -> None:
        ctx.store.subscribe(lambda state, batch: self._on_actions(ctx, state, batch))
        for name in ctx.config.resources:  # shown at once; the rest appear after the render
            if ctx.store.state.resource(name) is None:
                status = _status(ctx, name, ())
                pending = dataclasses.replace(status, state="pending", reason="waiting for images")
                ctx.store.dispatch(a.ResourceAdded(pending))
        if not ctx.options.once:
            self._watcher = asyncio.get_running_loop().create_task(self._watch_inputs(ctx))
        try:
            await self._loop(ctx, Backoff(first=0.5, ceiling=10.0))
        finally:
            if self._watcher is not None:
                self._watcher.cancel()

    async def _watch_inputs(self, ctx: SessionContext) -> None:
        """Redeploy when the chart, manifests or values files change (own small watcher:
        the shared live-update watcher only covers image contexts and local deps)."""
        from loopdev.adapters.watch import watch_paths

        trees, flat = deploy_inputs(ctx)
        if not trees and not flat:
            return
        sources = source_trees(ctx.config)  # fixed for this watch, like its roots
        try:
            async for batch in watch_paths(
                trees, flat, lambda p: touches_deploy(ctx, [p], sources)
            ):
                if self.passes and (batch.added or batch.modified or batch.deleted):
                    self._wake.set()
        except LoopdevError as err:
            ctx.logs.append("deploy", f"not watching deploy files: {err.message}", "loopdev")

    async def _loop(self, ctx: SessionContext, backoff: Backoff) -> None:
        said = ""  # the unreachable cause last logged: say each cause once, not every retry
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.deploy_once(ctx)
                backoff.reset()
                said = ""
            except ClusterUnreachable as err:
                ctx.store.dispatch(a.ClusterReachability(False, err.message))
                self._mark_workloads(ctx, "cluster-unreachable", err.message)
                delay = backoff.next()
                if err.message != said:
                    every = f"up to every {backoff.ceiling:.0f}s"
                    ctx.logs.append("deploy", f"{err.message}; retrying with back-off ({every})")
                    said = err.message
                await asyncio.sleep(delay)
                self._wake.set()

    def _on_actions(
        self, ctx: SessionContext, state: EngineState, batch: Sequence[a.Action]
    ) -> None:
        if self._held and set(holds(ctx, state, self._held, self._started)) != set(self._held):
            self._wake.set()  # a dependency became ready (or failed): deploy what may start
        for act in batch:
            if (
                isinstance(act, a.TriggerRequested)
                and act.name in ctx.shared.get("workloads", {})
                and not ctx.shared.get("resource_images", {}).get(act.name)
            ):
                self._wake.set()  # a workload without images of ours: triggering re-applies
                self._release(act.name)
            if isinstance(act, a.ConfigReloaded):
                self._reloaded(ctx, act)
            if isinstance(act, a.ImagesBuilt):  # the builds a trigger asked for are done
                for name in act.triggered:
                    self._release(name)
            if isinstance(act, a.ImagesBuilt) or (
                isinstance(act, a.FilesChanged)
                and self.passes
                and touches_deploy(ctx, act.changed | act.deleted)
            ):
                self._wake.set()

    def _reloaded(self, ctx: SessionContext, act: a.ConfigReloaded) -> None:
        """The loopfile changed: watch the new deploy inputs, and render again, at once
        unless images changed too (then the build's ``ImagesBuilt`` brings the deploy)."""
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = asyncio.get_running_loop().create_task(self._watch_inputs(ctx))
        diff = act.diff
        if self.passes and not diff.images and (diff.deploy or diff.resources_changed):
            self._wake.set()

    def _say_notes(self, ctx: SessionContext) -> None:
        """What the render said about the restart wrapper: once per session, not per pass."""
        said = ctx.shared.setdefault("render_notes_said", set())
        for note in ctx.shared.get("render_notes") or ():
            if note not in said:
                said.add(note)
                ctx.logs.append("deploy", note, "loopdev")

    def _release(self, name: str) -> None:
        """A triggered manual resource: its next pass applies what it renders."""
        if name in self._last:
            self._released.add(name)

    async def deploy_once(self, ctx: SessionContext) -> ApplyReport | None:
        """One render + apply + prune pass; failures other than reachability land in state."""
        self.passes += 1
        refs = dict(ctx.image_refs)
        released = frozenset(self._released)  # triggers arriving during the pass wait for the next
        try:
            objects = await asyncio.to_thread(render_for, ctx, refs)
            self._say_notes(ctx)
            workloads = workload_resources(ctx.config, objects)
        except LoopdevError as err:
            self._fail(ctx, err.message)
            return None
        self._sync_resources(ctx, objects, workloads, refs)
        held = holds(ctx, ctx.store.state, workloads, self._started)
        held_keys = [ObjectKey.of(o) for n in held for o in objects_of(objects, workloads[n])]
        manual = hold_manual(
            objects,
            workloads,
            self._last,
            manual_resources(ctx.config),
            released,
            frozenset(held),
            self._seen,
        )
        namespaces = deploy_namespaces(ctx.config, objects, ctx.applied_namespaces)
        ctx.applied_namespaces = namespaces
        cluster = ctx.shared.get("cluster")
        if cluster is not None:
            cluster.add_namespaces(namespaces)
        await ensure_secrets_known(ctx)  # values the cluster holds now, before they change
        try:
            report = await apply_objects(
                ctx.kube,
                list(manual.objects),
                ctx.namespace,
                ctx.config.name,
                held=held_keys,
                others=namespaces,
            )
        except ClusterUnreachable:
            raise
        except LoopdevError as err:
            self._fail(ctx, err.message)
            return None
        ctx.store.dispatch(a.ClusterReachability(True))
        self._held = held
        for name, why in held.items():
            ctx.store.dispatch(a.StateChanged(name, "waiting", why))
        tracked = {n: key for n, key in workloads.items() if n not in held}
        self._started |= set(tracked)
        ctx.shared["tracked"] = tracked
        self._manual_done(ctx, objects, workloads, manual, refs, released)
        ctx.applied = {f"{o['kind']}/{o['metadata']['name']}": o for o in manual.objects}
        ctx.shared["deployed_at"] = {**ctx.shared.get("deployed_at", {}), **_times(report)}
        for line in _summary(report):
            ctx.logs.append("deploy", line, "loopdev")
        ctx.store.dispatch(a.DeployFinished(tuple(report.applied), tuple(report.pruned)))
        return report

    def _manual_done(
        self,
        ctx: SessionContext,
        objects: list[dict[str, Any]],
        workloads: dict[str, str],
        manual: ManualDecision,
        refs: dict[str, str],
        released: frozenset[str],
    ) -> None:
        """After a successful apply: remember what each manual resource now runs, say once
        per change what is held back, and clear the pending mark of those applied."""
        pending = pending_changes(ctx)
        for name in manual.applied:
            if name not in manual.held:
                self._last_refs[name] = refs
        for name in manual.fresh:
            new = objects_of(objects, workloads[name]) if name in workloads else []
            shown = ", ".join(f"{o['kind']}/{o['metadata']['name']}" for o in self._last[name])
            why = describe(self._last[name], new, self._last_refs.get(name, {}), refs)
            line = f"changes pending: {shown or name} ({why}); trigger to apply"
            ctx.logs.append(name, line, "loopdev")
        self._last = dict(manual.applied)
        self._seen = dict(manual.held)
        self._released -= released
        for name in self._last:
            if name in manual.held:
                pending.mark(ctx.store, name, "objects")
            else:
                pending.clear(ctx.store, name, "objects")
        ctx.shared[CONTROLLED] = frozenset(self._last)

    def _sync_resources(
        self,
        ctx: SessionContext,
        objects: list[dict[str, Any]],
        workloads: dict[str, str],
        refs: dict[str, str],
    ) -> None:
        """Add a workload resource per rendered workload; drop those no longer rendered."""
        old = ctx.shared.get("workloads", {})
        ctx.shared["workloads"] = workloads
        ctx.shared["resource_images"] = {
            name: tuple(sorted(images_of(objects_of(objects, key), refs)))
            for name, key in workloads.items()
        }
        state = ctx.store.state
        for name, key in workloads.items():
            shown = tuple(f"{o['kind']}/{o['metadata']['name']}" for o in objects_of(objects, key))
            current = state.resource(name)
            if current is None:
                ctx.store.dispatch(a.ResourceAdded(_status(ctx, name, shown)))
            elif current.state == "pending":  # declared in the loopfile, added before the render
                ctx.store.dispatch(a.StatusPatched(name, {"objects": shown}))
                ctx.store.dispatch(a.StateChanged(name, "deploying", "applying"))
        for name in old:
            if name not in workloads:
                ctx.store.dispatch(a.ResourceRemoved(name))

    def _fail(self, ctx: SessionContext, message: str) -> None:
        ctx.logs.append("deploy", f"deploy failed: {message}", "loopdev")
        self._mark_workloads(ctx, "error", message)
        ctx.store.dispatch(a.DeployFinished(error=message))

    def _mark_workloads(self, ctx: SessionContext, state: str, reason: str) -> None:
        for name in ctx.shared.get("workloads") or ctx.config.resources:
            ctx.store.dispatch(a.StateChanged(name, state, reason))


def _times(report: ApplyReport) -> dict[str, float]:
    now = time.monotonic()
    return {key.lower(): now for key in report.applied}


def _status(ctx: SessionContext, name: str, objects: tuple[str, ...]) -> ResourceStatus:
    spec = ctx.config.resources.get(name)
    return ResourceStatus(
        name=name,
        kind="workload",
        state="deploying",
        reason="applying",
        labels=spec.labels if spec else (),
        depends_on=spec.depends_on if spec else (),
        objects=objects,
    )


def _summary(report: ApplyReport) -> list[str]:
    lines = [f"applied {k}" for k in report.applied] + [f"pruned {k}" for k in report.pruned]
    if report.unchanged and not report.applied:
        lines.append(f"{len(report.unchanged)} objects unchanged")
    return lines


def current(state: EngineState) -> tuple[str, ...]:
    """Workload resource names in display order (for ci and tests)."""
    return tuple(n for n in state.order if (r := state.resource(n)) and r.kind == "workload")
