"""Why an API server refused a WebSocket upgrade (exec, port-forward), in its own words.

aiohttp's ``ws_connect`` turns every answer but 101 into ``WSServerHandshakeError`` with the
text "Invalid response status" and drops the body, yet the body is where a real API server
says what is wrong: a JSON ``Status`` from the API server itself (404 pod, 400 container,
400 "Upgrade request required") or plain text from the kubelet (400 "you must specify at
least 1 of stdin, stdout, stderr", 400 'query parameter "port" is required'). This client
middleware reads the body of a refused upgrade and raises the same exception class carrying
the server's message, so callers keep one ``except`` clause.

The CRI streaming server's own refusals (403 for an unsupported subprotocol, 405 "bad method"
for a POST upgrade) end their body by closing the connection instead of a Content-Length;
aiohttp does not deliver such a body for an upgrade request, so the reason phrase and a hint
stand in for it.
"""

from __future__ import annotations

import json

import aiohttp

MAX_MESSAGE = 500  # characters of a server's text kept in one error line

_HINTS = {
    403: "the server accepts none of the offered subprotocols",
    405: "the server accepts WebSocket upgrades only as GET",
}


def server_message(body: bytes) -> str:
    """The ``message`` of a ``Status`` body, else the body's text (one line, bounded)."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return ""
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("message"):
        text = str(doc["message"])
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def refusal_text(status: int, reason: str, body: bytes) -> str:
    """``<status> <reason>: <server message>`` (or a hint when the server sent no words)."""
    head = f"{status} {reason}".strip()
    words = server_message(body) or _HINTS.get(status, "")
    return f"{head}: {words}" if words else head


async def explain_refused_upgrade(
    req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """Session middleware: a non-101 answer to an upgrade raises with the server's words."""
    resp = await handler(req)
    if resp.status == 101 or req.headers.get("Upgrade", "").lower() != "websocket":
        return resp
    try:
        body = await resp.read()
    except (aiohttp.ClientError, OSError, TimeoutError):
        body = b""
    finally:
        resp.release()
    raise aiohttp.WSServerHandshakeError(
        resp.request_info,
        resp.history,
        message=refusal_text(resp.status, resp.reason or "", body),
        status=resp.status,
        headers=resp.headers,
    )


def describe(err: aiohttp.WSServerHandshakeError) -> str:
    """``HTTP <status> ...`` for a failed handshake, whether or not the middleware saw it."""
    text = err.message
    return f"HTTP {text}" if text.startswith(f"{err.status} ") else f"HTTP {err.status} {text}"
