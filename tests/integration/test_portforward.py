"""Port-forwards against the fake Kubernetes API server, whose pods are real containers:
a forward answers HTTP from a busybox ``httpd``, follows the Deployment's replacement pod
after ``delete pod`` without restarting, and carries ten parallel connections."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest

from loopdev.adapters.kube_portforward import KubeWire
from loopdev.config.model import Deploy, Loopfile, PortForward, Resource
from loopdev.engine import actions as a
from loopdev.engine.logs import LogStore
from loopdev.engine.reconciler import SessionContext
from loopdev.engine.state import ResourceStatus
from loopdev.engine.store import Store
from loopdev.reconcilers.portforward import PortForwardReconciler
from loopdev.render.labels import RESOURCE_LABEL, ownership_labels

pytestmark = pytest.mark.docker

PROJECT = "pfdemo"
SERVE = (
    "mkdir -p /www && hostname > /www/index.html && "
    "head -c 1048576 /dev/zero > /www/big && exec httpd -f -p 8000 -h /www"
)


def deployment(image: str) -> dict[str, Any]:
    labels = {**ownership_labels(PROJECT), RESOURCE_LABEL: "web"}
    container = {
        "name": "web",
        "image": image,
        "command": ["sh", "-c", SERVE],
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def http_get(port: int, path: str = "/", timeout: float = 5.0) -> tuple[int, bytes]:
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        data = await reader.read()
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head else 0
    return status, body


async def until(pred: Any, timeout: float = 30.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        assert loop.time() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def forwarding(
    fake_cluster: Any, namespace: str, tmp_path: Path, local: int
) -> AsyncIterator[Store]:
    cfg = Loopfile(
        path=tmp_path / "loopfile.yaml",
        root=tmp_path,
        name=PROJECT,
        namespace=namespace,
        images={},
        deploy=Deploy(kind="manifests"),
        resources={
            "web": Resource(
                name="web",
                workload="deployment/web",
                port_forwards=(PortForward(local=local, remote="http"),),
            )
        },
    )
    store = Store()
    store.reduce_now(a.ResourceAdded(ResourceStatus(name="web", kind="workload")))
    ctx = SessionContext(cfg, store, LogStore(), fake_cluster.context, namespace)
    wire = await KubeWire.connect(fake_cluster.context, str(fake_cluster.kubeconfig))
    tasks = [
        asyncio.create_task(store.run()),
        asyncio.create_task(PortForwardReconciler(wire).run(ctx)),
    ]
    try:
        yield store
    finally:
        for task in reversed(tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await wire.close()


def forward_state(store: Store) -> str:
    res = store.state.resource("web")
    return res.forwards[0].state if res and res.forwards else "-"


def ready_pods(core: kubernetes.client.CoreV1Api, namespace: str) -> list[str]:
    pods = core.list_namespaced_pod(namespace, label_selector=f"{RESOURCE_LABEL}=web").items
    return [
        p.metadata.name
        for p in pods
        if p.metadata.deletion_timestamp is None
        and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or ())
    ]


async def test_forward_answers_survives_pod_delete_and_carries_parallel_connections(
    fake_cluster: Any,
    namespace: str,
    kube_api: kubernetes.client.ApiClient,
    busybox_image: str,
    tmp_path: Path,
) -> None:
    apps = kubernetes.client.AppsV1Api(kube_api)
    core = kubernetes.client.CoreV1Api(kube_api)
    await asyncio.to_thread(apps.create_namespaced_deployment, namespace, deployment(busybox_image))
    try:
        await _exercise(fake_cluster, namespace, core, tmp_path)
    finally:
        await _remove_deployment(apps, core, namespace)


async def _remove_deployment(
    apps: kubernetes.client.AppsV1Api, core: kubernetes.client.CoreV1Api, namespace: str
) -> None:
    """Delete the Deployment and wait for its pods, so no controller recreates one while the
    namespace fixture tears down."""
    await asyncio.to_thread(
        apps.delete_namespaced_deployment, "web", namespace, propagation_policy="Foreground"
    )
    selector = f"{RESOURCE_LABEL}=web"
    async with asyncio.timeout(30):
        while (
            await asyncio.to_thread(core.list_namespaced_pod, namespace, label_selector=selector)
        ).items:
            await asyncio.sleep(0.1)


async def _exercise(
    fake_cluster: Any, namespace: str, core: kubernetes.client.CoreV1Api, tmp_path: Path
) -> None:
    port = free_port()
    async with forwarding(fake_cluster, namespace, tmp_path, port) as store:
        await until(lambda: forward_state(store) == "listening", what="listening")
        first = (await asyncio.to_thread(ready_pods, core, namespace))[0]
        status, body = await http_get(port)
        assert (status, body.decode().strip()) == (200, first[:63])

        results = await asyncio.gather(*(http_get(port, "/big") for _ in range(10)))
        assert [(s, len(b)) for s, b in results] == [(200, 1048576)] * 10

        await asyncio.to_thread(core.delete_namespaced_pod, first, namespace)
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(60):
            while True:
                new = await asyncio.to_thread(ready_pods, core, namespace)
                if new and first not in new:
                    break
                await asyncio.sleep(0.05)
        ready_at = loop.time()
        while True:  # new connections must work within a second of the new pod being Ready
            with contextlib.suppress(OSError, TimeoutError, IndexError, ValueError):
                status, body = await http_get(port, timeout=1.0)
                if status == 200 and body.decode().strip() != first[:63]:
                    break
            assert loop.time() - ready_at < 1.0, "forward did not move to the new pod in 1 s"
            await asyncio.sleep(0.02)
        assert body.decode().strip() == new[0][:63]
        await until(lambda: forward_state(store) == "listening", what="listening again")
