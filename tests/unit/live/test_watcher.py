"""The shared watcher over a real directory with the real watchfiles backend."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from loopdev.config.model import Image
from loopdev.engine.actions import FilesChanged
from loopdev.live.ignore import for_image
from loopdev.live.roots import RootSet
from loopdev.live.watcher import SharedWatcher


async def start(tmp_path: Path) -> tuple[SharedWatcher, asyncio.Queue[FilesChanged], asyncio.Task]:
    (tmp_path / "app").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / ".dockerignore").write_text("*.log\n")
    image = Image("web", tmp_path, tmp_path / "Dockerfile")
    got: asyncio.Queue[FilesChanged] = asyncio.Queue()
    watcher = SharedWatcher(lambda: RootSet([for_image(image)]), got.put_nowait)
    task = asyncio.create_task(watcher.run())
    await asyncio.wait_for(watcher.ready.wait(), 5)
    await asyncio.sleep(0.1)  # the notify thread is registering its watches
    return watcher, got, task


async def test_one_save_is_one_batch_and_ignored_paths_never_arrive(tmp_path: Path) -> None:
    watcher, got, task = await start(tmp_path)
    try:
        root = tmp_path.resolve()
        (tmp_path / ".git" / "index").write_text("x")
        (tmp_path / "debug.log").write_text("x")
        (tmp_path / "app" / "main.py").write_text("print(1)\n")
        batch = await asyncio.wait_for(got.get(), 5)
        assert batch == FilesChanged(frozenset({f"{root}/app/main.py"}), frozenset())
        os.remove(tmp_path / "app" / "main.py")
        batch = await asyncio.wait_for(got.get(), 5)
        assert batch.deleted == frozenset({f"{root}/app/main.py"})
        assert watcher.plan is not None and str(root) in watcher.plan.flat
    finally:
        task.cancel()


async def test_new_directory_in_flat_root_is_picked_up(tmp_path: Path) -> None:
    watcher, got, task = await start(tmp_path)
    try:
        (tmp_path / "lib").mkdir()
        await asyncio.wait_for(got.get(), 5)  # the new directory itself
        while watcher.generation < 2 or not watcher.ready.is_set():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # re-planned: lib/ is now watched recursively
        (tmp_path / "lib" / "deep").mkdir()
        (tmp_path / "lib" / "deep" / "x.py").write_text("x")
        # inotify may see x.py before or after its new directory gets a watch: either the
        # file or the new directory (synced with its contents) must be reported.
        seen: set[str] = set()
        wanted = {f"{tmp_path.resolve()}/lib/deep/x.py", f"{tmp_path.resolve()}/lib/deep"}
        while not seen & wanted:
            seen |= (await asyncio.wait_for(got.get(), 5)).changed
    finally:
        task.cancel()
