"""Image references a repository's manifests, charts and kustomizations name (for init).

Read-only and forgiving: a file that does not parse, or is too large to be a manifest,
names nothing. YAML aliases are bounded as everywhere else (``loopdev.config.aliases``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from loopdev.render.inject import CONTAINER_LISTS, repository
from loopdev.render.kinds import pod_spec
from loopdev.render.yamlio import ManifestLoader, check_aliases

MAX_YAML_BYTES = 1_000_000
_KUSTOMIZATIONS = {"kustomization.yaml", "kustomization.yml", "Kustomization"}


def documents(path: Path, max_bytes: int = MAX_YAML_BYTES) -> list[Any]:
    """Every YAML document of a file, aliases bounded; nothing for unreadable or huge files."""
    try:
        if path.stat().st_size > max_bytes:  # data, not manifests
            return []
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    loader = ManifestLoader(text)
    docs: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            check_aliases(text, node)
            docs.append(loader.construct_document(node))
    except yaml.YAMLError:
        return []
    finally:
        loader.dispose()
    return docs


_TEMPLATE_IMAGE = re.compile(r"""^\s*-?\s*image:\s*["']?([^\s"']+)""", re.MULTILINE)


def _literal_repository(image: str) -> str | None:
    """The repository of a template's ``image:`` text when it is written out
    (``quay.io/a/b:{{ values.tag }}`` -> ``quay.io/a/b``); None when an expression makes it."""
    if "{" not in image:
        return repository(image)
    head = image.split("{", 1)[0]
    return head[:-1] if head.endswith(":") and "/" in head else None


def chart_refs(chart_dir: Path) -> list[str]:
    """Repositories a chart names: ``image`` values in values*.yaml (a string, or a mapping
    with ``repository`` and maybe ``registry``), and literal ``image:`` lines in templates."""
    refs: list[str] = []
    for values in sorted(chart_dir.glob("values*.yaml")):
        for doc in documents(values):
            refs += _image_values(doc)
    for template in sorted((chart_dir / "templates").glob("*")):
        try:
            text = template.read_text("utf-8", "replace")
        except OSError:
            continue
        found = (_literal_repository(m) for m in _TEMPLATE_IMAGE.findall(text))
        refs += [r for r in found if r]
    return refs


def _image_values(value: Any, key: str = "") -> list[str]:
    if isinstance(value, list):
        return [r for item in value for r in _image_values(item)]
    if not isinstance(value, dict):
        return [repository(value)] if key == "image" and isinstance(value, str) and value else []
    if key == "image" and isinstance(value.get("repository"), str):
        registry = value.get("registry")
        repo = str(value["repository"])
        return [f"{registry}/{repo}" if isinstance(registry, str) and registry else repo]
    return [r for k, v in value.items() for r in _image_values(v, str(k))]


def kustomize_refs(directory: Path) -> list[str]:
    """Repositories in a kustomization's resources (its bases too), and its ``images``
    overrides (``newName``, else ``name``)."""
    from loopdev.render.inputs import kustomize_dirs

    refs: list[str] = []
    for here in kustomize_dirs(directory):
        files = {p.name for p in here.iterdir() if p.is_file()}
        for name in sorted(f for f in files if f.endswith((".yaml", ".yml"))):
            objects = [d for d in documents(here / name) if isinstance(d, dict) and "kind" in d]
            refs += referenced_images(objects)
        for name in sorted(files & _KUSTOMIZATIONS):
            for doc in documents(here / name):
                items = doc.get("images") if isinstance(doc, dict) else None
                for item in items if isinstance(items, list) else []:
                    image = (
                        item.get("newName") or item.get("name") if isinstance(item, dict) else None
                    )
                    refs += [image] if isinstance(image, str) else []
    return refs


def referenced_images(objects: list[dict[str, Any]]) -> list[str]:
    """Image repositories (no tag or digest) used by the containers of the found workloads
    (init containers and CronJobs included)."""
    repos = []
    for obj in objects:
        spec = pod_spec(obj)
        for key in CONTAINER_LISTS:
            containers = spec.get(key) if spec is not None else None
            for container in containers if isinstance(containers, list) else []:
                image = container.get("image") if isinstance(container, dict) else None
                if isinstance(image, str) and image:
                    repos.append(repository(image))
    return repos
