"""The live-update reconciler: file changes -> a sync into running containers, or a rebuild.

It owns the shared file watcher (every ``FilesChanged`` in a session comes from it), plans
each batch per image with the pure planner, executes syncs with one exec per container,
replays synced files into replacement pods, and asks the build reconciler for a rebuild
(``RebuildRequested``) when a change cannot be live-updated or a sync fails. Work for one
image is serialised (a lock), images run in parallel.

A ``trigger: manual`` resource, once deployed, receives nothing: its file changes are held
(one "changes pending" line per batch) while the resources that follow every change get
theirs. Its trigger plans the union of what was held: a sync into its own containers when
the live rules allow it, else a rebuild; either way the deploy then applies its objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from loopdev.config.model import Image
from loopdev.engine import actions as a
from loopdev.engine.manual import (
    LIVE_PLANS_TRIGGERS,
    live_update_plans,
    manual_resources,
    pending_changes,
    under_manual_control,
)
from loopdev.engine.reconciler import SessionContext
from loopdev.engine.state import EngineState
from loopdev.live import report
from loopdev.live.executor import ExecPort, Executor, Job, Outcome
from loopdev.live.held import HeldFiles, merge, pending_line
from loopdev.live.ignore import RootIgnore, for_image
from loopdev.live.planner import Rebuild, SyncPlan, plan_live_update
from loopdev.live.replay import ImageLedger, Ledgers
from loopdev.live.retry import Failure, RetryBook
from loopdev.live.roots import roots_for
from loopdev.live.tarball import Payload, collect
from loopdev.live.targets import Target, select_targets
from loopdev.live.watcher import RULE_FILES, SharedWatcher, WatchFn
from loopdev.render.labels import PROJECT_LABEL
from loopdev.render.restart_wrap import GO_SIGNAL, RESTART_SIGNAL, SHELL, wrapped_containers

REPLAY_POLL = 2.0  # seconds between pod checks when no shared cluster watch is available


class LiveUpdateReconciler:
    name = "live_update"

    def __init__(
        self,
        exec_port: ExecPort | None = None,
        watch_fn: WatchFn | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._port: Any = exec_port
        self._watch_fn = watch_fn
        self._clock = clock
        self._ledgers = Ledgers()
        self._locks: dict[str, asyncio.Lock] = {}
        self._batches: asyncio.Queue[a.FilesChanged | a.TriggerRequested] = asyncio.Queue()
        self._held: dict[str, HeldFiles] = {}  # manual resource -> changes it has not received
        self._replay_wake = asyncio.Event()
        self._rules: dict[str, RootIgnore] = {}
        self.watcher: SharedWatcher | None = None
        self._executor: Executor | None = None
        self._owned = False
        self._started: set[str] = set()  # wrapped containers whose process was let start
        self._rules_stale = False  # the loopfile was reloaded: re-read the ignore rules
        self._retries = RetryBook()  # containers a sync or replay failed into
        self._retry_due: float | None = None  # the earliest back-off that ends
        self._refs: dict[str, str] = {}  # the reference each ledger was started against

    async def run(self, ctx: SessionContext) -> None:
        self._ctx = ctx
        ctx.shared[LIVE_PLANS_TRIGGERS] = True  # before any trigger can reach the build
        ctx.store.subscribe(self._on_actions)
        self._rules = await asyncio.to_thread(self._load_rules)
        cluster = ctx.shared.get("cluster")
        if cluster is not None:
            cluster.subscribe(self._on_cluster)
        tasks = [asyncio.create_task(self._work()), asyncio.create_task(self._replays())]
        if not ctx.options.once:
            self.watcher = SharedWatcher(
                lambda: roots_for(ctx.config),
                ctx.store.dispatch,
                self._watch_fn,
                warn=self._warn,
            )
            tasks.append(asyncio.create_task(self.watcher.run()))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=1.0)
            if self._owned and self._port is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._port.close(), 0.5)

    async def _exec_port(self) -> Any:
        """Connected on first use, so the shared watcher (which local commands rely on too)
        runs even when the cluster's credentials cannot be loaded yet."""
        if self._port is None:
            port = self._ctx.shared.get("kube_exec")
            if port is None:
                from loopdev.adapters.kube_exec import KubeExec

                ctx = self._ctx
                kubeconfig = os.environ.get("KUBECONFIG")
                port = await KubeExec.connect(ctx.kube_context or None, kubeconfig)
                self._owned = True
            self._port = port
        if self._executor is None:
            self._executor = Executor(self._port)
        return self._port

    def _load_rules(self) -> dict[str, RootIgnore]:
        return {n: for_image(i) for n, i in self._ctx.config.images.items()}

    # ---- reacting to the store ------------------------------------------------------------
    def _on_cluster(self, kind: str, _event: str, _obj: dict[str, Any]) -> None:
        if kind == "Pod":
            self._replay_wake.set()

    def _warn(self, message: str) -> None:
        self._ctx.logs.append("loopdev", message)

    def _on_actions(self, state: EngineState, batch: Sequence[a.Action]) -> None:
        for act in batch:
            if isinstance(act, a.FilesChanged) or (
                isinstance(act, a.TriggerRequested)
                and act.name in manual_resources(self._ctx.config)
            ):
                self._batches.put_nowait(act)  # one queue: a trigger sees every earlier batch
            elif isinstance(act, a.ConfigReloaded):  # new images, contexts or rules
                self._rules_stale = True
                if self.watcher is not None:
                    self.watcher.replan()
            elif isinstance(act, a.ImagesBuilt):
                for name, ref in act.refs.items():  # a reused image is new to the pods too
                    if name in act.built or self._refs.get(name, ref) != ref:
                        self._ledgers.reset(name)
                    self._refs[name] = ref
                self._replay_wake.set()

    async def _work(self) -> None:
        while True:
            items = [await self._batches.get()]
            while not self._batches.empty():  # merge what queued up while we were busy
                items.append(self._batches.get_nowait())
            changed: frozenset[str] = frozenset()
            deleted: frozenset[str] = frozenset()
            for item in items:  # batches before a trigger are handled before it
                if isinstance(item, a.FilesChanged):
                    changed, deleted = merge(changed, deleted, item.changed, item.deleted)
                    continue
                if changed or deleted:
                    await self._guarded(self.handle(set(changed), set(deleted)))
                    changed, deleted = frozenset(), frozenset()
                await self._guarded(self.trigger(item))
            if changed or deleted:
                await self._guarded(self.handle(set(changed), set(deleted)))

    async def _guarded(self, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception as err:  # noqa: BLE001 - e.g. no cluster credentials: say so, go on
            message = getattr(err, "message", None) or f"{type(err).__name__}: {err}"
            self._ctx.logs.append("loopdev", f"live update failed: {message}")

    async def handle(self, changed: set[str], deleted: set[str]) -> None:
        """Plan one batch for every image and carry it out (images in parallel); hold it for
        the manual resources running an affected image."""
        ctx = self._ctx
        if self._rules_stale or any(os.path.basename(p) in RULE_FILES for p in changed | deleted):
            self._rules_stale = False  # an ignore file changed, or the loopfile was reloaded
            self._rules = await asyncio.to_thread(self._load_rules)
        manual = under_manual_control(ctx)
        uses: dict[str, Sequence[str]] = ctx.shared.get("resource_images") or {}
        held: dict[str, list[tuple[str, SyncPlan | Rebuild]]] = {}
        jobs = []
        for name, image in ctx.config.images.items():
            rules = self._rules[name]
            plan = plan_live_update(image, changed, deleted, ctx.options.live, rules.ignored)
            if plan is None:
                continue
            users = {r for r, images in uses.items() if name in images}
            for res in sorted(users & manual):
                held.setdefault(res, []).append((name, plan))
            if users and users <= manual:
                continue  # only resources waiting for a trigger run this image
            if isinstance(plan, Rebuild):
                self._rebuild(name, plan.reason)
            elif name not in ctx.image_refs:
                self._rebuild(name, "changed before its first build finished")
            else:
                jobs.append((name, self._sync(name, image, plan)))
        for res, plans in held.items():
            self._held[res] = self._held.get(res, HeldFiles()).add(changed, deleted)
            pending_changes(ctx).mark(ctx.store, res, "files")
            ctx.logs.append(res, pending_line(plans), "loopdev")
        failed = await asyncio.gather(*(job for _, job in jobs))
        for (name, _), why in zip(jobs, failed, strict=True):
            if why:
                self._rebuild(name, why)

    async def trigger(self, act: a.TriggerRequested) -> None:
        """A manual resource was triggered: plan the union of its held changes per image it
        runs, sync what may be synced into its own containers, and ask for the rest to be
        rebuilt; the build then tells the deploy to apply it (``RebuildRequested.triggered``).
        Nothing held: its images are built if their contents changed, as for any trigger."""
        ctx = self._ctx
        name = act.name
        if self._rules_stale:
            self._rules_stale = False
            self._rules = await asyncio.to_thread(self._load_rules)
        held = self._held.pop(name, None)
        pending_changes(ctx).clear(ctx.store, name, "files")
        if not live_update_plans(ctx, act):
            return  # forced: the build reconciler rebuilds (the new image has every change)
        uses: dict[str, Sequence[str]] = ctx.shared.get("resource_images") or {}
        rebuild: dict[str, str] = {}
        jobs = []
        for image_name in uses.get(name, ()):
            image = ctx.config.images.get(image_name)
            if image is None:
                continue
            if held is None:
                rebuild[image_name] = "triggered"
                continue
            ignored = self._rules[image_name].ignored
            plan = plan_live_update(image, held.changed, held.deleted, ctx.options.live, ignored)
            if isinstance(plan, Rebuild):
                rebuild[image_name] = plan.reason
            elif isinstance(plan, SyncPlan):
                if image_name not in ctx.image_refs:
                    rebuild[image_name] = "changed before its first build finished"
                else:
                    jobs.append((image_name, self._sync(image_name, image, plan, group=name)))
        failed = await asyncio.gather(*(job for _, job in jobs), return_exceptions=True)
        for (image_name, _), why in zip(jobs, failed, strict=True):
            if isinstance(why, Exception):  # the trigger must still reach the deploy
                message = getattr(why, "message", None) or f"{type(why).__name__}: {why}"
                why = f"live update failed: {message}"
            elif isinstance(why, BaseException):
                raise why
            if why:
                rebuild[image_name] = why
        if held is not None:
            for image_name, why in sorted(rebuild.items()):
                self._say_rebuilding(image_name, why, [name])
        reason = "; ".join(f"{i}: {why}" for i, why in sorted(rebuild.items()))
        ctx.store.dispatch(a.RebuildRequested(tuple(sorted(rebuild)), reason, (name,)))

    # ---- sync ----------------------------------------------------------------------------
    async def _sync(self, name: str, image: Image, plan: SyncPlan, group: str = "") -> str | None:
        """Sync into the containers of ``group`` (a manual resource) or, by default, of every
        resource not under manual control. Returns why a rebuild is needed, if it is."""
        async with self._locks.setdefault(name, asyncio.Lock()):
            start = self._clock()
            await self._exec_port()
            assert self._executor is not None
            pods = await self._pods()
            if not group:  # manual resources keep what they were given so far
                for res in self._manual_users(name, pods):
                    self._ledgers.get(name, res)
            targets = self._group_targets(name, pods, group)
            ledger = self._ledgers.get(name, group)
            if not ledger.baseline_taken:  # containers from the built image hold every file
                ledger.current |= {t.key for t in targets}
                ledger.baseline_taken = True
            ledger.record(plan)
            payload = await self._collect(name, image, plan)
            fresh = [t for t in targets if t.key in ledger.current]
            stale = [t for t in targets if t.key not in ledger.current]
            jobs = [Job(t, payload, plan.run_steps) for t in fresh]
            full = ledger.replay_plan()
            if stale and full is not None:
                replay = await self._collect(name, image, full)
                jobs += [Job(t, replay, full.run_steps) for t in stale]
            resources = self._resources(name, targets, group)
            undo = self._updating(resources, f"syncing {report.plural(payload.files, 'file')}")
            outcomes = await self._executor.run(jobs)
            ledger.current |= {o.target.key for o in outcomes if o.ok}
            self._note(outcomes, ledger.version)
            self._log_steps(outcomes)
            ms = (self._clock() - start) * 1000
            undo()
            if any(not o.ok for o in outcomes):
                return f"live update failed: {report.failure_reason(outcomes)}"
            if plan.restart:
                await self._restart(fresh + stale, pods)
            message = report.synced_message(payload.files, ms, outcomes)
            for res in resources:
                self._ctx.store.dispatch(a.StatusPatched(res, {"last_update": message}))
                self._ctx.logs.append(res, message)
            return None

    async def _collect(self, name: str, image: Image, plan: SyncPlan) -> Payload:
        keep = self._rules[name]

        def run() -> Payload:
            return collect(
                plan.copies, plan.deletes, str(image.context), lambda p: not keep.ignored(p)
            )

        payload = await asyncio.to_thread(run)
        for path in payload.refused:
            self._ctx.logs.append(
                name,
                f"not synced: {path} is reached through a symlink that leaves the image context",
            )
        return payload

    async def _restart(self, targets: list[Target], pods: list[dict[str, Any]]) -> None:
        """Restart the process in place (the restart wrapper, signalled once every file is
        in); a container without the wrapper gets the last resort: its pod is replaced and
        replayed (its process then starts before the replay)."""
        wrapped = _wrapped_by_pod(pods)
        replace: set[tuple[str, str]] = set()
        for t in targets:
            if t.container in wrapped.get((t.namespace, t.pod), ()):
                if await self._signal(t, RESTART_SIGNAL):
                    self._ctx.logs.append(
                        t.resource or "loopdev", f"restarted {t.container} in {t.pod} (same pod)"
                    )
                    continue
            replace.add((t.namespace, t.pod))
        delete = getattr(self._port, "delete_pod", None)
        for namespace, pod in sorted(replace):
            if delete is not None:
                self._ctx.logs.append(
                    "loopdev", f"replacing pod {pod}: no restart wrapper to signal"
                )
                await delete(namespace, pod)

    async def _signal(self, target: Target, signal: str) -> bool:
        """Signal the wrapper (PID 1); a container it reached has its process (re)started."""
        command = [SHELL, "-c", f"kill -{signal} 1"]
        result = await self._port.exec(
            target.namespace, target.pod, target.container, command, timeout=15.0
        )
        if result.exit_code != 0:
            why = (result.stderr or result.stdout).decode(
                errors="replace"
            ).strip() or result.message
            self._ctx.logs.append(
                target.resource or "loopdev",
                f"cannot signal {target.pod}/{target.container}: {why}",
            )
            return False
        self._started.add(target.key)
        return True

    async def _say_go(self, name: str, pods: list[dict[str, Any]]) -> None:
        """New wrapped containers of a restart image start their process once they hold every
        synced file (now, when nothing was synced; after their replay otherwise)."""
        wrapped = _wrapped_by_pod(pods)
        manual = under_manual_control(self._ctx)
        for t in self._targets(name, pods):
            if t.key in self._started or t.container not in wrapped.get((t.namespace, t.pod), ()):
                continue
            if not self._ledgers.empty(name):
                ledger = self._ledgers.get(name, t.resource if t.resource in manual else "")
                if not ledger.empty and t.key not in ledger.current:
                    continue  # its replay has not succeeded yet
            await self._signal(t, GO_SIGNAL)

    # ---- replay into replacement pods -----------------------------------------------------
    async def _replays(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._replay_wake.wait(), self._replay_timeout())
            self._replay_wake.clear()
            await asyncio.sleep(0.02)  # let a burst of pod events settle
            try:
                await self.replay_all()
            except Exception as err:  # noqa: BLE001 - retried on the next pod event
                self._ctx.logs.append("loopdev", f"live update replay: {err}")

    def _replay_timeout(self) -> float | None:
        """Until the next back-off ends; pods are polled only without a synced cluster watch
        (its pod events wake the loop), so an idle session sends nothing."""
        waits = [] if self._retry_due is None else [max(0.0, self._retry_due - self._clock())]
        cluster = self._ctx.shared.get("cluster")
        if cluster is None or not getattr(cluster, "synced", False):
            waits.append(REPLAY_POLL)
        return min(waits) if waits else None

    async def replay_all(self) -> None:
        """Replay into new containers, then start the process of those that wait for it."""
        pods = None
        self._retry_due = None
        for name, image in self._ctx.config.images.items():
            restarts = image.live is not None and image.live.restart
            if name not in self._ctx.image_refs or (self._ledgers.empty(name) and not restarts):
                continue
            await self._exec_port()
            assert self._executor is not None
            if pods is None:
                pods = await self._pods()
                self._retries.retain(
                    t.key for i in self._ctx.config.images for t in self._targets(i, pods)
                )
            async with self._locks.setdefault(name, asyncio.Lock()):
                for group in ["", *self._manual_users(name, pods)]:
                    if self._ledgers.empty(name):
                        break
                    ledger = self._ledgers.get(name, group)
                    targets = self._group_targets(name, pods, group)
                    stale = self._due([t for t in targets if t.key not in ledger.current], ledger)
                    if stale and not await self._replay(name, image, ledger, stale, group):
                        break
                if restarts:
                    await self._say_go(name, pods)

    async def _replay(
        self, name: str, image: Image, ledger: ImageLedger, stale: list[Target], group: str
    ) -> bool:
        """Bring new containers of one group to what the group was given; False if that
        failed (a rebuild is requested instead)."""
        assert self._executor is not None
        full = ledger.replay_plan()
        if full is None:
            return True
        payload = await self._collect(name, image, full)
        resources = self._resources(name, stale, group)
        undo = self._updating(resources, "replaying synced files into a new pod")
        outcomes = await self._executor.run([Job(t, payload, full.run_steps) for t in stale])
        undo()
        ledger.current |= {o.target.key for o in outcomes if o.ok}
        failures = self._note(outcomes, ledger.version)
        self._log_steps(outcomes)
        if failures:
            for o, record in failures:
                if record.settled:
                    self._say_settled(o, record)
            if any(record.failures == 1 for _, record in failures):  # once per change
                self._rebuild(name, f"replay failed: {report.failure_reason(outcomes)}")
            return False
        message = report.replayed_message(payload.files, [t.pod for t in stale])
        for res in resources:
            self._ctx.store.dispatch(a.StatusPatched(res, {"last_update": message}))
            self._ctx.logs.append(res, message)
        return True

    # ---- retries -----------------------------------------------------------------------------
    def _due(self, stale: list[Target], ledger: ImageLedger) -> list[Target]:
        """The stale containers whose back-off is over; remembers when the next one ends."""
        ready, due = self._retries.split((t.key for t in stale), ledger.version, self._clock())
        if due is not None:
            self._retry_due = due if self._retry_due is None else min(self._retry_due, due)
        return [t for t in stale if t.key in ready]

    def _note(self, outcomes: Sequence[Outcome], version: int) -> list[tuple[Outcome, Failure]]:
        """Record each container's result; the failures with their records."""
        now, failed = self._clock(), []
        for o in outcomes:
            if o.ok:
                self._retries.succeeded(o.target.key)
            else:
                failed.append((o, self._retries.failed(o.target.key, version, o.exit_code, now)))
        if failed:
            self._replay_wake.set()  # the replay loop schedules the retry
        return failed

    def _say_settled(self, o: Outcome, record: Failure) -> None:
        t = o.target
        message = (
            f"replay into {t.pod}/{t.container} failed the same way twice (exit "
            f"{record.exit_code}): not retrying until a synced file changes or a new pod starts"
        )
        res = t.resource or "loopdev"
        self._ctx.logs.append(res, message)
        if self._ctx.store.state.resource(res) is not None:
            self._ctx.store.dispatch(a.StatusPatched(res, {"last_update": message}))

    # ---- helpers -----------------------------------------------------------------------------
    async def _pods(self) -> list[dict[str, Any]]:
        cluster = self._ctx.shared.get("cluster")
        if cluster is not None and getattr(cluster, "synced", False):
            return list(cluster.pods())
        selector = f"{PROJECT_LABEL}={self._ctx.config.name}"
        out: list[dict[str, Any]] = []
        for namespace in self._ctx.namespaces():  # a release or manifest may name its own
            pods, _ = await self._port.list_pods(namespace, selector)
            out += pods
        return out

    def _targets(self, name: str, pods: list[dict[str, Any]]) -> list[Target]:
        ref = self._ctx.image_refs.get(name, "")
        return select_targets(pods, self._ctx.config.name, ref) if ref else []

    def _group_targets(self, name: str, pods: list[dict[str, Any]], group: str) -> list[Target]:
        """The containers of manual resource ``group``, or ("") of every other resource."""
        targets = self._targets(name, pods)
        if group:
            return [t for t in targets if t.resource == group]
        manual = under_manual_control(self._ctx)
        return [t for t in targets if t.resource not in manual]

    def _manual_users(self, name: str, pods: list[dict[str, Any]]) -> list[str]:
        """Resources under manual control that run this image (by the render or by a pod)."""
        manual = under_manual_control(self._ctx)
        uses = self._ctx.shared.get("resource_images") or {}
        names = {t.resource for t in self._targets(name, pods)}
        names |= {res for res, images in uses.items() if name in images}
        return sorted(names & manual)

    def _resources(self, image: str, targets: Sequence[Target], group: str = "") -> list[str]:
        """Workload resources running this image (or the image itself when none is known);
        those under manual control only when they are the ``group`` being served."""
        state = self._ctx.store.state
        if group:
            return [group] if state.resource(group) is not None else [image]
        names = {t.resource for t in targets if t.resource}
        uses = self._ctx.shared.get("resource_images") or {}
        names |= {res for res, images in uses.items() if image in images}
        names -= under_manual_control(self._ctx)
        known = sorted(n for n in names if state.resource(n) is not None)
        return known or [image]

    def _updating(self, resources: list[str], reason: str) -> Callable[[], None]:
        """Show ``updating`` while we work; give the previous state back afterwards unless
        someone else changed it meanwhile."""
        store = self._ctx.store
        before = {r: store.state.resource(r) for r in resources}
        for r in resources:
            store.dispatch(a.StateChanged(r, "updating", reason))

        def undo() -> None:
            for r, prev in before.items():
                now = store.state.resource(r)
                mine = now is not None and now.state == "updating" and now.reason == reason
                if prev is not None and (mine or now is None or now.state == prev.state):
                    store.dispatch(a.StateChanged(r, prev.state, prev.reason))

        return undo

    def _rebuild(self, name: str, reason: str) -> None:
        self._ctx.store.dispatch(a.RebuildRequested((name,), reason))
        self._say_rebuilding(name, reason, self._resources(name, []))

    def _say_rebuilding(self, name: str, reason: str, resources: Sequence[str]) -> None:
        ctx = self._ctx
        for res in sorted({name, *resources}):
            ctx.store.dispatch(a.StatusPatched(res, {"last_update": f"rebuilding: {reason}"}))
            ctx.logs.append(res, f"rebuilding {name}: {reason}")

    def _log_steps(self, outcomes: Sequence[Outcome]) -> None:
        for o in outcomes:
            src = f"{o.target.pod}/{o.target.container}"
            for run in o.steps:
                self._ctx.logs.append(o.target.resource, f"$ {run.cmd} (exit {run.exit_code})", src)
                for line in run.output.splitlines()[-50:]:
                    self._ctx.logs.append(o.target.resource, line, src)
            if o.error:
                self._ctx.logs.append(o.target.resource or "loopdev", o.error)


def _wrapped_by_pod(pods: Sequence[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """(namespace, pod) -> the containers running under the restart wrapper."""
    out: dict[tuple[str, str], set[str]] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        out[(meta.get("namespace", ""), meta.get("name", ""))] = wrapped_containers(pod)
    return out
