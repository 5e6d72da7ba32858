"""kind delivery without the kind CLI, against fake kind nodes made from the busybox image.

Each fake node is a busybox container labelled like a kind node, with a ``ctr`` script that
records the size and manifest of the ``docker save`` stream it receives and answers
``images ls`` from that record. This checks our half of the protocol for real: node
discovery by label, streaming the save into exec stdin, and the presence check.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import tarfile
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
from tests.support.registry import LocalRegistry, running_registry
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


@pytest.fixture()
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalRegistry]:
    """A real TLS + htpasswd registry, its credentials in the docker config loopdev reads."""
    with running_registry(tmp_path / "registry") as reg:
        monkeypatch.setenv("DOCKER_CONFIG", str(reg.docker_config))
        yield reg


async def test_registry_presence_check_speaks_tls_and_auth(
    client: docker.DockerClient, registry: LocalRegistry
) -> None:
    """Absent before the push, present after it, under any registry prefix of the local tag;
    the check goes over HTTPS with the docker config's credentials, as the push does."""
    busybox = ensure_busybox_image(client)
    adapter = await DockerAdapter.connect()
    local = f"team/api:loopdev-{uuid.uuid4().hex[:8]}"
    await adapter.tag(busybox, local)
    reg = Registry(adapter, registry.host, "registry.internal:5000")
    try:
        assert not await reg.has_image(local)
        assert await reg.deliver(local) == f"registry.internal:5000/{local}"
        assert await reg.has_image(local)
        assert await reg.has_image(f"example.com/{local}")  # registry part replaced
        assert not await reg.has_image("team/api:loopdev-never-pushed")
    finally:
        for ref in (local, f"{registry.host}/{local}"):
            with contextlib.suppress(docker.errors.DockerException):
                client.images.remove(ref, force=True)


async def test_registry_refusing_credentials_says_docker_login(
    client: docker.DockerClient,
    registry: LocalRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bad = tmp_path / "bad-config"
    bad.mkdir()
    token = base64.b64encode(b"loopdev:wrong").decode()
    (bad / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(bad))
    adapter = await DockerAdapter.connect()
    with pytest.raises(
        BuildError, match=f"registry {registry.host} refused the credentials"
    ) as err:
        await Registry(adapter, registry.host, registry.host).has_image("team/api:loopdev-1")
    assert (
        err.value.hint
        == f"docker login {registry.host} (loopdev uses the docker config's credentials)"
    )


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
