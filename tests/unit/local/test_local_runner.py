"""LocalRunner: one run at a time, one queued re-run, serve restarts, readiness."""

from __future__ import annotations

import asyncio
from pathlib import Path

from loopdev.config.model import LocalCommand, Probe
from loopdev.local.runner import LocalRunner


class Recorder:
    def __init__(self) -> None:
        self.states: list[tuple[str, str]] = []
        self.lines: list[str] = []

    def state(self, st: str, reason: str) -> None:
        self.states.append((st, reason))

    async def until(self, pred, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not pred():
            assert loop.time() < end, f"timed out; states={self.states} lines={self.lines}"
            await asyncio.sleep(0.01)


async def test_cmd_changes_during_a_run_queue_exactly_one_rerun(tmp_path: Path) -> None:
    rec = Recorder()
    spec = LocalCommand(name="gen", cmd="echo run; sleep 0.2", workdir=tmp_path)
    runner = LocalRunner(spec, rec.state, rec.lines.append)
    runner.request_run()
    await rec.until(lambda: runner.runs == 1)
    for _ in range(5):  # five changes while the first run is still going
        runner.request_run()
    await rec.until(lambda: [s for s, _ in rec.states].count("ready") == 2)
    await asyncio.sleep(0.3)
    assert runner.runs == 2
    assert rec.lines == ["run", "run"]
    await runner.stop()


async def test_cmd_failure_is_an_error_state(tmp_path: Path) -> None:
    rec = Recorder()
    runner = LocalRunner(LocalCommand(name="x", cmd="exit 2", workdir=tmp_path), rec.state, print)
    runner.request_run()
    await rec.until(lambda: rec.states and rec.states[-1][0] == "error")
    assert rec.states[-1][1].startswith("exited with code 2")
    await runner.stop()


async def test_serve_restarts_with_a_new_process_and_waits_for_readiness(tmp_path: Path) -> None:
    rec = Recorder()
    marker = tmp_path / "up"
    spec = LocalCommand(
        name="web",
        serve=f"sleep 0.2; touch {marker}; exec sleep 30",
        workdir=tmp_path,
        readiness=Probe(exec=f"test -f {marker}", period=0.05),
    )
    runner = LocalRunner(spec, rec.state, rec.lines.append, grace=0.5)
    runner.request_run()
    await rec.until(lambda: rec.states and rec.states[-1][0] == "ready")
    assert any(s == "updating" and "waiting for readiness" in r for s, r in rec.states)
    first = runner.pid
    runner.request_run()
    await rec.until(lambda: runner.runs == 2 and rec.states[-1][0] == "ready")
    assert runner.pid != first
    assert first is not None and not Path(f"/proc/{first}").exists()
    await runner.stop()


async def test_serve_that_exits_reports_its_code(tmp_path: Path) -> None:
    rec = Recorder()
    runner = LocalRunner(LocalCommand(name="s", serve="exit 7", workdir=tmp_path), rec.state, print)
    runner.request_run()
    await rec.until(lambda: rec.states and rec.states[-1] == ("error", "serve exited with code 7"))
    await runner.stop()
