"""kind delivery without the kind CLI, against fake kind nodes made from the busybox image.

Each fake node is a busybox container labelled like a kind node, with a ``ctr`` script that
records the size and manifest of the ``docker save`` stream it receives and answers
``images ls`` from that record. This checks our half of the protocol for real: node
discovery by label, streaming the save into exec stdin, and the presence check.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import os
import tarfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from loopdev.adapters.docker import DockerAdapter
from loopdev.build.builder import ImageBuilder
from loopdev.build.delivery import DeliveryChoice, make_delivery
from loopdev.build.delivery_impl import NodeImport, Registry
from loopdev.errors import BuildError
from tests.support.images import ensure_busybox_image
from tests.unit.build.conftest import make_loopfile, write

pytestmark = pytest.mark.docker

FAKE_CTR = """#!/bin/sh
# fake ctr: ctr -n k8s.io images import -   |   ctr -n k8s.io images ls -q name==REF
case "$3 $4" in
  "images import")
    cat > /tmp/import.tar
    wc -c < /tmp/import.tar >> /tmp/import.sizes
    tar -xOf /tmp/import.tar manifest.json >> /tmp/imported
    echo "unpacking done"
    ;;
  "images ls")
    want="${6#name==}"
    short="${want#docker.io/}"
    short="${short#library/}"
    grep -q "\\"$short\\"" /tmp/imported 2>/dev/null && echo "$want"
    exit 0
    ;;
  *) echo "unexpected: $*" >&2; exit 3 ;;
esac
"""


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    c = docker.from_env()  # scripts/test guarantees an engine: fail loudly, never skip
    c.ping()
    yield c
    c.close()


@pytest.fixture(scope="module")
def nodes(client: docker.DockerClient) -> Iterator[tuple[str, list]]:
    busybox = ensure_busybox_image(client)
    cluster = f"fake{uuid.uuid4().hex[:6]}"
    script = io.BytesIO()
    with tarfile.open(fileobj=script, mode="w") as tar:
        data = FAKE_CTR.encode()
        info = tarfile.TarInfo("ctr")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    made = []
    for i in range(2):
        c = client.containers.run(
            busybox, ["sleep", "600"], detach=True, name=f"{cluster}-node-{i}",
            labels={"loopdev-test": "1", "io.x-k8s.kind.cluster": cluster},
        )  # fmt: skip
        c.put_archive("/bin", script.getvalue())
        made.append(c)
    yield cluster, made
    for c in made:
        c.remove(force=True)


async def test_kind_load_into_every_node_then_reuse(
    nodes: tuple[str, list], client: docker.DockerClient, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    cluster, containers = nodes
    monkeypatch.setenv("LOOPDEV_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / ".git").mkdir()
    image = f"loopdev-it-{cluster}/api"
    write(tmp_path / "api/Dockerfile", "FROM scratch\nCOPY . /app\n")
    write(tmp_path / "api/a.txt", uuid.uuid4().hex)
    os.utime(tmp_path / "api/a.txt", ns=(1_600_000_000_000_000_000,) * 2)
    config = make_loopfile(tmp_path, {image: {"context": "api"}})
    adapter = await DockerAdapter.connect()
    delivery = make_delivery(DeliveryChoice("kind", cluster=cluster), adapter, which=lambda _: None)
    assert isinstance(delivery, NodeImport)
    builder = ImageBuilder(config, adapter, delivery, lambda *_: None, labels={"loopdev-test": "1"})
    try:
        first = (await builder.build())[image]
        assert not first.reused and adapter.build_calls == 1
        saved = len(b"".join(client.api.get_image(first.ref)))
        for c in containers:
            sizes = c.exec_run(["cat", "/tmp/import.sizes"]).output.decode().split()
            assert sizes == [str(saved)]  # each node got the whole `docker save` stream once
        assert await delivery.has_image(first.ref)

        again = (await builder.build())[image]
        assert again.reused and adapter.build_calls == 1  # present on the nodes: no build

        client.images.remove(first.ref, force=True)  # the nodes still have it: still no build
        assert (await builder.build())[image].reused and adapter.build_calls == 1
    finally:
        for tag in client.images.list(name=image):
            client.images.remove(tag.id, force=True)


async def test_no_nodes_is_a_clear_error(client: docker.DockerClient) -> None:
    adapter = await DockerAdapter.connect()
    delivery = NodeImport(adapter, "kind", "io.x-k8s.kind.cluster=nope-nothing")
    with pytest.raises(Exception, match="no kind node containers found") as info:
        await delivery.deliver("x:y")
    assert "docker ps --filter" in (info.value.hint or "")


class _FakeRegistry(http.server.BaseHTTPRequestHandler):
    """Answers manifest HEADs: present only for ``/v2/team/api/manifests/loopdev-1``."""

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        ok = (
            self.path == "/v2/team/api/manifests/loopdev-1" and "manifest" in self.headers["Accept"]
        )
        self.send_response(200 if ok else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


async def test_registry_presence_check_and_refs() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeRegistry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host = f"127.0.0.1:{server.server_address[1]}"
        reg = Registry(None, host, "registry.internal:5000")
        assert await reg.has_image("team/api:loopdev-1")
        assert await reg.has_image("example.com/team/api:loopdev-1")  # registry part replaced
        assert not await reg.has_image("team/api:loopdev-2")
        assert reg.cluster_ref("team/api:loopdev-1") == "registry.internal:5000/team/api:loopdev-1"
    finally:
        server.shutdown()
    assert not await Registry(None, host, host).has_image("team/api:loopdev-1")  # server gone


async def test_failed_push_is_a_clear_error(client: docker.DockerClient) -> None:
    busybox = ensure_busybox_image(client)
    adapter = await DockerAdapter.connect()
    reg = Registry(adapter, "localhost:1", "localhost:1")
    local = f"loopdev-it-push-{uuid.uuid4().hex[:6]}:t"
    client.images.get(busybox).tag(local)
    try:
        with pytest.raises(BuildError) as info:
            await reg.deliver(local)
        assert info.value.message.startswith(f"push of localhost:1/{local} failed: ")
        assert "registry" in (info.value.hint or "")
    finally:
        for tag in (local, f"localhost:1/{local}"):
            with contextlib.suppress(docker.errors.ImageNotFound):
                client.images.remove(tag)


async def test_detect_delivery_against_the_fake_cluster(
    fake_cluster, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """``kind-loopdev-test`` with no kind nodes and a local server: shared daemon; a KEP-1755
    ConfigMap in kube-public switches it to the announced registry."""
    from kubernetes.client import CoreV1Api

    from loopdev.adapters.kube import KubeClient, resolve_target
    from loopdev.build.delivery import detect_delivery
    from loopdev.build.delivery_impl import SharedDaemon

    monkeypatch.setenv("KUBECONFIG", str(fake_cluster.kubeconfig))
    config = make_loopfile(tmp_path, {})
    adapter = await DockerAdapter.connect()
    kube = KubeClient(resolve_target(fake_cluster.context))
    api = fake_cluster.api_client()
    cm = {
        "metadata": {"name": "local-registry-hosting", "namespace": "kube-public"},
        "data": {"localRegistryHosting.v1": 'host: "localhost:5999"\n'},
    }
    try:
        args = (config, fake_cluster.context, fake_cluster.url, kube, adapter)
        assert isinstance(await detect_delivery(*args), SharedDaemon)
        CoreV1Api(api).create_namespaced_config_map("kube-public", cm)
        try:
            reg = await detect_delivery(*args)
        finally:
            CoreV1Api(api).delete_namespaced_config_map("local-registry-hosting", "kube-public")
        assert isinstance(reg, Registry) and reg.cluster_ref("api:t") == "localhost:5999/api:t"
    finally:
        kube.close()
        api.close()
