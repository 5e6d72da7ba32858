"""The shipped examples reach ready on the fake cluster (offline profile: local base images).

Each example is copied to a temp dir (never touching the source tree) with
``build.delivery: shared`` added, because the harness context is named ``kind-*`` but its
pods run on this Docker engine. A ``deploy.helm`` example renders with the real helm from
``helm_on_path``.
"""

from __future__ import annotations

import asyncio
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from loopdev.commands.options import GlobalOptions
from loopdev.config.load import load_from_options
from loopdev.deploy.down import tear_down
from loopdev.render.labels import RESOURCE_LABEL
from tests.fakekube import FakeCluster
from tests.integration.deploy_support import make_session

pytestmark = pytest.mark.docker
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def copy_example(name: str, dest: Path) -> Path:
    root = dest / name
    shutil.copytree(EXAMPLES / name, root)
    loopfile = root / "loopfile.yaml"
    loopfile.write_text(loopfile.read_text() + "\nbuild:\n  delivery: shared\n")
    return loopfile


def ready_pod_ip(fake_cluster: FakeCluster, namespace: str, resource: str) -> str:
    def read() -> list[dict[str, Any]]:
        store = fake_cluster.kube.store
        return list(store.list(store.kind_of(("", "pods")), namespace))

    for pod in fake_cluster.call(read):
        conds = (pod.get("status") or {}).get("conditions") or []
        if pod["metadata"]["labels"].get(RESOURCE_LABEL) == resource and any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in conds
        ):
            return str(pod["status"]["podIP"])
    raise AssertionError(f"no ready pod of {resource} in {namespace}")


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return str(resp.read().decode())


@pytest.mark.parametrize(
    ("example", "resource", "base", "served"),
    [
        ("plain-manifests", "web", "busybox_image", None),
        ("hello", "web", "python_image", None),
        # The loopfile's deploy.values reach the page through the chart's ConfigMap volume.
        (
            "helm-app",
            "site",
            "busybox_image",
            (":8080/config/message.txt", "Hello from the loopfile"),
        ),
    ],
)
async def test_example_reaches_ready(
    example: str,
    resource: str,
    base: str,
    served: tuple[str, str] | None,
    tmp_path: Path,
    fake_cluster,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    request.getfixturevalue(base)
    monkeypatch.setenv("KUBECONFIG", str(fake_cluster.kubeconfig))
    monkeypatch.setenv("LOOPDEV_OFFLINE", "1")
    path = copy_example(example, tmp_path)
    config = load_from_options(GlobalOptions(file=path, namespace=namespace), command="ci")
    assert "offline" in config.active_profiles
    if config.deploy.kind == "helm":
        request.getfixturevalue("helm_on_path")
    session = make_session(config, fake_cluster.context, once=True)
    try:
        verdict = await session.run_until_ready(timeout=120)
        assert verdict.ok, (verdict, [line.text for line in session.logs.lines()][-20:])
        res = session.store.state.resource(resource)
        assert res is not None and res.state == "ready" and res.pods_ready >= 1
        if served is not None:
            where, text = served
            ip = ready_pod_ip(fake_cluster, namespace, resource)
            assert await asyncio.to_thread(fetch, f"http://{ip}{where}") == text
        report = await tear_down(session.ctx.kube, namespace, config.name, timeout=60)
        assert report.deleted and not report.still_there
    finally:
        session.ctx.kube.close()
