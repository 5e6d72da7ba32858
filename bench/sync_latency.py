"""Save-to-visible-in-container latency of live update, against the fake cluster (pods are
real busybox containers), through the whole path: watchfiles -> coalescer -> FilesChanged
-> planner -> one exec carrying a tar -> file in the container; and for a deleted file,
save -> gone from the container.

Visibility is checked by polling the container's own root filesystem (the overlay's merged
directory, read from the host) every 1 ms. Also prints the floor of the fake cluster (a bare
``exec true`` round-trip, which is Docker's exec cost on this machine) and the time to sync
one batch of 200 changed files. Needs Docker. Prints figures, asserts nothing.
Run: .venv/bin/python bench/sync_latency.py [--saves 60] [--server-version 1.28]
(1.28, the default, negotiates v4 exec as most clusters do; 1.30+ negotiates v5)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker  # noqa: E402
import kubernetes.client  # noqa: E402

from loopdev.adapters.kube_exec import KubeExec  # noqa: E402
from loopdev.config.model import Deploy, Image, LiveUpdate, Loopfile, SyncRule  # noqa: E402
from loopdev.engine import actions as a  # noqa: E402
from loopdev.engine.logs import LogStore  # noqa: E402
from loopdev.engine.reconciler import SessionContext  # noqa: E402
from loopdev.engine.store import Store  # noqa: E402
from loopdev.reconcilers.live_update import LiveUpdateReconciler  # noqa: E402
from loopdev.render.labels import RESOURCE_LABEL, ownership_labels  # noqa: E402
from tests.fakekube import FakeCluster, ServerOptions  # noqa: E402
from tests.fakekube.version import DEFAULT_VERSION  # noqa: E402
from tests.support.images import ensure_busybox_image  # noqa: E402

PROJECT, NS, REF = "syncbench", "syncbench", "loopdev-bench/web:live"


def pod(image: str) -> dict[str, Any]:
    labels = {**ownership_labels(PROJECT), RESOURCE_LABEL: "web"}
    spec = {"containers": [{"name": "web", "image": image, "command": ["sleep", "36000"]}]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-0", "labels": labels},
        "spec": spec,
    }


def official_exec(cluster: FakeCluster) -> None:
    """The official client's exec (websocket-client), for the choice of implementation."""
    from kubernetes.stream import stream

    api = cluster.api_client()
    core = kubernetes.client.CoreV1Api(api)
    resp = stream(
        core.connect_get_namespaced_pod_exec,
        "web-0",
        NS,
        container="web",
        command=["true"],
        stdout=True,
        stderr=True,
        stdin=False,
        tty=False,
        _preload_content=False,
    )
    resp.run_forever(timeout=10)
    resp.close()
    api.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def merged_dir(client: docker.DockerClient) -> Path:
    for c in client.containers.list(filters={"name": f"fk-{NS}-web-0-web-"}):
        return Path(c.attrs["GraphDriver"]["Data"]["MergedDir"])
    raise RuntimeError("bench pod container not found")


async def wait_visible(path: Path, content: bytes, timeout: float = 10.0) -> float:
    """Poll the container's file every 1 ms; the monotonic time it first shows ``content``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if path.read_bytes() == content:
                return time.monotonic()
        except OSError:
            pass
        await asyncio.sleep(0.001)
    raise TimeoutError(f"{path} never showed the new content")


async def wait_gone(path: Path, timeout: float = 10.0) -> float:
    """Poll every 1 ms; the monotonic time ``path`` is first gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not path.exists():
            return time.monotonic()
        await asyncio.sleep(0.001)
    raise TimeoutError(f"{path} was never deleted")


async def run(args: argparse.Namespace, cluster: FakeCluster, client: docker.DockerClient) -> None:
    root = Path(tempfile.mkdtemp(prefix="loopdev-syncbench-"))
    (root / "app").mkdir()
    (root / "Dockerfile").write_text("FROM scratch\n")
    image = Image(
        "web", root, root / "Dockerfile", live=LiveUpdate(sync=(SyncRule("app/", "/app/"),))
    )
    config = Loopfile(
        root / "loopfile.yaml", root, PROJECT, NS, {"web": image}, Deploy(kind="manifests")
    )
    kexec = await KubeExec.connect(cluster.context, str(cluster.kubeconfig))
    store = Store()
    ctx = SessionContext(config, store, LogStore(), cluster.context, NS, kube=None)
    ctx.image_refs["web"] = REF
    dispatched: list[float] = []
    store.subscribe(
        lambda _s, b: dispatched.extend(
            time.monotonic() for x in b if isinstance(x, a.FilesChanged)
        )
    )
    rec = LiveUpdateReconciler(exec_port=kexec)
    tasks = [asyncio.create_task(store.run()), asyncio.create_task(rec.run(ctx))]
    while rec.watcher is None or not rec.watcher.ready.is_set():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    merged = merged_dir(client)

    floor = []
    for _ in range(20):
        t0 = time.monotonic()
        await kexec.exec(NS, "web-0", "web", ["true"])
        floor.append((time.monotonic() - t0) * 1000)
    official = []
    for _ in range(20):
        t0 = time.monotonic()
        await asyncio.to_thread(official_exec, cluster)
        official.append((time.monotonic() - t0) * 1000)

    lat, watch_lat = [], []
    target = merged / "app" / "message.txt"
    for i in range(args.saves):
        body = f"save {i} {random.random()}\n".encode()
        dispatched.clear()
        t0 = time.monotonic()
        (root / "app" / "message.txt").write_bytes(body)
        t1 = await wait_visible(target, body)
        lat.append((t1 - t0) * 1000)
        if dispatched:
            watch_lat.append((dispatched[0] - t0) * 1000)
        await asyncio.sleep(0.05 + random.random() * 0.1)

    gone = []
    for i in range(max(5, args.saves // 3)):
        local = root / "app" / f"doomed-{i}.txt"
        local.write_bytes(b"doomed\n")
        await wait_visible(merged / "app" / local.name, b"doomed\n")
        await asyncio.sleep(0.05 + random.random() * 0.1)
        t0 = time.monotonic()
        local.unlink()
        t1 = await wait_gone(merged / "app" / local.name)
        gone.append((t1 - t0) * 1000)
        await asyncio.sleep(0.05 + random.random() * 0.1)

    batches, sync_only, batch_msgs = [], [], []
    for run_no in range(3):
        files = [
            (root / "app" / "many" / f"f{k:03d}.txt", f"{run_no}-{k}\n".encode())
            for k in range(200)
        ]
        (root / "app" / "many").mkdir(exist_ok=True)
        dispatched.clear()
        t0 = time.monotonic()
        for path, body in files:
            path.write_bytes(body)
        written = time.monotonic()
        for path, body in files:
            await wait_visible(merged / "app" / "many" / path.name, body, 20)
        batches.append((time.monotonic() - t0) * 1000)
        first = dispatched[0] if dispatched else float("nan")
        sync_only.append((time.monotonic() - first) * 1000)
        await asyncio.sleep(0.5)
        syncs = [m for m in ctx.logs.tail("web", 5) if m.startswith("synced")]
        batch_msgs.append(
            f"writing took {(written - t0) * 1000:.0f} ms, first FilesChanged at "
            f"{(first - t0) * 1000:.0f} ms, {len(dispatched)} batch(es); last: {syncs[-1:]}"
        )

    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await kexec.close()

    print(
        f"fake-cluster floor, bare 'exec true' (n=20): p50 {pct(floor, 0.5):.0f} ms, "
        f"p95 {pct(floor, 0.95):.0f} ms"
    )
    print(
        f"same through kubernetes.stream.stream in a thread (n=20): p50 {pct(official, 0.5):.0f}"
        f" ms, p95 {pct(official, 0.95):.0f} ms"
    )
    print(
        f"save -> FilesChanged dispatched (n={len(watch_lat)}): p50 {pct(watch_lat, 0.5):.1f} ms,"
        f" p95 {pct(watch_lat, 0.95):.1f} ms"
    )
    print(
        f"save -> visible in container (n={len(lat)}): p50 {pct(lat, 0.5):.0f} ms, "
        f"p95 {pct(lat, 0.95):.0f} ms, max {max(lat):.0f} ms, mean {statistics.mean(lat):.0f} ms"
    )
    print(
        f"delete -> gone in container (n={len(gone)}): p50 {pct(gone, 0.5):.0f} ms, "
        f"p95 {pct(gone, 0.95):.0f} ms"
    )
    for msg in batch_msgs:
        print("   ", msg)
    print(
        "batch of 200 files, FilesChanged -> all 200 visible (n=3): "
        + ", ".join(f"{b:.0f} ms" for b in sync_only)
    )
    print(
        "batch of 200 files, first write -> all 200 visible (n=3): "
        + ", ".join(f"{b:.0f} ms" for b in batches)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves", type=int, default=60)
    parser.add_argument("--server-version", default=DEFAULT_VERSION)
    args = parser.parse_args()
    client = docker.from_env()
    base = ensure_busybox_image(client)
    client.images.get(base).tag(REF)
    kubeconfig = Path(tempfile.mkdtemp(prefix="loopdev-syncbench-kube-")) / "kubeconfig"
    options = ServerOptions(server_version=args.server_version)
    cluster = FakeCluster(client, kubeconfig, "kind-loopdev-bench", options).start()
    print(f"fake cluster claims Kubernetes {cluster.server_version}")
    try:
        api = cluster.api_client()
        core = kubernetes.client.CoreV1Api(api)
        core.create_namespace({"metadata": {"name": NS}})
        core.create_namespaced_pod(NS, pod(REF))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            p = core.read_namespaced_pod("web-0", NS)
            if p.status.phase == "Running":
                break
            time.sleep(0.1)
        asyncio.run(run(args, cluster, client))
        core.delete_namespace(NS)
        api.close()
    finally:
        cluster.close()
        client.images.remove(REF)


if __name__ == "__main__":
    main()
