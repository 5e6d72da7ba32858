"""What ``loopdev init`` writes: a starter loopfile guessed from the files in a repository.

Scanning is read-only and bounded (depth, skipped vendor/VCS directories) so that running
init in a large monorepo stays quick. The guess is plain data, rendered to YAML at the end.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from loopdev.config.image_match import Matching, match_images
from loopdev.config.image_refs import chart_refs, documents, kustomize_refs, referenced_images

SCHEMA_URL = "https://raw.githubusercontent.com/loopdev/loopdev/main/loopfile.schema.json"
_SKIP = {
    "node_modules",
    "venv",
    "__pycache__",
    "dist",
    "build",
    "target",
    "vendor",
    "site-packages",
}
_MAX_DEPTH = 4
_WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet"}


@dataclass
class Findings:
    dockerfiles: list[Path] = field(default_factory=list)  # relative to the root
    charts: list[tuple[Path, bool]] = field(default_factory=list)  # (dir, is a Helm chart)
    kustomize: list[Path] = field(default_factory=list)
    manifest_dirs: list[tuple[Path, list[dict[str, Any]]]] = field(default_factory=list)
    chart_refs: list[str] = field(default_factory=list)  # images charts and kustomize name
    matching: Matching = field(default_factory=Matching)  # set by ``starter``


def scan(root: Path) -> Findings:
    """Dockerfiles, chart/kustomize directories and folders of Kubernetes YAML under ``root``."""
    found = Findings()
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel = here.relative_to(root)
        dirnames[:] = (
            sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP)
            if len(rel.parts) < _MAX_DEPTH
            else []
        )
        files = set(filenames)
        for name in sorted(files):
            if name in ("Dockerfile", "Containerfile") or name.endswith(".Dockerfile"):
                found.dockerfiles.append(rel / name)
        if "Chart.yaml" in files:
            found.charts.append((rel, _is_helm_chart(here)))
            found.chart_refs += chart_refs(here)
            dirnames[:] = []  # templates inside a chart are not plain manifests
        elif files & {"kustomization.yaml", "kustomization.yml", "Kustomization"}:
            found.kustomize.append(rel)
            found.chart_refs += kustomize_refs(here)
            dirnames[:] = []
        else:
            objects = _kube_objects(here, files)
            if objects:
                found.manifest_dirs.append((rel, objects))
    return found


def _is_helm_chart(chart_dir: Path) -> bool:
    """Go templates (``.Values``) mean Helm; Jinja2 templates mean a loopdev chart."""
    for template in sorted((chart_dir / "templates").glob("*")):
        try:
            if re.search(r"\{\{-?\s*[^}]*\.Values", template.read_text("utf-8", "replace")):
                return True
        except OSError:
            continue
    return False


def _kube_objects(directory: Path, files: set[str]) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for name in sorted(f for f in files if f.endswith((".yaml", ".yml"))):
        docs = documents(directory / name)
        objects += [d for d in docs if isinstance(d, dict) and "apiVersion" in d and "kind" in d]
    return objects


def dns_label(text: str, fallback: str = "app") -> str:
    """``My_Service`` -> ``my-service``: the closest valid DNS-1123 label."""
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63].strip("-")
    return label or fallback


def starter(root: Path, found: Findings) -> dict[str, Any]:
    """The starter loopfile for ``root`` as plain data."""
    name = dns_label(root.name)
    objects = [o for _, objs in found.manifest_dirs for o in objs]
    data: dict[str, Any] = {"version": "v1", "name": name}
    refs = [*referenced_images(objects), *found.chart_refs]
    images = _images(found, name, refs)
    if images:
        data["images"] = images
    data["deploy"] = _deploy(found)
    resources = _resources(objects) if "manifests" in data["deploy"] else {}
    if resources:
        data["resources"] = resources
    return data


def _images(found: Findings, project: str, referenced: list[str]) -> dict[str, Any]:
    """One image per Dockerfile, named after the image reference it builds (image_match)."""
    fallback = [
        dns_label(d.parent.name, project) if d.parent.parts else project for d in found.dockerfiles
    ]
    found.matching = match_images(found.dockerfiles, referenced, project, fallback)
    images: dict[str, Any] = {}
    for repo, dockerfile in found.matching.images.items():
        entry: dict[str, Any] = {"context": dockerfile.parent.as_posix() or "."}
        if dockerfile.name != "Dockerfile":
            entry["dockerfile"] = dockerfile.name
        images[repo] = entry
    return images


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    pod = template.get("spec") if isinstance(template, dict) else None
    containers = pod.get("containers") if isinstance(pod, dict) else None
    return [c for c in containers if isinstance(c, dict)] if isinstance(containers, list) else []


def _deploy(found: Findings) -> dict[str, Any]:
    for chart, is_helm in found.charts:
        return {"helm": chart.as_posix()} if is_helm else {"chart": chart.as_posix()}
    if found.kustomize:
        return {"kustomize": found.kustomize[0].as_posix()}
    if found.manifest_dirs:
        globs = [f"{d.as_posix()}/*.yaml" if d.parts else "*.yaml" for d, _ in found.manifest_dirs]
        return {"manifests": globs}
    return {"manifests": ["k8s/*.yaml"]}


def _resources(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """One resource per Deployment/StatefulSet/DaemonSet, forwarding its first container port."""
    resources: dict[str, Any] = {}
    taken: set[int] = set()
    for obj in objects:
        meta = obj.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        if obj.get("kind") not in _WORKLOADS or not isinstance(name, str):
            continue
        entry: dict[str, Any] = {"workload": f"{str(obj['kind']).lower()}/{name}"}
        port = _first_port(obj)
        local = (port if port >= 1024 else 8000 + port) if port is not None else None
        if port is not None and local is not None and local <= 65535 and local not in taken:
            taken.add(local)
            entry["portForwards"] = [f"{local}:{port}"]
        resources[dns_label(name)] = entry
    return resources


def _first_port(obj: dict[str, Any]) -> int | None:
    for container in _containers(obj):
        for port in container.get("ports") or []:
            number = port.get("containerPort") if isinstance(port, dict) else None
            if isinstance(number, int) and 1 <= number <= 65535:
                return number
    return None


def render(data: dict[str, Any]) -> str:
    """The loopfile text: the schema modeline for editors, then the data."""
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
    return f"# yaml-language-server: $schema={SCHEMA_URL}\n{body}"
