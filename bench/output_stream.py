"""Plain and JSON output throughput: how many log lines per second each writer (with secret
scrubbing) keeps up with. Prints per-line cost p50/p95 over repeated batches.

    .venv/bin/python bench/output_stream.py [lines]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time

from loopdev.engine.logs import LogStore
from loopdev.output import JsonOutput, PlainOutput
from loopdev.redact import REDACTOR

BATCH = 1000


async def measure(make: str, lines: int) -> list[float]:
    """Microseconds per line, per batch of BATCH lines (flushes run between batches)."""
    with open(os.devnull, "w", encoding="utf-8") as sink:
        out = JsonOutput(sink) if make == "json" else PlainOutput(sink, color=make == "color")
        logs = LogStore()
        logs.listen(out.on_log)
        costs: list[float] = []
        for b in range(lines // BATCH):
            start = time.perf_counter()
            for i in range(BATCH):
                n = b * BATCH + i
                text = f'10.0.0.{n % 255} "GET /api/{n}" 200 user=bob 12ms'
                logs.append(f"svc-{n % 8}", text, "p/c")
            costs.append((time.perf_counter() - start) / BATCH * 1e6)
            await asyncio.sleep(0)  # let the coalesced flush run
        return costs


async def main(lines: int) -> None:
    REDACTOR.add(*(f"secret-value-{i:04d}" for i in range(50)))
    for mode in ("plain", "color", "json"):
        costs = sorted(await measure(mode, lines))
        p50, p95 = statistics.median(costs), costs[int(len(costs) * 0.95)]
        print(f"{mode:5}: p50 {p50:.1f} us/line, p95 {p95:.1f} us/line = {1e6 / p50:,.0f} lines/s")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000))
