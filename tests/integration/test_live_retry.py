"""A replay that fails the same way every time, against the fake API server: the bounded
number of exec requests it may cost (issue: ~10 a second, ~1,900 requests in 12 s).

A session with the cluster watch and the live-update reconciler; a stand-in build answers
every rebuild request at once with the same image (reused), which is what re-woke the
replay loop. The replacement pod has a read-only root filesystem, so the replay's tar into
/app fails (exit 67) every time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest

from loopdev.adapters.kube import KubeClient, resolve_target
from loopdev.config.model import Deploy, Image, LiveUpdate, Loopfile, SyncRule
from loopdev.engine import actions as a
from loopdev.engine.reconciler import SessionContext, SessionOptions
from loopdev.engine.session import Session
from loopdev.engine.state import ResourceStatus
from loopdev.reconcilers.live_update import LiveUpdateReconciler
from loopdev.render.labels import RESOURCE_LABEL, ownership_labels

pytestmark = [pytest.mark.docker, pytest.mark.timeout(240)]
PROJECT = "liveretry"
SETTLED = "not retrying until a synced file changes or a new pod starts"


class ReusedBuild:
    """Stands in for the build reconciler: every rebuild finds its image already built."""

    name = "build"

    def __init__(self, ref: str) -> None:
        self.ref = ref
        self.requests = 0

    async def run(self, ctx: SessionContext) -> None:
        ctx.image_refs["web"] = self.ref
        ctx.store.dispatch(a.ResourceAdded(ResourceStatus("web", "workload", state="ready")))

        def answer(_state: Any, batch: Any) -> None:
            for act in batch:
                if isinstance(act, a.RebuildRequested):
                    self.requests += 1
                    ctx.store.dispatch(a.ImagesBuilt(dict(ctx.image_refs)))

        ctx.store.subscribe(answer)
        ctx.store.dispatch(a.ImagesBuilt(dict(ctx.image_refs)))
        await asyncio.Event().wait()


def pod(name: str, ref: str, read_only: bool = False) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "web", "image": ref, "command": ["sleep", "3600"]}
    if read_only:
        container["securityContext"] = {"readOnlyRootFilesystem": True}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {**ownership_labels(PROJECT), RESOURCE_LABEL: "web"}},
        "spec": {"containers": [container]},
    }


async def until(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        got = check()
        if got:
            return got
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
async def session(
    tmp_path: Path,
    fake_cluster: Any,
    namespace: str,
    busybox_image: str,
    docker_client: Any,
    monkeypatch: Any,
) -> AsyncIterator[tuple[Session, ReusedBuild, str]]:
    monkeypatch.setenv("KUBECONFIG", str(fake_cluster.kubeconfig))
    ref = busybox_image + "-retry"
    docker_client.images.get(busybox_image).tag(ref)
    (tmp_path / "app").mkdir()
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    image = Image(
        "web", tmp_path, tmp_path / "Dockerfile", live=LiveUpdate(sync=(SyncRule("app/", "/app/"),))
    )
    config = Loopfile(
        tmp_path / "loopfile.yaml",
        tmp_path,
        PROJECT,
        namespace,
        {"web": image},
        Deploy("manifests"),
    )
    kube = KubeClient(resolve_target(fake_cluster.context))
    build = ReusedBuild(ref)
    sess = Session(
        config,
        kube,
        fake_cluster.context,
        options=SessionOptions(once=True),  # no file watcher: the test dispatches the changes
        reconcilers=[build, LiveUpdateReconciler()],
    )
    await sess.start()
    try:
        yield sess, build, ref
    finally:
        await sess.stop()
        kube.close()
        docker_client.images.remove(ref)


def running(sess: Session, name: str) -> bool:
    return any(
        p["metadata"]["name"] == name and (p.get("status") or {}).get("phase") == "Running"
        for p in sess.watch.pods()
    )


async def test_a_persistently_failing_replay_makes_a_bounded_number_of_execs(
    session: tuple[Session, ReusedBuild, str], fake_cluster: Any, namespace: str
) -> None:
    sess, build, ref = session
    api = fake_cluster.api_client()
    core = kubernetes.client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, pod("web-a", ref))
    await until(lambda: running(sess, "web-a"), "web-a running")
    (sess.ctx.config.root / "app" / "msg.txt").write_text("hello\n")

    def save() -> None:
        path = str(sess.ctx.config.root / "app" / "msg.txt")
        sess.store.dispatch(a.FilesChanged(frozenset({path}), frozenset()))

    def settled() -> int:
        return sum(1 for line in sess.logs.tail("web", 500) if SETTLED in line)

    def execs_into(name: str) -> int:
        suffix = f"/namespaces/{namespace}/pods/{name}/exec"
        return sum(1 for r in fake_cluster.requests() if r.path.endswith(suffix))

    save()
    await until(lambda: any("synced" in x for x in sess.logs.tail("web", 50)), "the first sync")
    core.create_namespaced_pod(namespace, pod("web-b", ref, read_only=True))
    await until(settled, "the replay into web-b to be reported as settled")
    before = len(fake_cluster.requests())
    await asyncio.sleep(3.0)  # a window in which the old loop made ~30 replays
    assert execs_into("web-b") == 2  # the first try and one retry after the back-off
    assert len(fake_cluster.requests()) == before  # nothing at all meanwhile
    assert build.requests == 1 and settled() == 1

    save()  # the next change tries again (once, plus one retry), and is reported again
    await until(lambda: settled() == 2, "the second settled report")
    assert execs_into("web-b") == 4 and execs_into("web-a") == 2
    api.close()
