"""A shell command in its own process group, its output streamed line by line.

Why a process group: a ``serve`` command is usually a shell that starts children
(``npm run dev`` -> node -> esbuild). Signalling the group, SIGTERM first and SIGKILL after
a grace period, is the only way Ctrl-C leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Mapping
from pathlib import Path

LineSink = Callable[[str], None]
_CHUNK = 64 * 1024
_MAX_LINE = 16 * 1024  # a longer "line" is emitted in pieces rather than buffered forever


class ManagedProcess:
    """One run of ``command`` (via ``/bin/sh -c``) in a new session and process group."""

    def __init__(
        self,
        command: str,
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        on_line: LineSink | None = None,
    ) -> None:
        self.command = command
        self._cwd = cwd
        self._env = {**os.environ, **(env or {})}
        self._on_line = on_line or (lambda _line: None)
        self._proc: asyncio.subprocess.Process | None = None
        self._pump: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc else None

    async def start(self) -> None:
        """Start the process; raises OSError (e.g. a missing workdir) with the OS's message."""
        self._proc = await asyncio.create_subprocess_shell(
            self.command,
            cwd=self._cwd,
            env=self._env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        assert self._proc.stdout is not None
        self._pump = asyncio.create_task(self._read_lines(self._proc.stdout))

    async def _read_lines(self, stream: asyncio.StreamReader) -> None:
        pending = b""
        while chunk := await stream.read(_CHUNK):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                self._emit(raw)
            while len(pending) > _MAX_LINE:
                self._emit(pending[:_MAX_LINE])
                pending = pending[_MAX_LINE:]
        if pending:
            self._emit(pending)

    def _emit(self, raw: bytes) -> None:
        self._on_line(raw.decode("utf-8", errors="replace").rstrip("\r"))

    async def wait(self) -> int:
        """Wait for the process to exit and its output to be drained; returns the exit code."""
        assert self._proc is not None, "not started"
        code = await self._proc.wait()
        if self._pump is not None:
            # Children may keep the pipe open after the leader exits; don't wait on them.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._pump), 0.2)
        return code

    async def stop(self, grace: float = 1.5) -> int | None:
        """SIGTERM the whole group, SIGKILL it after ``grace`` seconds; returns the exit code."""
        proc = self._proc
        if proc is None:
            return None
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            _signal_group(proc.pid, signal.SIGKILL)
            await proc.wait()
        # The leader may exit on SIGTERM while children ignore it: make sure the group is gone.
        if _group_alive(proc.pid):
            await _wait_group_gone(proc.pid, grace)
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        return proc.returncode

    async def reap_group(self, grace: float = 1.0) -> None:
        """After the leader exited by itself, stop any children it left in its group."""
        if self._proc is not None and _group_alive(self._proc.pid):
            _signal_group(self._proc.pid, signal.SIGTERM)
            await _wait_group_gone(self._proc.pid, grace)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    """Any live (non-zombie) process left in the group? Zombies wait on a reaper we don't own."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return bool(group_members(pgid)) if os.path.isdir("/proc") else True


def group_members(pgid: int) -> list[int]:
    """Pids of live processes whose process group is ``pgid`` (read from /proc)."""
    members: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # Fields after the ")" that closes the command name: state ppid pgrp ...
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            members.append(int(entry))
    return members


async def _wait_group_gone(pgid: int, grace: float) -> None:
    """Poll (the group has no waitable handle) until the group is empty; SIGKILL at ``grace``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    killed = False
    while _group_alive(pgid):
        if loop.time() >= deadline:
            if killed:
                return  # unkillable (e.g. uninterruptible sleep): give up rather than hang
            _signal_group(pgid, signal.SIGKILL)
            killed, deadline = True, loop.time() + 1.0
        await asyncio.sleep(0.02)
