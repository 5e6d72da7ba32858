"""ManagedProcess against real /bin/sh: output lines, exit codes, group stop."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from loopdev.local.process import ManagedProcess, group_members


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] not in (b"Z", b"X")


async def test_streams_lines_and_reports_exit_code(tmp_path: Path) -> None:
    lines: list[str] = []
    proc = ManagedProcess(
        "echo one; echo two >&2; printf 'no-newline'; exit 3",
        cwd=tmp_path,
        env={"X": "1"},
        on_line=lines.append,
    )
    await proc.start()
    assert await proc.wait() == 3
    assert lines == ["one", "two", "no-newline"]


async def test_env_and_workdir_are_applied(tmp_path: Path) -> None:
    lines: list[str] = []
    proc = ManagedProcess(
        'echo "$GREETING $(pwd)"', cwd=tmp_path, env={"GREETING": "hi"}, on_line=lines.append
    )
    await proc.start()
    await proc.wait()
    assert lines == [f"hi {tmp_path}"]


async def test_stop_kills_children_that_ignore_sigterm(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    proc = ManagedProcess(
        f"sh -c 'trap \"\" TERM; echo $$ > {pidfile}; while :; do sleep 0.05; done' & wait",
        cwd=tmp_path,
    )
    await proc.start()
    for _ in range(100):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        await asyncio.sleep(0.02)
    child = int(pidfile.read_text())
    assert _alive(child)
    started = time.monotonic()
    await proc.stop(grace=0.3)
    assert time.monotonic() - started < 2.0
    assert not _alive(child)
    assert proc.pid is not None and group_members(proc.pid) == []


async def test_missing_workdir_raises_oserror(tmp_path: Path) -> None:
    proc = ManagedProcess("true", cwd=tmp_path / "missing")
    with pytest.raises(OSError):
        await proc.start()


def test_group_members_sees_this_process() -> None:
    assert os.getpid() in group_members(os.getpgid(0))
