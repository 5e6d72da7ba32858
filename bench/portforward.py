"""Port-forward figures against the fake cluster (pods are real busybox containers).

Prints: MB/s of a 100 MB download through one loopdev forward (and, for the choice of
implementation, through the official client's ``kubernetes.stream.portforward``); small
request latency through both (an HTTP/1.0 GET ends when the client notices the close); and
the time from a replacement pod being Ready to the forward answering from it.
Needs Docker. Prints figures, asserts nothing.
Run: .venv/bin/python bench/portforward.py [--mb 100] [--runs 3] [--failovers 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker  # noqa: E402
import kubernetes.client  # noqa: E402
from kubernetes.stream import portforward  # noqa: E402

from loopdev.adapters.kube_portforward import KubeWire  # noqa: E402
from loopdev.config.model import Deploy, Loopfile, PortForward, Resource  # noqa: E402
from loopdev.engine import actions as a  # noqa: E402
from loopdev.engine.logs import LogStore  # noqa: E402
from loopdev.engine.reconciler import SessionContext  # noqa: E402
from loopdev.engine.state import ResourceStatus  # noqa: E402
from loopdev.engine.store import Store  # noqa: E402
from loopdev.reconcilers.portforward import PortForwardReconciler  # noqa: E402
from loopdev.render.labels import RESOURCE_LABEL, ownership_labels  # noqa: E402
from tests.fakekube import FakeCluster, ServerOptions  # noqa: E402
from tests.support.images import ensure_busybox_image  # noqa: E402

PROJECT, NS = "pfbench", "pfbench"


def deployment(image: str, mb: int) -> dict[str, Any]:
    labels = {**ownership_labels(PROJECT), RESOURCE_LABEL: "web"}
    serve = (
        f"mkdir -p /www && hostname > /www/index.html && head -c {mb * 1048576} /dev/zero"
        " > /www/big && exec httpd -f -p 8000 -h /www"
    )
    container = {
        "name": "web",
        "image": image,
        "command": ["sh", "-c", serve],
        "ports": [{"name": "http", "containerPort": 8000}],
        "readinessProbe": {"tcpSocket": {"port": 8000}, "periodSeconds": 1},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {RESOURCE_LABEL: "web"}},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def ready_pods(core: kubernetes.client.CoreV1Api) -> list[str]:
    pods = core.list_namespaced_pod(NS, label_selector=f"{RESOURCE_LABEL}=web").items
    return [
        p.metadata.name
        for p in pods
        if p.metadata.deletion_timestamp is None
        and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or ())
    ]


async def get(port: int, path: str, timeout: float = 60.0) -> bytes:
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        total = bytearray()
        while chunk := await reader.read(1 << 20):
            total += chunk
        writer.close()
    return bytes(total)


async def curl(port: int, path: str) -> tuple[int, float]:
    """Bytes and seconds for one GET by curl, a separate process like a real client."""
    proc = await asyncio.create_subprocess_exec(
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{size_download} %{time_total}",
        f"http://127.0.0.1:{port}{path}",
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    size, seconds = out.split()
    return int(size), float(seconds)


def official_get(core: kubernetes.client.CoreV1Api, pod: str, path: str) -> int:
    """One request through kubernetes.stream.portforward (one WebSocket per call)."""
    pf = portforward(core.connect_get_namespaced_pod_portforward, pod, NS, ports="8000")
    sock = pf.socket(8000)
    sock.setblocking(True)
    sock.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
    n = 0
    while chunk := sock.recv(1 << 20):
        n += len(chunk)
    sock.close()
    return n


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def line(label: str, values: list[float], unit: str) -> str:
    return (
        f"{label:<48} p50 {statistics.median(values):8.1f} {unit}  "
        f"p95 {pct(values, 0.95):8.1f} {unit}  max {max(values):8.1f} {unit}  (n={len(values)})"
    )


async def bench(cluster: FakeCluster, args: argparse.Namespace) -> None:
    api = cluster.api_client()
    core, apps = kubernetes.client.CoreV1Api(api), kubernetes.client.AppsV1Api(api)
    image = ensure_busybox_image(docker.from_env())
    core.create_namespace({"metadata": {"name": NS}})
    apps.create_namespaced_deployment(NS, deployment(image, args.mb))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = Path(tempfile.mkdtemp())
    cfg = Loopfile(
        path=tmp / "loopfile.yaml",
        root=tmp,
        name=PROJECT,
        namespace=NS,
        images={},
        deploy=Deploy(kind="manifests"),
        resources={"web": Resource("web", "deployment/web", (PortForward(port, "http"),))},
    )
    store = Store()
    store.reduce_now(a.ResourceAdded(ResourceStatus(name="web", kind="workload")))
    ctx = SessionContext(cfg, store, LogStore(), cluster.context, NS)
    wire = await KubeWire.connect(cluster.context, str(cluster.kubeconfig))
    tasks = [asyncio.create_task(store.run())]
    tasks.append(asyncio.create_task(PortForwardReconciler(wire).run(ctx)))

    def fstate() -> str:
        res = store.state.resource("web")
        return res.forwards[0].state if res and res.forwards else "-"

    try:
        while fstate() != "listening":
            await asyncio.sleep(0.05)
        pod = (await asyncio.to_thread(ready_pods, core))[0]
        size = args.mb * 1048576
        ours, theirs = [], []
        for _ in range(args.runs):
            n, seconds = await curl(port, "/big")
            assert n == size, n
            ours.append(n / 1048576 / seconds)
            t0 = time.perf_counter()
            n = await asyncio.to_thread(official_get, core, pod, "/big")
            theirs.append(n / 1048576 / (time.perf_counter() - t0))
            assert n >= size
        print(line(f"{args.mb} MB download (curl), loopdev forward", ours, "MB/s"))
        print(line(f"{args.mb} MB download, kubernetes.stream.portforward", theirs, "MB/s"))

        small_ours, small_theirs = [], []
        for _ in range(20):
            small_ours.append((await curl(port, "/index.html"))[1] * 1000)
        for _ in range(5):
            t0 = time.perf_counter()
            await asyncio.to_thread(official_get, core, pod, "/index.html")
            small_theirs.append((time.perf_counter() - t0) * 1000)
        print(line("small GET to close (curl), loopdev forward", small_ours, "ms"))
        print(line("small GET to close, kubernetes.stream.portforward", small_theirs, "ms"))

        failover = []
        for _ in range(args.failovers):
            old = (await asyncio.to_thread(ready_pods, core))[0]
            await asyncio.to_thread(core.delete_namespaced_pod, old, NS)
            while True:
                new = await asyncio.to_thread(ready_pods, core)
                if new and old not in new:
                    break
                await asyncio.sleep(0.01)
            ready = time.perf_counter()
            while True:
                with contextlib.suppress(OSError, TimeoutError):
                    body = await get(port, "/index.html", timeout=2.0)
                    if body.split(b"\r\n\r\n", 1)[-1].strip().decode() == new[0][:63]:
                        break
                await asyncio.sleep(0.005)
            failover.append((time.perf_counter() - ready) * 1000)
        print(line("pod Ready -> forward answers from it", failover, "ms"))
    finally:
        for task in reversed(tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await wire.close()
        with contextlib.suppress(Exception):
            apps.delete_namespaced_deployment("web", NS)
            core.delete_namespace(NS)
        api.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--failovers", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cluster = FakeCluster(
            docker.from_env(), Path(tmp) / "kubeconfig", "kind-pfbench", ServerOptions()
        ).start()
        try:
            asyncio.run(bench(cluster, args))
        finally:
            cluster.close()


if __name__ == "__main__":
    main()
