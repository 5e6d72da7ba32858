"""The port-forward reconciler: one listener per forward in the loopfile, each following
the resource's current Ready pod through a pod watch (never polling), with the state of
every forward published in the resource's ``forwards``. An idle forward is dialled again
only when its pod's object or the cluster's reachability changes.

Ctrl-C (cancelling this reconciler) closes every listener and relayed connection within
about a second and leaves the cluster untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, cast

from loopdev.config.model import Resource
from loopdev.engine import actions as a
from loopdev.engine.reconciler import SessionContext
from loopdev.engine.state import EngineState, ForwardInfo
from loopdev.errors import LoopdevError
from loopdev.portforward.forwarder import Forwarder, Target
from loopdev.portforward.pods import (
    PROJECT_LABEL,
    PortNotFound,
    choose_pod,
    of_resource,
    resolve_port,
    selector,
)
from loopdev.portforward.services import ServiceProblem, selected_pods, target_port


class PortForwardReconciler:
    name = "portforward"

    def __init__(self, wire: Any = None) -> None:
        self._wire = wire  # a KubeWire-like object (tests inject one)
        self.forwarders: dict[str, list[Forwarder]] = {}
        self._reachable: bool | None = None

    async def run(self, ctx: SessionContext) -> None:
        self.forwarders = {}  # run again after a loopfile reload: only the new ones
        wanted = [r for r in ctx.config.resources.values() if r.port_forwards]
        if not wanted:
            return
        wire = self._wire or ctx.shared.get("kube_wire")
        owned = wire is None
        if wire is None:
            # Here, not at the top: aiohttp (and its SSL contexts) only for sessions that
            # forward, loaded in a thread so the import does not hold up the event loop.
            await asyncio.to_thread(importlib.import_module, "loopdev.adapters.kube_portforward")
            from loopdev.adapters.kube_portforward import KubeWire

            wire = await KubeWire.connect(ctx.kube_context or None, os.environ.get("KUBECONFIG"))
        ctx.store.subscribe(lambda state, batch: self._publish_all(ctx, state, batch))
        ctx.store.subscribe(lambda _state, batch: self._on_reachability(batch))
        tasks: list[asyncio.Task[None]] = []
        try:
            for res in wanted:
                fwds = [self._forwarder(ctx, wire, res, i) for i in range(len(res.port_forwards))]
                self.forwarders[res.name] = fwds
                tasks += [asyncio.create_task(f.serve()) for f in fwds]
                tasks.append(asyncio.create_task(self._follow(ctx, wire, res, fwds)))
            self._publish_all(ctx, ctx.store.state, ())
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # surface a crash to the session (it reports it)
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=1.5)
            if owned:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(wire.close(), 0.5)

    def _forwarder(self, ctx: SessionContext, wire: Any, res: Resource, index: int) -> Forwarder:
        spec = res.port_forwards[index]

        def on_state(state: str) -> None:
            if state.startswith("error: "):  # the status shows the current state; keep history
                ctx.logs.append(res.name, f"forward {spec.host}:{spec.local}: {state}")
            self._publish(ctx, ctx.store.state, res)

        return Forwarder(wire, spec.host, spec.local, on_state=on_state)

    async def _follow(
        self, ctx: SessionContext, wire: Any, res: Resource, fwds: list[Forwarder]
    ) -> None:
        """Move every forward of ``res`` to its current Ready pod on each pod change: a pod
        of the resource, or for a Service forward a pod the Service selects."""
        current: dict[int, str | None] = {}
        versions: dict[int, str] = {}  # of each forward's pod object: a change re-checks
        known: set[str] = set()
        services = _Services(ctx)
        # aclosing: a cancelled session must release the watch's HTTP connection right away.
        async with contextlib.aclosing(self._pod_sets(ctx, wire, res)) as pod_sets:
            async for pods in pod_sets:
                names = {p["metadata"]["name"] for p in pods}
                for gone in known - names:  # a name still used in another namespace stays
                    for fwd in fwds:
                        fwd.drop_pod(gone)
                known = names
                own = of_resource(pods, res.name)
                for i, (spec, fwd) in enumerate(zip(res.port_forwards, fwds, strict=True)):
                    remote: int | str = spec.remote
                    candidates = own
                    if spec.service is not None:
                        try:
                            service = await services.get(spec.service)
                            home = (service.get("metadata") or {}).get("namespace")
                            candidates = selected_pods(_in_namespace(pods, home), service)
                            remote = target_port(service, spec.remote)
                        except ServiceProblem as err:
                            fwd.set_target(None, problem=str(err))
                            continue
                    pod = choose_pod(candidates, current.get(i))
                    current[i] = pod["metadata"]["name"] if pod is not None else None
                    now = str((pod or {}).get("metadata", {}).get("resourceVersion", ""))
                    changed = _retarget(fwd, _home(pod, ctx.namespace), pod, remote)
                    if not changed and now != versions.get(i, ""):
                        fwd.reverify()
                    versions[i] = now

    async def _pod_sets(
        self, ctx: SessionContext, wire: Any, res: Resource
    ) -> AsyncGenerator[Sequence[Mapping[str, Any]], None]:
        """The project's pods now and after every pod event: from the session's shared
        cluster watch when there is one (no second watch), else from our own watch (of the
        resource's pods, or of the project's when a Service may select others)."""
        cluster = ctx.shared.get("cluster")
        if cluster is None:
            wide = any(spec.service is not None for spec in res.port_forwards)
            labels = f"{PROJECT_LABEL}={ctx.config.name}" if wide else None
            watch = wire.watch_pods(ctx.namespace, labels or selector(ctx.config.name, res.name))
            async with contextlib.aclosing(watch) as pod_lists:
                async for pods in pod_lists:
                    yield pods
            return
        changed = asyncio.Event()
        changed.set()
        unsubscribe = cluster.subscribe(
            lambda kind, _event, _obj: changed.set() if kind == "Pod" else None
        )
        try:
            while True:
                await changed.wait()
                changed.clear()
                yield cluster.pods()
        finally:
            unsubscribe()

    def _on_reachability(self, batch: Sequence[a.Action]) -> None:
        """The cluster came back or went away: check every forward once."""
        for act in batch:
            if isinstance(act, a.ClusterReachability) and act.reachable != self._reachable:
                first, self._reachable = self._reachable is None, act.reachable
                for fwd in () if first else (f for v in self.forwarders.values() for f in v):
                    fwd.reverify()

    def _publish_all(
        self, ctx: SessionContext, state: EngineState, batch: Sequence[a.Action]
    ) -> None:
        """Re-publish when our view and the state differ (e.g. the resource was just added)."""
        for res in ctx.config.resources.values():
            if res.name in self.forwarders:
                self._publish(ctx, state, res)

    def _publish(self, ctx: SessionContext, state: EngineState, res: Resource) -> None:
        fwds = self.forwarders.get(res.name, [])
        infos = tuple(
            ForwardInfo(
                local=s.local,
                remote=s.remote,
                host=s.host,
                state=f.state,
                listen_error=f.listen_error,
            )
            for s, f in zip(res.port_forwards, fwds, strict=True)
        )
        status = state.resource(res.name)
        if status is not None and status.forwards != infos:
            ctx.store.dispatch(a.StatusPatched(res.name, {"forwards": infos}))


class _Services:
    """The Services forwards name: as loopdev last applied them (no request), else read
    once from the cluster (a Service loopdev does not deploy)."""

    def __init__(self, ctx: SessionContext) -> None:
        self._ctx = ctx
        self._read: dict[str, Mapping[str, Any]] = {}

    async def get(self, name: str) -> Mapping[str, Any]:
        applied = self._ctx.applied.get(f"Service/{name}")
        if applied is not None:
            return cast(Mapping[str, Any], applied)
        if name not in self._read:
            found = None
            if self._ctx.kube is not None:
                try:
                    found = await self._ctx.kube.get("v1", "Service", name, self._ctx.namespace)
                except LoopdevError as err:
                    raise ServiceProblem(f"service {name}: {err.message}") from None
            if found is None:
                raise ServiceProblem(
                    f"service {name} not found in namespace {self._ctx.namespace}, expected a "
                    "Service the deploy renders or one that exists there"
                )
            self._read[name] = found
        return self._read[name]


def _retarget(
    fwd: Forwarder, namespace: str, pod: Mapping[str, Any] | None, remote: int | str
) -> bool:
    """Point ``fwd`` at ``pod``; True when its target changed."""
    if pod is None:
        return fwd.set_target(None)
    try:
        port = resolve_port(pod, remote)
    except PortNotFound as err:
        return fwd.set_target(None, problem=str(err))
    return fwd.set_target(Target(namespace, pod["metadata"]["name"], port))


def _home(pod: Mapping[str, Any] | None, project: str) -> str:
    """The pod's own namespace: a Helm release may deploy into another than the project's."""
    return str(((pod or {}).get("metadata") or {}).get("namespace") or project)


def _in_namespace(
    pods: Sequence[Mapping[str, Any]], namespace: str | None
) -> list[Mapping[str, Any]]:
    """The pods in ``namespace`` (all of them when it is not known): a Service selects only
    its own namespace's pods."""
    return [p for p in pods if not namespace or p["metadata"].get("namespace") in (None, namespace)]
