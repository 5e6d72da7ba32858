"""Warm rebuild after a source edit: BuildKit with a cache mount vs the classic builder.

The Dockerfile copies the sources, then "installs dependencies" (40 packages, each a few
sha256 passes over busybox standing in for a download and compile) into /deps, the way
``COPY . /src`` + ``RUN pip install /src`` works. With BuildKit the step runs under
``RUN --mount=type=cache,target=/cache`` and finds every package already built; the
classic builder runs the same script without the mount, so each source edit rebuilds all
of them. Both go through loopdev's ImageBuilder (``build.builder`` buildkit / classic).
Prints the cold build and the median/p90 of the warm rebuilds; asserts nothing; removes
its images at the end. Run: .venv/bin/python bench/buildkit_cache.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loopdev.adapters.docker import DockerAdapter  # noqa: E402
from loopdev.build.builder import ImageBuilder  # noqa: E402
from loopdev.build.delivery_impl import SharedDaemon  # noqa: E402
from loopdev.config.model import BuildSettings  # noqa: E402
from tests.support.images import ensure_busybox_image  # noqa: E402
from tests.unit.build.conftest import make_loopfile  # noqa: E402

INSTALL = (
    "mkdir -p /deps /cache && for i in $(seq 1 40); do "
    "[ -f /cache/pkg$i ] || for j in 1 2 3 4 5 6; do sha256sum /bin/busybox >> /cache/pkg$i; done; "
    "cp /cache/pkg$i /deps/; done && cat /src/app.txt"
)


def dockerfile(base: str, cache_id: str | None) -> str:
    mount = f"--mount=type=cache,id={cache_id},target=/cache " if cache_id else ""
    return f"FROM {base}\nCOPY . /src\nRUN {mount}sh -c '{INSTALL}'\n"


async def measure(root: Path, builder: str, base: str, runs: int, prefix: str) -> dict[str, float]:
    ctx = root / builder
    ctx.mkdir()
    cache_id = f"{prefix}-{uuid.uuid4().hex[:6]}" if builder == "buildkit" else None
    (ctx / "Dockerfile").write_text(dockerfile(base, cache_id))
    (ctx / "app.txt").write_text("edit 0\n")
    name = f"{prefix}/{builder}"
    config = make_loopfile(root, {name: {"context": builder}})
    config = dataclasses.replace(config, build=BuildSettings(builder=builder))  # type: ignore[arg-type]
    docker = await DockerAdapter.connect()
    b = ImageBuilder(config, docker, SharedDaemon(docker), lambda *_: None, keep_tags=1)
    start = time.perf_counter()
    await b.build()
    cold = time.perf_counter() - start
    warm = []
    for i in range(1, runs + 1):
        (ctx / "app.txt").write_text(f"edit {i}\n")
        start = time.perf_counter()
        result = (await b.build())[name]
        warm.append(time.perf_counter() - start)
        assert not result.reused
        await b.drain()
    for ref, _ in await docker.tags_of(name):
        await docker.remove_tag(ref)
    warm.sort()
    return {
        "cold": cold,
        "median": statistics.median(warm),
        "p90": warm[min(len(warm) - 1, round(0.9 * (len(warm) - 1)))],
    }


async def main(runs: int) -> None:
    import docker

    client = docker.from_env()
    base = ensure_busybox_image(client)
    client.close()
    prefix = f"loopdev-bench-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / ".git").mkdir()
        results = {b: await measure(root, b, base, runs, prefix) for b in ("buildkit", "classic")}
    print(f"warm rebuild after a source edit, {runs} runs (40 cached packages)")
    for builder, r in results.items():
        print(
            f"  {builder:<9} cold {r['cold']:.2f} s   warm median {r['median']:.2f} s"
            f"   p90 {r['p90']:.2f} s"
        )
    ratio = results["classic"]["median"] / results["buildkit"]["median"]
    print(f"  classic / buildkit (warm median): {ratio:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    asyncio.run(main(parser.parse_args().runs))
