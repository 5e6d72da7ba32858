"""Helm charts, rendered by ``helm template`` with loopdev's values layered on top.

Helm reads the chart's own ``values.yaml``; loopdev adds ``values-<profile>.yaml`` from the
chart directory for each active profile, then everything else (loopfile values and files,
``--values``, ``--set``) merged into one temporary values file, so ``--set`` typing and list
replacement are loopdev's and identical for every deploy kind. CRDs are included (they must
be applied); Helm test hooks are skipped.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from loopdev.config.model import ImageKey
from loopdev.errors import ConfigError
from loopdev.render.confine import confined
from loopdev.render.documents import parse_documents
from loopdev.render.tools import find_tool, run_tool
from loopdev.render.yamlio import dump

_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)
_HINT = "a chart with dependencies needs `helm dependency build {}` first"
_SOURCE = re.compile(r"^# Source: (.+)$", re.MULTILINE)


def render_helm(
    chart_dir: Path,
    release: str,
    namespace: str,
    profiles: Sequence[str],
    overlay: Mapping[str, Any],
    flags: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The objects ``helm template`` renders for this release."""
    if not (chart_dir / "Chart.yaml").is_file():
        raise ConfigError(f"{chart_dir}: no Chart.yaml in the deploy.helm directory")
    profile_values = []
    for profile in profiles:
        candidate = chart_dir / f"values-{profile}.yaml"
        if candidate.is_file():
            confined(candidate, chart_dir, "the chart's values file")
            profile_values += ["--values", str(candidate)]
    helm = find_tool(
        ("helm",),
        "deploy.helm",
        "install Helm 3 or newer (https://helm.sh/docs/intro/install/) and put it on PATH",
    )
    argv = [helm, "template", release, str(chart_dir), "--namespace", namespace]
    argv += ["--include-crds", "--skip-tests", *profile_values]
    with tempfile.TemporaryDirectory(prefix="loopdev-helm-") as tmp:
        overlay_file = Path(tmp) / "values.yaml"
        overlay_file.write_text(dump(dict(overlay)), encoding="utf-8")
        argv += ["--values", str(overlay_file), *flags]
        text = run_tool(argv, f"helm template {chart_dir.name}", hint=_HINT.format(chart_dir))
    return parse_helm_output(text, chart_dir.name)


def image_key_values(keys: Iterable[ImageKey], refs: Mapping[str, str]) -> dict[str, Any]:
    """The values that hand each built reference to a chart at its ``imageKeys``: the whole
    reference at ``key``, or ``repository`` and ``tag`` (a digest stays with the tag, so
    ``{{ repository }}:{{ tag }}`` is still a valid reference)."""
    values: dict[str, Any] = {}
    for entry in keys:
        ref = refs.get(entry.image)
        if ref is None:
            continue
        if entry.key is not None:
            _put(values, entry.key, ref)
        if entry.repository is not None and entry.tag is not None:
            repository, tag = split_reference(ref)
            _put(values, entry.repository, repository)
            _put(values, entry.tag, tag)
    return values


def split_reference(ref: str) -> tuple[str, str]:
    """``registry:5000/team/api:v1@sha256:..`` -> (``registry:5000/team/api``, ``v1@sha256:..``)."""
    name, at, digest = ref.partition("@")
    slash, colon = name.rfind("/"), name.rfind(":")
    repository, tag = (name[:colon], name[colon + 1 :]) if colon > slash else (name, "latest")
    return repository, f"{tag}@{digest}" if at else tag


def _put(values: dict[str, Any], dotted: str, value: str) -> None:
    node = values
    *parents, last = dotted.split(".")
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[last] = value


def parse_helm_output(text: str, chart_name: str) -> list[dict[str, Any]]:
    """Objects from helm's stream, each chunk's errors named by its ``# Source:`` template."""
    objects: list[dict[str, Any]] = []
    for chunk in _SEPARATOR.split(text):
        source = _SOURCE.search(chunk)
        name = source.group(1).strip() if source else f"helm template {chart_name}"
        objects.extend(parse_documents(chunk, name))
    return objects
