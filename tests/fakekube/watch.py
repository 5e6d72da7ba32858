"""Watch streams: one JSON event per line, resourceVersion resume, 410 Gone, bookmarks.

With ``as=Table`` (``kubectl get -w``) each event carries a one-row Table; only the first
one has column definitions, as on the real server.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from . import tables
from .headers import api_headers
from .resources import Resource
from .store import Event, Store, Watcher

BOOKMARK_EVERY = 5.0
Pred = Callable[[dict[str, Any]], bool]


def _translate(ev: Event, pred: Pred) -> str | None:
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


class Encoder:
    """Serializes events; in table mode the first row carries the column headers."""

    def __init__(self, table_kind: str = "") -> None:
        self.table_kind = table_kind
        self.headers = True

    def line(self, type_: str, obj: dict[str, Any]) -> bytes:
        if self.table_kind and type_ in ("ADDED", "MODIFIED", "DELETED"):
            rv = obj["metadata"].get("resourceVersion", "")
            obj = tables.table(self.table_kind, [obj], rv, self.headers)
            self.headers = False
        return (json.dumps({"type": type_, "object": obj}, separators=(",", ":")) + "\n").encode()


def _gone(rv: str, oldest: int) -> dict[str, Any]:
    """The single ERROR event a too-old watch gets before the server ends it (kubectl#120)."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"too old resource version: {rv} ({oldest})",
        "reason": "Expired",
        "code": 410,
    }


def oldest_rv(store: Store) -> int:
    """The oldest resourceVersion a watch can still resume from (etcd's compaction point)."""
    first = store.history[0].rv - 1 if store.history else store.rv
    return max(first, store.compacted_rv)


def too_old(store: Store, rv: str) -> bool:
    """rv=1 (kubectl#120-#122) and anything before the kept history is too old; 0/'' mean any."""
    if rv in ("", "0"):
        return False
    return not rv.isdigit() or int(rv) < oldest_rv(store)


def _initial(
    store: Store, res: Resource, ns: str | None, pred: Pred, rv: str, enc: Encoder
) -> list[bytes] | None:
    """Events owed before live ones; None means the resourceVersion is too old (410)."""
    if rv in ("", "0"):
        return [enc.line("ADDED", o) for o in store.list(res, ns, pred)]
    if too_old(store, rv):
        return None
    since = int(rv)
    out = []
    for ev in store.history:
        if (
            ev.rv > since
            and ev.key == res.key
            and (ns is None or ev.obj["metadata"].get("namespace") == ns)
        ):
            t = _translate(ev, pred)
            if t:
                out.append(enc.line(t, ev.obj))
    return out


async def serve_watch(
    request: web.Request,
    store: Store,
    res: Resource,
    ns: str | None,
    pred: Pred,
    as_table: bool = False,
) -> web.StreamResponse:
    q = request.query
    deadline = time.monotonic() + float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
    bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
    ns_filter = ns if res.namespaced and ns else None
    enc = Encoder(res.kind if as_table else "")
    initial = _initial(store, res, ns_filter, pred, q.get("resourceVersion", ""), enc)
    if initial is None:
        gone = _gone(q.get("resourceVersion", ""), oldest_rv(store))
        initial, deadline = [enc.line("ERROR", gone)], 0.0
    watcher = Watcher(res.key, ns_filter)
    store.watchers.add(watcher)
    resp = web.StreamResponse(headers={**api_headers(), "Content-Type": "application/json"})
    try:
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for line in initial:
            await resp.write(line)
        while True:
            wait = BOOKMARK_EVERY if bookmarks else 3600.0
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    return resp
            try:
                ev = await asyncio.wait_for(watcher.queue.get(), wait)
            except TimeoutError:
                if bookmarks:
                    mark = {
                        "kind": res.kind,
                        "apiVersion": res.api_version,
                        "metadata": {"resourceVersion": str(store.rv)},
                    }
                    await resp.write(enc.line("BOOKMARK", mark))
                continue
            if ev is None:
                return resp
            t = _translate(ev, pred)
            if t:
                await resp.write(enc.line(t, ev.obj))
    except ConnectionResetError:
        return resp  # the client went away; nothing to report
    finally:
        store.watchers.discard(watcher)
