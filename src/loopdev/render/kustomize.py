"""Kustomize directories, built by ``kubectl kustomize`` (or a standalone ``kustomize``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from loopdev.errors import ConfigError
from loopdev.render.documents import parse_documents
from loopdev.render.tools import find_tool, run_tool

_KUSTOMIZATION = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def render_kustomize(directory: Path) -> list[dict[str, Any]]:
    """The objects ``kubectl kustomize DIR`` prints, in its order."""
    if not any((directory / name).is_file() for name in _KUSTOMIZATION):
        raise ConfigError(f"{directory}: no kustomization.yaml in the deploy.kustomize directory")
    tool = find_tool(
        ("kubectl", "kustomize"),
        "deploy.kustomize",
        "install kubectl (it includes kustomize) or the standalone kustomize binary",
    )
    is_kubectl = os.path.basename(tool).startswith("kubectl")
    argv = [tool, "kustomize", str(directory)] if is_kubectl else [tool, "build", str(directory)]
    what = f"kustomize {directory}"
    return parse_documents(run_tool(argv, what), what)
