"""`loopdev trigger NAME` reaches a running session over the control socket and runs a
manual-trigger local command that file changes alone left pending."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path

from loopdev.config.load import load_loopfile
from loopdev.engine import actions as a
from loopdev.engine.control import ControlReconciler, socket_path
from loopdev.engine.logs import LogStore
from loopdev.engine.reconciler import SessionContext
from loopdev.engine.store import Store
from loopdev.reconcilers.local import LocalReconciler

LOOPFILE = """\
version: v1
name: trig
namespace: default
deploy:
  manifests: ["k8s/*.yaml"]
local:
  gen:
    cmd: echo generated >> runs.txt
    deps: ["*.proto"]
    trigger: manual
"""


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loopdev", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
    )


async def _until(pred, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        assert loop.time() < end, "timed out"
        await asyncio.sleep(0.02)


async def test_trigger_command_runs_pending_manual_resource(tmp_path: Path) -> None:
    (tmp_path / "k8s").mkdir()
    (tmp_path / "loopfile.yaml").write_text(LOOPFILE)
    runs = tmp_path / "runs.txt"
    config = load_loopfile(tmp_path / "loopfile.yaml")
    store = Store()
    ctx = SessionContext(config, store, LogStore(), "kind-x", "default")
    tasks = [
        asyncio.create_task(store.run()),
        asyncio.create_task(LocalReconciler(grace=0.5).run(ctx)),
        asyncio.create_task(ControlReconciler().run(ctx)),
    ]
    sock = socket_path(config.name, config.path)
    try:
        await _until(lambda: runs.exists() and sock.exists())  # the initial run, and the socket
        store.dispatch(a.FilesChanged(frozenset({str(tmp_path / "api.proto")}), frozenset()))
        await _until(lambda: store.state.resources["gen"].pending_changes)
        await asyncio.sleep(0.2)
        assert runs.read_text().count("generated") == 1  # a change alone does nothing

        done = await asyncio.to_thread(_cli, "trigger", "gen", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "triggered gen (pending changes will be applied)" in done.stdout
        await _until(lambda: runs.read_text().count("generated") == 2)
        await _until(lambda: not store.state.resources["gen"].pending_changes)

        bad = await asyncio.to_thread(_cli, "trigger", "nope", cwd=tmp_path)
        assert bad.returncode == 2
        assert "no resource named 'nope'; resources: gen" in bad.stderr
        assert "Traceback" not in bad.stderr
    finally:
        for task in reversed(tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert not sock.exists()
    gone = await asyncio.to_thread(_cli, "trigger", "gen", cwd=tmp_path)
    assert gone.returncode == 1
    assert "no loopdev session is running for this loopfile" in gone.stderr
