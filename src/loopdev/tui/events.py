"""Where the details view gets "recent events": a narrow async source, so the dashboard never
talks to the cluster itself and tests can pass a fake."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from loopdev.engine.store import Store

# resource name -> recent cluster events about its objects, one line each (I/O; awaited)
EventsSource = Callable[[str], Awaitable[Sequence[str]]]


def kube_events(kube: Any, namespace: str, store: Store) -> EventsSource:
    """An EventsSource over the kube adapter's ``events(namespace, name)`` (as `ci` reports)."""

    async def fetch(resource: str) -> list[str]:
        res = store.state.resource(resource)
        out: list[str] = []
        for key in res.objects if res is not None else ():
            _, _, name = key.partition("/")
            for ev in (await kube.events(namespace, name))[-10:]:
                count = f" (x{ev['count']})" if ev.get("count", 1) > 1 else ""
                out.append(
                    f"{ev.get('type', '')} {ev.get('reason', '')}: {ev.get('message', '')}{count}"
                )
        return out

    return fetch
