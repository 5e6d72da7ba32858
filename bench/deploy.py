"""Deploy loop timings against the fake API server (pods are real Docker containers).

Measures, for a busybox project (one Deployment + one ConfigMap):
- first `ci` in-process: build (or reuse) + apply + rollout to ready;
- redeploy: a changed value in the manifest -> FilesChanged -> new pods ready (per run);
- a no-op apply pass (render + list + diff, no write) that an unchanged redeploy costs;
- an unchanged second `loopdev ci` as a subprocess (interpreter start included), with its
  count of write calls (expected 0).
Prints figures, asserts nothing. Run: .venv/bin/python bench/deploy.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker  # noqa: E402

from loopdev.deploy.apply import apply_objects  # noqa: E402
from loopdev.engine.actions import FilesChanged  # noqa: E402
from loopdev.reconcilers.deploy import render_for  # noqa: E402
from tests.fakekube import FakeCluster, ServerOptions  # noqa: E402
from tests.integration.deploy_support import (  # noqa: E402
    deployment,
    load,
    make_session,
    wait_state,
    write_project,
)
from tests.support.images import ensure_busybox_image  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def show(name: str, values: list[float]) -> None:
    ms = [v * 1000 for v in values]
    print(
        f"{name:<34} n={len(ms):<3} p50={statistics.median(ms):7.0f} ms  "
        f"p95={pct(ms, 95):7.0f} ms  max={max(ms):7.0f} ms"
    )


async def measure(cluster: FakeCluster, root: Path, runs: int) -> None:
    path = write_project(root, "bench", "bench-deploy")
    session = make_session(load(path), cluster.context)
    started = time.perf_counter()
    await session.start()
    try:
        await wait_state(session, "web", lambda r: r.state == "ready", 120)
        show("first deploy to ready", [time.perf_counter() - started])
        redeploys: list[float] = []
        app = root / "k8s" / "app.yaml"
        for i in range(runs):
            app.write_text(deployment(f"v{i}"))
            t0 = time.perf_counter()
            session.store.dispatch(FilesChanged(frozenset({str(app)}), frozenset()))
            await wait_state(session, "web", lambda r: r.state != "ready", 30)
            await wait_state(session, "web", lambda r: r.state == "ready", 60)
            redeploys.append(time.perf_counter() - t0)
        show("value change -> new pods ready", redeploys)
        noop: list[float] = []
        writes = cluster.write_count()
        ctx = session.ctx
        for _ in range(runs * 2):
            t0 = time.perf_counter()
            objects = await asyncio.to_thread(render_for, ctx)
            await apply_objects(ctx.kube, objects, ctx.namespace, ctx.config.name)
            noop.append(time.perf_counter() - t0)
        show("no-op apply pass (render+list+diff)", noop)
        print(f"{'writes during no-op passes':<34} {cluster.write_count() - writes}")
    finally:
        await session.stop()
        session.ctx.kube.close()
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "NO_COLOR": "1"}
    ci: list[float] = []
    # Warm-up: the image context includes k8s/, so the edits above changed the image digest.
    warm = [sys.executable, "-m", "loopdev", "-f", str(path), "ci", "--timeout", "60"]
    subprocess.run(warm, env=env, capture_output=True, text=True)
    for _ in range(max(3, runs // 2)):
        writes = cluster.write_count()
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", "loopdev", "-f", str(path), "ci", "--timeout", "60"]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        ci.append(time.perf_counter() - t0)
        if done.returncode != 0 or cluster.write_count() != writes:
            extra = [(r.method, r.path) for r in cluster.requests() if r.is_write][writes:]
            print("unexpected:", done.returncode, extra, done.stderr[-500:])
    show("unchanged `loopdev ci` (subprocess)", ci)
    imports: list[float] = []
    mods = "loopdev.cli, loopdev.adapters.kube, loopdev.engine.session, loopdev.output"
    mods += ", loopdev.reconcilers.live_update, loopdev.reconcilers.portforward"
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {mods}"], check=True)
        imports.append(time.perf_counter() - t0)
    show("  of which: interpreter + imports", imports)
    print("  and the 2 s ready-settle window `ci` waits before saying ok")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    client = docker.from_env()
    ensure_busybox_image(client)
    with tempfile.TemporaryDirectory() as tmp:
        cluster = FakeCluster(client, Path(tmp) / "kubeconfig", "kind-bench", ServerOptions())
        cluster.start()
        os.environ["KUBECONFIG"] = str(cluster.kubeconfig)
        try:
            asyncio.run(measure(cluster, Path(tmp) / "project", args.runs))
        finally:
            cluster.close()


if __name__ == "__main__":
    main()
