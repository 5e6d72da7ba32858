"""Dashboard under a log flood: prints key-press latency and per-tick cost (p50/p95/max).

    .venv/bin/python bench/tui_flood.py [lines_per_second] [seconds]

Drives the real Dashboard headless (Textual's run_test) with the real Store/LogStore while a
producer appends lines at the given rate across 4 resources, pressing a key every 200 ms.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from loopdev.engine import actions as a
from loopdev.engine.logs import LogStore
from loopdev.engine.state import ResourceStatus
from loopdev.engine.store import Store
from loopdev.tui.app import Dashboard

RESOURCES = ("web", "worker", "api", "docs")


class Timed(Dashboard):
    handled: list[float]
    ticks: list[float]

    def action_logs_all(self) -> None:
        super().action_logs_all()
        self.handled.append(time.perf_counter())

    action_logs_selected = action_logs_all  # type: ignore[assignment]

    def tick(self) -> None:
        t = time.perf_counter()
        super().tick()
        self.ticks.append(time.perf_counter() - t)


async def press_and_time(app: Timed, key: str, timeout: float = 5.0) -> float:
    """Post a key as the terminal driver would; seconds until its action ran."""
    before, sent = len(app.handled), time.perf_counter()
    app.simulate_key(key)
    while len(app.handled) == before and time.perf_counter() - sent < timeout:
        await asyncio.sleep(0.002)
    return app.handled[-1] - sent if len(app.handled) > before else timeout


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


async def main(rate: int, seconds: float) -> None:
    store, logs = Store(), LogStore()
    for name in RESOURCES:
        store.reduce_now(a.ResourceAdded(ResourceStatus(name, "workload", state="ready")))
    engine = asyncio.create_task(store.run())
    app = Timed(store, logs)
    app.handled, app.ticks = [], []
    latencies: list[float] = []
    batch, interval = max(1, rate // 20), 0.05

    async def flood() -> int:
        n, start = 0, time.perf_counter()
        for i in range(int(seconds / interval)):
            for _ in range(batch):
                logs.append(RESOURCES[n % 4], f"request {n} handled in {n % 97} ms", "pod/c")
                n += 1
            await asyncio.sleep(max(0.0, start + (i + 1) * interval - time.perf_counter()))
        return n

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        producer = asyncio.create_task(flood())
        started, cpu0 = time.perf_counter(), time.process_time()
        while not producer.done():
            await asyncio.sleep(0.2)
            latencies.append(await press_and_time(app, "a"))
        total = await producer
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu0
    engine.cancel()
    ms = [x * 1000 for x in latencies]
    ticks = [x * 1000 for x in app.ticks]
    print(f"lines: {total} in {elapsed:.1f}s = {total / elapsed:.0f} lines/s")
    print(
        f"key latency ms: n={len(ms)} p50={statistics.median(ms):.1f} "
        f"p95={pct(ms, 0.95):.1f} max={max(ms):.1f}"
    )
    print(
        f"tick (drain+table) ms: n={len(ticks)} p50={statistics.median(ticks):.2f} "
        f"p95={pct(ticks, 0.95):.2f} max={max(ticks):.2f}"
    )
    print(
        f"process CPU: {cpu:.2f}s over {elapsed:.2f}s wall = {100 * cpu / elapsed:.0f}% of a core"
    )
    print(f"log pane lines: {app.log_pane.line_count} (max {app.max_log_lines})")


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(int(args[0]) if args else 2000, float(args[1]) if len(args) > 1 else 5.0))
