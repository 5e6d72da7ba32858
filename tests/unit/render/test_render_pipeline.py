"""Injection, ownership labels, namespaces, apply order and resource naming."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from loopdev.config.model import Deploy, Image, ImagePath, Resource
from loopdev.errors import ConfigError, TemplateError, UsageError
from loopdev.render import (
    MANAGED_BY_LABEL,
    PROJECT_LABEL,
    RESOURCE_LABEL,
    project_selector,
    render_objects,
    to_yaml,
)
from loopdev.render.inject import inject_images, repository
from loopdev.render.order import order_objects
from loopdev.render.resources import workload_resources

from .conftest import make_config, write_files

REFS = {"app": "app:loopdev-0123456789abcdef"}


def manifests_config(tmp_path: Path, text: str, **kw: object):
    write_files(tmp_path, {"k8s/all.yaml": text})
    return make_config(tmp_path, Deploy(kind="manifests", manifests=("k8s/*.yaml",)), **kw)


def pod(kind: str, image: str = "app", **extra: object) -> dict:
    spec = {"containers": [{"name": "c", "image": image}], **extra}
    wrap = {
        "Pod": lambda s: s,
        "CronJob": lambda s: {"jobTemplate": {"spec": {"template": {"spec": s}}}},
    }.get(kind, lambda s: {"template": {"spec": s}})
    return {"apiVersion": "x/v1", "kind": kind, "metadata": {"name": "w"}, "spec": wrap(spec)}


@pytest.mark.parametrize(
    ("image", "repo"),
    [
        ("app", "app"),
        ("app:v1", "app"),
        ("app@sha256:abc", "app"),
        ("app:v1@sha256:abc", "app"),
        ("localhost:5000/app", "localhost:5000/app"),
        ("localhost:5000/app:v1", "localhost:5000/app"),
        ("example.com/team/app:1.2", "example.com/team/app"),
    ],
)
def test_repository(image: str, repo: str) -> None:
    assert repository(image) == repo


@pytest.mark.parametrize(
    "kind", ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"]
)
def test_injects_into_every_workload_kind_with_pull_policy(kind: str) -> None:
    obj = pod(kind, "app:latest", initContainers=[{"name": "i", "image": "app@sha256:0"}])
    used = inject_images([obj], REFS)
    assert used == {"app"}
    text = to_yaml([obj])
    assert text.count("image: app:loopdev-0123456789abcdef") == 2
    assert text.count("imagePullPolicy: IfNotPresent") == 2
    assert "latest" not in text


def test_other_images_are_left_alone() -> None:
    obj = pod("Deployment", "registry.example.com/app:1", initContainers=[{"name": "i"}])
    obj["spec"]["template"]["spec"]["containers"].append({"name": "s", "image": "sidecar:2"})
    before = copy.deepcopy(obj)
    assert inject_images([obj], REFS) == set()
    assert obj == before


def test_custom_resource_image_paths() -> None:
    cr = {
        "apiVersion": "x/v1",
        "kind": "Rollout",
        "metadata": {"name": "r"},
        "spec": {
            "template": {"image": "app:old"},
            "workers": [{"image": "app"}, {"image": "other"}, {"noimage": 1}],
            "tags": ["app:1", "nope"],
        },
    }
    paths = [
        ImagePath("Rollout", "spec.template.image"),
        ImagePath("Rollout", "spec.workers[].image"),
        ImagePath("Rollout", "spec.tags[]"),
        ImagePath("Rollout", "spec.absent.image"),
        ImagePath("Other", "spec.template.image"),
    ]
    assert inject_images([cr], REFS, paths) == {"app"}
    ref = REFS["app"]
    assert cr["spec"]["template"]["image"] == ref
    assert cr["spec"]["workers"] == [{"image": ref}, {"image": "other"}, {"noimage": 1}]
    assert cr["spec"]["tags"] == [ref, "nope"]
    assert "imagePullPolicy" not in cr["spec"]["template"]


OBJECTS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: elsewhere}
spec:
  template:
    spec:
      containers: [{name: c, image: app}]
---
apiVersion: v1
kind: Service
metadata: {name: api}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {kind: Widget, plural: widgets}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1}
---
apiVersion: example.com/v1
kind: Gadget
metadata: {name: g1}
---
apiVersion: v1
kind: Namespace
metadata: {name: extra}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {team: a}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      containers: [{name: m, image: app}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: api}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: api}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
"""


def test_labels_namespaces_and_order(tmp_path: Path) -> None:
    config = manifests_config(
        tmp_path, OBJECTS, resources={"backend": Resource("backend", "deployment/api")}
    )
    objects = render_objects(config, REFS)
    kinds = [o["kind"] for o in objects]
    assert kinds == [
        "Namespace",
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "ConfigMap",
        "Secret",
        "PersistentVolumeClaim",
        "Service",
        "Deployment",
        "Job",
        "Widget",
        "Gadget",
        "Ingress",
    ]
    ns = {o["kind"]: o["metadata"].get("namespace") for o in objects}
    assert ns["Deployment"] == "elsewhere"  # an explicit namespace is kept
    assert ns["Service"] == ns["ConfigMap"] == ns["Gadget"] == "demo-ns"
    for cluster_scoped in ("Namespace", "CustomResourceDefinition", "ClusterRole", "Widget"):
        assert ns[cluster_scoped] is None, cluster_scoped
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert labels[MANAGED_BY_LABEL] == "loopdev"
        assert labels[PROJECT_LABEL] == "demo"
    by_kind = {o["kind"]: o for o in objects}
    assert by_kind["ConfigMap"]["metadata"]["labels"]["team"] == "a"
    deploy_tpl = by_kind["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert deploy_tpl == {
        MANAGED_BY_LABEL: "loopdev",
        PROJECT_LABEL: "demo",
        RESOURCE_LABEL: "backend",
    }
    assert by_kind["Deployment"]["metadata"]["labels"][RESOURCE_LABEL] == "backend"
    job_tpl = by_kind["Job"]["spec"]["template"]["metadata"]["labels"]
    assert job_tpl[RESOURCE_LABEL] == "migrate"
    assert RESOURCE_LABEL not in by_kind["Service"]["metadata"]["labels"]


def test_order_is_stable_within_a_kind() -> None:
    objs = [
        {"kind": k, "metadata": {"name": n}}
        for k, n in [("Service", "b"), ("X", "x"), ("Service", "a"), ("Namespace", "n")]
    ]
    assert [o["metadata"]["name"] for o in order_objects(objs)] == ["n", "b", "a", "x"]


def test_project_selector() -> None:
    assert project_selector("hello") == f"{MANAGED_BY_LABEL}=loopdev,{PROJECT_LABEL}=hello"


WORKLOADS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
---
apiVersion: batch/v1
kind: Job
metadata: {name: web}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: front}
spec:
  jobTemplate: {spec: {template: {spec: {containers: []}}}}
---
apiVersion: v1
kind: Pod
metadata: {name: debug}
---
apiVersion: v1
kind: Service
metadata: {name: web}
"""


def test_workload_resources_names_and_clashes(tmp_path: Path) -> None:
    config = manifests_config(
        tmp_path, WORKLOADS, resources={"front": Resource("front", "StatefulSet/db")}
    )
    objects = render_objects(config, {})
    assert workload_resources(config, objects) == {
        "web-deployment": "deployment/web",
        "web-job": "job/web",
        "front": "statefulset/db",
        "front-cronjob": "cronjob/front",
        "debug": "pod/debug",
    }
    pod_obj = next(o for o in objects if o["kind"] == "Pod")
    assert pod_obj["metadata"]["labels"][RESOURCE_LABEL] == "debug"
    cron = next(o for o in objects if o["kind"] == "CronJob")
    tpl = cron["spec"]["jobTemplate"]["spec"]["template"]
    assert list(tpl) == ["metadata", "spec"]  # created where there was none, before spec
    assert tpl["metadata"]["labels"][RESOURCE_LABEL] == "front-cronjob"


def test_a_resource_naming_a_workload_that_is_not_rendered_is_a_config_error(
    tmp_path: Path,
) -> None:
    config = manifests_config(
        tmp_path, WORKLOADS, resources={"x": Resource("x", "deployment/nope")}
    )
    with pytest.raises(ConfigError) as info:
        render_objects(config, {})
    assert "resources.x.workload: 'deployment/nope'" in info.value.message
    assert "deployment/web" in info.value.message
    assert info.value.exit_code == 2


def test_default_refs_use_planned_digests_or_a_clear_placeholder(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        "spec:\n  containers: [{name: c, image: app}]\n"
    )
    config = manifests_config(tmp_path, text)
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    image = render_objects(config)[0]["spec"]["containers"][0]["image"]
    assert image.startswith("app:loopdev-") and len(image) == len("app:loopdev-") + 16
    missing = {"app": Image("app", tmp_path / "gone", tmp_path / "gone" / "Dockerfile")}
    config = manifests_config(tmp_path, text, images=missing)
    assert render_objects(config)[0]["spec"]["containers"][0]["image"] == "app:loopdev-unbuilt"


def test_output_is_deterministic_and_inputs_are_not_shared(tmp_path: Path) -> None:
    config = manifests_config(tmp_path, OBJECTS)
    first = render_objects(config, REFS)
    text = to_yaml(first)
    first[0]["metadata"]["name"] = "mutated"
    assert to_yaml(render_objects(config, REFS)) == text


def test_to_yaml_format() -> None:
    obj = {
        "spec": {"b": 1, "a": [1, {"x": "multi\nline\n"}]},
        "metadata": {"labels": {"z": "1"}, "namespace": "n", "name": "o"},
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "data": {"n": "007", "t": "true", "u": "ünï", "e": ""},
    }
    assert to_yaml([obj, {"apiVersion": "v1", "kind": "X", "metadata": {"name": "y"}}]) == (
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        "  name: o\n"
        "  namespace: n\n"
        "  labels:\n"
        "    z: '1'\n"
        "spec:\n"
        "  b: 1\n"
        "  a:\n"
        "  - 1\n"
        "  - x: |\n"
        "      multi\n"
        "      line\n"
        "data:\n"
        "  n: '007'\n"
        "  t: 'true'\n"
        "  u: ünï\n"
        "  e: ''\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: X\n"
        "metadata:\n"
        "  name: y\n"
    )
    assert to_yaml([]) == ""


def test_a_workload_name_too_long_for_a_label_needs_a_resource_name(tmp_path: Path) -> None:
    long = "a" * 70
    text = f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {long}}}\n"
    with pytest.raises(ConfigError) as info:
        render_objects(manifests_config(tmp_path, text), {})
    assert "not a valid label value" in info.value.message
    assert info.value.hint and f"deployment/{long}" in info.value.hint
    named = manifests_config(
        tmp_path, text, resources={"short": Resource("short", f"deployment/{long}")}
    )
    assert render_objects(named, {})[0]["metadata"]["labels"][RESOURCE_LABEL] == "short"


def test_the_same_object_twice_is_refused(tmp_path: Path) -> None:
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"
    other_ns = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: b}\n"
    other_kind = "apiVersion: v1\nkind: Secret\nmetadata: {name: settings}\n"
    assert (
        len(
            render_objects(
                manifests_config(tmp_path, "---\n".join([doc, other_ns, other_kind])), {}
            )
        )
        == 3
    )
    with pytest.raises(TemplateError) as info:
        render_objects(manifests_config(tmp_path, doc + "---\n" + doc), {})
    assert "renders ConfigMap demo-ns/settings twice (from k8s/all.yaml:1 and k8s/all.yaml:5)" in (
        info.value.message
    )
    assert info.value.exit_code == 2


def test_set_and_values_on_plain_manifests_are_usage_errors(tmp_path: Path) -> None:
    config = manifests_config(tmp_path, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    with pytest.raises(
        UsageError, match="only apply to chart and helm deploys; this one is manifests"
    ):
        render_objects(config, {}, set_values=["a=1"])
    with pytest.raises(UsageError):
        render_objects(config, {}, values_files=[tmp_path / "v.yaml"])
