"""Cost of the watcher's ignore rules: planning the watch, and judging one path.

Generates a monorepo-shaped tree (``services/sNN/`` each with sources, a ``.gitignore``
excluding ``build/`` and ``*.gen.py``, generated output under ``build/``; a root
``.gitignore`` and ``.dockerignore``), then prints:

- ``plan_watch`` over it (roots built, walked; best of ``--repeat``) and directories kept;
- the per-path cost of ``RootIgnore.ignored`` (what the live-update planner calls per
  changed file) and ``RootSet.accepts`` (the watcher's event filter) over 10,000 paths in
  watched directories, warm (rules already consulted for those directories) and cold
  (fresh rules, every directory seen for the first time).

Times are CPU time of this process (the development machine is shared and noisy).
Prints figures, asserts nothing.
Run: .venv/bin/python bench/ignore_rules.py [--files 100000] [--no-nested]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loopdev.config.model import Image  # noqa: E402
from loopdev.live.ignore import for_dir, for_image  # noqa: E402
from loopdev.live.roots import RootSet, plan_watch  # noqa: E402

CALLS = 10_000


def generate(root: Path, files: int, nested: bool) -> list[str]:
    """20 services; 70% sources in 50-file directories, 30% generated; returns source paths."""
    services = 20
    per = files // services
    sources: list[str] = []
    for s in range(services):
        svc = root / "services" / f"s{s:02d}"
        svc.mkdir(parents=True)
        if nested:
            (svc / ".gitignore").write_text("build/\n*.gen.py\n")
        for i in range(per):
            generated = i >= per * 7 // 10
            sub = "build/out" if generated else "src"
            d = svc / sub / f"d{i // 50:03d}"
            if i % 50 == 0 or not d.exists():
                d.mkdir(parents=True, exist_ok=True)
            name = f"f{i % 50:02d}.gen.py" if i % 10 == 9 else f"f{i % 50:02d}.py"
            (d / name).write_bytes(b"x")
            if not generated:
                sources.append(str(d / name))
    (root / "Dockerfile").write_text("FROM scratch\n")
    (root / ".gitignore").write_text("node_modules/\n*.log\n")
    (root / ".dockerignore").write_text("*.md\ndocs/\n")
    return sources


def per_call_us(fn: Callable[[str], object], paths: list[str]) -> float:
    start = time.process_time()
    for p in paths:
        fn(p)
    return (time.process_time() - start) / len(paths) * 1e6


def cold_warm(make: Callable[[], Callable[[str], object]], paths: list[str], n: int) -> str:
    """Best of ``n`` (fresh rules each time): first pass over ``paths``, then a second."""
    runs = []
    for _ in range(n):
        fn = make()
        runs.append((per_call_us(fn, paths), per_call_us(fn, paths)))
    cold, warm = min(r[0] for r in runs), min(r[1] for r in runs)
    return f"cold {cold:.1f} us/path, warm {warm:.1f} us/path"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-nested", action="store_true", help="no services/*/.gitignore")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="loopdev-ignore-") as tmp:
        root = Path(tmp).resolve()
        t0 = time.monotonic()
        sources = generate(root, args.files, not args.no_nested)
        print(f"generated {args.files} files in {time.monotonic() - t0:.1f} s")
        image = Image("web", root, root / "Dockerfile")

        def roots() -> RootSet:
            return RootSet([for_image(image), for_dir(root / "services")])

        best = float("inf")
        for _ in range(args.repeat):
            start = time.process_time()
            plan = plan_watch(roots())
            best = min(best, time.process_time() - start)
        print(f"plan_watch: {best * 1000:.0f} ms (best of {args.repeat}), {plan.dirs} dirs")
        step = max(1, len(sources) // CALLS)
        paths = (sources[::step] * 2)[:CALLS]
        n = args.repeat
        figures = cold_warm(lambda: for_image(image).ignored, paths, n)
        print(f"RootIgnore.ignored (image root): {figures}")
        figures = cold_warm(lambda: for_dir(root).ignored, paths, n)
        print(f"RootIgnore.ignored (dir root):   {figures}")
        print(f"RootSet.accepts (both roots):   {cold_warm(lambda: roots().accepts, paths, n)}")


if __name__ == "__main__":
    main()
