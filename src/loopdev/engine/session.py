"""A running session: the store, the shared cluster watch and every reconciler, together.

``up`` runs a session until Ctrl-C; ``ci`` runs it until every resource is ready, one fails,
or time runs out. Reconcilers are listed once in ``RECONCILERS`` ("module:Class", built with
no arguments); a listed module that does not exist yet is skipped, so adding a reconciler is
one line. The presenter (plain lines, JSON, the dashboard) is passed in and only reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from loopdev.config.model import Loopfile
from loopdev.config.namespaces import used_namespaces
from loopdev.deploy.status import settled
from loopdev.deploy.watch import ClusterWatch
from loopdev.engine import actions as a
from loopdev.engine.logs import LogStore
from loopdev.engine.reconciler import Reconciler, SessionContext, SessionOptions
from loopdev.engine.reload import APPLY_CONFIG, ConfigDiff
from loopdev.engine.state import FAILED_STATES, EngineState
from loopdev.engine.store import OWNER, Store
from loopdev.errors import LoopdevError
from loopdev.render.labels import project_selector

log = logging.getLogger(__name__)

RECONCILERS: list[str] = [
    "loopdev.reconcilers.secrets:SecretsReconciler",
    "loopdev.reconcilers.build:BuildReconciler",
    "loopdev.reconcilers.deploy:DeployReconciler",
    "loopdev.reconcilers.status:StatusReconciler",
    "loopdev.reconcilers.logs:LogsReconciler",
    "loopdev.reconcilers.live_update:LiveUpdateReconciler",
    "loopdev.reconcilers.portforward:PortForwardReconciler",
    "loopdev.reconcilers.local:LocalReconciler",
    "loopdev.engine.control:ControlReconciler",
    "loopdev.reconcilers.config:ConfigReconciler",
]


class Presenter(Protocol):
    def attach(self, store: Store, logs: LogStore) -> None: ...


def load_reconcilers(paths: Sequence[str] = ()) -> list[Reconciler]:
    """Instantiate each "module:Class"; skip only modules that have not landed."""
    out: list[Reconciler] = []
    for path in paths or RECONCILERS:
        module_name, _, attr = path.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name == module_name:
                log.debug("reconciler %s is not available", module_name)
                continue
            raise
        out.append(getattr(module, attr)())
    return out


@dataclass(frozen=True)
class Verdict:
    ok: bool
    resource: str = ""  # the failing resource ("deploy" when the deploy itself failed)
    reason: str = ""


def ci_verdict(
    state: EngineState,
    deployed: bool,
    deploy_error: str = "",
    now: float = 0.0,
    settle: float = 0.0,
    wall: float = 0.0,
    applied: frozenset[str] = frozenset(),
    unreachable_grace: float | None = None,
) -> Verdict | None:
    """ok when every resource has stayed ready for ``settle`` seconds after a deploy (a
    container that exits at once is briefly Ready); failed on the first failed resource.

    A workload this run did not apply (``applied``: resources whose objects it wrote) is
    judged by its pods' own timestamps (``stable_since`` against ``wall``, the same clock):
    pods Ready since well before this run need no wait. Others are timed here (``now`` -
    ``since``, monotonic): right after an apply the watch may still show the old, ready
    objects. Built images have nothing that runs, so nothing to wait for.

    A cluster lost for ``unreachable_grace`` seconds (store clock, as ``now``) fails the
    run with the cause: a blip is ridden out, a cluster that went away does not cost the
    whole ``--timeout``."""
    if unreachable_grace is not None and not state.cluster_reachable:
        if now - state.unreachable_since < unreachable_grace:
            return None  # what the state shows may be stale: no verdict yet
        why = state.unreachable_reason or "no answer"
        return Verdict(False, "cluster", f"unreachable for {unreachable_grace:g}s: {why}")
    for name in state.order:
        res = state.resource(name)
        if res is not None and res.state in FAILED_STATES:
            return Verdict(False, name, f"{res.state}: {res.reason}")
        for fwd in res.forwards if res is not None else ():
            if fwd.listen_error:  # a forward `ci` promised cannot work: fail, do not wait
                return Verdict(
                    False, name, f"port-forward {fwd.host}:{fwd.local}: {fwd.listen_error}"
                )
    if deploy_error:
        return Verdict(False, "deploy", deploy_error)
    if not deployed:
        return None
    before, waited = [], []
    for name in state.order:
        res = state.resource(name)
        if res is None or res.state != "ready":
            return None
        if res.kind == "image":
            continue
        if res.kind == "workload" and name not in applied:
            if settled(res.stable_since, wall, settle):
                before.append(name)
                continue
        if now - res.since < settle:
            return None
        waited.append(name)
    parts = [f"ready {settle:g}s+ by the pods' own clock: {', '.join(before)}"] if before else []
    parts += [f"stayed ready {settle:g}s: {', '.join(waited)}"] if waited else []
    return Verdict(True, reason="; ".join(parts))


class Session:
    """Everything one `loopdev up`/`ci` runs; start it, then wait or stop it."""

    def __init__(
        self,
        config: Loopfile,
        kube: Any,
        kube_context: str,
        *,
        options: SessionOptions | None = None,
        docker: Any = None,
        reconcilers: Sequence[Reconciler] | None = None,
        presenter: Presenter | None = None,
        store: Store | None = None,
        logs: LogStore | None = None,
        reload: Callable[[], Loopfile] | None = None,
    ) -> None:
        self.store = store or Store()
        self.logs = logs or LogStore()
        self.ctx = SessionContext(
            config=config,
            store=self.store,
            logs=self.logs,
            kube_context=kube_context,
            namespace=config.namespace,
            options=options or SessionOptions(),
            kube=kube,
            docker=docker,
            reload=reload or _reload_from(config),
        )
        self.watch = ClusterWatch(kube, used_namespaces(config), project_selector(config.name))
        self.ctx.shared["cluster"] = self.watch
        self.reconcilers = list(reconcilers) if reconcilers is not None else load_reconcilers()
        self.presenter = presenter
        self._tasks: list[asyncio.Task[None]] = []
        self._by_name: dict[str, tuple[Reconciler, asyncio.Task[None]]] = {}
        self._reload_lock = asyncio.Lock()
        self._deployed = False
        self._deploy_error = ""
        self._changed = asyncio.Event()
        self.settle = 2.0  # seconds every resource must stay ready before `ci` says ok
        self.unreachable_grace = 20.0  # seconds `ci` rides out a lost cluster before failing
        self.shutdown: a.ShutdownRequested | None = None  # set when something asked to stop
        self._shutdown_event = asyncio.Event()

    async def start(self) -> None:
        if self.presenter is not None:
            self.presenter.attach(self.store, self.logs)
        self.store.subscribe(self._observe)
        cfg = self.ctx.config
        self.store.dispatch(
            a.SessionStarted(cfg.name, self.ctx.kube_context, cfg.namespace, cfg.active_profiles)
        )
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._guard("store", self.store.run()), name="store"))
        self._tasks.append(loop.create_task(self._guard("watch", self.watch.run()), name="watch"))
        for rec in self.reconcilers:
            self._launch(rec)
        self.ctx.shared[APPLY_CONFIG] = self.apply_config

    def _launch(self, rec: Reconciler) -> None:
        name = getattr(rec, "name", type(rec).__name__)
        task = asyncio.get_running_loop().create_task(self._owned(name, rec), name=name)
        self._tasks.append(task)
        self._by_name[name] = (rec, task)

    async def _owned(self, name: str, rec: Reconciler) -> None:
        OWNER.set(name)  # this task's context: what it (and its tasks) subscribe is its own
        await self._guard(name, rec.run(self.ctx))

    async def apply_config(self, new: Loopfile, diff: ConfigDiff) -> None:
        """Take a reloaded loopfile into use. The reconcilers that read their part of the
        config only at start (``ConfigDiff.restarts``) are stopped first, so none of them
        ever sees the new config with its old plan; the rest follow ``ConfigReloaded``."""
        async with self._reload_lock:
            stopped: list[Reconciler] = []
            for name in sorted(diff.restarts()):
                found = self._by_name.get(name)
                if found is None:
                    continue
                rec, task = found
                task.cancel()
                await asyncio.wait([task], timeout=3.0)
                self._tasks.remove(task)
                self.store.unsubscribe_owner(name)
                self.ctx.shared.get("crashed", {}).pop(name, None)
                stopped.append(rec)
            self.ctx.config = new
            self.store.dispatch(a.ConfigReloaded(new, diff))
            apply_reload(self.ctx, diff)
            for rec in stopped:
                self._launch(rec)  # its run() starts over from the new config

    async def _guard(self, name: str, coro: Any) -> None:
        """A reconciler that dies is reported, never allowed to end the session."""
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - report and carry on
            log.debug("reconciler %s failed", name, exc_info=True)
            message = getattr(err, "message", None) or f"{type(err).__name__}: {err}"
            self.logs.append("loopdev", f"{name} stopped: {message}", "loopdev")
            self.ctx.shared.setdefault("crashed", {})[name] = message
            self._changed.set()
            if name == "store":  # nothing moves without it: end the session
                self._shutdown_event.set()

    def _observe(self, state: EngineState, batch: Sequence[a.Action]) -> None:
        for act in batch:
            if isinstance(act, a.ShutdownRequested):
                self.shutdown = act
                self._shutdown_event.set()
            if isinstance(act, a.DeployFinished):
                self._deployed = self._deployed or not act.error
                self._deploy_error = act.error if not self._deployed else ""
        self._changed.set()

    async def stop(self, grace: float = 3.0) -> None:
        """Cancel everything (reconcilers clean up their processes and forwards)."""
        for task in reversed(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace)
        self._tasks.clear()

    async def run_forever(self) -> a.ShutdownRequested | None:
        """`loopdev up`: until Ctrl-C or a ShutdownRequested (returned: ``down`` says whether
        to tear down); the cluster is otherwise left as it is."""
        await self.start()
        try:
            await self._shutdown_event.wait()
            crashed = self.ctx.shared.get("crashed") or {}
            if "store" in crashed:
                raise LoopdevError(f"the engine stopped: {crashed['store']}")
            return self.shutdown
        finally:
            await self.stop()

    async def run_until_ready(self, timeout: float) -> Verdict:
        """`loopdev ci`: the first verdict, or a timeout verdict naming what is not ready."""
        await self.start()
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            while True:
                verdict = self.verdict()
                if verdict is not None:
                    return verdict
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    return self._timed_out(timeout)
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(left, 0.2)):
                        await self._changed.wait()
        finally:
            await self.stop()

    def verdict(self) -> Verdict | None:
        crashed = self.ctx.shared.get("crashed") or {}
        if crashed:
            name, message = next(iter(crashed.items()))
            return Verdict(False, name, message)
        state, now = self.store.state, time.monotonic()
        return ci_verdict(
            state,
            self._deployed,
            self._deploy_error,
            now,
            self.settle,
            wall=time.time(),
            applied=self._applied(),
            unreachable_grace=self.unreachable_grace,
        )

    def _applied(self) -> frozenset[str]:
        """Workload resources whose objects this session applied (the deploy reconciler
        records each applied key, lower-cased, in ``deployed_at``)."""
        written = self.ctx.shared.get("deployed_at") or {}
        tracked: dict[str, str] = self.ctx.shared.get("tracked") or {}
        return frozenset(n for n, key in tracked.items() if key.lower() in written)

    def _timed_out(self, timeout: float) -> Verdict:
        state = self.store.state
        for name in state.order:
            res = state.resource(name)
            if res is not None and res.state != "ready":
                why = f"not ready after {timeout:.0f}s ({res.state}: {res.reason})"
                return Verdict(False, name, why)
        return Verdict(False, "deploy", f"nothing was deployed within {timeout:.0f}s")


def apply_reload(ctx: SessionContext, diff: ConfigDiff) -> None:
    """The state side of a reload (``ctx.config`` is already the new one): images that went
    away lose their status and reference; resources get their new labels, dependencies and
    (no) port-forwards."""
    state = ctx.store.state
    for name in diff.images_removed:
        ctx.image_refs.pop(name, None)
        if state.resource(name) is not None:
            ctx.store.dispatch(a.ResourceRemoved(name))
    for name in diff.resources_changed:
        spec = ctx.config.resources.get(name)
        res = state.resource(name)
        if res is None:
            continue
        fields: dict[str, Any] = {
            "labels": spec.labels if spec else (),
            "depends_on": spec.depends_on if spec else (),
        }
        if spec is None or not spec.port_forwards:
            fields["forwards"] = ()
        ctx.store.dispatch(a.StatusPatched(name, fields))


def _reload_from(config: Loopfile) -> Callable[[], Loopfile]:
    """Load the file again with the profiles it was loaded with (``up`` passes its own)."""

    def reload() -> Loopfile:
        from loopdev.config.load import load_loopfile

        return load_loopfile(config.path, config.active_profiles)

    return reload
