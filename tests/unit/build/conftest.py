"""Shared helpers for build tests: a loopfile over temp contexts, a private digest cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopdev.config.model import Deploy, Image, Loopfile


@pytest.fixture(autouse=True)
def private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    root = tmp_path_factory.mktemp("loopdev-cache")
    monkeypatch.setenv("LOOPDEV_CACHE_DIR", str(root))
    return root


def make_loopfile(root: Path, images: dict[str, dict], **kw: object) -> Loopfile:
    """A Loopfile whose images live in ``root/<context>`` (default: ``root/<name>``)."""
    built = {}
    for name, spec in images.items():
        ctx = root / spec.get("context", name)
        built[name] = Image(
            name=name,
            context=ctx,
            dockerfile=ctx / spec.get("dockerfile", "Dockerfile"),
            target=spec.get("target"),
            build_args=spec.get("build_args", {}),
            ignore=tuple(spec.get("ignore", ())),
        )
    return Loopfile(
        path=root / "loopfile.yaml",
        root=root,
        name="proj",
        namespace="default",
        images=built,
        deploy=Deploy(kind="manifests"),
        **kw,  # type: ignore[arg-type]
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
