"""Pick the cluster for a command: resolve the context, refuse non-local ones, make a client."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopdev.config.model import Loopfile
from loopdev.deploy.safety import check_context

if TYPE_CHECKING:
    from loopdev.adapters.kube import KubeClient


def connect(config: Loopfile, context: str | None) -> KubeClient:
    """A client for ``--context`` (or the current one), after the context safety check."""
    from loopdev.adapters.cluster_owner import published_by_tool
    from loopdev.adapters.kube import KubeClient, resolve_target

    target = resolve_target(context)
    check_context(target.context, target.server, config.allow_contexts, published_by_tool)
    return KubeClient(target)
