"""The namespaces a loopfile deploys into: the project's, then each Helm release's own.

Everything that touches the cluster per namespace (apply and prune, the watches, `down`)
asks here, so the render and the session always agree on the set.
"""

from __future__ import annotations

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
