"""Image injection: point manifests at the images loopdev built.

A container's ``image`` is rewritten when its repository (the reference without tag or
digest) is a loopfile image name. Injected containers get ``imagePullPolicy: IfNotPresent``:
loopdev's tags are content digests (``name:loopdev-<hash>``), so a tag never changes meaning
and a node that already has it (shared Docker daemon, ``kind load``, ``k3d image import``)
uses it without pulling, while a node that lacks it pulls it from the registry loopdev
pushed to. ``Never`` would break registry delivery; ``Always`` would break loaded images.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from loopdev.config.model import ImagePath
from loopdev.render.kinds import pod_spec

PULL_POLICY = "IfNotPresent"
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def repository(image: str) -> str:
    """``reg:5000/app:v1@sha256:...`` -> ``reg:5000/app`` (a port is not a tag)."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def inject_images(
    objects: Iterable[dict[str, Any]],
    refs: Mapping[str, str],
    image_paths: Iterable[ImagePath] = (),
) -> set[str]:
    """Rewrite images in place; returns the loopfile image names that were injected somewhere."""
    used: set[str] = set()
    by_kind: dict[str, list[ImagePath]] = {}
    for ip in image_paths:
        by_kind.setdefault(ip.kind, []).append(ip)
    for obj in objects:
        spec = pod_spec(obj)
        if spec is not None:
            used |= _inject_pod_spec(spec, refs)
        for ip in by_kind.get(str(obj.get("kind")), ()):
            used |= _inject_path(obj, _split_path(ip.path), refs)
    return used


def _inject_pod_spec(spec: dict[str, Any], refs: Mapping[str, str]) -> set[str]:
    used: set[str] = set()
    for list_key in CONTAINER_LISTS:
        containers = spec.get(list_key)
        if not isinstance(containers, list):
            continue
        for container in containers:
            if not isinstance(container, dict) or not isinstance(container.get("image"), str):
                continue
            repo = repository(container["image"])
            if repo in refs:
                container["image"] = refs[repo]
                container["imagePullPolicy"] = PULL_POLICY
                used.add(repo)
    return used


def _split_path(path: str) -> list[str]:
    """``spec.workers[].image`` -> ["spec", "workers", "[]", "image"]."""
    parts: list[str] = []
    for segment in path.split("."):
        if segment.endswith("[]"):
            parts += [segment[:-2], "[]"] if segment[:-2] else ["[]"]
        elif segment:
            parts.append(segment)
    return parts


def _inject_path(node: Any, parts: list[str], refs: Mapping[str, str]) -> set[str]:
    """Follow ``parts`` through mappings (and every item of a list at ``[]``); rewrite the
    string at the end when its repository is a loopfile image."""
    if not parts:
        return set()
    head, rest = parts[0], parts[1:]
    if head == "[]":
        if not isinstance(node, list):
            return set()
        used: set[str] = set()
        for i, item in enumerate(node):
            if rest:
                used |= _inject_path(item, rest, refs)
            elif isinstance(item, str) and repository(item) in refs:
                used.add(repository(item))
                node[i] = refs[repository(item)]
        return used
    if not isinstance(node, dict) or head not in node:
        return set()
    if rest:
        return _inject_path(node[head], rest, refs)
    value = node[head]
    if isinstance(value, str) and repository(value) in refs:
        node[head] = refs[repository(value)]
        return {repository(value)}
    return set()
