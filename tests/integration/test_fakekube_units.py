"""Pure parts of the fake API server: patch semantics, selectors, pod status, hashing, watch."""

from __future__ import annotations

import pytest

from tests.fakekube import managed
from tests.fakekube.controllers import template_hash
from tests.fakekube.errors import ApiError
from tests.fakekube.patch import json_patch, merge_patch, strategic_merge
from tests.fakekube.podstatus import ContainerState, compose, phase_of
from tests.fakekube.resources import Registry
from tests.fakekube.selectors import field_selector, label_selector
from tests.fakekube.store import Event
from tests.fakekube.watch import _translate


def _obj(labels: dict[str, str] | None = None, name: str = "a") -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "status": {"phase": "Running"}}


def test_merge_patch_null_deletes_and_lists_replace() -> None:
    live = {"a": {"b": 1, "c": 2}, "l": [1, 2]}
    assert merge_patch(live, {"a": {"b": None, "d": 3}, "l": [3]}) == {
        "a": {"c": 2, "d": 3},
        "l": [3],
    }
    assert live == {"a": {"b": 1, "c": 2}, "l": [1, 2]}


def test_strategic_merge_merges_containers_by_name() -> None:
    live = {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}]}
    patch = {"containers": [{"name": "b", "image": "y:2"}, {"name": "c", "image": "z"}]}
    assert strategic_merge(live, patch) == {
        "containers": [
            {"name": "a", "image": "x:1"},
            {"name": "b", "image": "y:2"},
            {"name": "c", "image": "z"},
        ]
    }
    deleted = strategic_merge(live, {"containers": [{"name": "a", "$patch": "delete"}]})
    assert deleted == {"containers": [{"name": "b", "image": "y:1"}]}


def test_json_patch_and_its_422() -> None:
    assert json_patch({"a": 1}, [{"op": "replace", "path": "/a", "value": 2}]) == {"a": 2}
    with pytest.raises(ApiError) as exc:
        json_patch({"a": 1}, [{"op": "remove", "path": "/missing"}])
    assert exc.value.code == 422


def test_apply_prunes_only_fields_the_manager_dropped() -> None:
    """What one manager stops applying goes, unless another manager owns it too."""
    env = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    old_cfg = {"spec": {"env": env, "x": 1, "shared": "s"}}
    fields, _ = managed.apply_fields(None, old_cfg, "loopdev", "v1", False)
    other, _ = managed.apply_fields(
        {"metadata": {"managedFields": fields}, **old_cfg},
        {"spec": {"shared": "s", "env": [{"name": "OTHER", "value": "kept"}]}},
        "other",
        "v1",
        False,
    )
    live = {
        "metadata": {"managedFields": other},
        "spec": {
            "env": [*env, {"name": "OTHER", "value": "kept"}],
            "x": 1,
            "shared": "s",
            "defaulted": True,
        },
    }
    new_cfg = {"spec": {"env": [{"name": "A", "value": "3"}]}}
    _, removed = managed.apply_fields(live, new_cfg, "loopdev", "v1", True)
    merged = strategic_merge(live, new_cfg)
    managed.prune(merged, removed)
    assert merged["spec"] == {
        "env": [{"name": "A", "value": "3"}, {"name": "OTHER", "value": "kept"}],
        "shared": "s",
        "defaulted": True,
    }


@pytest.mark.parametrize(
    ("selector", "labels", "match"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web,tier!=db", {"app": "web", "tier": "db"}, False),
        ("env in (dev, prod)", {"env": "dev"}, True),
        ("env notin (dev,prod)", {"env": "dev"}, False),
        ("managed", {"managed": ""}, True),
        ("!managed", {}, True),
        ("", {"x": "y"}, True),
    ],
)
def test_label_selector(selector: str, labels: dict[str, str], match: bool) -> None:
    assert label_selector(selector)(_obj(labels)) is match


def test_field_selector_and_bad_selector() -> None:
    assert field_selector("metadata.name=a,status.phase!=Failed")(_obj())
    assert not field_selector("metadata.name=b")(_obj())
    with pytest.raises(ApiError):
        label_selector("a b c")


def test_watch_translates_selector_moves() -> None:
    pred = label_selector("app=web")
    moved_out = Event(2, ("", "pods"), "MODIFIED", _obj({}), _obj({"app": "web"}))
    moved_in = Event(3, ("", "pods"), "MODIFIED", _obj({"app": "web"}), _obj({}))
    assert _translate(moved_out, pred) == "DELETED"
    assert _translate(moved_in, pred) == "ADDED"
    assert _translate(Event(4, ("", "pods"), "MODIFIED", _obj({}), _obj({})), pred) is None


def test_pod_phase_rules() -> None:
    running = ContainerState("a", "i", state={"running": {}}, ready=True)
    done_ok = ContainerState("b", "i", state={"terminated": {"exitCode": 0}}, done=True)
    done_bad = ContainerState("c", "i", state={"terminated": {"exitCode": 1}}, done=True)
    waiting = ContainerState("d", "i")
    assert phase_of([running], True, False) == "Running"
    assert phase_of([waiting], True, False) == "Pending"
    assert phase_of([done_ok], True, False) == "Succeeded"
    assert phase_of([done_ok, done_bad], True, False) == "Failed"
    assert phase_of([running], False, False) == "Pending"
    status = compose([running], [], True, False, "t0", "10.0.0.1", "10.0.0.254", {})
    conds = {c["type"]: c["status"] for c in status["conditions"]}
    assert conds["Ready"] == "True" and status["podIP"] == "10.0.0.1"


def test_template_hash_is_stable_and_dns_safe() -> None:
    t = {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c"}]}}
    h = template_hash(t)
    assert h == template_hash(
        {"spec": {"containers": [{"name": "c"}]}, "metadata": {"labels": {"a": "b"}}}
    )
    assert len(h) == 10 and h.isalnum() and h.islower()
    assert h != template_hash({**t, "spec": {"containers": [{"name": "d"}]}})


def test_registry_serves_crd_versions() -> None:
    reg = Registry()
    reg.set_crd(
        "widgets.ex.com",
        {
            "spec": {
                "group": "ex.com",
                "scope": "Cluster",
                "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [{"name": "v1", "served": True}, {"name": "v0", "served": False}],
            }
        },
    )
    res = reg.lookup("ex.com", "v1", "widgets")
    assert res is not None and not res.namespaced
    assert reg.lookup("ex.com", "v0", "widgets") is None
    assert "ex.com" in reg.groups()


def test_common_stored_kinds_are_served() -> None:
    reg = Registry()
    for group, version, plural in [
        ("autoscaling", "v2", "horizontalpodautoscalers"),
        ("policy", "v1", "poddisruptionbudgets"),
        ("networking.k8s.io", "v1", "ingresses"),
        ("batch", "v1", "cronjobs"),
    ]:
        assert reg.lookup(group, version, plural) is not None, plural
    assert list(reg.groups())[:3] == ["", "apps", "batch"]


def test_new_daemonset_has_zeroed_status_like_the_real_server() -> None:
    """Clients read status.numberReady right after create; None there crashed a wait loop."""
    from tests.fakekube.defaults import apply_defaults

    res = Registry().lookup("apps", "v1", "daemonsets")
    assert res is not None
    obj = {"metadata": {"name": "agent"}, "spec": {"template": {"spec": {"containers": []}}}}
    apply_defaults(res, obj)
    assert obj["status"]["numberReady"] == 0 and obj["status"]["desiredNumberScheduled"] == 0


def test_new_statefulset_has_a_status_before_its_controller_runs() -> None:
    from tests.fakekube.defaults import apply_defaults

    res = Registry().lookup("apps", "v1", "statefulsets")
    assert res is not None
    obj = {"metadata": {"name": "db"}, "spec": {"template": {"spec": {"containers": []}}}}
    apply_defaults(res, obj)
    assert obj["status"] == {"replicas": 0}
