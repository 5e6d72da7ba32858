from __future__ import annotations

from typing import Any

from loopdev.deploy.diff import (
    HASH_ANNOTATION,
    LiveObject,
    ObjectKey,
    diff_applied,
    live_object,
    object_hash,
    stamped,
)


def cm(name: str, data: dict[str, str] | None = None, ns: str = "dev") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": {"a": "b"}},
        "data": data or {"k": "v"},
    }


def deploy(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "dev"},
    }


def as_live(obj: dict[str, Any]) -> LiveObject:
    return live_object(stamped(obj, object_hash(obj)))


def test_everything_is_applied_when_nothing_is_live() -> None:
    plan = diff_applied([cm("a"), deploy("web")], [])
    assert [o["metadata"]["name"] for o in plan.apply] == ["a", "web"]
    assert plan.apply[0]["metadata"]["annotations"][HASH_ANNOTATION] == object_hash(cm("a"))
    assert plan.unchanged == () and plan.prune == ()


def test_unchanged_objects_are_not_applied_again() -> None:
    plan = diff_applied([cm("a"), deploy("web")], [as_live(cm("a")), as_live(deploy("web"))])
    assert plan.apply == ()
    assert [str(k) for k in plan.unchanged] == ["ConfigMap/a", "Deployment/web"]


def test_changed_value_is_applied() -> None:
    plan = diff_applied([cm("a", {"k": "new"})], [as_live(cm("a"))])
    assert len(plan.apply) == 1 and plan.unchanged == ()


def test_hash_ignores_its_own_annotation_and_key_order() -> None:
    obj = cm("a")
    assert object_hash(stamped(obj, "x")) == object_hash(obj)
    reordered = {
        "data": obj["data"],
        "metadata": obj["metadata"],
        "kind": "ConfigMap",
        "apiVersion": "v1",
    }
    assert object_hash(reordered) == object_hash(obj)


def test_removed_objects_are_pruned_but_only_those_we_applied_and_not_owned() -> None:
    live = [
        as_live(cm("a")),
        as_live(cm("gone")),
        LiveObject(ObjectKey("", "ConfigMap", "dev", "hand-made"), None),
        LiveObject(ObjectKey("apps", "ReplicaSet", "dev", "web-123"), "h", owned=True),
    ]
    plan = diff_applied([cm("a")], live)
    assert [str(k) for k in plan.prune] == ["ConfigMap/gone"]


def test_api_version_change_keeps_identity_by_group() -> None:
    old = {
        "apiVersion": "batch/v1beta1",
        "kind": "CronJob",
        "metadata": {"name": "c", "namespace": "dev"},
    }
    new = dict(old, apiVersion="batch/v1")
    plan = diff_applied([new], [as_live(old)])
    assert plan.prune == () and len(plan.apply) == 1


def test_live_object_reads_owner_and_annotation() -> None:
    obj = stamped(cm("a"), "h1")
    obj["metadata"]["ownerReferences"] = [{"kind": "X", "controller": True}]
    lo = live_object(obj)
    assert lo.applied_hash == "h1" and lo.owned and lo.key == ObjectKey("", "ConfigMap", "dev", "a")


def test_held_objects_are_neither_applied_nor_pruned() -> None:
    held = [ObjectKey("apps", "Deployment", "dev", "web")]
    plan = diff_applied([cm("a"), deploy("web")], [as_live(deploy("web"))], held)
    assert [o["kind"] for o in plan.apply] == ["ConfigMap"] and plan.prune == ()
    plan = diff_applied([cm("a")], [as_live(deploy("web"))], held)
    assert plan.prune == ()
