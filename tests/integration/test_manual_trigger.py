"""`trigger: manual` end to end: a real session (real file watching, real builds, the fake API
server whose pods are real busybox containers). ``web`` and ``worker`` run the same image;
``worker`` is manual. A synced edit and a manifest value change reach web at once and
worker only when it is triggered."""

from __future__ import annotations

import asyncio
import dataclasses
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from loopdev.adapters.kube import KubeClient, resolve_target
from loopdev.engine import actions as a
from loopdev.engine.reconciler import SessionOptions
from loopdev.engine.session import Session, load_reconcilers
from loopdev.reconcilers.live_update import LiveUpdateReconciler
from loopdev.render.labels import RESOURCE_LABEL
from tests.integration.deploy_support import DOCKERFILE, MINE, deployment, load
from tests.support.images import remove_images
from tests.support.wait import until

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

LOOPFILE = """\
version: v1
name: itmanual
namespace: {namespace}
build: {{delivery: shared}}
images:
  it-web:
    context: .
    ignore: [k8s]
    live:
      sync: [{{src: www/, dest: /www/}}]
deploy:
  manifests: [k8s/*.yaml]
resources:
  web:
    workload: deployment/web
  worker:
    workload: deployment/worker
    trigger: manual
"""


def manifests(value: str) -> str:
    worker = deployment(value, image="IMAGE").replace("web", "worker").replace("IMAGE", "it-web")
    return deployment(value) + "---\n" + worker


@dataclasses.dataclass
class Running:
    session: Session
    root: Path
    cluster: Any
    namespace: str

    def pod(self, resource: str) -> dict[str, Any] | None:
        """The resource's Ready pod that is not going away (None while there is none)."""

        def read() -> list[dict[str, Any]]:
            store = self.cluster.kube.store
            return list(store.list(store.kind_of(("", "pods")), self.namespace))

        for pod in self.cluster.call(read):
            meta = pod["metadata"]
            conds = (pod.get("status") or {}).get("conditions") or []
            ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)
            if meta["labels"].get(RESOURCE_LABEL) == resource and ready:
                if not meta.get("deletionTimestamp"):
                    return dict(pod)
        return None

    def page(self, resource: str) -> str:
        pod = self.pod(resource)
        if pod is None:
            return ""
        try:
            url = f"http://{pod['status']['podIP']}:8080/index.html"
            with urllib.request.urlopen(url, timeout=2) as resp:
                return str(resp.read().decode())
        except OSError:
            return ""

    def value(self, name: str) -> str:
        dep = self.cluster.get_object("apps", "deployments", self.namespace, name)
        return str(dep["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"])

    def pending(self, name: str) -> bool:
        res = self.session.store.state.resource(name)
        return res is not None and res.pending_changes


@pytest.fixture
async def running(
    tmp_path: Path, fake_cluster: Any, namespace: str, busybox_image: str, monkeypatch: Any
) -> AsyncIterator[Running]:
    monkeypatch.setenv("KUBECONFIG", str(fake_cluster.kubeconfig))
    (tmp_path / "k8s").mkdir()
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("built\n")
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "k8s" / "app.yaml").write_text(manifests("one"))
    (tmp_path / "loopfile.yaml").write_text(LOOPFILE.format(namespace=namespace))
    config = load(tmp_path / "loopfile.yaml")
    kube = KubeClient(resolve_target(fake_cluster.context))
    reconcilers = [*load_reconcilers(MINE), LiveUpdateReconciler()]
    session = Session(
        config, kube, fake_cluster.context, options=SessionOptions(), reconcilers=reconcilers
    )
    await session.start()
    run = Running(session, tmp_path, fake_cluster, namespace)
    try:
        await until(lambda: run.page("web") == run.page("worker") == "built\n", "both serving")
        yield run
    finally:
        refs = set(session.ctx.image_refs.values())
        await session.stop()
        kube.close()
        await asyncio.to_thread(remove_images, refs)


async def test_manual_resource_gets_synced_and_manifest_changes_only_when_triggered(
    running: Running,
) -> None:
    run = running
    ref = run.session.ctx.image_refs["it-web"]

    # A synced edit: web serves it at once; worker's pod keeps the built file.
    (run.root / "www" / "index.html").write_text("edited\n")
    await until(lambda: run.page("web") == "edited\n", "web to serve the edit", 20)
    await until(lambda: run.pending("worker"), "worker pending", 10)
    await asyncio.sleep(1.0)  # (a sync into worker would have landed with web's)
    assert run.page("worker") == "built\n"
    assert not run.pending("web")

    # A manifest value change: web's Deployment gets it; worker's keeps the old one.
    (run.root / "k8s" / "app.yaml").write_text(manifests("two"))
    await until(lambda: run.value("web") == "two", "web's new value", 20)
    await until(lambda: run.page("web") == "edited\n", "web's new pod with the edit", 60)
    assert run.value("worker") == "one"
    assert run.page("worker") == "built\n"
    logs = [line.text for line in run.session.logs.lines("worker")]
    assert "changes pending: 1 file to sync into it-web; trigger to apply" in logs
    assert "changes pending: Deployment/worker (manifest changed); trigger to apply" in logs

    # The trigger applies both: the sync, and the Deployment (whose new pod gets the edit).
    run.session.store.dispatch(a.TriggerRequested("worker"))
    await until(lambda: run.value("worker") == "two", "worker's new value", 30)
    await until(lambda: not run.pending("worker"), "pending cleared", 30)
    await until(lambda: run.page("worker") == "edited\n", "worker to serve the edit", 60)
    assert run.session.ctx.image_refs["it-web"] == ref  # synced, not rebuilt
