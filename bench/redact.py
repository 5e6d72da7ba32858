"""Secret scrubbing cost per log line: registered values only (one regex pass) and with the
fingerprints earlier sessions remembered (a keyed hash per candidate token of a remembered
length). Prints per-line cost p50/p95 over repeated batches.

    .venv/bin/python bench/redact.py [lines]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from loopdev.redact import Redactor
from loopdev.redact_memory import SecretMemory

BATCH = 1000


def measure(redactor: Redactor, lines: int) -> list[float]:
    costs: list[float] = []
    for b in range(lines // BATCH):
        start = time.perf_counter()
        for i in range(BATCH):
            n = b * BATCH + i
            redactor.scrub(f'10.0.0.{n % 255} "GET /api/{n}?q=abc" 200 user=bob 12ms id={n:08x}')
        costs.append((time.perf_counter() - start) / BATCH * 1e6)
    return costs


def main(lines: int) -> None:
    values = [f"secret-value-{i:04d}" for i in range(50)]
    plain = Redactor()
    plain.add(*values)
    earlier = Redactor()
    earlier.add(*(f"old-secret-{i:05d}-{'x' * (i % 30)}" for i in range(200)))
    memory = SecretMemory.open(Path("/nonexistent/loopdev-bench.json"))  # a fresh key
    memory.learn(earlier.values())
    remembered = Redactor()
    remembered.add(*values)
    memory.apply(remembered)
    for name, r in (("50 values", plain), (f"+ {len(memory.prints)} fingerprints", remembered)):
        costs = sorted(measure(r, lines))
        p50, p95 = statistics.median(costs), costs[int(len(costs) * 0.95)]
        print(f"{name:22}: p50 {p50:.1f} us/line, p95 {p95:.1f} us/line = {1e6 / p50:,.0f} lines/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
