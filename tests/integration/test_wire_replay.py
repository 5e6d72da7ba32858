"""The fake against real-server transcripts: every flow in ``../shared/kube-wire/real-1.28.7``.

Each flow's non-streaming requests and upgrade handshakes are re-sent to the fake (see
``tests/fakekube/replay.py`` for the selection and the adaptations); any difference in status,
negotiated protocol or body shape fails, except the environment-only ones allow-listed below.
The transcripts live beside the repository (CI clones it next to a copy of ``shared/``);
``KUBE_WIRE_DIR`` points elsewhere for a worktree.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.fakekube import FakeCluster, ServerOptions
from tests.fakekube import replay as rp

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
WIRE = Path(os.environ.get("KUBE_WIRE_DIR") or REPO.parent / "shared" / "kube-wire")
REAL = WIRE / "real-1.28.7"
FLOWS = [f for f in (*rp.FLOW_ORDER, *rp.LOOPDEV_FLOWS) if (REAL / f"{f}.jsonl").exists()]

# (flow, method, path) -> why the fake may answer differently. Environment only, never protocol.
ALLOWED: dict[tuple[str, str, str], str] = {
    # The rig publishes its local registry (KEP-1755 ConfigMap); the fake cluster has none,
    # so loopdev's image-delivery probe gets 404 there (SUMMARY difference 21).
    (
        "loopdev-get",
        "GET",
        "/api/v1/namespaces/kube-public/configmaps/local-registry-hosting",
    ): "environment: no local-registry-hosting ConfigMap in the fake",
    (
        "loopdev-post",
        "GET",
        "/api/v1/namespaces/kube-public/configmaps/local-registry-hosting",
    ): "environment: no local-registry-hosting ConfigMap in the fake",
}
# Images the flows deploy: all become one local busybox-based image (the fake never pulls).
IMAGES = (
    "localhost:5000/busybox:latest",
    "localhost:5000/holdout-web:loopdev-ad52fea03cd36fdf",
    "localhost:5000/holdout-web:loopdev-53186f2ea5790109",
    "localhost:5000/holdout-web:loopdev-8efbb48aa14cbb1b",
    "localhost:5000/holdout-web:loopdev-87fbb0b6d6b62f1b",
    "localhost:5000/holdout-web:loopdev-4b40fac195c118ff",
)
WEB_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "terminationGracePeriodSeconds": 1,
        "containers": [
            {
                "name": "web",
                "image": "localhost:5000/busybox:latest",
                "command": [
                    "sh",
                    "-c",
                    "mkdir -p /www; echo hi > /www/index.html; exec httpd -f -p 8080 -h /www",
                ],
                "ports": [{"containerPort": 8080}],
            }
        ],
    },
}


def replay_options() -> ServerOptions:
    """The transcripts are of a 1.28 server: claim 1.28 whatever the suite's default is
    (exec negotiation and discovery differ by version)."""
    return ServerOptions(backoff_base=0.5, server_version="1.28")


@pytest.fixture(scope="module")
def replay_cluster(
    docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeCluster]:
    """A fake of its own: the flows' namespaces and managers never meet other tests' objects."""
    kubeconfig = tmp_path_factory.mktemp("replay") / "kubeconfig"
    cluster = FakeCluster(docker_client, kubeconfig, "kind-wire-replay", replay_options()).start()
    yield cluster
    cluster.close()


@pytest.fixture(scope="module")
def replay_images(docker_client: docker.DockerClient, busybox_image: str) -> Any:
    """The transcripts' images, as local tags of busybox serving /www on 8080."""
    from tests.support.builder import build_test_image

    script = "mkdir -p /www; echo hi > /www/index.html; exec httpd -f -p 8080 -h /www"
    dockerfile = f'FROM {busybox_image}\nCMD ["sh", "-c", "{script}"]\n'
    for tag in IMAGES:
        build_test_image(docker_client, tag, dockerfile, None)
    yield IMAGES
    for tag in IMAGES:
        try:
            docker_client.images.remove(tag, force=True)
        except docker.errors.APIError:
            pass


def _namespaces(records: list[rp.Record]) -> set[str]:
    out = set()
    for rec in records:
        parts = rec["path"].split("/")
        if "namespaces" in parts:
            i = parts.index("namespaces")
            if i + 1 < len(parts) and parts[i + 1].startswith("wire-"):
                out.add(parts[i + 1])
    return out


def _reset(cluster: FakeCluster, names: set[str]) -> None:
    """Flows create their own namespaces: none may exist before (a previous run's)."""
    store = cluster.kube.store
    ns_res = store.kind_of(("", "namespaces"))

    def gone() -> bool:
        for name in names:
            if store.find(ns_res, "", name) is not None:
                store.delete(ns_res, "", name)
        return all(store.find(ns_res, "", n) is None for n in names)

    from tests.support.wait import wait_for

    wait_for(lambda: cluster.call(gone), timeout=60)


def _setup(flow: str, cluster: FakeCluster) -> None:
    """What the recorder created unproxied: the upgrades matrix's namespace and pod."""
    if flow != "upgrades":
        return
    store = cluster.kube.store
    ns_res, pod_res = store.kind_of(("", "namespaces")), store.kind_of(("", "pods"))
    cluster.call(store.create, ns_res, "", {"metadata": {"name": "wire-upgrades"}})
    cluster.call(store.create, pod_res, "wire-upgrades", WEB_POD)


def _adapter(cluster: FakeCluster) -> rp.Adapter:
    store = cluster.kube.store
    pod_res = store.kind_of(("", "pods"))

    def pods(ns: str) -> list[dict[str, Any]]:
        return cluster.call(store.list, pod_res, ns)

    return rp.Adapter(pods=pods, current_rv=lambda: str(store.rv))


def _wire(cluster: FakeCluster) -> rp.Wire:
    ctx = ssl.create_default_context(cadata=cluster.kube.ca_pem.decode())
    return rp.Wire("127.0.0.1", cluster.port, cluster.kube.token, ctx)


@dataclass
class Replayed:
    rows: list[tuple[rp.Record, rp.Shape, rp.Shape]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_DONE: dict[str, Replayed] = {}


def _replayed(flow: str, cluster: FakeCluster) -> Replayed:
    """Each flow is replayed once; its REST and its streaming rows are judged separately."""
    if flow not in _DONE:
        records = rp.load(REAL / f"{flow}.jsonl")
        _reset(cluster, _namespaces(records))
        _setup(flow, cluster)
        adapter = _adapter(cluster)
        try:
            rows = list(rp.replay(flow, records, _wire(cluster), adapter))
        finally:
            _reset(cluster, _namespaces(records))
        _DONE[flow] = Replayed(rows, adapter.notes)
    return _DONE[flow]


def _judge(flow: str, done: Replayed, streams: bool) -> None:
    rows = [row for row in done.rows if rp.is_stream_path(row[0]["path"]) == streams]
    assert rows, f"{flow}: nothing replayed"
    diffs = []
    for rec, real, fake in rows:
        if real.matches(fake) or (flow, rec["method"], rec["path"]) in ALLOWED:
            continue
        diffs.append(
            f"{flow}#{rec['seq']} {rec['method']} {rec['path']} "
            f"[{rec.get('step', '')}]: real {real} | fake {fake}"
        )
    notes = "".join(f"\nnote: {n}" for n in done.notes)
    assert not diffs, (
        f"{len(diffs)} of {len(rows)} replayed exchanges differ:\n" + "\n".join(diffs) + notes
    )


def _flows(streams: bool) -> list[str]:
    """Flows with at least one record of the kind (exec/port-forward paths, or the rest)."""
    out = []
    for flow in FLOWS:
        paths = {r["path"] for r in rp.load(REAL / f"{flow}.jsonl")}
        if any(rp.is_stream_path(p) == streams for p in paths):
            out.append(flow)
    return out or ["none"]


SKIP = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"no wire transcripts at {REAL} (../shared/kube-wire absent)"
)


@SKIP
@pytest.mark.parametrize("flow", _flows(streams=False))
def test_rest_exchanges_answer_as_the_real_server(
    flow: str, replay_cluster: FakeCluster, replay_images: Any
) -> None:
    _judge(flow, _replayed(flow, replay_cluster), streams=False)


@SKIP
@pytest.mark.parametrize("flow", _flows(streams=True))
def test_exec_and_portforward_handshakes_answer_as_the_real_server(
    flow: str, replay_cluster: FakeCluster, replay_images: Any
) -> None:
    _judge(flow, _replayed(flow, replay_cluster), streams=True)
