"""The pure manual-trigger decision of a deploy pass, checked together with diff_applied:
what a held resource sends is what the cluster already has, so nothing of it is written or
pruned, while the rest of the same render goes out."""

from __future__ import annotations

from typing import Any

from loopdev.deploy.diff import diff_applied, live_object, object_hash, stamped
from loopdev.deploy.manual import describe, hold_manual, objects_of


def deployment(name: str, image: str = "api:v1", value: str = "one") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "dev"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "main", "image": image, "env": [{"name": "V", "value": value}]}
                    ]
                }
            }
        },
    }


CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "dev"}}
OWNERS = {"web": "deployment/web", "worker": "deployment/worker"}


def names(objects: Any) -> list[tuple[str, str]]:
    return [
        (o["metadata"]["name"], o["spec"]["template"]["spec"]["containers"][0]["image"])
        if o["kind"] == "Deployment"
        else (o["metadata"]["name"], "")
        for o in objects
    ]


def test_first_deploy_of_a_manual_resource_is_not_held() -> None:
    render = [CM, deployment("web"), deployment("worker")]
    got = hold_manual(render, OWNERS, {}, {"worker"})
    assert list(got.objects) == render
    assert got.applied == {"worker": (deployment("worker"),)}
    assert got.held == {} and got.fresh == ()


def test_a_changed_manual_resource_keeps_its_last_applied_objects_in_place() -> None:
    last = {"worker": (deployment("worker", "api:v1"),)}
    render = [CM, deployment("worker", "api:v2"), deployment("web", "api:v2")]
    got = hold_manual(render, OWNERS, last, {"worker"})
    assert names(got.objects) == [("cm", ""), ("worker", "api:v1"), ("web", "api:v2")]
    assert got.applied == last
    assert set(got.held) == {"worker"} and got.fresh == ("worker",)


def test_a_held_resource_is_reported_once_per_new_render() -> None:
    last = {"worker": (deployment("worker", value="one"),)}
    first = hold_manual([deployment("worker", value="two")], OWNERS, last, {"worker"})
    again = hold_manual(
        [deployment("worker", value="two")], OWNERS, last, {"worker"}, seen=first.held
    )
    assert first.fresh == ("worker",) and again.fresh == ()
    third = hold_manual(
        [deployment("worker", value="three")], OWNERS, last, {"worker"}, seen=again.held
    )
    assert third.fresh == ("worker",)


def test_released_resource_gets_its_new_render() -> None:
    last = {"worker": (deployment("worker", "api:v1"),)}
    render = [deployment("worker", "api:v2")]
    got = hold_manual(render, OWNERS, last, {"worker"}, released={"worker"})
    assert list(got.objects) == render
    assert got.applied == {"worker": (deployment("worker", "api:v2"),)}
    assert got.held == {}


def test_unchanged_manual_resource_is_not_held() -> None:
    last = {"worker": (deployment("worker"),)}
    got = hold_manual([deployment("worker")], OWNERS, last, {"worker"})
    assert got.held == {} and got.applied == last


def test_a_resource_waiting_for_its_dependencies_is_left_to_that_hold() -> None:
    got = hold_manual([deployment("worker")], OWNERS, {}, {"worker"}, waiting={"worker"})
    assert got.applied == {} and got.held == {}


def test_a_held_resource_that_is_no_longer_rendered_is_kept_not_pruned() -> None:
    old = deployment("worker")
    got = hold_manual([CM], {}, {"worker": (old,)}, {"worker"})
    assert list(got.objects) == [CM, old]
    assert "worker" in got.held
    live = [live_object(stamped(o, object_hash(o))) for o in (CM, old)]
    plan = diff_applied(list(got.objects), live)
    assert plan.apply == () and plan.prune == ()


def test_applying_the_decision_writes_only_the_auto_resource() -> None:
    """The end of the chain: the held Deployment matches the cluster, so it is not sent."""
    applied = [CM, deployment("web", value="one"), deployment("worker", value="one")]
    live = [live_object(stamped(o, object_hash(o))) for o in applied]
    render = [CM, deployment("web", value="two"), deployment("worker", value="two")]
    got = hold_manual(render, OWNERS, {"worker": (applied[2],)}, {"worker"})
    plan = diff_applied(list(got.objects), live)
    assert [o["metadata"]["name"] for o in plan.apply] == ["web"]
    assert plan.prune == ()


def test_objects_of_matches_kind_and_name() -> None:
    render = [CM, deployment("web"), {**CM, "kind": "Service", "metadata": {"name": "web"}}]
    assert objects_of(render, "deployment/web") == [deployment("web")]


def test_describe_names_a_new_image_a_manifest_change_or_both() -> None:
    old = [deployment("worker", "api:loopdev-1")]
    refs1, refs2 = {"api": "api:loopdev-1"}, {"api": "api:loopdev-2"}
    assert describe(old, [deployment("worker", "api:loopdev-2")], refs1, refs2) == "new image api"
    changed = [deployment("worker", "api:loopdev-1", value="two")]
    assert describe(old, changed, refs1, refs1) == "manifest changed"
    both = [deployment("worker", "api:loopdev-2", value="two")]
    assert describe(old, both, refs1, refs2) == "new image api; manifest changed"
