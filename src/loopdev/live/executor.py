"""Carry out a sync: one exec per container per batch (deletions + tar on stdin), every
container in parallel, then the run steps in order within each container.

A container without ``tar`` answers with ``NO_TAR_EXIT`` before reading anything; it is
remembered and gets the POSIX-shell payload from then on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from loopdev.config.model import RunStep
from loopdev.live.tarball import NO_TAR_EXIT, Payload, shell_exec, tar_exec
from loopdev.live.targets import Target


class ExecResultLike(Protocol):
    exit_code: int
    stdout: bytes
    stderr: bytes
    message: str


class ExecPort(Protocol):
    async def exec(
        self,
        namespace: str,
        pod: str,
        container: str,
        command: list[str],
        stdin: bytes = b"",
        timeout: float = 300.0,
    ) -> ExecResultLike: ...


@dataclass(frozen=True)
class StepRun:
    cmd: str
    exit_code: int
    output: str  # stdout+stderr, for the resource's log


@dataclass
class Job:
    target: Target
    payload: Payload
    steps: tuple[RunStep, ...] = ()


@dataclass
class Outcome:
    target: Target
    error: str = ""  # empty when the copy and every step succeeded
    exit_code: int = 0  # of what failed; < 0 when it gave none (unreachable, refused, timeout)
    steps: list[StepRun] = field(default_factory=list)
    files: int = 0

    @property
    def ok(self) -> bool:
        return not self.error


def _tail(data: bytes, n: int = 300) -> str:
    text = data.decode(errors="replace").strip()
    return text[-n:]


class Executor:
    def __init__(self, port: ExecPort, step_timeout: float = 600.0) -> None:
        self._port = port
        self._no_tar: set[str] = set()  # container keys known to lack tar
        self._step_timeout = step_timeout

    async def run(self, jobs: Sequence[Job]) -> list[Outcome]:
        """Every job in parallel; never raises for a container's failure."""
        encoded: dict[int, tuple[list[str], bytes]] = {}
        for job in jobs:
            if id(job.payload) not in encoded:
                encoded[id(job.payload)] = tar_exec(job.payload)
        return list(await asyncio.gather(*(self._one(j, encoded[id(j.payload)]) for j in jobs)))

    async def _one(self, job: Job, tar_cmd: tuple[list[str], bytes]) -> Outcome:
        t = job.target
        out = Outcome(t, files=job.payload.files)
        try:
            if job.payload.members or job.payload.deletes:
                out.error, out.exit_code = await self._copy(job, tar_cmd)
            if out.ok:
                for step in job.steps:
                    run = await self._step(t, step.cmd)
                    out.steps.append(run)
                    if run.exit_code != 0:
                        out.exit_code = run.exit_code
                        out.error = (
                            f"'{step.cmd}' failed in {t.pod}/{t.container} (exit {run.exit_code})"
                        )
                        break
        except Exception as err:  # noqa: BLE001 - an unreachable cluster is this sync's failure
            out.error = f"{t.pod}/{t.container}: {getattr(err, 'message', None) or err}"
            out.exit_code = -1
        return out

    async def _copy(self, job: Job, tar_cmd: tuple[list[str], bytes]) -> tuple[str, int]:
        t = job.target
        argv, stdin = shell_exec(job.payload) if t.key in self._no_tar else tar_cmd
        res = await self._port.exec(t.namespace, t.pod, t.container, argv, stdin)
        if res.exit_code == NO_TAR_EXIT and t.key not in self._no_tar:
            self._no_tar.add(t.key)
            argv, stdin = shell_exec(job.payload)
            res = await self._port.exec(t.namespace, t.pod, t.container, argv, stdin)
        if res.exit_code == 0:
            return "", 0
        detail = _tail(res.stderr) or res.message
        why = f"copy into {t.pod}/{t.container} failed (exit {res.exit_code}): {detail}"
        return why, res.exit_code

    async def _step(self, t: Target, cmd: str) -> StepRun:
        res = await self._port.exec(
            t.namespace, t.pod, t.container, ["sh", "-c", cmd], timeout=self._step_timeout
        )
        output = (res.stdout + res.stderr).decode(errors="replace")
        if res.exit_code < 0 and res.message:
            output += res.message
        return StepRun(cmd, res.exit_code, output)
