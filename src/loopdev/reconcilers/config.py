"""The config reconciler: reload the loopfile when it is saved during ``up``.

Tilt reloads its Tiltfile; so does loopdev: a saved edit is loaded like at start (schema,
profiles, checks), diffed with the running config (``engine.reload.diff_configs``), and
taken into use with one ``ConfigReloaded``: reconcilers re-plan what changed. An edit that
does not load is reported (``ConfigInvalid``: file:line and key, in the plain output and the
dashboard) and the last good config keeps running; the next good save clears it.
Values files, chart templates and manifests need no reload: each deploy re-reads them.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from loopdev.engine import actions as a
from loopdev.engine.reconciler import SessionContext
from loopdev.engine.reload import APPLY_CONFIG, diff_configs
from loopdev.errors import LoopdevError

log = logging.getLogger(__name__)


class ConfigReconciler:
    name = "config"

    async def run(self, ctx: SessionContext) -> None:
        if ctx.options.once or ctx.reload is None:
            return  # `ci` runs what it loaded
        from loopdev.adapters.watch import watch_paths

        path = ctx.config.path.resolve()
        wanted = str(path)
        try:
            async for _batch in watch_paths([], [str(path.parent)], lambda p: p == wanted):
                await self.reload(ctx)
        except LoopdevError as err:
            ctx.logs.append("loopdev", f"not watching {path.name}: {err.message}", "loopdev")

    async def reload(self, ctx: SessionContext) -> None:
        """Load the file again; take it into use, or say why not."""
        assert ctx.reload is not None
        path = Path(ctx.config.path)
        for _ in range(5):  # an editor's save may delete and re-create the file
            if path.exists():
                break
            await asyncio.sleep(0.05)
        else:
            self._invalid(ctx, f"{path}: deleted (restore it, or stop `loopdev up`)")
            return
        try:
            new = await asyncio.to_thread(ctx.reload)
        except LoopdevError as err:
            self._invalid(ctx, err.message)
            return
        except Exception as err:  # noqa: BLE001 - a reload never ends the session
            log.debug("reload failed", exc_info=True)
            self._invalid(ctx, f"{Path(ctx.config.path).name}: {type(err).__name__}: {err}")
            return
        diff = diff_configs(ctx.config, new)
        if diff.refused:
            self._invalid(ctx, f"{display(ctx)}: {diff.refused}")
            return
        if diff.empty and not ctx.store.state.config_error:
            return  # saved without a change that matters
        ctx.logs.append("loopdev", f"{display(ctx)} reloaded: {diff.summary()}", "loopdev")
        apply = ctx.shared.get(APPLY_CONFIG)
        if apply is not None:
            await apply(new, diff)  # the session stops and restarts what must start over
        else:
            ctx.config = new
            ctx.store.dispatch(a.ConfigReloaded(new, diff))

    def _invalid(self, ctx: SessionContext, message: str) -> None:
        """Shown by every presenter from the state (``config_error``), once per change."""
        ctx.store.dispatch(a.ConfigInvalid(message))


def display(ctx: SessionContext) -> str:
    return Path(ctx.config.path).name
