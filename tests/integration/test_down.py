"""`loopdev down` on the fake API server: never deletes what it does not own, deletes the
namespace it created when nothing foreign is in it, and waits without polling."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import kubernetes.client
import pytest

from loopdev.adapters.kube import KubeClient, resolve_target
from loopdev.deploy.down import describe, tear_down
from tests.fakekube.requestlog import verb
from tests.integration.deploy_support import load, make_session, write_project

pytestmark = pytest.mark.docker


@pytest.fixture
def kubeconfig_env(fake_cluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("KUBECONFIG", str(fake_cluster.kubeconfig))
    yield fake_cluster.context


@pytest.fixture
def fresh_namespace(fake_cluster) -> Iterator[str]:
    """A namespace name nobody created: loopdev creates (and labels) it on the first deploy."""
    name = f"t-down-{secrets.token_hex(3)}"
    yield name
    store = fake_cluster.kube.store
    ns_res = store.kind_of(("", "namespaces"))

    def delete() -> None:
        if store.find(ns_res, "", name) is not None:
            store.delete(ns_res, "", name)

    fake_cluster.call(delete)


def names_in(fake_cluster, plural: str, namespace: str) -> set[str]:
    def read() -> set[str]:
        store = fake_cluster.kube.store
        return {o["metadata"]["name"] for o in store.list(store.kind_of(("", plural)), namespace)}

    return fake_cluster.call(read)


async def deploy(tmp_path: Path, name: str, namespace: str, context: str) -> None:
    session = make_session(load(write_project(tmp_path, name, namespace)), context, once=True)
    try:
        assert (await session.run_until_ready(timeout=60)).ok
    finally:
        session.ctx.kube.close()


async def test_down_keeps_its_namespace_when_a_foreign_object_is_in_it(
    tmp_path: Path, fake_cluster, fresh_namespace: str, kubeconfig_env: str, busybox_image: str
) -> None:
    ns = fresh_namespace
    await deploy(tmp_path, "itkeep", ns, kubeconfig_env)
    with fake_cluster.api_client() as api:  # made by hand, as with `kubectl create configmap`
        body = kubernetes.client.V1ConfigMap(
            metadata=kubernetes.client.V1ObjectMeta(name="by-hand"), data={"k": "v"}
        )
        kubernetes.client.CoreV1Api(api).create_namespaced_config_map(ns, body)
    kube = KubeClient(resolve_target(kubeconfig_env))
    try:
        report = await tear_down(kube, ns, "itkeep", timeout=30)
    finally:
        kube.close()
    assert not report.namespace_deleted and report.kept_for == ["ConfigMap/by-hand"]
    assert sorted(report.deleted) == ["ConfigMap/settings", "Deployment/web"]
    assert fake_cluster.get_object("", "namespaces", "", ns) is not None
    assert names_in(fake_cluster, "configmaps", ns) == {"by-hand", "kube-root-ca.crt"}
    assert fake_cluster.get_object("apps", "deployments", ns, "web") is None
    assert (
        f"kept Namespace/{ns}: it holds objects loopdev did not make: ConfigMap/by-hand"
    ) in describe(report, ns).splitlines()


async def test_down_deletes_its_namespace_when_only_its_own_objects_are_in_it(
    tmp_path: Path, fake_cluster, fresh_namespace: str, kubeconfig_env: str, busybox_image: str
) -> None:
    ns = fresh_namespace
    await deploy(tmp_path, "itgone", ns, kubeconfig_env)
    # What the cluster puts in every namespace does not keep it.
    assert "default" in names_in(fake_cluster, "serviceaccounts", ns)
    assert "kube-root-ca.crt" in names_in(fake_cluster, "configmaps", ns)
    kube = KubeClient(resolve_target(kubeconfig_env))
    try:
        await kube.served_kinds()
        mark = fake_cluster.kube.requests.mark()
        report = await tear_down(kube, ns, "itgone", timeout=30)
    finally:
        kube.close()
    calls = fake_cluster.kube.requests.since(mark)
    assert report.namespace_deleted and not report.kept_for and not report.still_there
    # One request per kind and one delete (the namespace takes its objects); its end (pods
    # stop first) is awaited with one watch, not by polling.
    assert max(Counter((r.method, r.path, r.query) for r in calls).values()) == 1
    assert [(r.method, r.path) for r in calls if verb(r.method, r.path, r.query) == "delete"] == [
        ("DELETE", f"/api/v1/namespaces/{ns}")
    ]
    watches = [r.path for r in calls if verb(r.method, r.path, r.query) == "watch"]
    assert watches == ["/api/v1/namespaces"]
    assert sorted(report.deleted) == ["ConfigMap/settings", "Deployment/web"]
    assert fake_cluster.get_object("", "namespaces", "", ns) is None  # gone, not terminating


async def test_down_lists_each_kind_once_and_waits_only_on_what_it_deleted(
    tmp_path: Path, fake_cluster, namespace: str, kubeconfig_env: str, busybox_image: str
) -> None:
    await deploy(tmp_path, "ittraffic", namespace, kubeconfig_env)
    kube = KubeClient(resolve_target(kubeconfig_env))
    try:
        await kube.served_kinds()  # discovery is cached per process; count down's own calls
        mark = fake_cluster.kube.requests.mark()
        report = await tear_down(kube, namespace, "ittraffic", timeout=30)
    finally:
        kube.close()
    assert sorted(report.deleted) == ["ConfigMap/settings", "Deployment/web"]
    assert report.stopping_pods == 1  # the Deployment's pod stops in the background
    calls = fake_cluster.kube.requests.since(mark)
    by_path = Counter((r.method, r.path) for r in calls)
    verbs = Counter(verb(r.method, r.path, r.query) for r in calls)
    # Pods are not waited on: listed once, to find ours. No path is asked for more than twice
    # (once to find ours, once to confirm what was deleted is gone): no polling.
    assert by_path[("GET", f"/api/v1/namespaces/{namespace}/pods")] == 1, by_path
    assert max(by_path.values()) <= 2, by_path.most_common(3)
    assert verbs["delete"] == 2 and verbs["watch"] == 0, verbs
