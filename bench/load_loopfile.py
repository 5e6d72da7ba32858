"""Benchmark: load a generated ~2,000-line loopfile (parse, schema, profiles, checks, model).

Prints warm figures (median / p95 over N loads in one process), where the time goes by phase,
and what a user feels: a fresh ``loopdev validate`` process, the first one on the machine
(the compiled schema is not cached yet) and the later ones. Target: warm median under 100 ms.

    .venv/bin/python bench/load_loopfile.py [--lines 2000] [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


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


def _median_ms(fn: Callable[[], Any], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def phases(path: Path, env: dict[str, str], runs: int) -> str:
    """Median time of each loading phase, run on their own."""
    from loopdev.config import assemble, checks, load, profiles, schema_errors
    from loopdev.config.problems import Problems

    problems = Problems(path.name, path.read_text())
    data, marks = load._parse(problems)
    defined = profiles.defined_profiles(data)
    active = profiles.select_profiles(defined, ["p1"], env, None, None)
    effective, effective_marks = load._apply_profiles(data, marks, active)
    parts = {
        "parse": lambda: load._parse(problems),
        "schema": lambda: schema_errors.check_schema(data, marks, problems),
        "profiles": lambda: load._apply_profiles(data, marks, active),
        "checks": lambda: checks.check_effective(effective, effective_marks, problems, path.parent),
        "model": lambda: assemble.build_model(effective, path, tuple(defined), active),
    }
    return ", ".join(f"{name} {_median_ms(fn, runs):.1f}" for name, fn in parts.items())


def fresh_processes(path: Path, env: dict[str, str], runs: int) -> tuple[float, float]:
    """Wall time of ``loopdev validate`` in a new process: first on the machine, then median."""
    with tempfile.TemporaryDirectory() as cache:
        proc_env = {**os.environ, **env, "LOOPDEV_CACHE_DIR": cache}
        proc_env.pop("PYTHONDONTWRITEBYTECODE", None)  # as users run it: with __pycache__
        argv = [sys.executable, "-m", "loopdev", "-f", str(path), "-p", "p1", "validate"]
        samples = []
        for _ in range(runs + 1):
            t0 = time.perf_counter()
            subprocess.run(argv, env=proc_env, check=True, capture_output=True)
            samples.append((time.perf_counter() - t0) * 1000)
    return samples[0], statistics.median(samples[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    env = {"BENCH_0": "1", "BENCH_3": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        path = generate(Path(tmp), args.lines)
        line_count = len(path.read_text().splitlines())
        t0 = time.perf_counter()
        from loopdev.config.load import load_loopfile

        import_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        model = load_loopfile(path, ["p1"], env=env)
        cold_ms = (time.perf_counter() - t0) * 1000
        samples, cpu = [], []
        for _ in range(args.runs):
            t0, c0 = time.perf_counter(), time.process_time()
            load_loopfile(path, ["p1"], env=env)
            samples.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        by_phase = phases(path, env, args.runs)
        first, later = fresh_processes(path, env, 5)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    print(
        f"loopfile: {line_count} lines, {len(model.images)} images, "
        f"{len(model.resources)} resources, {len(model.local)} local, "
        f"{len(model.profiles)} profiles ({len(model.active_profiles)} active)"
    )
    print(f"import loopdev.config.load: {import_ms:.1f} ms")
    print(f"first load in this process: {cold_ms:.1f} ms")
    print(
        f"warm load over {args.runs} runs: p50 {statistics.median(samples):.1f} ms, "
        f"p95 {p95:.1f} ms, min {samples[0]:.1f} ms, max {samples[-1]:.1f} ms"
    )
    print(f"cpu time per warm load: p50 {statistics.median(cpu):.1f} ms, min {min(cpu):.1f} ms")
    print(f"phases (median ms): {by_phase}")
    print(
        f"fresh 'loopdev validate' process: first on this machine {first:.0f} ms, "
        f"then p50 {later:.0f} ms (interpreter and imports included)"
    )
    load = os.getloadavg()[0]
    print(f"machine load average (1 min): {load:.2f} on {os.cpu_count()} cores")
    print(f"target p50 < 100 ms: {'met' if statistics.median(samples) < 100 else 'NOT met'}")


if __name__ == "__main__":
    main()
