"""Two latencies of a running session against the fake cluster (pods are real busybox
containers), through the whole path:

- ``live.restart: true``: save a synced file -> the restarted process serves it (watcher,
  sync exec, HUP exec to the restart wrapper, the process starting again), in the same pod;
- loopfile reload: save an edited loopfile -> ``ConfigReloaded`` dispatched (watcher, load
  with schema and checks, diff).

Needs Docker. Prints figures, asserts nothing.
Run: .venv/bin/python bench/live_restart.py [--saves 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker  # noqa: E402
import kubernetes.client  # noqa: E402

from loopdev.adapters.kube import KubeClient, resolve_target  # noqa: E402
from loopdev.config.load import load_loopfile  # noqa: E402
from loopdev.engine import actions as a  # noqa: E402
from loopdev.engine.session import Session, load_reconcilers  # noqa: E402
from loopdev.reconcilers.live_update import LiveUpdateReconciler  # noqa: E402
from tests.fakekube import FakeCluster  # noqa: E402
from tests.integration.test_live_restart import DOCKERFILE, LOOPFILE, MANIFEST  # noqa: E402
from tests.support.images import ensure_busybox_image  # noqa: E402

NS = "restartbench"
RECONCILERS = [
    "loopdev.reconcilers.build:BuildReconciler",
    "loopdev.reconcilers.deploy:DeployReconciler",
    "loopdev.reconcilers.status:StatusReconciler",
    "loopdev.reconcilers.config:ConfigReconciler",
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def line(label: str, values: list[float]) -> str:
    return (
        f"{label}: p50 {statistics.median(values):.0f} ms, p95 {pct(values, 0.95):.0f} ms, "
        f"max {max(values):.0f} ms (n={len(values)})"
    )


def pods(cluster: FakeCluster) -> list[dict[str, Any]]:
    store = cluster.kube.store
    res = store.kind_of(("", "pods"))
    return [p for p in store.list(res, NS) if not p["metadata"].get("deletionTimestamp")]


def served(cluster: FakeCluster) -> str:
    found = cluster.call(pods, cluster)
    if len(found) != 1 or not (found[0].get("status") or {}).get("podIP"):
        return ""
    try:
        url = f"http://{found[0]['status']['podIP']}:8080/"
        with urllib.request.urlopen(url, timeout=1) as resp:
            return str(resp.read().decode())
    except OSError:
        return ""


async def until(check: Any, timeout: float = 60.0, step: float = 0.005) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):
            return time.monotonic()
        await asyncio.sleep(step)
    raise TimeoutError("never happened")


async def run(args: argparse.Namespace, cluster: FakeCluster) -> None:
    root = Path(tempfile.mkdtemp(prefix="loopdev-restartbench-"))
    (root / "k8s").mkdir()
    (root / "msg.txt").write_text("built\n")
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "k8s" / "app.yaml").write_text(MANIFEST)
    text = LOOPFILE.format(namespace=NS)
    (root / "loopfile.yaml").write_text(text)
    os.environ["KUBECONFIG"] = str(cluster.kubeconfig)
    kube = KubeClient(resolve_target(cluster.context))
    reconcilers = [*load_reconcilers(RECONCILERS), LiveUpdateReconciler()]
    config = load_loopfile(root / "loopfile.yaml")
    session = Session(config, kube, cluster.context, reconcilers=reconcilers)
    reloaded: list[float] = []
    session.store.subscribe(
        lambda _s, b: reloaded.extend(
            time.monotonic() for x in b if isinstance(x, a.ConfigReloaded)
        )
    )
    await session.start()
    try:
        await until(lambda: served(cluster) == "built\n", 120)
        uid = cluster.call(pods, cluster)[0]["metadata"]["uid"]
        restart: list[float] = []
        for i in range(args.saves):
            body = f"edit {i}\n"
            start = time.monotonic()
            (root / "msg.txt").write_text(body)
            seen = await until(lambda body=body: served(cluster) == body)
            restart.append((seen - start) * 1000)
            await asyncio.sleep(0.3)
        same = cluster.call(pods, cluster)[0]["metadata"]["uid"] == uid
        print(line("save -> restarted process serves it", restart) + f"; same pod: {same}")

        # The loopfile reload: a live rule edit (load, schema, checks, diff, dispatch).
        to_reload: list[float] = []
        for i in range(args.reloads):
            before = len(reloaded)
            start = time.monotonic()
            edited = text.replace("restart: true", f"restart: true\n      rebuildOn: [x{i}]")
            (root / "loopfile.yaml").write_text(edited)
            got = await until(lambda before=before: len(reloaded) > before)
            to_reload.append((got - start) * 1000)
            await asyncio.sleep(0.3)
        print(line("loopfile save -> ConfigReloaded", to_reload))
    finally:
        refs = set(session.ctx.image_refs.values())
        await session.stop()
        kube.close()
        client = docker.from_env()
        for ref in refs:
            try:
                client.images.remove(ref, force=True)
            except docker.errors.APIError:
                pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves", type=int, default=20)
    parser.add_argument("--reloads", type=int, default=10)
    args = parser.parse_args()
    client = docker.from_env()
    ensure_busybox_image(client)
    kubeconfig = Path(tempfile.mkdtemp(prefix="loopdev-restartbench-kube-")) / "kubeconfig"
    cluster = FakeCluster(client, kubeconfig, "kind-loopdev-bench").start()
    try:
        api = cluster.api_client()
        kubernetes.client.CoreV1Api(api).create_namespace({"metadata": {"name": NS}})
        asyncio.run(run(args, cluster))
        kubernetes.client.CoreV1Api(api).delete_namespace(NS)
        api.close()
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
