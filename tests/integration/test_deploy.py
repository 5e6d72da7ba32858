"""Deploy against the fake API server (pods are real containers): ready, redeploy, prune,
crash, image error, down, and recovery from an API server outage."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopdev.adapters.kube import KubeClient, resolve_target
from loopdev.deploy.down import tear_down
from loopdev.engine.actions import FilesChanged
from tests.integration.deploy_support import (
    deployment,
    load,
    make_session,
    wait_state,
    write_project,
)

pytestmark = pytest.mark.docker


@pytest.fixture
def kubeconfig_env(fake_cluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("KUBECONFIG", str(fake_cluster.kubeconfig))
    yield fake_cluster.context


def pod_names(fake_cluster, namespace: str) -> set[str]:
    def read() -> set[str]:
        store = fake_cluster.kube.store
        res = store.kind_of(("", "pods"))
        return {
            o["metadata"]["name"]
            for o in store.list(res, namespace)
            if not o["metadata"].get("deletionTimestamp")
        }

    return fake_cluster.call(read)


def ready(res) -> bool:  # noqa: ANN001
    return res.state == "ready"


async def test_ready_redeploy_on_value_change_and_prune(
    tmp_path: Path, fake_cluster, namespace: str, kubeconfig_env: str, busybox_image: str
) -> None:
    path = write_project(tmp_path, "itflow", namespace)
    session = make_session(load(path), kubeconfig_env)
    await session.start()
    try:
        res = await wait_state(session, "web", ready, timeout=60)
        assert (res.pods_ready, res.pods_total) == (1, 1)
        assert session.store.state.resource("it-web").state == "ready"
        await wait_state(session, "web", lambda r: bool(session.logs.tail("web", 5)), 10)
        assert any("hello one" in line for line in session.logs.tail("web", 20))
        before = pod_names(fake_cluster, namespace)

        (tmp_path / "k8s" / "app.yaml").write_text(deployment("two"))  # seen by the watcher
        await wait_state(session, "web", lambda r: r.state != "ready", 20)
        await wait_state(session, "web", ready, 60)
        after = pod_names(fake_cluster, namespace)
        assert after and not (after & before), "pods were not replaced"
        await wait_state(
            session, "web", lambda r: any("hello two" in x for x in session.logs.tail("web", 50))
        )

        assert fake_cluster.get_object("", "configmaps", namespace, "settings") is not None
        (tmp_path / "k8s" / "config.yaml").unlink()
        session.store.dispatch(
            FilesChanged(frozenset(), frozenset({str(tmp_path / "k8s/config.yaml")}))
        )
        for _ in range(100):
            if fake_cluster.get_object("", "configmaps", namespace, "settings") is None:
                break
            await asyncio.sleep(0.1)
        assert fake_cluster.get_object("", "configmaps", namespace, "settings") is None
        assert fake_cluster.get_object("apps", "deployments", namespace, "web") is not None
    finally:
        await session.stop()
        session.ctx.kube.close()


async def test_crashing_container_reports_its_last_log_lines(
    tmp_path: Path, namespace: str, kubeconfig_env: str, busybox_image: str
) -> None:
    app = deployment(command="echo first-words; echo dying-words-$VALUE; exit 3")
    path = write_project(tmp_path, "itcrash", namespace, app=app)
    session = make_session(load(path), kubeconfig_env, once=True)
    session.settle = 30.0  # never call it ready in the moment before the first exit shows
    verdict = await session.run_until_ready(timeout=60)
    try:
        assert not verdict.ok and verdict.resource == "web"
        res = session.store.state.resource("web")
        assert res.state == "crashing", res
        assert "dying-words-one" in verdict.reason or "dying-words-one" in res.reason, res.reason
    finally:
        session.ctx.kube.close()


async def test_missing_image_is_image_error(
    tmp_path: Path, namespace: str, kubeconfig_env: str, busybox_image: str
) -> None:
    app = deployment(image="loopdev-test/no-such-image:404")
    path = write_project(tmp_path, "itimage", namespace, app=app)
    session = make_session(load(path), kubeconfig_env, once=True)
    verdict = await session.run_until_ready(timeout=60)
    session.ctx.kube.close()
    assert not verdict.ok and verdict.resource == "web"
    assert session.store.state.resource("web").state == "image-error", verdict


async def test_down_removes_exactly_our_objects(
    tmp_path: Path, fake_cluster, namespace: str, kubeconfig_env: str, busybox_image: str
) -> None:
    path = write_project(tmp_path, "itdown", namespace)
    session = make_session(load(path), kubeconfig_env, once=True)
    assert (await session.run_until_ready(timeout=60)).ok
    kube: KubeClient = session.ctx.kube
    foreign = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "not-ours", "namespace": namespace, "labels": {"app": "web"}},
        "data": {"k": "v"},
    }
    await kube.apply(foreign, namespace)
    report = await tear_down(kube, namespace, session.ctx.config.name, timeout=30)
    kube.close()
    assert sorted(report.deleted) == ["ConfigMap/settings", "Deployment/web"]
    assert not report.still_there and not report.namespace_deleted  # not created by us
    assert fake_cluster.get_object("", "configmaps", namespace, "not-ours") is not None
    assert fake_cluster.get_object("apps", "deployments", namespace, "web") is None
    assert not pod_names(fake_cluster, namespace)


async def test_recovers_when_the_api_server_comes_back(
    tmp_path: Path, fake_cluster, namespace: str, kubeconfig_env: str, busybox_image: str
) -> None:
    path = write_project(tmp_path, "itoutage", namespace)
    session = make_session(load(path), kubeconfig_env)
    await session.start()
    try:
        await wait_state(session, "web", ready, 60)
        fake_cluster.stop()
        try:
            await wait_state(session, "web", lambda r: r.state == "cluster-unreachable", 30)
            assert not session.store.state.cluster_reachable
        finally:
            fake_cluster.start()
        await wait_state(session, "web", ready, 30)
        assert session.store.state.cluster_reachable
        await asyncio.sleep(1.0)  # the log stream resumes too, without repeating lines
        hello = [x for x in session.logs.lines("web") if x.text == "hello one"]
        assert len(hello) == 1, hello
        # The session still reacts: a new value rolls out after the outage.
        (tmp_path / "k8s" / "app.yaml").write_text(deployment("after-outage"))
        session.store.dispatch(
            FilesChanged(frozenset({str(tmp_path / "k8s/app.yaml")}), frozenset())
        )
        await wait_state(
            session,
            "web",
            lambda r: any("after-outage" in x for x in session.logs.tail("web", 50)),
            60,
        )
    finally:
        await session.stop()
        session.ctx.kube.close()


def test_resolve_target_honours_kubeconfig(kubeconfig_env: str, fake_cluster) -> None:
    target = resolve_target()
    assert target.context == kubeconfig_env and target.server == fake_cluster.url


async def test_crd_and_its_instance_apply_in_one_pass_and_go_with_down(
    namespace: str, kubeconfig_env: str, fake_cluster
) -> None:
    from loopdev.deploy.apply import apply_objects
    from tests.engine.test_apply_crd import objects

    crd, widget = objects()
    crd["metadata"]["name"] = "gadgets.example.com"
    crd["spec"] = {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"kind": "Gadget", "plural": "gadgets", "singular": "gadget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    }
    widget.update(kind="Gadget")
    widget["metadata"]["namespace"] = namespace
    kube = KubeClient(resolve_target(kubeconfig_env))
    try:
        first = await apply_objects(kube, [crd, widget], namespace, "p")
        assert first.applied == ["CustomResourceDefinition/gadgets.example.com", "Gadget/w1"]
        again = await apply_objects(kube, [crd, widget], namespace, "p")
        assert again.applied == [] and len(again.unchanged) == 2
        report = await tear_down(kube, namespace, "p", timeout=30)
        assert report.deleted == ["Gadget/w1", "CustomResourceDefinition/gadgets.example.com"]
        assert not report.namespace_deleted  # the test's namespace is not ours
    finally:
        kube.close()


async def test_logs_follow_container_restarts(
    tmp_path: Path, namespace: str, kubeconfig_env: str, busybox_image: str
) -> None:
    app = deployment(command="echo instance-start; sleep 1; exit 1")
    path = write_project(tmp_path, "itrestart", namespace, app=app)
    session = make_session(load(path), kubeconfig_env)
    await session.start()
    try:

        def streamed() -> int:  # lines from the followed streams, not the crash-log fetch
            lines = session.logs.lines("web")
            return sum(x.source.endswith("/main") and "instance-start" in x.text for x in lines)

        await wait_state(session, "web", lambda r: streamed() >= 2, 40)
    finally:
        await session.stop()
        session.ctx.kube.close()
