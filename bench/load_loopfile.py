"""Benchmark: load a generated ~2,000-line loopfile (parse, schema, profiles, checks, model).

Prints cold (first load in this process, including schema compilation) and warm figures
(median / p95 over N loads). Target: warm median under 100 ms.

    .venv/bin/python bench/load_loopfile.py [--lines 2000] [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def generate(root: Path, lines: int) -> Path:
    """A realistic loopfile: many images with live rules, resources, local commands, profiles."""
    (root / "chart").mkdir()
    out = ["version: v1", "name: bench", "namespace: bench-dev", "images:"]
    n = 0
    while len(out) < lines * 0.55:
        ctx = root / f"svc{n}"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text("FROM scratch\n")
        out += [
            f"  svc{n}:",
            f"    context: svc{n}",
            "    buildArgs: {BASE: python:3.11-slim, MODE: dev}",
            "    ignore: ['*.md', 'tests/**']",
            "    live:",
            "      sync:",
            "        - {src: app/, dest: /app/}",
            "        - {src: static/, dest: /srv/static/}",
            "      run:",
            "        - cmd: pip install -r requirements.txt",
            "          trigger: [requirements.txt]",
            "      rebuildOn: [Dockerfile, pyproject.toml]",
        ]
        n += 1
    out += ["deploy:", "  chart: chart", "  values:", "    replicas: 1", "resources:"]
    for i in range(n):
        deps = f"[svc{i - 1}]" if i else "[]"
        port = 20000 + i
        out += [
            f"  svc{i}:",
            f"    workload: deployment/svc{i}",
            f"    portForwards: ['{port}:8000']",
            f"    dependsOn: {deps}",
            "    labels: [backend]",
        ]
    out += ["local:"]
    i = 0
    while len(out) < lines * 0.9:
        out += [f"  gen{i}:", f"    cmd: make gen{i}", "    deps: ['proto/**/*.proto']"]
        i += 1
    out += ["profiles:"]
    i = 0
    while len(out) < lines:
        out += [
            f"  p{i}:",
            f"    activation: [{{env: BENCH_{i}, equals: '1'}}]",
            "    deploy: {values: {replicas: 2}}",
        ]
        i += 1
    path = root / "loopfile.yaml"
    path.write_text("\n".join(out) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = generate(Path(tmp), args.lines)
        line_count = len(path.read_text().splitlines())
        t0 = time.perf_counter()
        from loopdev.config.load import load_loopfile

        import_ms = (time.perf_counter() - t0) * 1000
        env = {"BENCH_0": "1", "BENCH_3": "1"}
        t0 = time.perf_counter()
        model = load_loopfile(path, ["p1"], env=env)
        cold_ms = (time.perf_counter() - t0) * 1000
        samples, cpu = [], []
        for _ in range(args.runs):
            t0, c0 = time.perf_counter(), time.process_time()
            load_loopfile(path, ["p1"], env=env)
            samples.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    print(
        f"loopfile: {line_count} lines, {len(model.images)} images, "
        f"{len(model.resources)} resources, {len(model.local)} local, "
        f"{len(model.profiles)} profiles ({len(model.active_profiles)} active)"
    )
    print(f"import loopdev.config.load: {import_ms:.1f} ms")
    print(f"cold load (first call, compiles schema): {cold_ms:.1f} ms")
    print(
        f"warm load over {args.runs} runs: p50 {statistics.median(samples):.1f} ms, "
        f"p95 {p95:.1f} ms, min {samples[0]:.1f} ms, max {samples[-1]:.1f} ms"
    )
    print(f"cpu time per warm load: p50 {statistics.median(cpu):.1f} ms, min {min(cpu):.1f} ms")
    load = os.getloadavg()[0]
    print(f"machine load average (1 min): {load:.2f} on {os.cpu_count()} cores")
    print(f"target p50 < 100 ms: {'met' if statistics.median(samples) < 100 else 'NOT met'}")


if __name__ == "__main__":
    main()
