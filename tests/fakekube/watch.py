"""Watch streams: one JSON event per line, resourceVersion resume, 410 Gone, bookmarks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .resources import Resource
from .store import Event, Store, Watcher

BOOKMARK_EVERY = 5.0


def _translate(ev: Event, pred: Callable[[dict[str, Any]], bool]) -> str | None:
    """Selector-aware event type: objects moving out of a selector are DELETED for that watch."""
    now = pred(ev.obj)
    if ev.type == "MODIFIED" and ev.old is not None:
        was = pred(ev.old)
        if now and was:
            return "MODIFIED"
        if now:
            return "ADDED"
        return "DELETED" if was else None
    return ev.type if now else None


def _line(type_: str, obj: dict[str, Any]) -> bytes:
    return (json.dumps({"type": type_, "object": obj}, separators=(",", ":")) + "\n").encode()


def _gone(rv: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"too old resource version: {rv}",
        "reason": "Expired",
        "code": 410,
    }


async def serve_watch(
    request: web.Request,
    store: Store,
    res: Resource,
    ns: str | None,
    pred: Callable[[dict[str, Any]], bool],
) -> web.StreamResponse:
    q = request.query
    rv = q.get("resourceVersion", "")
    deadline = time.monotonic() + float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
    bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
    ns_filter = ns if res.namespaced and ns else None
    initial: list[bytes] = []
    if rv in ("", "0"):
        initial = [_line("ADDED", o) for o in store.list(res, ns_filter, pred)]
    else:
        since = int(rv) if rv.isdigit() else -1
        oldest = store.history[0].rv if store.history else store.rv + 1
        if since < 0 or (since < oldest - 1 and len(store.history) == store.history.maxlen):
            initial = [_line("ERROR", _gone(rv))]
            deadline = time.monotonic()
        else:
            for ev in store.history:
                if (
                    ev.rv > since
                    and ev.key == res.key
                    and (ns_filter is None or ev.obj["metadata"].get("namespace") == ns_filter)
                ):
                    t = _translate(ev, pred)
                    if t:
                        initial.append(_line(t, ev.obj))
    watcher = Watcher(res.key, ns_filter)
    store.watchers.add(watcher)
    try:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for line in initial:
            await resp.write(line)
        await _pump(resp, store, res, watcher, pred, deadline, bookmarks)
        return resp
    finally:
        store.watchers.discard(watcher)


async def _pump(
    resp: web.StreamResponse,
    store: Store,
    res: Resource,
    watcher: Watcher,
    pred: Callable[[dict[str, Any]], bool],
    deadline: float | None,
    bookmarks: bool,
) -> None:
    while True:
        wait = BOOKMARK_EVERY if bookmarks else 3600.0
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
            if wait <= 0:
                return
        try:
            ev = await asyncio.wait_for(watcher.queue.get(), wait)
        except TimeoutError:
            if bookmarks:
                mark = {
                    "kind": res.kind,
                    "apiVersion": res.api_version,
                    "metadata": {"resourceVersion": str(store.rv)},
                }
                await resp.write(_line("BOOKMARK", mark))
            continue
        if ev is None:
            return
        t = _translate(ev, pred)
        if t:
            await resp.write(_line(t, ev.obj))
