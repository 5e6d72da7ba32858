"""`loopdev render` prints the image references `loopdev up` applies, for every delivery mode.

The `up` side is `up`'s own code path: the build reconciler's ``default_builder`` (which
detects the delivery from the session's kube client and Docker adapter), its results as the
session's image references, and the deploy reconciler's ``render_for``. The Docker side is a
recording fake (pushes and node imports succeed); the cluster is the fake API server, under
each context name, so the KEP-1755 lookup runs for real.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from kubernetes.client import CoreV1Api

from loopdev.adapters.kube import KubeClient, resolve_target
from loopdev.build.delivery_impl import containerd_name
from loopdev.cli import main_group
from loopdev.config.load import load_loopfile
from loopdev.engine.logs import LogStore
from loopdev.engine.reconciler import SessionContext
from loopdev.engine.store import Store
from loopdev.reconcilers.build import default_builder
from loopdev.reconcilers.deploy import render_for
from tests.fakekube import FakeCluster
from tests.unit.build.test_builder import FakeDocker

pytestmark = pytest.mark.docker

LOOPFILE = """\
version: v1
name: refs
images:
  api: {context: api}
  example.com/team/web: {context: web}
deploy: {manifests: [deploy.yaml]}
"""
MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
        - {name: api, image: api}
        - {name: web, image: example.com/team/web:1.0}
"""


class ClusterDocker(FakeDocker):
    """FakeDocker plus what deliveries call: node containers, ctr in them, tag and push."""

    def __init__(self) -> None:
        super().__init__(delay=0)
        self.pushed: list[str] = []

    async def containers_with_label(self, label: str) -> list[str]:
        return ["node-1"]

    async def exec_output(self, container: str, cmd: list[str]) -> tuple[int, str]:
        return 0, "\n".join(containerd_name(i) for i in self.images)  # "imported" everywhere

    async def save_into_exec(self, ref: str, container: str, cmd: list[str]) -> tuple[int, str]:
        return 0, "unpacking done"

    async def tag(self, src: str, dest: str) -> None:
        self.images.add(dest)

    async def push(self, ref: str, on_line: Any) -> None:
        self.pushed.append(ref)

    async def registry_has(self, ref: str) -> bool:  # the engine's registry presence check
        return ref in self.pushed


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOOPDEV_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "p"
    (root / ".git").mkdir(parents=True)
    for ctx in ("api", "web"):
        (root / ctx).mkdir()
        (root / ctx / "Dockerfile").write_text(f"FROM scratch\nCOPY {ctx}.txt /\n")
        (root / ctx / f"{ctx}.txt").write_text(ctx)
    (root / "deploy.yaml").write_text(MANIFEST)
    (root / "loopfile.yaml").write_text(LOOPFILE)
    fake_minikube = tmp_path / "bin" / "minikube"  # `minikube image load` succeeds
    fake_minikube.parent.mkdir()
    fake_minikube.write_text("#!/bin/sh\nexit 0\n")
    fake_minikube.chmod(fake_minikube.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake_minikube.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("MINIKUBE_ACTIVE_DOCKERD", raising=False)
    return root


@pytest.fixture
def kep1755(fake_cluster: FakeCluster) -> Iterator[None]:
    """The cluster announces a local registry pushed to on one host and pulled from another."""
    api = fake_cluster.api_client()
    cm = {
        "metadata": {"name": "local-registry-hosting", "namespace": "kube-public"},
        "data": {
            "localRegistryHosting.v1": 'host: "localhost:5997"\n'
            'hostFromContainerRuntime: "kind-registry:5000"\n'
        },
    }
    CoreV1Api(api).create_namespaced_config_map("kube-public", cm)
    yield
    CoreV1Api(api).delete_namespaced_config_map("local-registry-hosting", "kube-public")
    api.close()


def _images(objects: list[dict[str, Any]]) -> list[str]:
    deploy = next(o for o in objects if o["kind"] == "Deployment")
    return [c["image"] for c in deploy["spec"]["template"]["spec"]["containers"]]


async def _applied_by_up(root: Path, context: str) -> tuple[list[str], ClusterDocker]:
    config = load_loopfile(root / "loopfile.yaml", (), command="up", env={})
    docker = ClusterDocker()
    kube = KubeClient(resolve_target(context))
    ctx = SessionContext(
        config=config, store=Store(), logs=LogStore(), kube_context=context,
        namespace=config.namespace, kube=kube, docker=docker,
    )  # fmt: skip
    try:
        builder = await default_builder(ctx)
        results = await builder.build()
    finally:
        kube.close()
    ctx.image_refs.update({name: r.ref for name, r in results.items()})
    return _images(render_for(ctx)), docker


MODES = [  # (context name, build settings, what the web image must become)
    ("docker-desktop", "", "example.com/team/web:loopdev-"),  # shared daemon
    ("kind-dev", "", "example.com/team/web:loopdev-"),  # kind node import
    ("k3d-dev", "", "example.com/team/web:loopdev-"),  # k3d node import
    ("minikube", "", "example.com/team/web:loopdev-"),  # minikube image load
    ("kind-dev", "build: {delivery: kind}\n", "example.com/team/web:loopdev-"),
    ("kind-dev", "build: {registry: localhost:5996/dev}\n", "localhost:5996/dev/team/web:"),
    ("kind-dev", "build: {delivery: registry, registry: r.local:5000}\n", "r.local:5000/team/"),
    ("kind-dev", "KEP-1755", "kind-registry:5000/team/web:loopdev-"),
]


IDS = ["shared", "kind", "k3d", "minikube", "kind-set", "registry", "registry-set", "kep-1755"]


@pytest.mark.parametrize(("context", "build", "web"), MODES, ids=IDS)
async def test_render_prints_the_references_up_applies(
    project: Path,
    fake_cluster: FakeCluster,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    context: str,
    build: str,
    web: str,
) -> None:
    kubeconfig = fake_cluster.write_kubeconfig(tmp_path / "kubeconfig", context)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    if build == "KEP-1755":
        request.getfixturevalue("kep1755")
    elif build:
        (project / "loopfile.yaml").write_text(LOOPFILE + build)

    applied, docker = await _applied_by_up(project, context)
    args = ["-f", str(project / "loopfile.yaml"), "render"]
    result = await asyncio.to_thread(CliRunner().invoke, main_group, args)  # a CLI: no loop
    assert result.exit_code == 0, result.output
    rendered = _images(list(yaml.safe_load_all(result.stdout)))

    assert rendered == applied
    assert rendered[1].startswith(web) and "loopdev-" in rendered[1]
    if "registry" in build or build == "KEP-1755":  # pushed under the push host's name
        assert {p.rsplit("/", 1)[1] for p in docker.pushed} == {
            r.rsplit("/", 1)[1] for r in rendered
        }


async def test_render_follows_the_context_option(
    project: Path,
    fake_cluster: FakeCluster,
    kep1755: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The current context runs on this engine (no prefix); ``--context`` names the kind
    cluster whose registry the cluster announces, and render prefixes as up would there."""
    desktop = fake_cluster.write_kubeconfig(tmp_path / "desktop", "docker-desktop")
    kind = fake_cluster.write_kubeconfig(tmp_path / "kind", "kind-dev")
    monkeypatch.setenv("KUBECONFIG", f"{desktop}{os.pathsep}{kind}")
    loopfile = str(project / "loopfile.yaml")
    runner = CliRunner()
    plain = await asyncio.to_thread(runner.invoke, main_group, ["-f", loopfile, "render"])
    chosen = await asyncio.to_thread(
        runner.invoke, main_group, ["-f", loopfile, "--context", "kind-dev", "render"]
    )
    assert plain.exit_code == chosen.exit_code == 0, plain.output + chosen.output
    assert _images(list(yaml.safe_load_all(plain.stdout)))[0].startswith("api:loopdev-")
    applied, _ = await _applied_by_up(project, "kind-dev")
    assert _images(list(yaml.safe_load_all(chosen.stdout))) == applied
    assert applied[0].startswith("kind-registry:5000/api:loopdev-")
