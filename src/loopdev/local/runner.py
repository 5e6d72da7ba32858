"""Runs one local command: ``cmd`` to completion, or ``serve`` kept alive, one at a time.

Why a single worker task per command with a wake flag: a change during a run must queue
exactly one re-run (not one per file event), and a ``serve`` restart must fully stop the old
process group before the new one starts, so the two never fight over a port.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from loopdev.config.model import LocalCommand
from loopdev.local.probes import describe, probe_once
from loopdev.local.process import ManagedProcess

StateSink = Callable[[str, str], None]  # (state, reason)
LogSink = Callable[[str], None]


class LocalRunner:
    """Owns the process of one ``LocalCommand``; reports states through ``on_state``."""

    def __init__(
        self,
        spec: LocalCommand,
        on_state: StateSink,
        on_log: LogSink,
        grace: float = 1.5,
    ) -> None:
        self.spec = spec
        self._on_state = on_state
        self._on_log = on_log
        self._grace = grace
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._proc: ManagedProcess | None = None
        self.runs = 0  # how many times a process was started (tests, status)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def request_run(self) -> None:
        """Start, re-run (cmd: after the current run, at most once) or restart (serve)."""
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=f"local:{self.spec.name}")

    async def stop(self) -> None:
        """Stop the worker and the process group (SIGTERM, then SIGKILL after the grace)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._proc is not None:
            await self._proc.stop(self._grace)

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._proc is not None:
                await self._proc.stop(self._grace)
            if self.spec.serve:
                await self._serve(self.spec.serve)
            elif self.spec.cmd:
                await self._run_cmd(self.spec.cmd)

    async def _start(self, command: str) -> ManagedProcess | None:
        proc = ManagedProcess(
            command, cwd=self.spec.workdir, env=self.spec.env, on_line=self._on_log
        )
        try:
            await proc.start()
        except OSError as err:
            self._on_state("error", f"could not start: {err}")
            return None
        self._proc = proc
        self.runs += 1
        return proc

    async def _run_cmd(self, command: str) -> None:
        self._on_state("updating", f"running: {command}")
        started = time.monotonic()
        proc = await self._start(command)
        if proc is None:
            return
        code = await proc.wait()
        await proc.reap_group(self._grace)
        took = time.monotonic() - started
        if code == 0:
            self._on_state("ready", f"finished in {took:.1f}s")
        else:
            self._on_state("error", f"exited with code {code} after {took:.1f}s")

    async def _serve(self, command: str) -> None:
        """Run until it exits or a restart is requested; track readiness meanwhile."""
        self._on_state("updating", f"starting: {command}")
        proc = await self._start(command)
        if proc is None:
            return
        readiness = asyncio.create_task(self._track_readiness(proc))
        exited = asyncio.create_task(proc.wait())
        woken = asyncio.create_task(self._wake.wait())
        try:
            await asyncio.wait({exited, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            readiness.cancel()
            woken.cancel()
        if exited.done():
            code = exited.result()
            await proc.reap_group(self._grace)
            self._on_state("error", f"serve exited with code {code}")
        else:
            exited.cancel()
            self._on_log("loopdev: restarting (changes or a trigger)")

    async def _track_readiness(self, proc: ManagedProcess) -> None:
        probe = self.spec.readiness
        if probe is None:
            self._on_state("ready", f"serving (pid {proc.pid})")
            return
        ready = False
        while True:
            ok, why = await probe_once(probe, cwd=self.spec.workdir, env=self.spec.env)
            if ok and not ready:
                self._on_state("ready", f"serving (pid {proc.pid}); {describe(probe)} ok")
            elif not ok and ready:
                self._on_state("probe-failing", why)
            elif not ok:
                self._on_state("updating", f"waiting for readiness: {why}")
            ready = ok
            await asyncio.sleep(probe.period)
