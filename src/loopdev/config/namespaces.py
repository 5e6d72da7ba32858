"""The namespaces a loopfile deploys into: the project's, each Helm release's own, and any
that a rendered object names itself (a manifest or chart with ``metadata.namespace``).

Everything that touches the cluster per namespace (apply and prune, the watches, `down`)
asks here, so the render and the session always agree on the set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from loopdev.config.model import HelmRelease, Loopfile


def release_namespace(config: Loopfile, release: HelmRelease) -> str:
    """The namespace ``release`` renders into: its own, else the project namespace."""
    return release.namespace or config.namespace


def used_namespaces(config: Loopfile) -> tuple[str, ...]:
    """The project namespace first, then every release namespace, each once, in order."""
    found = [config.namespace]
    if config.deploy.kind == "helm":
        found += [release_namespace(config, r) for r in config.deploy.helm]
    return tuple(dict.fromkeys(found))


def object_namespaces(objects: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """The namespaces rendered objects name, each once, in order (cluster-scoped: none)."""
    found = ((o.get("metadata") or {}).get("namespace") for o in objects)
    return tuple(dict.fromkeys(str(ns) for ns in found if ns))


def deploy_namespaces(
    config: Loopfile, objects: Iterable[Mapping[str, Any]] = (), seen: Iterable[str] = ()
) -> tuple[str, ...]:
    """``used_namespaces`` first, then those this session has applied into before (``seen``:
    an object moved out of one is still pruned there), then those the render names."""
    return tuple(dict.fromkeys([*used_namespaces(config), *seen, *object_namespaces(objects)]))
