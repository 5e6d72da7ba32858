"""An idle forward sends nothing: no timer re-dials it; a change it depends on does (the
cluster's reachability, the object of the pod it forwards to)."""

from __future__ import annotations

from pathlib import Path

from pf_fake_server import FakeApi, free_port, get, http_backend, pod, until
from test_pf_reconciler import LABELS, SharedCluster, forward_state, running

from loopdev.adapters.kube_portforward import KubeWire
from loopdev.config.model import PortForward
from loopdev.engine import actions as a


async def test_an_idle_forward_schedules_no_check(
    fake_api: FakeApi, wire: KubeWire, tmp_path: Path
) -> None:
    server, addr = await http_backend("one")
    fake_api.put(pod("api-1", labels=LABELS), backend=addr)
    cluster = SharedCluster(fake_api)
    port = free_port()
    async with running(wire, tmp_path, PortForward(local=port, remote=8000), cluster=cluster) as (
        store,
        rec,
    ):
        await until(lambda: forward_state(store) == "listening")
        [fwd] = rec.forwarders["api"]
        await until(lambda: not fwd.checking)  # no timer waits to dial again
        dials = fake_api.dials
        cluster.notify()  # another pod's event: nothing about this forward changed
        store.dispatch(a.ClusterReachability(True))  # still reachable
        await store.settled()
        assert not fwd.checking and fake_api.dials == dials
        assert await get(port) == "one"  # a real connection still works, of course
    server.close()


async def test_the_pod_object_changing_rechecks_the_forward(
    fake_api: FakeApi, wire: KubeWire, tmp_path: Path
) -> None:
    server, addr = await http_backend("one")
    fake_api.put(pod("api-1", labels=LABELS), backend=addr)
    cluster = SharedCluster(fake_api)
    async with running(
        wire, tmp_path, PortForward(local=free_port(), remote=8000), cluster=cluster
    ) as (store, rec):
        await until(lambda: forward_state(store) == "listening")
        [fwd] = rec.forwarders["api"]
        await until(lambda: not fwd.checking)
        dials = fake_api.dials
        fake_api.put(pod("api-1", labels=LABELS), backend=addr)  # e.g. a container restart
        cluster.notify()
        await until(lambda: fake_api.dials == dials + 1 and not fwd.checking)
        assert forward_state(store) == "listening"
    server.close()


async def test_losing_and_regaining_the_cluster_rechecks_an_idle_forward(
    fake_api: FakeApi, wire: KubeWire, tmp_path: Path
) -> None:
    server, addr = await http_backend("back")
    fake_api.put(pod("api-1", labels=LABELS), backend=addr)
    cluster = SharedCluster(fake_api)
    async with running(
        wire, tmp_path, PortForward(local=free_port(), remote=8000), cluster=cluster
    ) as (store, _rec):
        await until(lambda: forward_state(store) == "listening")
        store.dispatch(a.ClusterReachability(True))  # the first report is no change
        await fake_api.stop()
        store.dispatch(a.ClusterReachability(False, "connection refused"))  # the watches say
        await until(lambda: forward_state(store).startswith("error: "))
        await fake_api.start(fake_api.port)
        store.dispatch(a.ClusterReachability(True))
        await until(lambda: forward_state(store) == "listening", timeout=8)
    server.close()
