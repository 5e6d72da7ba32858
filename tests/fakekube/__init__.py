"""A fake Kubernetes API server whose pods are real Docker containers (test harness).

Use ``FakeCluster`` (thread-hosted, sync API) from tests; ``FakeKube`` is the async core.
"""

from __future__ import annotations

from .cluster import FakeCluster
from .server import FakeKube, RequestRecord, ServerOptions

__all__ = ["FakeCluster", "FakeKube", "RequestRecord", "ServerOptions"]
