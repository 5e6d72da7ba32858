"""Every request the fake served, in order, with counts by request and by API verb.

Benchmarks and traffic tests read it to say how many calls a flow costs on the wire:
``mark()`` before the flow, then ``counter(since=mark)`` or ``verbs(since=mark)``. The
server appends from its own thread; readers take copies (list appends are atomic).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol
from urllib.parse import parse_qs

STREAM_SUBRESOURCES = ("exec", "attach", "portforward", "log")


class Record(Protocol):
    method: str
    path: str
    query: str


def verb(method: str, path: str, query: str) -> str:
    """The Kubernetes verb of one request: get/list/watch/create/update/patch/delete/
    deletecollection, a stream subresource (exec, log, ...), or "discovery"/"other"."""
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] not in ("api", "apis"):
        return "other"
    rest = parts[2:] if parts[0] == "api" else parts[3:]  # after /api/v1 or /apis/g/v
    if not rest:
        return "discovery"
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]  # /namespaces/{ns}/{plural}...; "/namespaces/{ns}" alone is an item
    if len(rest) >= 3 and rest[2] in STREAM_SUBRESOURCES:
        return rest[2]
    item = len(rest) >= 2
    if method == "GET":
        if "true" in parse_qs(query).get("watch", ()) or "1" in parse_qs(query).get("watch", ()):
            return "watch"
        return "get" if item else "list"
    if method == "DELETE":
        return "delete" if item else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())


class RequestLog(list[Any]):
    """A list of request records (``method``, ``path``, ``query``) with counting helpers."""

    def mark(self) -> int:
        """A position to count from later (the number of requests so far)."""
        return len(self)

    def since(self, mark: int = 0) -> list[Any]:
        return list(self[mark:])

    def counter(self, since: int = 0) -> Counter[tuple[str, str, str]]:
        """How often each (method, path, query) was requested after ``since``."""
        return Counter((r.method, r.path, r.query) for r in self.since(since))

    def verbs(self, since: int = 0) -> Counter[str]:
        """Requests after ``since`` by Kubernetes verb (see ``verb``)."""
        return Counter(verb(r.method, r.path, r.query) for r in self.since(since))
