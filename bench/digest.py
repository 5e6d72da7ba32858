"""Digest of a generated 10,000-file, 100 MB build context: cold (empty cache) and warm.

Goal on the 2-core dev machine: cold < 1.5 s, warm < 150 ms. Prints figures, asserts nothing.
Run: .venv/bin/python bench/digest.py [--files N] [--mb M] [--runs R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loopdev.build import cache as cache_mod  # noqa: E402
from loopdev.build.context import context_patterns, list_context  # noqa: E402
from loopdev.build.digest import compute_digests  # noqa: E402
from loopdev.config.model import Deploy, Image, Loopfile  # noqa: E402

OLD_NS = 1_600_000_000_000_000_000


def generate(root: Path, files: int, total: int) -> None:
    """``files`` files over ~100 directories, sizes varying around total/files; a .dockerignore."""
    ctx = root / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
    (ctx / ".dockerignore").write_text("**/*.tmp\nbuild\n!build/keep.txt\n")
    avg = total // files
    chunk = os.urandom(avg * 2)
    for i in range(files):
        d = ctx / f"pkg{i % 100:02d}" / f"sub{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        size = avg // 2 + (i * 7919) % avg  # between avg/2 and 1.5 avg
        name = f"f{i}.tmp" if i % 50 == 0 else f"f{i}.py"
        p = d / name
        p.write_bytes(chunk[i % avg : i % avg + size])
    for p in [*ctx.rglob("*"), ctx]:
        os.utime(p, ns=(OLD_NS, OLD_NS))  # as in a real checkout: not just written


def loopfile(root: Path) -> Loopfile:
    ctx = root / "ctx"
    image = Image(name="bench", context=ctx, dockerfile=ctx / "Dockerfile")
    return Loopfile(
        path=root / "loopfile.yaml", root=root, name="bench", namespace="default",
        images={"bench": image}, deploy=Deploy(kind="manifests"),
    )  # fmt: skip


CPU: list[float] = []


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    """Wall time of ``fn()``; its process CPU time (all threads) goes to ``CPU``."""
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    CPU.append(time.process_time() - cpu)
    return time.perf_counter() - start


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / ".git").mkdir()
        generate(root, args.files, args.mb * 1_000_000)
        config = loopfile(root)
        sent = [e for e in list_context(root / "ctx", context_patterns(root / "ctx"), "Dockerfile")]
        size = sum(e.size for e in sent)
        print(f"context: {sum(e.kind == 'f' for e in sent)} files sent, {size / 1e6:.1f} MB")
        colds, warms, lists = [], [], []
        for i in range(3):
            os.environ["LOOPDEV_CACHE_DIR"] = str(root / f"cache-cold-{i}")
            colds.append(timed(lambda: compute_digests(config)))
        cold_cpu = CPU[:]
        CPU.clear()
        for _ in range(args.runs):
            warms.append(timed(lambda: compute_digests(config)))
        warm_cpu = CPU[:]
        CPU.clear()
        disk = []
        for _ in range(args.runs):
            cache_mod._OPEN.clear()  # as a new process: the cache is read from disk
            disk.append(timed(lambda: compute_digests(config)))
        disk_cpu = CPU[:]
        for _ in range(args.runs):
            lists.append(timed(lambda: list_context(root / "ctx", ["**/*.tmp"], "Dockerfile")))
        ms = lambda v: f"{v * 1000:.0f} ms"  # noqa: E731
        print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"cold (empty cache, page cache warm): wall p50 {ms(statistics.median(colds))}"
              f"  max {ms(max(colds))}  cpu p50 {ms(statistics.median(cold_cpu))}"
              f"  (n={len(colds)}, goal < 1500 ms)")  # fmt: skip
        print(f"warm, same process (loopdev up): wall p50 {ms(statistics.median(warms))}"
              f"  p95 {ms(pct(warms, 0.95))}  cpu p50 {ms(statistics.median(warm_cpu))}"
              f"  (n={len(warms)}, goal < 150 ms)")  # fmt: skip
        print(f"warm, cache read from disk (loopdev build): wall p50 {ms(statistics.median(disk))}"
              f"  p95 {ms(pct(disk, 0.95))}  cpu p50 {ms(statistics.median(disk_cpu))}"
              f"  (n={len(disk)}, goal < 150 ms)")  # fmt: skip
        print(f"  cold listing alone (no cache): wall p50 {ms(statistics.median(lists))}")


if __name__ == "__main__":
    main()
