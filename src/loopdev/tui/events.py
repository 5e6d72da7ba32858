"""Where the details view gets "recent events": a narrow async source, so the dashboard never
talks to the cluster itself and tests can pass a fake."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from loopdev.engine.store import Store

# resource name -> recent cluster events about its objects, one line each (I/O; awaited)
EventsSource = Callable[[str], Awaitable[Sequence[str]]]


def kube_events(kube: Any, namespace: str, store: Store, watch: Any = None) -> EventsSource:
    """An EventsSource over the kube adapter's ``events(namespace, name)`` (as `ci` reports);
    with the session's cluster ``watch``, a workload's events come from its own namespace."""

    async def fetch(resource: str) -> list[str]:
        res = store.state.resource(resource)
        out: list[str] = []
        for key in res.objects if res is not None else ():
            kind, _, name = key.partition("/")
            live = (watch.get(kind, name) if watch is not None else None) or {}
            where = (live.get("metadata") or {}).get("namespace") or namespace
            for ev in (await kube.events(where, name))[-10:]:
                count = f" (x{ev['count']})" if ev.get("count", 1) > 1 else ""
                out.append(
                    f"{ev.get('type', '')} {ev.get('reason', '')}: {ev.get('message', '')}{count}"
                )
        return out

    return fetch
