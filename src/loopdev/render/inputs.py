"""The files and directories a render reads, so a watcher knows when to redeploy.

A kustomize overlay usually pulls in ``../../base``; watching only the overlay directory
would miss edits to the base. This follows local references in kustomization files
(``resources``, ``bases``, ``components``, patch and generator files) recursively; remote
URLs are skipped. Charts and Helm charts are their directory plus values files.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from loopdev.config.model import Loopfile
from loopdev.errors import ConfigError
from loopdev.render.manifests import manifest_files
from loopdev.render.yamlio import load

_KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_LIST_KEYS = ("resources", "bases", "components", "crds", "patchesStrategicMerge")


def deploy_inputs(config: Loopfile, values_files: Iterable[Path] = ()) -> tuple[Path, ...]:
    """Absolute paths (directories or files) whose change can change the rendered objects."""
    deploy = config.deploy
    found: list[Path] = [*deploy.values_files, *(Path(p).resolve() for p in values_files)]
    if deploy.kind == "manifests":
        for pattern in deploy.manifests:
            try:
                found += manifest_files(config.root, [pattern])
            except ConfigError:  # matches nothing yet: its directory below still counts
                pass
            if "*" in pattern:  # new files appear in the glob's fixed leading directory
                found.append(config.root / pattern.split("*")[0])
    elif deploy.source is not None and deploy.kind == "kustomize":
        found += kustomize_dirs(deploy.source)
    elif deploy.helm:
        for release in deploy.helm:
            found += [release.chart, *release.values_files]
    elif deploy.source is not None:
        found.append(deploy.source)
    return tuple(dict.fromkeys(p.resolve() for p in found))


def kustomize_dirs(start: Path) -> list[Path]:
    """``start`` and every local directory its kustomizations reference, transitively."""
    seen: list[Path] = []
    todo = [start.resolve()]
    while todo:
        here = todo.pop()
        if here in seen or not here.is_dir():
            continue
        seen.append(here)
        for ref in _local_refs(_read_kustomization(here)):
            target = (here / ref).resolve()
            if target.exists():  # a missing one is kustomize's error to report
                todo.append(target if target.is_dir() else target.parent)
    return seen


def _read_kustomization(directory: Path) -> dict[str, Any]:
    for name in _KUSTOMIZATIONS:
        path = directory / name
        if path.is_file():
            try:
                data = load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError):
                return {}
            return data if isinstance(data, dict) else {}
    return {}


def _local_refs(data: dict[str, Any]) -> list[str]:
    refs: list[str] = []
    for key in _LIST_KEYS:
        refs += [r for r in data.get(key) or [] if isinstance(r, str)]
    for patch in data.get("patches") or []:
        if isinstance(patch, dict) and isinstance(patch.get("path"), str):
            refs.append(patch["path"])
    for gen in [*(data.get("configMapGenerator") or []), *(data.get("secretGenerator") or [])]:
        if isinstance(gen, dict):
            for entry in [*(gen.get("files") or []), *(gen.get("envs") or [])]:
                if isinstance(entry, str):
                    refs.append(entry.rpartition("=")[2])
    return [r for r in refs if "://" not in r and not r.startswith(("github.com/", "git@"))]
