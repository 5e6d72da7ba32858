"""The build reconciler: builds every image at start, and again when asked, then hands the
references to the deploy (``ImagesBuilt``).

Requests that arrive while a build runs are merged into the next one, so a burst of
rebuild requests costs one build per image. A build a trigger asked for names the triggered
resources in its ``ImagesBuilt``, so the deploy applies a ``trigger: manual`` resource only
once the images it is to run exist.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from loopdev.build.progress import STEP_CHARS, step_of
from loopdev.engine import actions as a
from loopdev.engine.manual import live_update_plans, pending_changes, under_manual_control
from loopdev.engine.reconciler import SessionContext
from loopdev.engine.state import BuildInfo, EngineState, ResourceStatus
from loopdev.errors import LoopdevError

log = logging.getLogger(__name__)


class Builder(Protocol):
    async def build(
        self, names: Sequence[str] | None = None, force: bool = False
    ) -> dict[str, Any]:
        """``{image: BuildResult(image, ref, reused, duration)}``."""
        ...


BuilderFactory = Callable[[SessionContext], Any]  # returns a Builder (maybe awaitable)


async def default_builder(ctx: SessionContext) -> Builder:
    """ImageBuilder over the session's Docker adapter and the delivery the context calls for."""
    from loopdev.adapters.docker import DockerAdapter
    from loopdev.build.builder import ImageBuilder
    from loopdev.build.delivery import detect_delivery

    docker = ctx.docker or await DockerAdapter.connect()
    ctx.docker = docker
    server = getattr(getattr(ctx.kube, "target", None), "server", None)
    delivery = await detect_delivery(ctx.config, ctx.kube_context, server, ctx.kube, docker)
    return ImageBuilder(ctx.config, docker, delivery, on_log=_build_log_sink(ctx))


def _build_log_sink(ctx: SessionContext) -> Callable[[str, str], None]:
    def sink(image: str, line: str) -> None:
        ctx.logs.append(image, line, "build")
        step = step_of(line)
        if step is not None:
            res = ctx.store.state.resource(image)
            info = res.build if res is not None and res.build is not None else BuildInfo()
            ctx.store.dispatch(a.StatusPatched(image, {"build": _with_step(info, step)}))

    return sink


def _with_step(info: BuildInfo, step: str) -> BuildInfo:
    step = step[:STEP_CHARS]
    return BuildInfo(ref=info.ref, reused=info.reused, duration=info.duration, step=step)


def images_for(ctx: SessionContext, state: EngineState, act: a.Action) -> tuple[set[str], bool]:
    """Which images an action asks to (re)build, and whether to force it."""
    images = set(ctx.config.images)
    if isinstance(act, a.RebuildRequested):  # the digest decides: a reverted edit is reused
        return {i for i in act.images if i in images}, False
    if isinstance(act, a.TriggerRequested):
        if act.name in images:  # the user asked for this image: build it for real
            return {act.name}, True
        if live_update_plans(ctx, act):  # it asks for what the held changes need
            return set(), False
        used = ctx.shared.get("resource_images", {}).get(act.name, ())
        return {i for i in used if i in images}, act.force_rebuild
    return set(), False


def triggered_by(ctx: SessionContext, act: a.Action, names: set[str]) -> set[str]:
    """Resources whose trigger the build for this action serves (named in ``ImagesBuilt``).
    A rebuild request may name them with no image to build: the deploy then waits only for
    the build under way, if any."""
    if isinstance(act, a.RebuildRequested):
        return set(act.triggered)
    if isinstance(act, a.TriggerRequested) and names and act.name not in ctx.config.images:
        return {act.name}
    return set()


class BuildReconciler:
    name = "build"

    def __init__(self, factory: BuilderFactory | None = None) -> None:
        self._factory = factory or default_builder
        self._wanted: set[str] = set()
        self._force = False
        self._triggered: set[str] = set()
        self._wake = asyncio.Event()

    async def run(self, ctx: SessionContext) -> None:
        for image in ctx.config.images:
            if ctx.store.state.resource(image) is None:
                ctx.store.dispatch(a.ResourceAdded(ResourceStatus(name=image, kind="image")))
        ctx.store.subscribe(lambda state, batch: self._on_actions(ctx, state, batch))
        if not ctx.config.images:
            ctx.store.dispatch(a.ImagesBuilt({}, ()))
            return
        try:
            builder = await _maybe_await(self._factory(ctx))
        except LoopdevError as err:
            for image in ctx.config.images:
                ctx.store.dispatch(a.StateChanged(image, "error", err.message))
            return
        self._wanted, self._wake = set(ctx.config.images), asyncio.Event()
        self._wake.set()
        while True:
            await self._wake.wait()
            self._wake.clear()
            names, force, triggered = sorted(self._wanted), self._force, self._triggered
            self._wanted, self._force, self._triggered = set(), False, set()
            await self._build(ctx, builder, names, force, tuple(sorted(triggered)))

    def _on_actions(
        self, ctx: SessionContext, state: EngineState, batch: Sequence[a.Action]
    ) -> None:
        for act in batch:
            names, force = images_for(ctx, state, act)
            triggered = triggered_by(ctx, act, names)
            if names or triggered:
                self._wanted |= names
                self._force = self._force or force
                self._triggered |= triggered
                self._wake.set()

    async def _build(
        self,
        ctx: SessionContext,
        builder: Builder,
        names: list[str],
        force: bool,
        triggered: tuple[str, ...] = (),
    ) -> None:
        for name in names:
            ctx.store.dispatch(a.StateChanged(name, "building", "forced" if force else ""))
        try:
            results = await builder.build(names, force=force) if names else {}
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - a failed build lands in the image's status
            message = getattr(err, "message", None) or f"{type(err).__name__}: {err}"
            for name in names:
                ctx.store.dispatch(a.StateChanged(name, "error", message))
                ctx.logs.append(name, f"build failed: {message}", "loopdev")
            for name in set(triggered) & under_manual_control(ctx):  # still not applied
                pending_changes(ctx).mark(ctx.store, name, "files")
                ctx.logs.append(name, "trigger not applied: the build failed", "loopdev")
            return
        built = []
        for name, res in results.items():
            info = BuildInfo(ref=res.ref, reused=res.reused, duration=res.duration)
            ctx.store.dispatch(a.StatusPatched(name, {"build": info}))
            how = "reused" if res.reused else f"built in {res.duration:.1f}s"
            ctx.store.dispatch(a.StateChanged(name, "ready", how))
            ctx.image_refs[name] = res.ref
            if not res.reused:
                built.append(name)
        if all(i in ctx.image_refs for i in ctx.config.images):
            refs = dict(ctx.image_refs)
            ctx.store.dispatch(a.ImagesBuilt(refs, tuple(sorted(built)), triggered))


async def _maybe_await(value: Any) -> Any:
    return await value if asyncio.iscoroutine(value) else value
