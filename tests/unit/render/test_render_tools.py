"""Helm charts through a real ``helm template``; kustomize through ``kubectl kustomize``."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopdev.config.model import Deploy
from loopdev.errors import ConfigError, TemplateError, UsageError
from loopdev.render import RESOURCE_LABEL, render_objects

from .conftest import make_config, with_profiles, write_files

HELM_CHART = {
    "web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "web/values.yaml": "replicas: 1\ngreeting: base\nitems: [a, b]\n",
    "web/values-dev.yaml": "greeting: dev\n",
    "web/crds/widget.yaml": """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: widgets.example.com
        spec:
          group: example.com
          scope: Namespaced
          names: {kind: Widget, plural: widgets, singular: widget}
          versions:
            - name: v1
              served: true
              storage: true
              schema: {openAPIV3Schema: {type: object}}
        """,
    "web/templates/app.yaml": """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Release.Name }}-cfg
        data:
          greeting: {{ .Values.greeting | quote }}
          items: {{ .Values.items | join "," | quote }}
          extra: {{ .Values.extra | default "none" | quote }}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ .Release.Name }}-web
        spec:
          replicas: {{ .Values.replicas }}
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
                - name: web
                  image: app:1.0
        """,
    "web/templates/tests/test.yaml": """
        apiVersion: v1
        kind: Pod
        metadata:
          name: smoke
          annotations: {"helm.sh/hook": test}
        spec:
          containers: [{name: t, image: busybox}]
        """,
}


def helm_config(tmp_path: Path, **deploy_kw: object):
    write_files(tmp_path, HELM_CHART)
    deploy = Deploy(kind="helm", source=tmp_path / "web", release="rel", **deploy_kw)
    return make_config(tmp_path, deploy)


def test_helm_chart_renders_with_loopdev_values_layering(
    tmp_path: Path, helm_on_path: Path
) -> None:
    (tmp_path / "more.yaml").write_text("items: [c]\n")
    config = with_profiles(
        helm_config(tmp_path, values={"replicas": 2}, values_files=(tmp_path / "more.yaml",)),
        "dev",
    )
    objects = render_objects(config, {"app": "app:loopdev-1"}, set_values=["extra=x"])
    by_kind = {o["kind"]: o for o in objects}
    assert [o["kind"] for o in objects] == ["CustomResourceDefinition", "ConfigMap", "Deployment"]
    assert by_kind["ConfigMap"]["data"] == {"greeting": "dev", "items": "c", "extra": "x"}
    deploy = by_kind["Deployment"]
    assert deploy["metadata"]["name"] == "rel-web"
    assert deploy["metadata"]["namespace"] == "demo-ns"
    assert deploy["spec"]["replicas"] == 2
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "app:loopdev-1"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert deploy["spec"]["template"]["metadata"]["labels"][RESOURCE_LABEL] == "rel-web"


def test_helm_template_failure_is_a_template_error(tmp_path: Path, helm_on_path: Path) -> None:
    config = helm_config(tmp_path)
    (tmp_path / "web/templates/broken.yaml").write_text("x: {{ .Values.nope.deeper }}\n")
    with pytest.raises(TemplateError) as info:
        render_objects(config, {})
    assert "helm template web failed" in info.value.message
    assert "broken.yaml" in info.value.message
    assert info.value.exit_code == 2


def test_helm_output_without_identity_names_the_helm_template(
    tmp_path: Path, helm_on_path: Path
) -> None:
    config = helm_config(tmp_path)
    (tmp_path / "web/templates/partial.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    with pytest.raises(TemplateError) as info:
        render_objects(config, {})
    assert info.value.message.startswith("web/templates/partial.yaml: rendered line ")
    assert "metadata.name" in info.value.message


def test_missing_helm_names_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(UsageError) as info:
        render_objects(helm_config(tmp_path), {})
    assert "deploy.helm needs helm on PATH" in info.value.message
    assert info.value.hint and "install Helm" in info.value.hint


def test_kustomize_error_carries_kubectls_message(tmp_path: Path) -> None:
    write_files(tmp_path, {"k/kustomization.yaml": "resources: [missing.yaml]\n"})
    config = make_config(tmp_path, Deploy(kind="kustomize", source=tmp_path / "k"))
    with pytest.raises(TemplateError) as info:
        render_objects(config, {})
    assert f"kustomize {tmp_path / 'k'} failed" in info.value.message
    assert "missing.yaml" in info.value.message


def test_kustomize_dir_without_kustomization_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "k").mkdir()
    config = make_config(tmp_path, Deploy(kind="kustomize", source=tmp_path / "k"))
    with pytest.raises(ConfigError, match="no kustomization.yaml"):
        render_objects(config, {})


def test_missing_deploy_directory_is_a_config_error(tmp_path: Path) -> None:
    config = make_config(tmp_path, Deploy(kind="chart", source=tmp_path / "nope"))
    with pytest.raises(ConfigError, match="does not exist"):
        render_objects(config, {})


def test_manifest_glob_matching_nothing_is_a_config_error(tmp_path: Path) -> None:
    config = make_config(tmp_path, Deploy(kind="manifests", manifests=("k8s/*.yaml",)))
    with pytest.raises(ConfigError, match="'k8s/\\*.yaml' matches no file"):
        render_objects(config, {})


def test_manifest_directories_and_overlapping_globs(tmp_path: Path) -> None:
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {}}}\n"
    write_files(
        tmp_path,
        {
            "k8s/b.yaml": doc.format("b"),
            "k8s/a.yml": doc.format("a"),
            "k8s/sub/c.json": '{"apiVersion": "v1", "kind": "ConfigMap", '
            '"metadata": {"name": "c"}}',
        },
    )
    deploy = Deploy(kind="manifests", manifests=("k8s/b.yaml", "k8s"))
    names = [o["metadata"]["name"] for o in render_objects(make_config(tmp_path, deploy), {})]
    assert names == ["b", "a", "c"]
