"""The session with in-memory ports: what each cycle built, applied and reported."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from pathlib import Path

import pytest

from loopdev.commands.options import GlobalOptions
from loopdev.config.load import load_from_options
from loopdev.engine import actions as a
from loopdev.engine.reducer import reduce
from loopdev.engine.session import Session, ci_verdict, load_reconcilers
from loopdev.engine.state import EngineState, ForwardInfo, ResourceStatus
from loopdev.output import PlainOutput
from loopdev.reconcilers.build import BuildReconciler
from loopdev.reconcilers.deploy import DeployReconciler
from loopdev.reconcilers.logs import LogsReconciler
from loopdev.reconcilers.status import StatusReconciler
from tests.engine.memkube import CountingBuilder, MemKube
from tests.integration.deploy_support import deployment, write_project


def make(
    tmp_path: Path, kube: MemKube, builder: CountingBuilder, app: str | None = None
) -> Session:
    path = write_project(tmp_path, "mem", "memns", app=app)
    config = load_from_options(GlobalOptions(file=path), command="up")
    reconcilers = [
        BuildReconciler(factory=lambda ctx: builder),
        DeployReconciler(),
        StatusReconciler(tick=0.05),
        LogsReconciler(),
    ]
    return Session(config, kube, "kind-mem", reconcilers=reconcilers)


async def until(session: Session, check, timeout: float = 5.0) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout
    while not check(session.store.state):
        assert asyncio.get_running_loop().time() < deadline, session.store.state
        await asyncio.sleep(0.01)


def state_of(name: str):  # noqa: ANN201
    return lambda s: (s.resource(name) or ResourceStatus(name, "workload")).state


async def test_start_builds_once_deploys_and_reaches_ready(tmp_path: Path) -> None:
    kube, builder = MemKube(), CountingBuilder()
    session = make(tmp_path, kube, builder)
    session.settle = 0.0
    verdict = await session.run_until_ready(5)
    assert verdict.ok, verdict
    assert builder.calls == [(("it-web",), False)]
    ns = kube.objects[("Namespace", "", "memns")]
    assert ns["metadata"]["labels"]["loopdev.dev/project"] == "mem"
    dep = kube.objects[("Deployment", "memns", "web")]
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "it-web:v1"
    assert kube.writes == 3  # namespace, configmap, deployment
    state = session.store.state
    assert state.resource("it-web").build.ref == "it-web:v1"
    assert (state.resource("web").pods_ready, state.resource("web").objects) == (
        1,
        ("Deployment/web",),
    )


async def test_rebuild_request_redeploys_with_the_new_reference(tmp_path: Path) -> None:
    kube, builder = MemKube(), CountingBuilder()
    session = make(tmp_path, kube, builder)
    await session.start()
    try:
        await until(session, lambda s: state_of("web")(s) == "ready")
        writes = kube.writes
        session.store.dispatch(a.RebuildRequested(("it-web",), "Dockerfile changed"))
        # (CountingBuilder gives every build a new tag, as a changed context would)
        await until(
            session,
            lambda s: (
                kube.objects[("Deployment", "memns", "web")]["spec"]["template"]["spec"][
                    "containers"
                ][0]["image"]
                == "it-web:v2"
            ),
        )
        assert builder.calls[-1] == (("it-web",), False)  # the digest decides
        assert kube.writes == writes + 1  # only the deployment changed
        await until(session, lambda s: state_of("web")(s) == "ready")
    finally:
        await session.stop()


async def test_burst_of_rebuild_requests_builds_at_most_twice(tmp_path: Path) -> None:
    kube, builder = MemKube(), CountingBuilder(delay=0.1)
    session = make(tmp_path, kube, builder)
    await session.start()
    try:
        await until(session, lambda s: state_of("web")(s) == "ready")
        for _ in range(10):
            session.store.dispatch(a.RebuildRequested(("it-web",)))
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.5)
        assert 2 <= len(builder.calls) <= 3  # the start, then one or two merged rebuilds
    finally:
        await session.stop()


async def test_trigger_with_force_rebuild_on_a_workload_rebuilds_its_images(tmp_path: Path) -> None:
    kube, builder = MemKube(), CountingBuilder()
    session = make(tmp_path, kube, builder)
    await session.start()
    try:
        await until(session, lambda s: state_of("web")(s) == "ready")
        session.store.dispatch(a.TriggerRequested("web", force_rebuild=True))
        await until(session, lambda s: len(builder.calls) == 2)
        assert builder.calls[-1] == (("it-web",), True)
    finally:
        await session.stop()


async def test_outage_shows_cluster_unreachable_then_recovers(tmp_path: Path) -> None:
    kube, builder = MemKube(), CountingBuilder()
    session = make(tmp_path, kube, builder)
    await session.start()
    try:
        await until(session, lambda s: state_of("web")(s) == "ready")
        kube.unreachable = True
        await until(session, lambda s: state_of("web")(s) == "cluster-unreachable")
        assert not session.store.state.cluster_reachable
        kube.unreachable = False
        await until(session, lambda s: state_of("web")(s) == "ready", timeout=10)
        assert session.store.state.cluster_reachable
    finally:
        await session.stop()


async def test_up_started_against_an_unreachable_cluster_says_so_retries_and_recovers(
    tmp_path: Path,
) -> None:
    kube, builder = MemKube(unreachable=True), CountingBuilder()
    session = make(tmp_path, kube, builder)
    await session.start()
    try:
        await until(session, lambda s: state_of("web")(s) == "cluster-unreachable")
        await asyncio.sleep(1.6)  # several retries (0.5 s, 1 s, ...): the cause is said once
        said = [ln.text for ln in session.logs.lines("deploy") if "retrying" in ln.text]
        assert said == [
            "cannot reach the Kubernetes API at mem://; retrying with back-off (up to every 10s)"
        ]
        kube.unreachable = False
        await until(session, lambda s: state_of("web")(s) == "ready", timeout=15)
    finally:
        await session.stop()


async def test_crash_loop_fails_ci_with_the_previous_log(tmp_path: Path) -> None:
    kube, builder = MemKube(ready_pods=False), CountingBuilder()
    kube.logs["web-g1"] = ["starting", "panic: config missing"]
    session = make(tmp_path, kube, builder, app=deployment())
    verdict = await session.run_until_ready(5)
    assert not verdict.ok and verdict.resource == "web"
    assert "crashing" in verdict.reason and "panic: config missing" in verdict.reason
    assert "panic: config missing" in session.logs.tail("web", 5)


async def test_render_error_lands_in_state_and_fails_ci(tmp_path: Path) -> None:
    kube, builder = MemKube(), CountingBuilder()
    session = make(tmp_path, kube, builder, app="kind: [broken\n")
    verdict = await session.run_until_ready(5)
    assert not verdict.ok and verdict.resource == "web"  # the declared resource carries it
    assert "k8s/app.yaml" in verdict.reason and "invalid YAML" in verdict.reason
    assert kube.writes == 0


async def test_unchanged_second_session_writes_nothing(tmp_path: Path) -> None:
    kube, builder = MemKube(), CountingBuilder()
    first = make(tmp_path, kube, builder)
    first.settle = 0.0
    assert (await first.run_until_ready(5)).ok
    writes = kube.writes
    second = make(tmp_path, kube, CountingBuilder())
    second.settle = 0.0
    second.reconcilers[0] = BuildReconciler(factory=lambda ctx: _Reuse())
    assert (await second.run_until_ready(5)).ok
    assert kube.writes == writes


class _Reuse:
    async def build(self, names=None, force=False):  # noqa: ANN001, ANN201
        from tests.engine.memkube import Built

        return {n: Built(n, f"{n}:v1", True, 0.0) for n in names or ()}


def test_ci_verdict_rules() -> None:
    def st(**states: str) -> EngineState:
        resources = {
            n: ResourceStatus(n, "workload", state=v, since=0.0) for n, v in states.items()
        }
        return EngineState(resources=resources, order=tuple(states))

    assert ci_verdict(st(a="ready", b="deploying"), True) is None
    assert ci_verdict(st(a="ready"), False) is None
    assert ci_verdict(st(a="ready", b="ready"), True).ok
    assert ci_verdict(st(a="ready"), True, now=1.0, settle=2.0) is None
    bad = ci_verdict(st(a="ready", b="image-error"), False)
    assert bad is not None and not bad.ok and bad.resource == "b"
    assert not ci_verdict(st(a="pending"), False, deploy_error="boom").ok


def test_ci_verdict_rides_out_a_short_outage_and_fails_a_long_one() -> None:
    ready = {"web": ResourceStatus("web", "workload", state="ready", since=0.0)}
    state = EngineState(resources=ready, order=("web",))
    lost = reduce(state, a.ClusterReachability(False, "connection refused"), 100.0)
    later = reduce(lost, a.ClusterReachability(False, "connection refused"), 110.0)
    assert later.unreachable_since == 100.0  # the same outage goes on: its start is kept
    assert ci_verdict(later, True, now=110.0, unreachable_grace=20.0) is None
    verdict = ci_verdict(later, True, now=120.0, unreachable_grace=20.0)
    assert verdict is not None and not verdict.ok and verdict.resource == "cluster"
    assert verdict.reason == "unreachable for 20s: connection refused"
    back = reduce(later, a.ClusterReachability(True), 121.0)
    assert back.cluster_reachable and back.unreachable_since == 0.0
    assert ci_verdict(back, True, now=140.0, unreachable_grace=20.0).ok


async def test_ci_fails_when_the_cluster_goes_away_mid_run(tmp_path: Path) -> None:
    kube = MemKube()
    session = make(tmp_path, kube, CountingBuilder())
    session.settle = 60.0  # no "ok" before the loss: without the grace, ci waits its timeout
    session.unreachable_grace = 0.5

    async def lose() -> None:
        await until(session, lambda s: state_of("web")(s) == "ready")
        kube.unreachable = True

    loss = asyncio.create_task(lose())
    started = asyncio.get_running_loop().time()
    verdict = await session.run_until_ready(30)
    await loss
    assert not verdict.ok and verdict.resource == "cluster"
    assert verdict.reason.startswith("unreachable for 0.5s: ")
    assert asyncio.get_running_loop().time() - started < 15


def test_ci_verdict_fails_on_a_forward_whose_local_port_cannot_be_bound() -> None:
    busy = ForwardInfo(8080, 80, state="error: local port 8080 is in use", listen_error="in use")
    dialing = ForwardInfo(9090, 90, state="error: pod not ready")  # transient: keep waiting
    ready = ResourceStatus("web", "workload", state="ready", forwards=(dialing,))
    state = EngineState(resources={"web": ready}, order=("web",))
    assert ci_verdict(state, True, now=10.0).ok
    held = dataclasses.replace(ready, forwards=(dialing, busy))
    verdict = ci_verdict(EngineState(resources={"web": held}, order=("web",)), True, now=10.0)
    assert verdict is not None and not verdict.ok and verdict.resource == "web"
    assert verdict.reason == "port-forward 127.0.0.1:8080: in use"


def test_load_reconcilers_skips_missing_modules_only() -> None:
    got = load_reconcilers(
        ["loopdev.reconcilers.deploy:DeployReconciler", "loopdev.reconcilers.nope:Nope"]
    )
    assert [type(r).__name__ for r in got] == ["DeployReconciler"]
    with pytest.raises(AttributeError):
        load_reconcilers(["loopdev.reconcilers.deploy:Missing"])


async def test_depends_on_holds_a_workload_until_its_dependency_is_ready(tmp_path: Path) -> None:
    kube, builder = MemKube(), CountingBuilder()
    path = write_project(tmp_path, "mem", "memns")
    (tmp_path / "k8s" / "db.yaml").write_text(
        deployment().replace("name: web", "name: db").replace("app: web", "app: db")
    )
    text = path.read_text().replace(
        "  web:\n    workload: deployment/web\n",
        "  web:\n    workload: deployment/web\n    dependsOn: [db]\n"
        "  db:\n    workload: deployment/db\n",
    )
    path.write_text(text)
    config = load_from_options(GlobalOptions(file=path), command="up")
    order: list[str] = []
    real_apply = kube.apply

    async def apply(obj, namespace):  # noqa: ANN001, ANN202
        order.append(f"{obj['kind']}/{obj['metadata']['name']}")
        return await real_apply(obj, namespace)

    kube.apply = apply  # type: ignore[method-assign]
    seen: list[str] = []
    reconcilers = [
        BuildReconciler(factory=lambda ctx: builder),
        DeployReconciler(),
        StatusReconciler(tick=0.05),
    ]
    session = Session(config, kube, "kind-mem", reconcilers=reconcilers)
    session.settle = 0.0
    session.store.subscribe(
        lambda s, b: seen.append(state_of("web")(s)) if s.resource("web") else None
    )
    verdict = await session.run_until_ready(5)
    assert verdict.ok, verdict
    assert "waiting" in seen
    assert order.index("Deployment/web") > order.index("Deployment/db")


async def test_shutdown_request_ends_run_forever(tmp_path: Path) -> None:
    session = make(tmp_path, MemKube(), CountingBuilder())
    runner = asyncio.create_task(session.run_forever())
    await until(session, lambda s: state_of("web")(s) == "ready")
    session.store.dispatch(a.ShutdownRequested(down=True))
    result = await asyncio.wait_for(runner, 5)
    assert result is not None and result.down


async def test_plain_trigger_on_a_workload_builds_its_images_without_forcing(
    tmp_path: Path,
) -> None:
    kube, builder = MemKube(), CountingBuilder()
    session = make(tmp_path, kube, builder)
    await session.start()
    try:
        await until(session, lambda s: state_of("web")(s) == "ready")
        session.store.dispatch(a.TriggerRequested("web"))
        await until(session, lambda s: len(builder.calls) == 2)
        assert builder.calls[-1] == (("it-web",), False)
        session.store.dispatch(a.TriggerRequested("it-web"))
        await until(session, lambda s: len(builder.calls) == 3)
        assert builder.calls[-1] == (("it-web",), True)
    finally:
        await session.stop()


async def test_a_failing_subscriber_ends_up_with_an_error_instead_of_hanging(
    tmp_path: Path,
) -> None:
    from loopdev.errors import LoopdevError

    session = make(tmp_path, MemKube(), CountingBuilder())

    def broken(state, batch):  # noqa: ANN001, ANN202
        raise ValueError("presenter bug")

    session.store.subscribe(broken)
    with pytest.raises(LoopdevError, match="presenter bug"):
        await asyncio.wait_for(session.run_forever(), 5)


SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: s3cr3t-pass-7731
"""


async def test_rendered_secret_values_are_masked_in_output(tmp_path: Path) -> None:
    """A container log line that prints a rendered Secret's value is shown masked."""
    kube, builder = MemKube(), CountingBuilder()
    session = make(tmp_path, kube, builder, app=deployment() + "---\n" + SECRET)
    session.settle = 0.0
    out = io.StringIO()
    PlainOutput(out).attach(session.store, session.logs)
    assert (await session.run_until_ready(5)).ok
    session.logs.append("web", "db password is s3cr3t-pass-7731", "web-1/web")
    await asyncio.sleep(0)
    assert "db password is" in out.getvalue()
    assert "s3cr3t-pass-7731" not in out.getvalue()


async def test_a_loopfile_edit_rebuilds_the_changed_image_once_and_redeploys(
    tmp_path: Path,
) -> None:
    """The build reconciler is run afresh with the new config; its old subscription goes
    (one per reconciler, however many reloads)."""
    from loopdev.reconcilers.config import ConfigReconciler

    kube, builder = MemKube(), CountingBuilder()
    session = make(tmp_path, kube, builder)
    session.reconcilers.append(ConfigReconciler())
    await session.start()
    try:

        def deployment_image() -> object:
            dep = kube.objects.get(("Deployment", "memns", "web"), {})
            spec = dep.get("spec", {}).get("template", {}).get("spec", {})
            return spec["containers"][0]["image"] if spec else None

        await until(session, lambda s: deployment_image() == "it-web:v1")
        path = tmp_path / "loopfile.yaml"
        path.write_text(
            path.read_text().replace(
                "dockerfile: Dockerfile\n", "dockerfile: Dockerfile\n    buildArgs: {A: b}\n"
            )
        )
        await until(session, lambda s: deployment_image() == "it-web:v2")
        assert session.ctx.config.images["it-web"].build_args == {"A": "b"}
        assert builder.calls[-1] == (("it-web",), False)
        assert session.store.owners.count("build") == 1
    finally:
        await session.stop()


async def test_images_added_and_removed_by_a_reload_come_and_go(tmp_path: Path) -> None:
    from loopdev.reconcilers.config import ConfigReconciler

    kube, builder = MemKube(), CountingBuilder()
    session = make(tmp_path, kube, builder)
    session.reconcilers.append(ConfigReconciler())
    path = tmp_path / "loopfile.yaml"
    original = path.read_text()
    extra = original.replace(
        "images:\n", "images:\n  it-extra:\n    context: .\n    dockerfile: Dockerfile\n"
    )
    await session.start()
    try:
        await until(session, lambda s: "it-web" in session.ctx.image_refs)
        path.write_text(extra)
        await until(session, lambda s: s.resource("it-extra") is not None)
        await until(session, lambda s: "it-extra" in session.ctx.image_refs)
        assert "it-extra" in builder.calls[-1][0]
        path.write_text(original)
        await until(session, lambda s: s.resource("it-extra") is None)
        assert "it-extra" not in session.ctx.image_refs
        assert "it-extra" not in session.ctx.config.images
    finally:
        await session.stop()
