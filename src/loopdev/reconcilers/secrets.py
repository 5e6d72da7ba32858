"""Know every Secret value loopdev may print before anything is printed, and remember them.

The render registers the values it renders (``deploy.render_for``), but a pod may still run
an older value: one the cluster holds from before this session's first apply, or one from a
session before that. So, once per session and before the first apply and the first log line
(``ensure_secrets_known``): the fingerprints earlier sessions remembered are loaded and the
project's labelled Secrets in the namespace are listed, their values registered. After every
deploy pass the Secrets are listed again (cheap: one labelled list) and everything registered
so far is remembered for the next session (``redact_memory``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from loopdev.engine import actions as a
from loopdev.engine.reconciler import SessionContext
from loopdev.engine.state import EngineState
from loopdev.redact import REDACTOR
from loopdev.redact_memory import SecretMemory, memory_path
from loopdev.render.labels import project_selector

log = logging.getLogger(__name__)

FIRST_LIST_WAIT = 10.0  # seconds the first apply and log line wait for the first list at most
_TASK = "secrets.first"
_MEMORY = "secrets.memory"


async def ensure_secrets_known(ctx: SessionContext) -> None:
    """The first call starts the session's one initial load; every call waits for it (bounded:
    an unreachable cluster shows nothing anyway, and must not hold the session)."""
    task = ctx.shared.get(_TASK)
    if task is None:
        task = ctx.shared[_TASK] = asyncio.ensure_future(_first_load(ctx))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), FIRST_LIST_WAIT)


async def _first_load(ctx: SessionContext) -> None:
    memory = await asyncio.to_thread(SecretMemory.open, _path(ctx))
    memory.apply(REDACTOR)
    ctx.shared[_MEMORY] = memory
    await register_cluster_secrets(ctx)


def _path(ctx: SessionContext) -> Any:
    return memory_path(ctx.kube_context, ctx.namespace, ctx.config.name)


async def register_cluster_secrets(ctx: SessionContext) -> int:
    """Register the values of the project's labelled Secrets in every namespace it uses (a
    Helm release or a manifest may name its own); how many."""
    if ctx.kube is None:
        return 0
    found = 0
    for namespace in ctx.namespaces():
        try:
            items, _ = await ctx.kube.list(
                "v1", "Secret", namespace, project_selector(ctx.config.name)
            )
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - unreachable or forbidden: the render counts
            log.debug("listing Secrets in %s failed: %s", namespace, err)
            continue
        REDACTOR.add_manifests(items)
        found += len(items)
    return found


async def remember(ctx: SessionContext) -> None:
    """Save the fingerprints of everything registered so far (for the next session)."""
    memory = ctx.shared.get(_MEMORY)
    if isinstance(memory, SecretMemory) and memory.learn(REDACTOR.values()):
        try:
            await asyncio.to_thread(memory.save)
        except OSError as err:
            log.debug("cannot remember secret fingerprints: %s", err)


class SecretsReconciler:
    name = "secrets"

    def __init__(self) -> None:
        self._deployed = asyncio.Event()

    async def run(self, ctx: SessionContext) -> None:
        def on_actions(state: EngineState, batch: Sequence[a.Action]) -> None:
            if any(isinstance(act, a.DeployFinished) and not act.error for act in batch):
                self._deployed.set()

        ctx.store.subscribe(on_actions)
        await ensure_secrets_known(ctx)
        await remember(ctx)
        while True:
            await self._deployed.wait()
            self._deployed.clear()
            await register_cluster_secrets(ctx)
            await remember(ctx)
