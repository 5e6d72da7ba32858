"""deploy_inputs: what a watcher must watch to redeploy when the render would change."""

from __future__ import annotations

from pathlib import Path

from loopdev.config.model import Deploy
from loopdev.render.inputs import deploy_inputs

from .conftest import make_config, write_files


def test_kustomize_overlays_follow_local_references(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "k/base/kustomization.yaml": "resources: [app.yaml]\n",
            "k/base/app.yaml": "{}\n",
            "k/shared/kustomization.yaml": "resources: [https://example.com/remote.yaml]\n",
            "k/files/app.env": "A=1\n",
            "k/patches/p.yaml": "{}\n",
            "k/overlay/kustomization.yaml": """
                resources: [../base, ../shared, https://github.com/x/y//z]
                components: [../missing]
                patches:
                  - path: ../patches/p.yaml
                configMapGenerator:
                  - name: c
                    envs: [../files/app.env]
                    files: [key=../files/app.env]
                """,
        },
    )
    deploy = Deploy(kind="kustomize", source=tmp_path / "k/overlay")
    inputs = deploy_inputs(make_config(tmp_path, deploy))
    assert inputs[0] == tmp_path / "k/overlay"
    expected = {"k/overlay", "k/base", "k/shared", "k/patches", "k/files"}
    assert set(inputs) == {tmp_path / d for d in expected}


def test_charts_helm_and_manifests(tmp_path: Path) -> None:
    write_files(tmp_path, {"c/Chart.yaml": "name: c\n", "v.yaml": "{}\n", "k8s/a.yaml": "{}\n"})
    chart = Deploy(kind="chart", source=tmp_path / "c", values_files=(tmp_path / "v.yaml",))
    assert set(deploy_inputs(make_config(tmp_path, chart), [tmp_path / "cli.yaml"])) == {
        tmp_path / "c",
        tmp_path / "v.yaml",
        tmp_path / "cli.yaml",
    }
    helm = Deploy(kind="helm", source=tmp_path / "c")
    assert deploy_inputs(make_config(tmp_path, helm)) == (tmp_path / "c",)
    manifests = Deploy(kind="manifests", manifests=("k8s/*.yaml", "later/*.yaml", "one.yaml"))
    assert set(deploy_inputs(make_config(tmp_path, manifests))) == {
        tmp_path / "k8s/a.yaml",
        tmp_path / "k8s",
        tmp_path / "later",
    }
