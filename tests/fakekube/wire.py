"""Byte-exact pieces of the real streaming endpoints' answers that aiohttp does not make by
itself: Go's compact JSON, and the kubelet's and CRI streaming server's refusals.

Who answers what on a real server (1.28.7, ``upgrades.jsonl`` in the wire transcripts):
the API server checks the pod (404) and container (400) and that the request is an upgrade
at all (400 "Upgrade request required"), all as JSON ``Status`` with its usual headers; the
kubelet rejects bad stream options as ``text/plain`` (400); the CRI streaming server does
the WebSocket handshake with Go's x/net/websocket, which answers a non-GET with 405 and the
body ``bad method`` and an unsupported subprotocol with an empty 403, both with no headers
but ``Connection: close`` and a body that ends when the connection does.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import hdrs, web

from .errors import ApiError


def go_json(doc: Any) -> bytes:
    """``encoding/json.Marshal``: no spaces, UTF-8, and <, >, &, U+2028/9 escaped."""
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(ch, esc)
    return text.encode()


def go_argv(argv: list[str]) -> str:
    """``fmt.Sprintf("%v", []string{...})``: ``[sh -c echo hi]``."""
    return "[" + " ".join(argv) + "]"


class _BareResponse(web.StreamResponse):
    """A response with only the headers set on it: no Content-Type, Date, Server or
    Content-Length (the body ends when the connection closes), as Go's x/net/websocket
    writes its handshake refusals."""

    _length_check = False  # aiohttp's switch (used by WebSocketResponse) for "no length"

    async def _prepare_headers(self) -> None:
        await super()._prepare_headers()
        for name in (hdrs.CONTENT_TYPE, hdrs.DATE, hdrs.SERVER):
            self.headers.popall(name, None)


def bare_response(status: int) -> web.StreamResponse:
    """A response that sends only the headers set on it (a SPDY 101, a refusal)."""
    return _BareResponse(status=status)


async def handshake_refusal(request: web.Request, status: int, body: bytes) -> web.StreamResponse:
    """x/net/websocket's refusal: ``HTTP/1.1 <status>``, ``Connection: close``, raw body."""
    resp = _BareResponse(status=status)
    resp.force_close()
    await resp.prepare(request)
    if body:
        await resp.write(body)
    await resp.write_eof()
    return resp


async def bad_method(request: web.Request) -> web.StreamResponse:
    """A WebSocket upgrade that is not GET (RFC 6455): upgrades#8-14, #36-42."""
    return await handshake_refusal(request, 405, b"bad method")


async def no_protocol(request: web.Request) -> web.StreamResponse:
    """None of the offered subprotocols is served: upgrades#3, #30, #32, #34."""
    return await handshake_refusal(request, 403, b"")


def kubelet_text(status: int, text: str) -> web.Response:
    """The kubelet's plain-text errors (``http.Error`` without the trailing newline)."""
    return web.Response(
        status=status, body=text.encode(), content_type="text/plain", charset="utf-8"
    )


def is_upgrade(request: web.Request) -> bool:
    """``httpstream.IsUpgradeRequest``: a ``Connection`` header naming ``upgrade``."""
    tokens = ",".join(request.headers.getall(hdrs.CONNECTION, [])).lower()
    return "upgrade" in [t.strip() for t in tokens.split(",")]


def is_websocket(request: web.Request) -> bool:
    return is_upgrade(request) and request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"


def require_upgrade(request: web.Request) -> None:
    """The API server's proxy refuses a plain request: upgrades#27, #28, #52."""
    if not is_upgrade(request):
        raise ApiError(400, "BadRequest", "Upgrade request required")
