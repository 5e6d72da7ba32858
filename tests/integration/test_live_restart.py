"""``live.restart: true`` end to end on the fake cluster (pods are real containers): the
process restarts in place after a sync (same pod, no container restart), and a replacement
pod starts its process only once the synced files are replayed into it.

The server snapshots a file at startup and serves the snapshot, so what it serves says which
files the process started with. The manifest gives no ``command``: the wrapper must run the
image's own CMD, read from the built image.
"""

from __future__ import annotations

import asyncio
import dataclasses
import textwrap
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from loopdev.adapters.kube import KubeClient, resolve_target
from loopdev.cli import main_group
from loopdev.config.load import load_loopfile
from loopdev.deploy.diff import HASH_ANNOTATION, object_hash
from loopdev.engine import actions as a
from loopdev.engine.reconciler import SessionOptions
from loopdev.engine.session import Session, load_reconcilers
from loopdev.reconcilers.live_update import LiveUpdateReconciler
from loopdev.render.restart_wrap import RESTART_ANNOTATION, WRAPPER_NAME, wrapper_command
from tests.integration.deploy_support import MINE, objects_in
from tests.support.images import remove_images
from tests.support.wait import until

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

LOOPFILE = """\
version: v1
name: itrestart
namespace: {namespace}
build:
  delivery: shared
images:
  it-restart:
    context: .
    live:
      sync:
        - src: msg.txt
          dest: /srv/msg.txt
      restart: true
deploy:
  manifests: [k8s/*.yaml]
resources:
  web:
    workload: deployment/web
"""

# The process copies msg.txt at startup and serves that copy: a running process never
# sees a later edit of the file, only a restarted one does.
DOCKERFILE = """\
FROM loopdev-test/busybox:1
LABEL loopdev-test=1
COPY msg.txt /srv/msg.txt
CMD ["sh", "-c", "mkdir -p /tmp/s && cp /srv/msg.txt /tmp/s/index.html && \\
exec httpd -f -p 8080 -h /tmp/s"]
"""

MANIFEST = textwrap.dedent(
    """\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
    spec:
      replicas: 1
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
            - name: main
              image: it-restart
    """
)


@dataclasses.dataclass
class Running:
    session: Session
    root: Path
    cluster: Any
    namespace: str
    actions: list[a.Action]

    def pods(self) -> list[dict[str, Any]]:
        return objects_in(self.cluster, "", "pods", self.namespace)

    def served(self, pod: dict[str, Any] | None = None) -> str:
        """What the (given, else the only) pod serves; "" while nothing answers."""
        pods = [pod] if pod is not None else self.pods()
        if len(pods) != 1 or not (pods[0].get("status") or {}).get("podIP"):
            return ""
        try:
            url = f"http://{pods[0]['status']['podIP']}:8080/"
            with urllib.request.urlopen(url, timeout=2) as resp:
                return str(resp.read().decode())
        except (urllib.error.URLError, OSError):
            return ""


@pytest.fixture
async def running(
    tmp_path: Path, fake_cluster: Any, namespace: str, busybox_image: str, monkeypatch: Any
) -> AsyncIterator[Running]:
    monkeypatch.setenv("KUBECONFIG", str(fake_cluster.kubeconfig))
    root = tmp_path / "restart"
    (root / "k8s").mkdir(parents=True)
    (root / "msg.txt").write_text("built\n")
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "k8s" / "app.yaml").write_text(MANIFEST)
    (root / "loopfile.yaml").write_text(LOOPFILE.format(namespace=namespace))
    config = load_loopfile(root / "loopfile.yaml")
    kube = KubeClient(resolve_target(fake_cluster.context))
    reconcilers = [*load_reconcilers(MINE), LiveUpdateReconciler()]
    session = Session(
        config, kube, fake_cluster.context, options=SessionOptions(), reconcilers=reconcilers
    )
    seen: list[a.Action] = []
    session.store.subscribe(lambda _s, batch: seen.extend(batch))
    await session.start()
    run = Running(session, root, fake_cluster, namespace, seen)
    try:
        await until(lambda: run.served() == "built\n", "the app to serve the built file", 120)
        yield run
    finally:
        refs = set(session.ctx.image_refs.values())
        await session.stop()
        kube.close()
        await asyncio.to_thread(remove_images, refs)


def _restarts(pod: dict[str, Any]) -> int:
    return sum(int(cs.get("restartCount") or 0) for cs in pod["status"]["containerStatuses"])


async def test_restart_runs_the_synced_file_in_the_same_pod(running: Running) -> None:
    run = running
    (pod,) = run.pods()
    container = pod["spec"]["containers"][0]
    assert container["command"][-1] == WRAPPER_NAME  # the image's CMD, wrapped
    assert container["args"][0] == "sh" and "httpd" in container["args"][-1]
    assert pod["metadata"]["annotations"][RESTART_ANNOTATION] == "main"

    # `loopdev render` prints the wrapper `up` applied, byte for byte.
    loopfile = str(run.root / "loopfile.yaml")
    printed = CliRunner().invoke(main_group, ["-f", loopfile, "render"], env={})
    assert printed.exit_code == 0, printed.output
    (rendered,) = [d for d in yaml.safe_load_all(printed.output) if d and d["kind"] == "Deployment"]
    live = run.cluster.get_object("apps", "deployments", run.namespace, "web")
    assert live["metadata"]["annotations"][HASH_ANNOTATION] == object_hash(rendered)
    assert rendered["spec"]["template"]["spec"]["containers"][0]["command"] == wrapper_command()

    (run.root / "msg.txt").write_text("edited once\n")
    await until(lambda: run.served() == "edited once\n", "the restarted process to serve the edit")
    (run.root / "msg.txt").write_text("edited twice\n")
    await until(lambda: run.served() == "edited twice\n", "the second restart")
    (after,) = run.pods()
    assert after["metadata"]["uid"] == pod["metadata"]["uid"]  # not replaced
    assert _restarts(after) == 0  # the process restarted, not the container
    assert not [x for x in run.actions if isinstance(x, a.RebuildRequested)]
    lines = [line.text for line in run.session.logs.lines("web")]
    assert any("restarted main in" in text and "(same pod)" in text for text in lines)


async def test_a_replacement_pod_starts_only_once_the_synced_file_is_in(running: Running) -> None:
    run = running
    (run.root / "msg.txt").write_text("synced\n")
    await until(lambda: run.served() == "synced\n", "the synced file")
    (old,) = run.pods()

    def delete() -> None:
        store = run.cluster.kube.store
        store.delete(store.kind_of(("", "pods")), run.namespace, old["metadata"]["name"])

    await asyncio.to_thread(run.cluster.call, delete)

    def new_pod() -> dict[str, Any] | None:
        pods = [p for p in run.pods() if p["metadata"]["uid"] != old["metadata"]["uid"]]
        return pods[0] if pods and (pods[0].get("status") or {}).get("podIP") else None

    pod = await until(new_pod, "a replacement pod", 60)
    answers: list[str] = []

    def serves_synced() -> bool:
        got = run.served(new_pod() or pod)
        if got:
            answers.append(got)
        return got == "synced\n"

    await until(serves_synced, "the replacement to serve the synced file", 60)
    assert set(answers) == {"synced\n"}  # never the built file: it waited for the replay
