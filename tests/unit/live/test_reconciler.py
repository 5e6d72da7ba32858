"""The live-update reconciler with an in-memory exec port (no Docker, no cluster)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from loopdev.config.model import (
    Deploy,
    Image,
    LiveUpdate,
    Loopfile,
    Resource,
    RunStep,
    SyncRule,
)
from loopdev.engine import actions as a
from loopdev.engine.logs import LogStore
from loopdev.engine.manual import CONTROLLED
from loopdev.engine.reconciler import SessionContext, SessionOptions
from loopdev.engine.state import ResourceStatus
from loopdev.engine.store import Store
from loopdev.reconcilers.live_update import LiveUpdateReconciler
from loopdev.render.labels import RESOURCE_LABEL
from tests.support.exec_port import RecordingExecPort
from tests.unit.live.test_targets_replay import REF, pod

FakePort = RecordingExecPort


@pytest.fixture
def project(tmp_path: Path) -> Loopfile:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "a.py").write_text("print('a')\n")
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    live = LiveUpdate(sync=(SyncRule("app/", "/app/"),), run=(RunStep("make", ("app/Makefile",)),))
    image = Image("web", tmp_path, tmp_path / "Dockerfile", live=live)
    return Loopfile(
        tmp_path / "loopfile.yaml", tmp_path, "demo", "ns", {"web": image}, Deploy(kind="manifests")
    )


@contextlib.asynccontextmanager
async def start(
    project: Loopfile, port: FakePort, live: bool = True, built: bool = True
) -> AsyncIterator[tuple[SessionContext, list[a.Action], LiveUpdateReconciler]]:
    store = Store()
    store.reduce_now(a.ResourceAdded(ResourceStatus("web", "workload", state="ready")))
    ctx = SessionContext(
        project, store, LogStore(), "kind-x", "ns", options=SessionOptions(live=live, once=True)
    )
    if built:
        ctx.image_refs["web"] = REF
    seen: list[a.Action] = []
    store.subscribe(lambda _s, batch: seen.extend(batch))
    rec = LiveUpdateReconciler(exec_port=port)
    tasks = [asyncio.create_task(store.run()), asyncio.create_task(rec.run(ctx))]
    await asyncio.sleep(0.05)
    try:
        yield ctx, seen, rec
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.wait(tasks)


async def settle(ctx: SessionContext, rec: LiveUpdateReconciler) -> None:
    for _ in range(3):
        await ctx.store.settled()
        await asyncio.sleep(0.05)


def changed(project: Loopfile, *rel: str) -> a.FilesChanged:
    return a.FilesChanged(frozenset(str(project.root / r) for r in rel), frozenset())


async def test_one_exec_per_container_and_a_status_line(project: Loopfile) -> None:
    port = FakePort([pod("web-1"), pod("web-2")])
    async with start(project, port) as (ctx, seen, rec):
        ctx.store.dispatch(changed(project, "app/a.py"))
        await settle(ctx, rec)
        assert sorted(c[0] for c in port.calls) == ["web-1", "web-2"]
        assert (
            ctx.store.state.resource("web").last_update.startswith("synced 1 file in ")
            and "into 2 containers" in ctx.store.state.resource("web").last_update
        )
        assert ctx.store.state.resource("web").state == "ready"  # back from "updating"
        assert not [x for x in seen if isinstance(x, a.RebuildRequested)]


async def test_no_live_rebuilds_every_change(project: Loopfile) -> None:
    port = FakePort([pod("web-1")])
    async with start(project, port, live=False) as (ctx, seen, rec):
        ctx.store.dispatch(changed(project, "app/a.py"))
        await settle(ctx, rec)
        assert port.calls == []
        assert [x for x in seen if isinstance(x, a.RebuildRequested)] == [
            a.RebuildRequested(("web",), "app/a.py changed (live update is off)")
        ]
        assert ctx.store.state.resource("web").last_update.startswith("rebuilding: app/a.py")


async def test_failing_step_falls_back_to_rebuild(project: Loopfile) -> None:
    (project.root / "app" / "Makefile").write_text("all:\n")
    port = FakePort([pod("web-1")])
    port.failing.add("make")
    async with start(project, port) as (ctx, seen, rec):
        ctx.store.dispatch(changed(project, "app/Makefile"))
        await settle(ctx, rec)
        [rebuild] = [x for x in seen if isinstance(x, a.RebuildRequested)]
        assert rebuild.reason == "live update failed: 'make' failed in web-1/web (exit 1)"
        assert ctx.store.state.resource("web").last_update == f"rebuilding: {rebuild.reason}"
        assert "$ make (exit 1)" in ctx.logs.tail("web", 5)


async def test_replacement_pod_gets_the_synced_files_until_a_rebuild(project: Loopfile) -> None:
    port = FakePort([pod("web-1")])
    async with start(project, port) as (ctx, seen, rec):
        ctx.store.dispatch(changed(project, "app/a.py"))
        await settle(ctx, rec)
        port.pods = [pod("web-2")]
        port.calls.clear()
        await rec.replay_all()
        await settle(ctx, rec)
        [(name, _cmd, stdin)] = port.calls
        assert name == "web-2" and b"app/a.py" in stdin
        assert ctx.store.state.resource("web").last_update == (
            "replayed 1 synced file into new pod web-2"
        )
        await rec.replay_all()  # already current: nothing more
        assert len(port.calls) == 1
        ctx.store.dispatch(a.ImagesBuilt({"web": REF}, ("web",)))
        await settle(ctx, rec)
        port.pods = [pod("web-3")]
        await rec.replay_all()
        assert len(port.calls) == 1  # a rebuilt image already holds every change


async def test_change_before_first_build_asks_for_a_rebuild(project: Loopfile) -> None:
    port = FakePort([])
    async with start(project, port, built=False) as (ctx, seen, rec):
        ctx.store.dispatch(changed(project, "app/a.py"))
        await settle(ctx, rec)
        rebuilds = [x for x in seen if isinstance(x, a.RebuildRequested)]
        assert rebuilds == [a.RebuildRequested(("web",), "changed before its first build finished")]


async def test_restart_replaces_the_pod_after_a_sync(project: Loopfile) -> None:
    import dataclasses

    image = project.images["web"]
    live = dataclasses.replace(image.live, restart=True)
    project = dataclasses.replace(project, images={"web": dataclasses.replace(image, live=live)})
    port = FakePort([pod("web-1")])
    deleted: list[tuple[str, str]] = []

    async def delete_pod(namespace: str, name: str) -> None:
        deleted.append((namespace, name))

    port.delete_pod = delete_pod  # type: ignore[attr-defined]
    async with start(project, port) as (ctx, _seen, rec):
        ctx.store.dispatch(changed(project, "app/a.py"))
        await settle(ctx, rec)
        assert deleted == [("ns", "web-1")]


def resource_pod(name: str, resource: str) -> dict[str, Any]:
    out = pod(name)
    out["metadata"]["labels"][RESOURCE_LABEL] = resource
    return out


async def test_a_manual_resource_gets_held_changes_only_when_triggered(project: Loopfile) -> None:
    """web follows every change; worker (same image, under manual control) receives nothing,
    not even a replay into its replacement pod, until its trigger syncs the held union."""
    import dataclasses

    worker = Resource("worker", "deployment/worker", trigger="manual")
    project = dataclasses.replace(project, resources={"worker": worker})
    (project.root / "app" / "b.py").write_text("print('b')\n")
    port = FakePort([resource_pod("web-1", "web"), resource_pod("worker-1", "worker")])
    async with start(project, port) as (ctx, seen, rec):
        ctx.store.dispatch(a.ResourceAdded(ResourceStatus("worker", "workload", state="ready")))
        ctx.shared["resource_images"] = {"web": ("web",), "worker": ("web",)}
        ctx.shared[CONTROLLED] = frozenset({"worker"})
        ctx.store.dispatch(changed(project, "app/a.py"))
        await settle(ctx, rec)
        ctx.store.dispatch(changed(project, "app/b.py"))
        await settle(ctx, rec)
        assert [c[0] for c in port.calls] == ["web-1", "web-1"]
        assert ctx.store.state.resource("worker").pending_changes
        assert (
            ctx.logs.tail("worker", 5).count(
                "changes pending: 1 file to sync into web; trigger to apply"
            )
            == 2
        )
        port.pods = [resource_pod("web-2", "web"), resource_pod("worker-2", "worker")]
        port.calls.clear()
        await rec.replay_all()
        assert [c[0] for c in port.calls] == ["web-2"]  # the held worker gets no replay

        port.calls.clear()
        ctx.store.dispatch(a.TriggerRequested("worker"))
        await settle(ctx, rec)
        [(name, _cmd, stdin)] = port.calls
        assert name == "worker-2" and b"app/a.py" in stdin and b"app/b.py" in stdin
        assert not ctx.store.state.resource("worker").pending_changes
        assert a.RebuildRequested((), "", ("worker",)) in seen  # nothing to build: deploy it
        assert not [x for x in seen if isinstance(x, a.RebuildRequested) and x.images]
        port.pods.append(resource_pod("worker-3", "worker"))
        port.calls.clear()
        await rec.replay_all()  # what the worker was given reaches its replacement pod
        [(name, _cmd, stdin)] = port.calls
        assert name == "worker-3" and b"app/a.py" in stdin and b"app/b.py" in stdin


async def test_a_trigger_whose_sync_cannot_run_asks_for_a_rebuild(project: Loopfile) -> None:
    """The trigger must reach the deploy even when the sync cannot even list the pods."""
    import dataclasses

    worker = Resource("worker", "deployment/worker", trigger="manual")
    project = dataclasses.replace(project, resources={"worker": worker})
    port = FakePort([resource_pod("worker-1", "worker")])

    async def broken(*args: Any, **kwargs: Any) -> tuple[list[dict[str, Any]], str]:
        raise ConnectionError("list refused")

    port.list_pods = broken  # type: ignore[method-assign]
    async with start(project, port) as (ctx, seen, rec):
        ctx.store.dispatch(a.ResourceAdded(ResourceStatus("worker", "workload", state="ready")))
        ctx.shared["resource_images"] = {"worker": ("web",)}
        ctx.shared[CONTROLLED] = frozenset({"worker"})
        ctx.store.dispatch(changed(project, "app/a.py"))
        await settle(ctx, rec)
        assert ctx.store.state.resource("worker").pending_changes
        ctx.store.dispatch(a.TriggerRequested("worker"))
        await settle(ctx, rec)
        [rebuild] = [x for x in seen if isinstance(x, a.RebuildRequested)]
        assert rebuild.images == ("web",) and rebuild.triggered == ("worker",)
        assert "list refused" in rebuild.reason
        assert "rebuilding web: live update failed" in ctx.logs.tail("worker", 1)[0]


class DeletingPort(FakePort):
    """Also records pod deletions (the last-resort restart)."""

    def __init__(self, pods: list[dict[str, Any]]) -> None:
        super().__init__(pods)
        self.deleted: list[str] = []

    async def delete_pod(self, namespace: str, name: str) -> None:
        self.deleted.append(name)


def wrapped(p: dict[str, Any]) -> dict[str, Any]:
    from loopdev.render.restart_wrap import RESTART_ANNOTATION

    p["metadata"]["annotations"] = {RESTART_ANNOTATION: "web"}
    return p


def restarting(project: Loopfile) -> Loopfile:
    image = project.images["web"]
    live = dataclasses.replace(image.live, restart=True)
    return dataclasses.replace(project, images={"web": dataclasses.replace(image, live=live)})


def signals(port: FakePort) -> list[tuple[str, str]]:
    return [(pod, cmd[2]) for pod, cmd, _ in port.calls if cmd[:2] == ["/bin/sh", "-c"]]


async def test_restart_signals_the_wrapper_and_replaces_only_unwrapped_pods(
    project: Loopfile,
) -> None:
    port = DeletingPort([wrapped(pod("web-1")), pod("web-2")])
    async with start(restarting(project), port) as (ctx, _seen, rec):
        ctx.store.dispatch(changed(project, "app/a.py"))
        await settle(ctx, rec)
        assert ("web-1", "kill -HUP 1") in signals(port)
        assert port.deleted == ["web-2"]  # no wrapper to signal: the last resort
        assert any("restarted web in web-1 (same pod)" in line for line in ctx.logs.tail("web", 9))


async def test_a_new_wrapped_container_gets_its_go_only_after_its_replay(
    project: Loopfile,
) -> None:
    port = DeletingPort([wrapped(pod("web-1"))])
    async with start(restarting(project), port) as (ctx, _seen, rec):
        await rec.replay_all()  # nothing synced yet: it may start at once
        assert signals(port) == [("web-1", "kill -USR1 1")]
        ctx.store.dispatch(changed(project, "app/a.py"))
        await settle(ctx, rec)
        port.pods[:] = [wrapped(pod("web-3"))]  # a replacement pod
        port.calls.clear()
        await rec.replay_all()
        (first, *_rest) = port.calls
        assert first[0] == "web-3" and b"a.py" in first[2]  # the replay comes first
        assert signals(port)[-1] == ("web-3", "kill -USR1 1")
        await rec.replay_all()  # and only once
        assert [s for s in signals(port) if s[1] == "kill -USR1 1"] == [("web-3", "kill -USR1 1")]


async def test_a_reload_rereads_the_ignore_rules(project: Loopfile) -> None:
    from loopdev.engine.reload import diff_configs

    (project.root / "app" / "gen.py").write_text("x\n")
    port = FakePort([pod("web-1")])
    async with start(project, port) as (ctx, _seen, rec):
        image = project.images["web"]
        new = dataclasses.replace(
            project, images={"web": dataclasses.replace(image, ignore=("app/gen.py",))}
        )
        ctx.config = new
        ctx.store.dispatch(a.ConfigReloaded(new, diff_configs(project, new)))
        await settle(ctx, rec)
        ctx.store.dispatch(changed(project, "app/gen.py"))
        await settle(ctx, rec)
        assert port.calls == []  # ignored now: nothing synced, nothing rebuilt
