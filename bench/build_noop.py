"""No-op ``loopdev build`` of three images that are already present (goal: under 1 s).

Builds three small images once in a temp project, then times the whole CLI (interpreter
start, imports, config load, digests, presence checks) as a subprocess, and the builder's
own no-op call in-process. Prints figures, asserts nothing; removes its images at the end.
Run: .venv/bin/python bench/build_noop.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LOOPDEV = str(Path(sys.executable).parent / "loopdev")


def make_project(root: Path, prefix: str) -> list[str]:
    (root / ".git").mkdir()
    (root / "k8s").mkdir()
    (root / "k8s/cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    names = [f"{prefix}/{n}" for n in ("api", "web", "worker")]
    lines = ["version: v1", "name: bench", "images:"]
    for i, name in enumerate(names):
        ctx = root / f"svc{i}"
        for j in range(300):  # a few hundred source files each
            p = ctx / f"pkg{j % 10}" / f"m{j}.py"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f"X = {j}\n" * 50)
        (ctx / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
        lines += [f"  {name}:", f"    context: svc{i}"]
    lines += ["deploy:", '  manifests: ["k8s/*.yaml"]']
    (root / "loopfile.yaml").write_text("\n".join(lines) + "\n")
    return names


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def in_process(root: Path, runs: int) -> list[float]:
    from loopdev.adapters.docker import DockerAdapter
    from loopdev.build.builder import ImageBuilder
    from loopdev.build.delivery_impl import SharedDaemon
    from loopdev.commands.options import GlobalOptions
    from loopdev.config.load import load_from_options

    config = load_from_options(GlobalOptions(file=root / "loopfile.yaml"), command="build")
    docker = await DockerAdapter.connect()
    builder = ImageBuilder(config, docker, SharedDaemon(docker), lambda *_: None)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        results = await builder.build()
        times.append(time.perf_counter() - start)
        assert all(r.reused for r in results.values()), "expected a no-op"
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    prefix = f"loopdev-bench-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        names = make_project(root, prefix)
        env = {**os.environ, "KUBECONFIG": str(root / "none"), "LOOPDEV_CACHE_DIR": str(root / "c")}
        try:
            first = subprocess.run([LOOPDEV, "build", "-q"], cwd=root, env=env, check=True,
                                   capture_output=True, text=True)  # fmt: skip
            print(first.stdout.strip())
            os.utime(root, None)
            walls, cpus = [], []
            for _ in range(args.runs):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                out = subprocess.run([LOOPDEV, "build", "-q"], cwd=root, env=env, check=True,
                                     capture_output=True, text=True)  # fmt: skip
                walls.append(time.perf_counter() - start)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
                assert out.stdout.count("reused") == 3, out.stdout
            inner = asyncio.run(in_process(root, args.runs))
        finally:
            subprocess.run(["docker", "rmi", "-f", *(f"{n}" for n in _tags(names))],
                           capture_output=True)  # fmt: skip
    ms = lambda v: f"{v * 1000:.0f} ms"  # noqa: E731
    print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("no-op `loopdev build` (3 present images, whole CLI process):"
          f" wall p50 {ms(statistics.median(walls))}  p95 {ms(pct(walls, 0.95))}"
          f"  cpu p50 {ms(statistics.median(cpus))}  (n={len(walls)}, goal < 1000 ms)")  # fmt: skip
    print(f"no-op ImageBuilder.build() in-process: p50 {ms(statistics.median(inner))}"
          f"  p95 {ms(pct(inner, 0.95))}")  # fmt: skip


def _tags(names: list[str]) -> list[str]:
    out = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
                         capture_output=True, text=True).stdout.split()  # fmt: skip
    return [t for t in out if any(t.startswith(n + ":") for n in names)]


if __name__ == "__main__":
    main()
