"""`tear_down` over the in-memory API: only our labels, our namespace unless kept."""

from __future__ import annotations

import asyncio
from typing import Any

from loopdev.deploy.apply import apply_objects
from loopdev.deploy.down import describe, tear_down
from loopdev.render.labels import ownership_labels
from tests.engine.memkube import MemKube


def cm(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}}


async def test_a_namespace_holding_foreign_objects_is_kept_and_they_are_named() -> None:
    kube = MemKube()
    await apply_objects(kube, [cm("ours", ownership_labels("p"))], "dev", "p")
    await kube.apply(cm("theirs", {"app": "x"}), "dev")
    await kube.apply(cm("other-project", ownership_labels("q")), "dev")
    report = await tear_down(kube, "dev", "p", timeout=1)
    assert report.deleted == ["ConfigMap/ours"] and not report.namespace_deleted
    assert report.kept_for == ["ConfigMap/other-project", "ConfigMap/theirs"]
    assert ("ConfigMap", "dev", "theirs") in kube.objects
    assert ("ConfigMap", "dev", "other-project") in kube.objects
    assert ("Namespace", "", "dev") in kube.objects
    assert describe(report, "dev").splitlines() == [
        "deleted ConfigMap/ours",
        "kept Namespace/dev: it holds objects loopdev did not make: "
        "ConfigMap/other-project, ConfigMap/theirs",
    ]


async def test_our_namespace_goes_when_only_ours_and_the_automatic_objects_are_in_it() -> None:
    kube = MemKube()
    await apply_objects(kube, [cm("ours", ownership_labels("p"))], "dev", "p")
    await kube.apply(cm("kube-root-ca.crt", {}), "dev")
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}
    await kube.apply(sa, "dev")
    report = await tear_down(kube, "dev", "p", timeout=1)
    assert report.deleted == ["ConfigMap/ours"] and report.namespace_deleted
    assert not report.kept_for and not report.still_there
    assert not [key for key in kube.objects if key[1] == "dev" or key[2] == "dev"]
    assert describe(report, "dev").splitlines() == [
        "deleted ConfigMap/ours",
        "deleted Namespace/dev",
    ]


async def test_keep_namespace_and_a_namespace_we_did_not_create() -> None:
    kube = MemKube()
    await apply_objects(kube, [cm("ours", ownership_labels("p"))], "dev", "p")
    report = await tear_down(kube, "dev", "p", keep_namespace=True, timeout=1)
    assert not report.namespace_deleted and ("Namespace", "", "dev") in kube.objects

    kube = MemKube()
    await kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shared"}}, None
    )
    await apply_objects(kube, [cm("ours", ownership_labels("p"))], "shared", "p")
    report = await tear_down(kube, "shared", "p", timeout=1)
    assert report.deleted == ["ConfigMap/ours"] and not report.namespace_deleted
    assert describe(await tear_down(kube, "shared", "p", timeout=1), "shared").startswith("nothing")


async def test_kinds_we_may_not_list_are_skipped() -> None:
    from loopdev.errors import DeployError

    class Restricted(MemKube):
        async def list(self, api_version, kind, namespace, label_selector=""):  # noqa: ANN001, ANN201
            if kind in ("ClusterRole", "Secret"):
                raise DeployError("the API server refused the request (403): forbidden")
            return await super().list(api_version, kind, namespace, label_selector)

        async def served_kinds(self):  # noqa: ANN201
            return {*await super().served_kinds(), ("rbac.authorization.k8s.io/v1", "ClusterRole")}

    kube = Restricted()
    await apply_objects(kube, [cm("ours", ownership_labels("p"))], "dev", "p")
    report = await tear_down(kube, "dev", "p", timeout=1)
    assert report.deleted == ["ConfigMap/ours"]


class Graceful(MemKube):
    """Pods go only ``grace`` seconds after their delete, as with a termination grace period."""

    grace = 0.2

    async def delete(self, api_version, kind, name, namespace):  # noqa: ANN001, ANN201
        if kind != "Pod":
            return await super().delete(api_version, kind, name, namespace)
        pod = self.objects.get((kind, namespace or "", name))
        if pod is None:
            return False
        pod["metadata"]["deletionTimestamp"] = "now"
        self._put(pod, "MODIFIED")
        self.later = asyncio.ensure_future(self._remove(api_version, kind, name, namespace))
        return True

    async def _remove(self, *args: Any) -> None:
        await asyncio.sleep(self.grace)
        await super().delete(*args)


def bare_pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": ownership_labels("p")},
    }


async def test_a_deleted_object_in_its_grace_period_is_waited_for_until_gone() -> None:
    kube = Graceful()
    await apply_objects(kube, [bare_pod("job"), cm("ours", ownership_labels("p"))], "dev", "p")
    report = await tear_down(kube, "dev", "p", keep_namespace=True, timeout=5)
    assert sorted(report.deleted) == ["ConfigMap/ours", "Pod/job"] and not report.still_there
    assert ("Pod", "dev", "job") not in kube.objects  # returned only once it was gone


async def test_what_outlives_the_timeout_is_reported() -> None:
    kube = Graceful()
    kube.grace = 30
    await apply_objects(kube, [bare_pod("job")], "dev", "p")
    report = await tear_down(kube, "dev", "p", keep_namespace=True, timeout=0.3)
    assert report.deleted == ["Pod/job"] and report.still_there == ["Pod/job"]


def in_ns(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    obj["metadata"]["namespace"] = namespace
    return obj


async def test_release_namespaces_are_ensured_pruned_and_torn_down_each_by_its_own_rule() -> None:
    from loopdev.deploy.down import describe_all, tear_down_all

    kube = MemKube()
    await kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shared"}}, None
    )
    ours = ownership_labels("p")
    rendered = [
        cm("app", ours),
        in_ns(cm("cache", ours), "cache"),
        in_ns(cm("old", ours), "cache"),
        in_ns(cm("lib", ours), "shared"),
    ]
    first = await apply_objects(kube, rendered, "dev", "p", others=("cache", "shared"))
    assert first.namespace_created
    assert ("Namespace", "", "cache") in kube.objects  # created for the release, labelled
    assert kube.objects[("Namespace", "", "cache")]["metadata"]["labels"] == ours
    again = await apply_objects(kube, rendered[:2] + rendered[3:], "dev", "p", others=("cache",))
    assert again.pruned == ["ConfigMap/old"]  # pruned in the release's namespace
    assert ("ConfigMap", "shared", "lib") in kube.objects

    await kube.apply(cm("theirs", {"app": "x"}), "cache")
    reports = await tear_down_all(kube, ("dev", "cache", "shared"), "p", timeout=1)
    by_ns = dict(reports)
    assert by_ns["dev"].namespace_deleted
    assert not by_ns["cache"].namespace_deleted  # someone else's object is in it
    assert by_ns["cache"].deleted == ["ConfigMap/cache"]
    assert not by_ns["shared"].namespace_deleted  # loopdev did not create it
    assert by_ns["shared"].deleted == ["ConfigMap/lib"]
    assert ("ConfigMap", "cache", "theirs") in kube.objects
    assert ("Namespace", "", "shared") in kube.objects
    assert not [k for k in kube.objects if k[0] == "ConfigMap" and k[2] != "theirs"]
    text = describe_all(reports)
    assert "kept Namespace/cache: it holds objects loopdev did not make: ConfigMap/theirs" in text
