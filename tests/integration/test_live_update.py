"""Live update end to end: examples/hello (profile offline) in a real session against the
fake API server, whose pods are real containers. One session walks through the done-when
list in order: sync an edit (no new image), add and delete a file, run the requirements
step, keep synced edits in a replacement pod, rebuild on a Dockerfile edit, and fall back to
a rebuild when a run step fails."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from loopdev.adapters.kube import KubeClient, resolve_target
from loopdev.config.load import load_loopfile
from loopdev.engine import actions as a
from loopdev.engine.reconciler import SessionOptions
from loopdev.engine.session import Session, load_reconcilers
from loopdev.reconcilers.live_update import LiveUpdateReconciler
from tests.integration.deploy_support import objects_in
from tests.support.images import remove_images

pytestmark = [pytest.mark.docker, pytest.mark.timeout(400)]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello"
RECONCILERS = [
    "loopdev.reconcilers.build:BuildReconciler",
    "loopdev.reconcilers.deploy:DeployReconciler",
    "loopdev.reconcilers.status:StatusReconciler",
    "loopdev.reconcilers.logs:LogsReconciler",
]


def copy_example(tmp_path: Path) -> Path:
    """The example outside the source tree, delivered to the shared Docker engine."""
    root = tmp_path / "hello"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__"))
    with (root / "loopfile.yaml").open("a") as fh:
        fh.write("\nbuild:\n  delivery: shared\n")
    with (root / "Dockerfile").open("a") as fh:
        fh.write("LABEL loopdev-test=1\n")
    return root


@dataclasses.dataclass
class Running:
    session: Session
    root: Path
    cluster: Any
    namespace: str
    actions: list[a.Action]

    def pods(self) -> list[dict[str, Any]]:
        return objects_in(self.cluster, "", "pods", self.namespace)

    def ready_pod(self) -> dict[str, Any] | None:
        for pod in self.pods():
            conds = (pod.get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds):
                return pod
        return None

    def get(self, path: str) -> tuple[int, str]:
        pod = self.ready_pod()
        if pod is None:
            return 0, ""
        url = f"http://{pod['status']['podIP']}:8000{path}"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, ""
        except OSError:
            return 0, ""

    def last_update(self) -> str:
        res = self.session.store.state.resource("web")
        return res.last_update if res else ""


async def until(
    check: Callable[[], Any], what: str, timeout: float = 60.0, run: Running | None = None
) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        got = await asyncio.to_thread(check)
        if got:
            return got
        await asyncio.sleep(0.1)
    where = f"; last update: {run.last_update()!r}" if run else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{where}")


@pytest.fixture
async def running(
    tmp_path: Path, fake_cluster: Any, namespace: str, python_image: str, monkeypatch: Any
) -> AsyncIterator[Running]:
    monkeypatch.setenv("KUBECONFIG", str(fake_cluster.kubeconfig))
    root = copy_example(tmp_path)
    config = load_loopfile(root / "loopfile.yaml", ("offline",))
    config = dataclasses.replace(config, namespace=namespace)
    kube = KubeClient(resolve_target(fake_cluster.context))
    reconcilers = [*load_reconcilers(RECONCILERS), LiveUpdateReconciler()]
    session = Session(
        config, kube, fake_cluster.context, options=SessionOptions(), reconcilers=reconcilers
    )
    seen: list[a.Action] = []
    session.store.subscribe(lambda _s, batch: seen.extend(batch))
    await session.start()
    run = Running(session, root, fake_cluster, namespace, seen)
    try:
        await until(lambda: run.get("/healthz")[0] == 200, "the hello app to serve", 120)
        yield run
    finally:
        refs = set(session.ctx.image_refs.values())
        await session.stop()
        kube.close()
        await asyncio.to_thread(remove_images, refs)


def message(run: Running) -> str:
    status, body = run.get("/api/message")
    return json.loads(body)["message"] if status == 200 else ""


async def test_live_update_flow(running: Running) -> None:
    run, root = running, running.root
    ref = run.session.ctx.image_refs["hello-web"]

    # 1. An edit to a synced file is served without a new image.
    (root / "app" / "message.txt").write_text("live edit one\n")
    await until(lambda: message(run) == "live edit one", "the edited message", 20)
    assert run.session.ctx.image_refs["hello-web"] == ref
    assert not [x for x in run.actions if isinstance(x, a.RebuildRequested)]
    # (the file can be served a moment before the exec reports back)
    await until(lambda: run.last_update().startswith("synced 1 file in "), "status", 10, run)

    # 2. A new file appears; deleting it deletes it in the container.
    (root / "app" / "static" / "extra.html").write_text("<p>extra</p>\n")
    await until(lambda: run.get("/extra.html") == (200, "<p>extra</p>\n"), "the new file", 20, run)
    (root / "app" / "static" / "extra.html").unlink()
    await until(lambda: run.get("/extra.html")[0] == 404, "the deleted file to 404", 20)

    # 3. requirements.txt runs its step (nothing to install: the step exits 0).
    with (root / "requirements.txt").open("a") as fh:
        fh.write("# still nothing\n")
    await until(lambda: "(exit 0)" in run.last_update(), "the requirements step", 20, run)
    assert "ran 'if grep" in run.last_update()

    # 4. A replacement pod gets the synced edits before it is up to date.
    old = run.ready_pod()
    assert old is not None
    await asyncio.to_thread(
        run.cluster.call,
        lambda: run.cluster.kube.store.delete(
            run.cluster.kube.store.kind_of(("", "pods")), run.namespace, old["metadata"]["name"]
        ),
    )

    def replaced() -> bool:
        pod = run.ready_pod()
        return pod is not None and pod["metadata"]["name"] != old["metadata"]["name"]

    await until(replaced, "a replacement pod", 60)
    await until(lambda: message(run) == "live edit one", "the replayed edit", 20, run)
    await until(lambda: "replayed" in run.last_update(), "replay status", 10, run)
    assert run.session.ctx.image_refs["hello-web"] == ref

    # 5. A Dockerfile edit rebuilds (a new image reference follows).
    with (root / "Dockerfile").open("a") as fh:
        fh.write("# touched\n")
    await until(lambda: "rebuilding: Dockerfile changed" in run.last_update(), "rebuild", 20, run)
    await until(lambda: run.session.ctx.image_refs["hello-web"] != ref, "a new image", 120)

    # 6. A failing run step falls back to a rebuild and says why.
    new_ref = run.session.ctx.image_refs["hello-web"]

    def new_pod_serves() -> bool:
        pod = run.ready_pod()
        image = pod["spec"]["containers"][0]["image"] if pod else ""
        return image == new_ref and bool(message(run))

    await until(new_pod_serves, "a pod of the new image", 120)
    before = len([x for x in run.actions if isinstance(x, a.RebuildRequested)])
    with (root / "requirements.txt").open("a") as fh:
        fh.write("surely-not-installable-here==0.0.0\n")
    await until(lambda: "live update failed" in run.last_update(), "the fallback", 60, run)
    rebuilds = [x for x in run.actions if isinstance(x, a.RebuildRequested)]
    assert len(rebuilds) > before and "exit" in rebuilds[-1].reason
