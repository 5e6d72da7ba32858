"""The port-forward reconciler in a real Store, against the in-process fake API server."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from pf_fake_server import FakeApi, free_port, get, http_backend, pod, until

from loopdev.adapters.kube_portforward import KubeWire
from loopdev.config.model import Deploy, Loopfile, PortForward, Resource
from loopdev.engine import actions as a
from loopdev.engine.logs import LogStore
from loopdev.engine.reconciler import SessionContext
from loopdev.engine.state import ResourceStatus
from loopdev.engine.store import Store
from loopdev.portforward.pods import PROJECT_LABEL, RESOURCE_LABEL
from loopdev.reconcilers.portforward import PortForwardReconciler

LABELS = {PROJECT_LABEL: "demo", RESOURCE_LABEL: "api"}


class SharedCluster:
    """The session's ClusterWatch surface the reconciler uses: pods() and subscribe()."""

    def __init__(self, api: FakeApi) -> None:
        self.api = api
        self.listeners: list[Callable[[str, str, dict[str, Any]], None]] = []

    def pods(self) -> list[dict[str, Any]]:
        return list(self.api.pods.values())

    def subscribe(self, fn: Callable[[str, str, dict[str, Any]], None]) -> Callable[[], None]:
        self.listeners.append(fn)
        return lambda: self.listeners.remove(fn)

    def notify(self) -> None:
        for fn in self.listeners:
            fn("Pod", "MODIFIED", {})


@contextlib.asynccontextmanager
async def running(
    wire: KubeWire,
    tmp_path: Path,
    *forwards: PortForward,
    cluster: SharedCluster | None = None,
    applied: dict[str, Any] | None = None,
) -> AsyncIterator[tuple[Store, PortForwardReconciler]]:
    cfg = Loopfile(
        path=tmp_path / "loopfile.yaml",
        root=tmp_path,
        name="demo",
        namespace="default",
        images={},
        deploy=Deploy(kind="manifests"),
        resources={"api": Resource(name="api", workload="deployment/api", port_forwards=forwards)},
    )
    store = Store()
    store.reduce_now(a.ResourceAdded(ResourceStatus(name="api", kind="workload")))
    ctx = SessionContext(cfg, store, LogStore(), "kind-pf", "default", applied=applied or {})
    if cluster is not None:
        ctx.shared["cluster"] = cluster
    rec = PortForwardReconciler(wire)
    tasks = [asyncio.create_task(store.run()), asyncio.create_task(rec.run(ctx))]
    try:
        yield store, rec
    finally:
        for t in reversed(tasks):
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t


def forward_state(store: Store) -> str:
    res = store.state.resource("api")
    return res.forwards[0].state if res and res.forwards else "-"


async def test_forward_survives_pod_replacement(
    fake_api: FakeApi, wire: KubeWire, tmp_path: Path
) -> None:
    s1, a1 = await http_backend("one")
    s2, a2 = await http_backend("two")
    port = free_port()
    fake_api.put(pod("api-1", labels=LABELS), backend=a1)
    fake_api.put(pod("other", labels={PROJECT_LABEL: "demo", RESOURCE_LABEL: "web"}), backend=a2)
    async with running(wire, tmp_path, PortForward(local=port, remote="http")) as (store, _):
        await until(lambda: forward_state(store) == "listening")
        assert await get(port) == "one"
        fake_api.delete("api-1")
        await until(lambda: forward_state(store) == "waiting for pod")
        fake_api.put(
            pod("api-2", ready=False, created="2024-01-02T00:00:00Z", labels=LABELS), backend=a2
        )
        await asyncio.sleep(0.1)
        assert forward_state(store) == "waiting for pod"
        loop = asyncio.get_running_loop()
        fake_api.put(pod("api-2", created="2024-01-02T00:00:00Z", labels=LABELS), backend=a2)
        ready_at = loop.time()
        assert await get(port) == "two"
        assert loop.time() - ready_at < 1.0
        await until(lambda: forward_state(store) == "listening")
    s1.close()
    s2.close()


async def test_unknown_port_name_is_an_error_naming_valid_ports(
    fake_api: FakeApi, wire: KubeWire, tmp_path: Path
) -> None:
    fake_api.put(pod("api-1", labels=LABELS), backend=("127.0.0.1", 1))
    async with running(wire, tmp_path, PortForward(local=free_port(), remote="grpc")) as (st, _):
        await until(lambda: forward_state(st).startswith("error: "))
        assert "no container port named 'grpc'; named ports: http" in forward_state(st)


async def test_cancel_closes_listener_fast(
    fake_api: FakeApi, wire: KubeWire, tmp_path: Path
) -> None:
    server, addr = await http_backend("x")
    fake_api.put(pod("api-1", labels=LABELS), backend=addr)
    port = free_port()
    loop = asyncio.get_running_loop()
    async with running(wire, tmp_path, PortForward(local=port, remote=8000)) as (store, _):
        await until(lambda: forward_state(store) == "listening")
        idle = await asyncio.open_connection("127.0.0.1", port)  # an open, idle connection
        started = loop.time()
    assert loop.time() - started < 2.0
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    idle[1].close()
    server.close()


async def test_uses_the_sessions_shared_pod_watch(
    fake_api: FakeApi, wire: KubeWire, tmp_path: Path
) -> None:
    s1, a1 = await http_backend("one")
    s2, a2 = await http_backend("two")
    cluster = SharedCluster(fake_api)
    fake_api.put(pod("api-1", labels=LABELS), backend=a1)
    fake_api.put(pod("web-1", labels={**LABELS, RESOURCE_LABEL: "web"}), backend=a2)
    port = free_port()
    fwd = PortForward(local=port, remote=8000)
    async with running(wire, tmp_path, fwd, cluster=cluster) as (store, _):
        await until(lambda: forward_state(store) == "listening")
        assert await get(port) == "one"
        fake_api.delete("api-1")
        fake_api.put(pod("api-2", created="2024-02-01T00:00:00Z", labels=LABELS), backend=a2)
        cluster.notify()
        assert await get(port) == "two"
    s1.close()
    s2.close()


async def test_connections_to_a_deleted_pod_are_closed_at_once(
    fake_api: FakeApi, wire: KubeWire, tmp_path: Path
) -> None:
    server, addr = await http_backend("one")
    fake_api.put(pod("api-1", labels=LABELS), backend=addr)
    port = free_port()
    async with running(wire, tmp_path, PortForward(local=port, remote=8000)) as (store, _):
        await until(lambda: forward_state(store) == "listening")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.0\r\n")  # an unfinished request keeps it open
        await asyncio.sleep(0.2)
        fake_api.delete("api-1")
        assert await asyncio.wait_for(reader.read(), 1.0) == b""  # closed, not left hanging
        writer.close()
    server.close()


def service(selector: dict[str, str], *ports: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": selector, "ports": list(ports)}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": spec}


async def test_service_forward_follows_the_services_pods_and_target_port(
    fake_api: FakeApi, wire: KubeWire, tmp_path: Path
) -> None:
    """The Service selects pods of another resource; its port 80 maps to the pods' named
    targetPort; a replaced pod is followed as for a pod forward."""
    s1, a1 = await http_backend("one")
    s2, a2 = await http_backend("two")
    web = {PROJECT_LABEL: "demo", RESOURCE_LABEL: "web", "app": "web"}
    fake_api.put(pod("api-1", labels=LABELS), backend=("127.0.0.1", 1))  # not selected
    fake_api.put(pod("web-1", labels=web, ports=(("http", 8000),)), backend=a1)
    svc = service({"app": "web"}, {"name": "http", "port": 80, "targetPort": "http"})
    port = free_port()
    fwd = PortForward(local=port, remote=80, service="web")
    async with running(wire, tmp_path, fwd, applied={"Service/web": svc}) as (store, _):
        await until(lambda: forward_state(store) == "listening")
        assert await get(port) == "one"
        fake_api.delete("web-1")
        fake_api.put(pod("web-2", created="2024-02-01T00:00:00Z", labels=web), backend=a2)
        assert await get(port) == "two"
    s1.close()
    s2.close()


async def test_service_forward_by_port_name_through_the_shared_watch(
    fake_api: FakeApi, wire: KubeWire, tmp_path: Path
) -> None:
    server, addr = await http_backend("svc")
    cluster = SharedCluster(fake_api)
    web = {PROJECT_LABEL: "demo", RESOURCE_LABEL: "web", "app": "web"}
    fake_api.put(pod("web-1", labels=web, ports=(("metrics", 9100),)), backend=addr)
    svc = service({"app": "web"}, {"name": "m", "port": 9000, "targetPort": 9100})
    port = free_port()
    fwd = PortForward(local=port, remote="m", service="web")
    applied = {"Service/web": svc}
    async with running(wire, tmp_path, fwd, cluster=cluster, applied=applied) as (store, _):
        await until(lambda: forward_state(store) == "listening")
        assert await get(port) == "svc"
    server.close()


async def test_service_problems_are_shown_on_the_forward(
    fake_api: FakeApi, wire: KubeWire, tmp_path: Path
) -> None:
    fake_api.put(pod("web-1", labels={**LABELS, "app": "web"}), backend=("127.0.0.1", 1))
    svc = service({"app": "web"}, {"name": "http", "port": 80})
    bad_port = PortForward(local=free_port(), remote=81, service="web")
    async with running(wire, tmp_path, bad_port, applied={"Service/web": svc}) as (st, _):
        await until(lambda: forward_state(st).startswith("error: "))
        assert "service web has no port 81; its ports: 80 (http)" in forward_state(st)
    missing = PortForward(local=free_port(), remote=80, service="web")
    async with running(wire, tmp_path, missing) as (st, _):
        await until(lambda: forward_state(st).startswith("error: "))
        assert "service web not found in namespace default" in forward_state(st)
