"""Who owns what in a namespace (pure): ours by label or by owner chain, the cluster's
automatic objects, and everything else is foreign and keeps the namespace."""

from __future__ import annotations

from typing import Any

from loopdev.deploy.ownership import capped, one_version_per_kind, sort_contents
from loopdev.render.labels import ownership_labels


def obj(kind: str, name: str, uid: str = "", labels: Any = None, owner: str = "", **extra: Any):  # noqa: ANN201
    meta: dict[str, Any] = {"name": name, "uid": uid or f"uid-{kind}-{name}"}
    if labels is not None:
        meta["labels"] = labels
    if owner:
        meta["ownerReferences"] = [{"uid": owner, "controller": True}]
    return {"kind": kind, "metadata": meta, **extra}


def test_ours_by_label_and_through_owner_chains() -> None:
    dep = obj("Deployment", "web", "d1", ownership_labels("p"))
    rs = obj("ReplicaSet", "web-1", "r1", owner="d1")  # no labels: derived, still ours
    pod = obj("Pod", "web-1-x", "p1", owner="r1")
    slice_ = obj("EndpointSlice", "web-abc", "e1", owner="s1")
    svc = obj("Service", "web", "s1", ownership_labels("p"))
    got = sort_contents([pod, rs, slice_, dep, svc], "p")  # order does not matter
    assert sorted(got.ours) == sorted(
        [
            "Pod/web-1-x",
            "ReplicaSet/web-1",
            "EndpointSlice/web-abc",
            "Deployment/web",
            "Service/web",
        ]
    )
    assert got.foreign == () and got.automatic == ()


def test_the_clusters_own_objects_are_automatic_everything_else_is_foreign() -> None:
    objects = [
        obj("ServiceAccount", "default"),
        obj("ConfigMap", "kube-root-ca.crt"),
        obj(
            "Secret",
            "default-token-abcde",
            type="kubernetes.io/service-account-token",
            metadata={
                "name": "default-token-abcde",
                "uid": "t1",
                "annotations": {"kubernetes.io/service-account.name": "default"},
            },
        ),
        obj("ConfigMap", "by-hand"),
        obj("ServiceAccount", "builder"),
        obj("ConfigMap", "other", labels=ownership_labels("q")),  # another loopdev project's
        obj("Pod", "theirs-x", owner="foreign-rs"),  # owned, but not by anything of ours
        obj("ConfigMap", "half", labels={"loopdev.dev/project": "p"}),  # not managed-by loopdev
    ]
    got = sort_contents(objects, "p")
    assert sorted(got.automatic) == [
        "ConfigMap/kube-root-ca.crt",
        "Secret/default-token-abcde",
        "ServiceAccount/default",
    ]
    assert got.foreign == (
        "ConfigMap/by-hand",
        "ConfigMap/half",
        "ConfigMap/other",
        "Pod/theirs-x",
        "ServiceAccount/builder",
    )


def test_objects_already_being_deleted_do_not_keep_the_namespace() -> None:
    going = obj("ConfigMap", "by-hand")
    going["metadata"]["deletionTimestamp"] = "2026-12-03T12:00:00Z"
    assert sort_contents([going], "p").foreign == ()


def test_capped_names_a_few_and_counts_the_rest() -> None:
    keys = [f"ConfigMap/c{i}" for i in range(8)]
    assert capped(keys[:2]) == "ConfigMap/c0, ConfigMap/c1"
    assert capped(keys) == ", ".join(keys[:5]) + " and 3 more"


def test_one_version_per_kind_prefers_ga_then_the_higher_version() -> None:
    served = {
        ("autoscaling/v1", "HorizontalPodAutoscaler"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema"),
        ("example.com/v1alpha1", "Widget"),
        ("example.com/v1beta1", "Widget"),
        ("other.example.com/v1", "Widget"),  # another group: another kind
        ("v1", "Pod"),
    }
    assert one_version_per_kind(served) == {
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema"),
        ("example.com/v1beta1", "Widget"),
        ("other.example.com/v1", "Widget"),
        ("v1", "Pod"),
    }
