"""The local reconciler inside a real Store: serve restarts on deps changes and leaves no
process behind, manual triggers wait, dependsOn gates the start."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from loopdev.config.model import Deploy, LocalCommand, Loopfile
from loopdev.engine import actions as a
from loopdev.engine.logs import LogStore
from loopdev.engine.reconciler import SessionContext
from loopdev.engine.store import Store
from loopdev.local.process import group_members
from loopdev.output import PlainOutput
from loopdev.reconcilers.local import LocalReconciler


def _loopfile(root: Path, *cmds: LocalCommand) -> Loopfile:
    return Loopfile(
        path=root / "loopfile.yaml",
        root=root,
        name="demo",
        namespace="default",
        images={},
        deploy=Deploy(kind="manifests"),
        local={c.name: c for c in cmds},
    )


class Session:
    def __init__(self, ctx: SessionContext, rec: LocalReconciler) -> None:
        self.ctx, self.rec = ctx, rec

    async def until(self, pred: Callable[[], bool], timeout: float = 20.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not pred():
            assert loop.time() < end, f"timed out; state={self.ctx.store.state.resources}"
            await asyncio.sleep(0.01)

    def state_of(self, name: str) -> str:
        res = self.ctx.store.state.resource(name)
        return res.state if res else "-"


@contextlib.asynccontextmanager
async def session(loopfile: Loopfile) -> AsyncIterator[Session]:
    store = Store()
    ctx = SessionContext(loopfile, store, LogStore(), "kind-test", "default")
    rec = LocalReconciler(grace=0.5)
    store_task = asyncio.create_task(store.run())
    rec_task = asyncio.create_task(rec.run(ctx))
    try:
        yield Session(ctx, rec)
    finally:
        rec_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await rec_task
        store_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await store_task


def _pids(path: Path) -> list[int]:
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    """Running and not a zombie (a zombie only waits for a reaper we do not own)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


async def test_serve_restarts_on_deps_change_and_leaves_no_process(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    pids = tmp_path / "pids"
    serve = LocalCommand(
        name="web",
        serve=f"sleep 30 & echo $! >> {pids}; echo serving; wait",
        deps=("src",),
        workdir=tmp_path,
    )
    async with session(_loopfile(tmp_path, serve)) as s:
        await s.until(lambda: s.state_of("web") == "ready" and len(_pids(pids)) == 1)
        first_child = _pids(pids)[0]
        s.ctx.store.dispatch(a.FilesChanged(frozenset({str(tmp_path / "README")}), frozenset()))
        await asyncio.sleep(0.2)
        assert s.rec.runners["web"].runs == 1  # a file outside deps changes nothing
        s.ctx.store.dispatch(a.FilesChanged(frozenset({str(tmp_path / "src/a.py")}), frozenset()))
        await s.until(lambda: len(_pids(pids)) == 2 and s.state_of("web") == "ready")
        assert not _alive(first_child)
        second_child = _pids(pids)[1]
        assert _alive(second_child)
        assert "serving" in s.ctx.logs.tail("web", 5)
    assert not _alive(second_child)


async def test_manual_trigger_waits_for_trigger(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    cmd = LocalCommand(
        name="gen", cmd=f"echo x >> {out}", deps=("*.proto",), workdir=tmp_path, trigger="manual"
    )
    async with session(_loopfile(tmp_path, cmd)) as s:
        await s.until(lambda: out.exists() and s.state_of("gen") == "ready")  # initial run
        s.ctx.store.dispatch(a.FilesChanged(frozenset({str(tmp_path / "a.proto")}), frozenset()))
        await s.until(lambda: s.ctx.store.state.resources["gen"].pending_changes)
        await asyncio.sleep(0.3)
        assert out.read_text().count("x") == 1
        s.ctx.store.dispatch(a.TriggerRequested("gen"))
        await s.until(lambda: out.read_text().count("x") == 2)
        await s.until(lambda: not s.ctx.store.state.resources["gen"].pending_changes)


async def test_depends_on_waits_for_ready_dependency(tmp_path: Path) -> None:
    flag = tmp_path / "db-up"
    db = LocalCommand(name="db", cmd=f"sleep 0.3; touch {flag}", workdir=tmp_path)
    api = LocalCommand(name="api", cmd=f"test -f {flag}", workdir=tmp_path, depends_on=("db",))
    async with session(_loopfile(tmp_path, db, api)) as s:
        await s.until(lambda: s.state_of("api") == "waiting")
        assert "waiting for db" in s.ctx.store.state.resources["api"].reason
        await s.until(lambda: s.state_of("api") == "ready")


async def test_shutdown_is_fast_even_when_sigterm_is_ignored(tmp_path: Path) -> None:
    serve = LocalCommand(
        name="stubborn", serve="trap '' TERM; while :; do sleep 0.1; done", workdir=tmp_path
    )
    loop = asyncio.get_running_loop()
    async with session(_loopfile(tmp_path, serve)) as s:
        await s.until(lambda: s.state_of("stubborn") == "ready")
        pid = s.rec.runners["stubborn"].pid
        started = loop.time()
    assert loop.time() - started < 2.0
    assert pid is not None and group_members(pid) == []


async def test_secret_named_env_values_never_reach_output(tmp_path: Path) -> None:
    """A serve command that echoes its token: plain output shows the mask, never the value."""
    token = "tok-9f8e7d6c5b4a"
    serve = LocalCommand(
        name="api",
        serve='echo "connecting with $API_TOKEN"; sleep 30',
        env={"API_TOKEN": token},
        workdir=tmp_path,
    )
    out = io.StringIO()
    async with session(_loopfile(tmp_path, serve)) as s:
        PlainOutput(out).attach(s.ctx.store, s.ctx.logs)
        await s.until(lambda: any("connecting" in t for t in s.ctx.logs.tail("api", 5)))
        await s.ctx.store.settled()
    assert "connecting with" in out.getvalue()
    assert token not in out.getvalue()


async def test_a_reloaded_loopfile_replans_only_the_commands_it_changed(tmp_path: Path) -> None:
    """Removed commands stop and leave the state, edited ones restart with their new spec,
    added ones start; an unchanged one keeps its process."""
    from loopdev.engine.reload import diff_configs

    pids = tmp_path / "pids"

    def serve(name: str, word: str = "") -> LocalCommand:
        return LocalCommand(
            name=name, serve=f"sleep 30 & echo {name}{word}=$! >> {pids}; wait", workdir=tmp_path
        )

    def started() -> dict[str, int]:
        lines = pids.read_text().split() if pids.exists() else []
        return {k: int(v) for k, v in (line.split("=") for line in lines)}

    old = _loopfile(tmp_path, serve("keep"), serve("edit"), serve("drop"))
    async with session(old) as s:
        await s.until(lambda: set(started()) == {"keep", "edit", "drop"})
        before = started()
        keep_runner = s.rec.runners["keep"]
        new = _loopfile(tmp_path, serve("keep"), serve("edit", "2"), serve("add"))
        s.ctx.config = new
        s.ctx.store.dispatch(a.ConfigReloaded(new, diff_configs(old, new)))
        await s.until(lambda: {"edit2", "add"} <= set(started()))
        await s.until(lambda: not _alive(before["drop"]) and not _alive(before["edit"]))
        await s.until(lambda: s.ctx.store.state.resource("drop") is None)
        assert s.rec.runners["keep"] is keep_runner and _alive(before["keep"])
        assert set(s.rec.runners) == {"keep", "edit", "add"}
        await s.until(lambda: s.state_of("add") == "ready")
