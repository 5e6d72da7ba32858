"""A replay that keeps failing, with an in-memory exec port and an injected clock: it backs
off, is reported once when it will repeat, and is tried again on a change or a new pod."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from loopdev.adapters.kube_exec import ExecResult
from loopdev.config.model import Deploy, Image, LiveUpdate, Loopfile, SyncRule
from loopdev.engine import actions as a
from loopdev.engine.logs import LogStore
from loopdev.engine.reconciler import SessionContext, SessionOptions
from loopdev.engine.state import ResourceStatus
from loopdev.engine.store import Store
from loopdev.live.tarball import UNPACK_SCRIPT
from loopdev.reconcilers.live_update import LiveUpdateReconciler
from tests.support.exec_port import RecordingExecPort
from tests.unit.live.test_targets_replay import REF, pod

SETTLED = "not retrying until a synced file changes or a new pod starts"


class FailingPort(RecordingExecPort):
    """Copies into the pods named in ``broken`` fail with ``code`` (-1: no exit status)."""

    def __init__(self, pods: list[dict[str, object]], code: int = 67) -> None:
        super().__init__(pods)  # type: ignore[arg-type]
        self.broken: set[str] = set()
        self.code = code

    async def exec(
        self,
        namespace: str,
        pod: str,
        container: str,
        command: list[str],
        stdin: bytes = b"",
        timeout: float = 300.0,
    ) -> ExecResult:
        res = await super().exec(namespace, pod, container, command, stdin, timeout)
        if pod in self.broken and command[:3] == ["sh", "-c", UNPACK_SCRIPT]:
            return ExecResult(self.code, stderr=b"tar: can't create directory", message="x")
        return res

    def execs_into(self, name: str) -> int:
        return sum(1 for p, _c, _s in self.calls if p == name)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def project(tmp_path: Path) -> Loopfile:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "a.py").write_text("print('a')\n")
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    image = Image(
        "web", tmp_path, tmp_path / "Dockerfile", live=LiveUpdate(sync=(SyncRule("app/", "/app/"),))
    )
    return Loopfile(
        tmp_path / "loopfile.yaml", tmp_path, "demo", "ns", {"web": image}, Deploy(kind="manifests")
    )


@contextlib.asynccontextmanager
async def start(
    project: Loopfile, port: RecordingExecPort, clock: Clock
) -> AsyncIterator[tuple[SessionContext, list[a.Action], LiveUpdateReconciler]]:
    store = Store()
    store.reduce_now(a.ResourceAdded(ResourceStatus("web", "workload", state="ready")))
    ctx = SessionContext(
        project, store, LogStore(), "kind-x", "ns", options=SessionOptions(once=True)
    )
    ctx.image_refs["web"] = REF
    seen: list[a.Action] = []
    store.subscribe(lambda _s, batch: seen.extend(batch))
    rec = LiveUpdateReconciler(exec_port=port, clock=clock)
    tasks = [asyncio.create_task(store.run()), asyncio.create_task(rec.run(ctx))]
    await asyncio.sleep(0.05)
    try:
        yield ctx, seen, rec
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.wait(tasks)


async def settle(ctx: SessionContext) -> None:
    for _ in range(3):
        await ctx.store.settled()
        await asyncio.sleep(0.05)


def change(project: Loopfile) -> a.FilesChanged:
    return a.FilesChanged(frozenset({str(project.root / "app" / "a.py")}), frozenset())


def rebuilds(seen: list[a.Action]) -> int:
    return sum(1 for x in seen if isinstance(x, a.RebuildRequested))


async def test_a_replay_failing_the_same_way_is_tried_twice_then_waits(project: Loopfile) -> None:
    clock, port = Clock(), FailingPort([pod("web-1")])
    async with start(project, port, clock) as (ctx, seen, rec):
        ctx.store.dispatch(change(project))
        await settle(ctx)
        port.pods, port.broken = [pod("web-2")], {"web-2"}
        for _ in range(20):  # pod events, the rebuild it asked for finishing, ...
            await rec.replay_all()
            ctx.store.dispatch(a.ImagesBuilt({"web": REF}))  # reused: the same image
        await settle(ctx)
        assert port.execs_into("web-2") == 1 and rebuilds(seen) == 1
        clock.now += 0.9
        await rec.replay_all()
        assert port.execs_into("web-2") == 1  # still backing off
        clock.now += 0.1
        await rec.replay_all()
        assert port.execs_into("web-2") == 2
        clock.now += 3600
        for _ in range(20):
            await rec.replay_all()
        await settle(ctx)
        assert port.execs_into("web-2") == 2 and rebuilds(seen) == 1
        said = [line for line in ctx.logs.tail("web", 50) if SETTLED in line]
        assert said == ["replay into web-2/web failed the same way twice (exit 67): " + SETTLED]
        assert ctx.store.state.resource("web").last_update == said[0]

        ctx.store.dispatch(change(project))  # the next change is tried at once
        await settle(ctx)
        assert port.execs_into("web-2") == 3
        port.pods = [pod("web-2"), pod("web-3")]  # so is a new pod
        await rec.replay_all()
        assert port.execs_into("web-3") == 1


async def test_failures_without_exit_code_back_off_to_the_cap(project: Loopfile) -> None:
    clock, port = Clock(), FailingPort([pod("web-1")], code=-1)
    async with start(project, port, clock) as (ctx, _seen, rec):
        ctx.store.dispatch(change(project))
        await settle(ctx)
        port.pods, port.broken = [pod("web-2")], {"web-2"}
        tries = []
        for _ in range(600):  # ten minutes, a look every second
            await rec.replay_all()
            tries.append(port.execs_into("web-2"))
            clock.now += 1.0
        started = [i for i in range(len(tries)) if tries[i] != (tries[i - 1] if i else 0)]
        gaps = [b - a for a, b in zip(started, started[1:], strict=False)]
        assert gaps[:6] == [1, 2, 4, 8, 16, 32] and set(gaps[6:]) == {60}
        assert not [line for line in ctx.logs.tail("web", 200) if SETTLED in line]


async def test_a_reused_image_under_another_reference_starts_a_new_ledger(
    project: Loopfile,
) -> None:
    """The rebuild after a failed sync may find its image already built (reused): its pods
    still start from files holding every change, so nothing is replayed into them."""
    clock, port = Clock(), FailingPort([pod("web-1")])
    other = "web:loopdev-def"
    async with start(project, port, clock) as (ctx, _seen, rec):
        ctx.store.dispatch(a.ImagesBuilt({"web": REF}))
        ctx.store.dispatch(change(project))
        await settle(ctx)
        ctx.image_refs["web"] = other
        ctx.store.dispatch(a.ImagesBuilt({"web": other}))  # built=(): reused
        await settle(ctx)
        port.pods = [pod("web-2", containers=(("web", other, True),))]
        await rec.replay_all()
        assert port.execs_into("web-2") == 0
