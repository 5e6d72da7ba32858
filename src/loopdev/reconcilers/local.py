"""The local-commands reconciler: starts each ``local:`` command once its dependencies are
ready, re-runs it when files under its ``deps`` change (or only when triggered, for
``trigger: manual``; like Tilt, a manual resource still runs once at start), and stops
every process group when the session ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from loopdev.config.model import LocalCommand
from loopdev.engine import actions as a
from loopdev.engine.reconciler import SessionContext
from loopdev.engine.scheduler import ready_to_start
from loopdev.engine.state import EngineState, ResourceStatus
from loopdev.local.deps import matching
from loopdev.local.runner import LocalRunner
from loopdev.redact import REDACTOR


class LocalReconciler:
    name = "local"

    def __init__(self, grace: float = 1.2) -> None:  # Ctrl-C must finish within 2 s
        self._grace = grace
        self.runners: dict[str, LocalRunner] = {}

    async def run(self, ctx: SessionContext) -> None:
        specs = dict(ctx.config.local)
        if not specs and ctx.options.once:
            return  # (in `up` a reloaded loopfile may add some)
        for spec in specs.values():  # secret-named env values never reach output
            REDACTOR.add_env(spec.env)
        inbox: asyncio.Queue[tuple[EngineState, Sequence[a.Action]]] = asyncio.Queue()
        ctx.store.subscribe(lambda state, batch: inbox.put_nowait((state, batch)))
        for spec in specs.values():
            if ctx.store.state.resource(spec.name) is None:
                ctx.store.dispatch(a.ResourceAdded(_status(spec)))
        self._handle(ctx, specs, ctx.store.state, ())
        try:
            while True:
                state, batch = await inbox.get()
                if any(isinstance(act, a.ConfigReloaded) for act in batch):
                    await self._reload(ctx, specs)
                    state = ctx.store.state
                self._handle(ctx, specs, state, batch)
        finally:
            await asyncio.shield(self.stop_all())

    async def _reload(self, ctx: SessionContext, specs: dict[str, LocalCommand]) -> None:
        """The loopfile changed: stop removed and edited commands (edited ones start again
        with their new spec), add new ones; the others keep running untouched."""
        new = dict(ctx.config.local)
        gone = [n for n in specs if n not in new or new[n] != specs[n]]
        runners = [self.runners.pop(n) for n in gone if n in self.runners]
        await asyncio.gather(*(r.stop() for r in runners), return_exceptions=True)
        for name in gone:
            if name not in new:
                ctx.store.dispatch(a.ResourceRemoved(name))
        for spec in new.values():
            REDACTOR.add_env(spec.env)
            if spec.name not in specs:
                ctx.store.dispatch(a.ResourceAdded(_status(spec)))
        specs.clear()
        specs.update(new)  # added ones start once their status is in (the next batch)

    async def stop_all(self) -> None:
        """Stop every runner concurrently, so shutdown takes one grace period, not N."""
        runners = list(self.runners.values())
        results = await asyncio.gather(*(r.stop() for r in runners), return_exceptions=True)
        for res in results:
            if isinstance(res, BaseException) and not isinstance(res, asyncio.CancelledError):
                raise res

    def _handle(
        self,
        ctx: SessionContext,
        specs: dict[str, LocalCommand],
        state: EngineState,
        batch: Sequence[a.Action],
    ) -> None:
        for act in batch:
            if isinstance(act, a.FilesChanged):
                self._files_changed(ctx, specs, state, act)
            elif isinstance(act, a.TriggerRequested) and act.name in specs:
                self._triggered(ctx, specs[act.name], state)
        for spec in specs.values():
            if spec.name not in self.runners and state.resource(spec.name) is not None:
                self._maybe_start(ctx, spec, state)

    def _maybe_start(self, ctx: SessionContext, spec: LocalCommand, state: EngineState) -> None:
        ok, why = ready_to_start(state, spec.name, spec.depends_on)
        res = state.resource(spec.name)
        if not ok:
            if res is not None and (res.state, res.reason) != ("waiting", why):
                ctx.store.dispatch(a.StateChanged(spec.name, "waiting", why))
            return
        name = spec.name

        def on_state(state_name: str, reason: str) -> None:
            ctx.store.dispatch(a.StateChanged(name, state_name, reason))

        def on_log(line: str) -> None:
            ctx.logs.append(name, line, source="local")

        runner = LocalRunner(spec, on_state=on_state, on_log=on_log, grace=self._grace)
        self.runners[spec.name] = runner
        if res is not None and res.pending_changes:  # the first run includes those changes
            ctx.store.dispatch(a.StatusPatched(spec.name, {"pending_changes": False}))
        runner.request_run()

    def _files_changed(
        self,
        ctx: SessionContext,
        specs: dict[str, LocalCommand],
        state: EngineState,
        act: a.FilesChanged,
    ) -> None:
        paths = act.changed | act.deleted
        for spec in specs.values():
            if not matching(paths, spec.deps, Path(spec.workdir)):
                continue
            runner = self.runners.get(spec.name)
            if spec.trigger == "manual":
                ctx.store.dispatch(a.StatusPatched(spec.name, {"pending_changes": True}))
                ctx.logs.append(spec.name, "changes pending: trigger to apply", source="loopdev")
            elif runner is not None:
                runner.request_run()

    def _triggered(self, ctx: SessionContext, spec: LocalCommand, state: EngineState) -> None:
        runner = self.runners.get(spec.name)
        if runner is None:
            _ok, why = ready_to_start(state, spec.name, spec.depends_on)
            ctx.logs.append(spec.name, f"trigger ignored: {why or 'not started'}")
            return
        ctx.store.dispatch(a.StatusPatched(spec.name, {"pending_changes": False}))
        runner.request_run()


def _status(spec: LocalCommand) -> ResourceStatus:
    return ResourceStatus(
        name=spec.name,
        kind="local",
        labels=tuple(spec.labels),
        depends_on=tuple(spec.depends_on),
    )
