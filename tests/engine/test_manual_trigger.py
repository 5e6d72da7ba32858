"""`trigger: manual` cluster resources in a whole session with in-memory ports: the build,
deploy, status and live-update reconcilers together, file changes dispatched as the shared
watcher would. ``web`` follows every change; ``worker`` (same image) is manual."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from loopdev.commands.options import GlobalOptions
from loopdev.config.load import load_from_options
from loopdev.engine import actions as a
from loopdev.engine.manual import CONTROLLED
from loopdev.engine.reconciler import SessionOptions
from loopdev.engine.session import Session
from loopdev.engine.state import EngineState
from loopdev.reconcilers.build import BuildReconciler
from loopdev.reconcilers.deploy import DeployReconciler
from loopdev.reconcilers.live_update import LiveUpdateReconciler
from loopdev.reconcilers.status import StatusReconciler
from tests.engine.memkube import CountingBuilder, MemKube
from tests.integration.deploy_support import CONFIGMAP, DOCKERFILE, deployment
from tests.support.exec_port import RecordingExecPort

LOOPFILE = """\
version: v1
name: mem
namespace: memns
build: {delivery: shared}
images:
  it-web:
    context: .
    ignore: [solo, k8s]
    live:
      sync: [{src: www/, dest: /www/}]
      rebuildOn: [Dockerfile]
%(extra_image)s
deploy:
  manifests: [k8s/*.yaml]
resources:
  web:
    workload: deployment/web
  worker:
    workload: deployment/worker
    trigger: manual
"""

SOLO_IMAGE = """\
  it-solo:
    context: solo
    live:
      sync: [{src: www/, dest: /www/}]
"""


def app(value: str = "one", worker_image: str = "it-web") -> str:
    worker = deployment(value, image="IMAGE").replace("web", "worker")
    worker = worker.replace("IMAGE", worker_image)
    return deployment(value) + "---\n" + worker


class MemExec(RecordingExecPort):
    """The exec port over MemKube's pods: records what each container was sent."""

    def __init__(self, kube: MemKube) -> None:
        super().__init__()
        self.kube = kube

    def current_pods(self, namespace: str) -> list[dict[str, Any]]:
        return [o for (k, ns, _), o in self.kube.objects.items() if k == "Pod" and ns == namespace]


@dataclass
class Running:
    session: Session
    root: Path
    kube: MemKube
    port: MemExec
    builder: CountingBuilder
    actions: list[a.Action] = field(default_factory=list)

    @property
    def state(self) -> EngineState:
        return self.session.store.state

    def image_of(self, name: str) -> str:
        dep = self.kube.objects[("Deployment", "memns", name)]
        return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])

    def value_of(self, name: str) -> str:
        dep = self.kube.objects[("Deployment", "memns", name)]
        return str(dep["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"])

    def pending(self, name: str) -> bool:
        res = self.state.resource(name)
        return res is not None and res.pending_changes

    def logs(self, name: str) -> list[str]:
        return [line.text for line in self.session.logs.lines(name)]

    def changed(self, *rel: str) -> None:
        paths = frozenset(str(self.root / r) for r in rel)
        self.session.store.dispatch(a.FilesChanged(paths, frozenset()))


async def until(check: Callable[[], Any], what: str, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def quiet(run: Running) -> None:
    """Let every reconciler finish what the last action started."""
    for _ in range(5):
        await run.session.store.settled()
        await asyncio.sleep(0.05)


def write(root: Path, solo: bool) -> Path:
    (root / "k8s").mkdir(parents=True)
    (root / "www").mkdir()
    (root / "www" / "index.html").write_text("hi\n")
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "k8s" / "app.yaml").write_text(app(worker_image="it-solo" if solo else "it-web"))
    (root / "k8s" / "config.yaml").write_text(CONFIGMAP)
    if solo:
        (root / "solo" / "www").mkdir(parents=True)
        (root / "solo" / "www" / "index.html").write_text("solo\n")
        (root / "solo" / "Dockerfile").write_text(DOCKERFILE)
    path = root / "loopfile.yaml"
    path.write_text(LOOPFILE % {"extra_image": SOLO_IMAGE if solo else ""})
    return path


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    async with start(tmp_path, solo=False) as run:
        yield run


@pytest.fixture
async def solo(tmp_path: Path) -> AsyncIterator[Running]:
    async with start(tmp_path, solo=True) as run:
        yield run


class start:  # noqa: N801 - used as `async with start(...)`
    def __init__(self, root: Path, solo: bool) -> None:
        self.root, self.solo = root, solo

    async def __aenter__(self) -> Running:
        config = load_from_options(GlobalOptions(file=write(self.root, self.solo)), command="up")
        kube, builder = MemKube(), CountingBuilder()
        port = MemExec(kube)
        reconcilers = [
            BuildReconciler(factory=lambda ctx: builder),
            DeployReconciler(),
            StatusReconciler(tick=0.05),
            LiveUpdateReconciler(exec_port=port),
        ]
        session = Session(
            config,
            kube,
            "kind-mem",
            options=SessionOptions(once=True),  # no watchers: the test dispatches the changes
            reconcilers=reconcilers,
        )
        self.run = Running(session, self.root, kube, port, builder)
        session.store.subscribe(lambda _s, batch: self.run.actions.extend(batch))
        await session.start()
        ready = lambda: all(  # noqa: E731
            (r := self.run.state.resource(n)) is not None and r.state == "ready"
            for n in ("web", "worker")
        )
        await until(ready, "web and worker ready")
        await until(lambda: "worker" in session.ctx.shared.get(CONTROLLED, ()), "worker held")
        return self.run

    async def __aexit__(self, *exc: object) -> None:
        await self.run.session.stop()


async def test_synced_file_reaches_the_manual_pod_only_when_triggered(running: Running) -> None:
    run = running
    (run.root / "www" / "index.html").write_text("edited\n")
    run.changed("www/index.html")
    await until(lambda: run.port.sent_to("web-", b"www/index.html"), "the sync into web")
    await quiet(run)
    assert run.port.sent_to("worker-", b"www/index.html") == []
    assert run.pending("worker") and not run.pending("web")
    assert "changes pending: 1 file to sync into it-web; trigger to apply" in run.logs("worker")
    assert run.state.resource("web").last_update.startswith("synced 1 file")
    assert run.state.resource("worker").last_update == ""

    run.session.store.dispatch(a.TriggerRequested("worker"))
    await until(lambda: run.port.sent_to("worker-", b"www/index.html"), "the sync into worker")
    await until(lambda: not run.pending("worker"), "pending cleared")
    await quiet(run)
    assert run.builder.calls == [(("it-web",), False)]  # synced, never rebuilt
    assert run.image_of("worker") == "it-web:v1"
    assert run.state.resource("worker").last_update.startswith("synced 1 file")


async def test_manifest_change_reaches_the_manual_deployment_only_when_triggered(
    running: Running,
) -> None:
    run = running
    passes: list[tuple[str, str]] = []  # (web's value, worker's) after each applying pass

    def on_pass(_state: EngineState, batch: Sequence[a.Action]) -> None:
        for act in batch:
            if isinstance(act, a.DeployFinished) and act.applied:
                passes.append((run.value_of("web"), run.value_of("worker")))

    run.session.store.subscribe(on_pass)
    (run.root / "k8s" / "app.yaml").write_text(app("two"))
    run.changed("k8s/app.yaml")
    await until(lambda: run.value_of("web") == "two", "web to get the new value")
    await until(lambda: run.pending("worker"), "worker pending")
    await quiet(run)
    assert passes == [("two", "one")]  # one pass: web applied, worker held
    assert run.value_of("worker") == "one"
    assert not run.pending("web")
    assert "changes pending: Deployment/worker (manifest changed); trigger to apply" in run.logs(
        "worker"
    )

    run.session.store.dispatch(a.TriggerRequested("worker"))
    await until(lambda: run.value_of("worker") == "two", "worker to get the new value")
    await until(lambda: not run.pending("worker"), "pending cleared")


async def test_shared_image_rebuild_keeps_the_manual_workload_on_the_old_image(
    running: Running,
) -> None:
    run = running
    with (run.root / "Dockerfile").open("a") as fh:
        fh.write("# touched\n")
    run.changed("Dockerfile")
    await until(lambda: run.image_of("web") == "it-web:v2", "web on the rebuilt image")
    await until(lambda: run.pending("worker"), "worker pending")
    await quiet(run)
    assert run.image_of("worker") == "it-web:v1"
    logs = run.logs("worker")
    assert "changes pending: it-web to rebuild (Dockerfile changed); trigger to apply" in logs
    assert "changes pending: Deployment/worker (new image it-web); trigger to apply" in logs

    run.session.store.dispatch(a.TriggerRequested("worker"))
    await until(lambda: run.image_of("worker") != "it-web:v1", "worker on a new image")
    await until(lambda: not run.pending("worker"), "pending cleared")
    await quiet(run)
    # the held Dockerfile change asks for a rebuild; the digest (here: a new tag) decides
    assert run.builder.calls[-1] == (("it-web",), False)
    assert run.image_of("worker") == run.image_of("web") == run.session.ctx.image_refs["it-web"]


async def test_forced_trigger_rebuilds_and_drops_the_held_files(running: Running) -> None:
    run = running
    run.changed("www/index.html")
    await until(lambda: run.pending("worker"), "worker pending")
    run.session.store.dispatch(a.TriggerRequested("worker", force_rebuild=True))
    await until(lambda: run.image_of("worker") == "it-web:v2", "worker on the forced build")
    await until(lambda: not run.pending("worker"), "pending cleared")
    await quiet(run)
    assert run.builder.calls[-1] == (("it-web",), True)
    assert run.port.sent_to("worker-", b"www/index.html") == []  # in the image, not synced


async def test_trigger_with_nothing_pending_refreshes_as_before(running: Running) -> None:
    run = running
    run.session.store.dispatch(a.TriggerRequested("worker"))
    await until(lambda: len(run.builder.calls) == 2, "a build")
    assert run.builder.calls[-1] == (("it-web",), False)  # the digest decides
    await until(lambda: run.image_of("worker") == "it-web:v2", "worker redeployed")
    await quiet(run)
    assert not run.pending("worker")


async def test_image_only_a_manual_resource_runs_is_not_rebuilt_until_triggered(
    solo: Running,
) -> None:
    run = solo
    with (run.root / "solo" / "Dockerfile").open("a") as fh:
        fh.write("# touched\n")
    run.changed("solo/Dockerfile")
    await until(lambda: run.pending("worker"), "worker pending")
    await quiet(run)
    assert len(run.builder.calls) == 1  # the start only
    assert run.image_of("worker") == "it-solo:v1"

    run.session.store.dispatch(a.TriggerRequested("worker"))
    await until(lambda: run.image_of("worker") == "it-solo:v2", "worker rebuilt and applied")
    await until(lambda: not run.pending("worker"), "pending cleared")
    assert run.builder.calls[-1] == (("it-solo",), False)
    assert run.image_of("web") == "it-web:v1"
