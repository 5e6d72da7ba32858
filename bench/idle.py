"""Idle cost of loopdev's file watching over a big repository.

Generates a 100,000-file repository (sources, plus a .git and node_modules that must cost
nothing), starts the shared watcher on it in a child process (the same SharedWatcher that
``loopdev up`` runs, dispatching into a real Store), waits until it is watching, then
samples the child's CPU time and RSS while it idles. Prints the startup time, the number of
directories watched, CPU% of one core and RSS. Prints figures, asserts nothing.
Run: .venv/bin/python bench/idle.py [--seconds 60] [--files 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def generate(root: Path, files: int) -> None:
    """60% sources in 100-file directories, 30% node_modules, 10% .git objects."""
    plan = [("src", int(files * 0.6)), ("node_modules", int(files * 0.3)), (".git/objects", 0)]
    plan[2] = (".git/objects", files - plan[0][1] - plan[1][1])
    for top, count in plan:
        for i in range(count):
            d = root / top / f"d{i // 100:04d}"
            if i % 100 == 0:
                d.mkdir(parents=True, exist_ok=True)
            (d / f"f{i % 100:02d}.txt").write_bytes(b"x")
    (root / "Dockerfile").write_text("FROM scratch\n")
    (root / ".gitignore").write_text("node_modules/\n")


async def child(root: Path) -> None:
    from loopdev.config.model import Deploy, Image, LiveUpdate, Loopfile, SyncRule
    from loopdev.engine.store import Store
    from loopdev.live.roots import roots_for
    from loopdev.live.watcher import SharedWatcher

    image = Image("web", root, root / "Dockerfile", live=LiveUpdate((SyncRule("src/", "/src/"),)))
    config = Loopfile(
        root / "loopfile.yaml", root, "idle", "idle", {"web": image}, Deploy(kind="manifests")
    )
    store = Store()
    started = time.monotonic()
    watcher = SharedWatcher(lambda: roots_for(config), store.dispatch)
    tasks = [asyncio.create_task(store.run()), asyncio.create_task(watcher.run())]
    await watcher.ready.wait()
    plan = watcher.plan
    assert plan is not None
    print(
        f"READY {time.monotonic() - started:.2f} {plan.dirs} {len(plan.recursive)} "
        f"{len(plan.flat)}",
        flush=True,
    )
    await asyncio.gather(*tasks)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--child", type=Path)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child))
        return
    with tempfile.TemporaryDirectory(prefix="loopdev-idle-") as tmp:
        root = Path(tmp)
        t0 = time.monotonic()
        generate(root, args.files)
        print(f"generated {args.files} files in {time.monotonic() - t0:.1f} s")
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", str(root)], stdout=subprocess.PIPE, text=True
        )
        try:
            line = proc.stdout.readline().split() if proc.stdout else []
            if not line or line[0] != "READY":
                raise SystemExit(f"watcher did not start: {line}")
            print(
                f"watcher ready in {float(line[1]):.2f} s: {line[2]} directories watched "
                f"({line[3]} recursive roots, {line[4]} flat)"
            )
            ps = psutil.Process(proc.pid)
            time.sleep(2.0)  # let startup work settle
            cpu0, w0 = ps.cpu_times(), time.monotonic()
            rss = []
            while time.monotonic() - w0 < args.seconds:
                time.sleep(1.0)
                rss.append(ps.memory_info().rss)
            cpu1, w1 = ps.cpu_times(), time.monotonic()
            used = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
            print(
                f"idle {w1 - w0:.0f} s: CPU {100 * used / (w1 - w0):.2f}% of one core, "
                f"RSS max {max(rss) / 2**20:.1f} MB (last {rss[-1] / 2**20:.1f} MB), "
                f"threads {ps.num_threads()}"
            )
        finally:
            proc.terminate()
            proc.wait(5)
    print(
        f"inotify limit here: {Path('/proc/sys/fs/inotify/max_user_watches').read_text().strip()}"
        if os.path.exists("/proc/sys/fs/inotify/max_user_watches")
        else ""
    )


if __name__ == "__main__":
    main()
