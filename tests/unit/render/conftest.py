"""Fixtures for renderer tests: loopfiles built from the model, small charts on disk.

``helm_binary`` / ``helm_on_path`` live in ``tests/conftest.py``.
"""

from __future__ import annotations

import textwrap
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
