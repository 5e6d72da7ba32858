"""A refused WebSocket upgrade is reported in the server's words, not aiohttp's "Invalid
response status" (issue 13: "exec refused: HTTP 405 Invalid response status")."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from loopdev.adapters.kube_upgrade import (
    describe,
    explain_refused_upgrade,
    refusal_text,
    server_message,
)

STATUS_404 = json.dumps(  # upgrades#20
    {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "no-such-pod" not found',
        "reason": "NotFound",
        "details": {"name": "no-such-pod", "kind": "pods"},
        "code": 404,
    }
).encode()


def test_status_body_gives_its_message() -> None:
    assert server_message(STATUS_404) == 'pods "no-such-pod" not found'


def test_text_body_is_kept_on_one_bounded_line() -> None:
    assert server_message(b"unable to upgrade:\n  no\n") == "unable to upgrade: no"
    assert len(server_message(b"x" * 5000)) == 500


def test_empty_bodies_get_the_reason_and_a_hint() -> None:
    assert refusal_text(403, "Forbidden", b"") == (
        "403 Forbidden: the server accepts none of the offered subprotocols"
    )
    assert refusal_text(405, "Method Not Allowed", b"bad method") == (
        "405 Method Not Allowed: bad method"
    )
    assert refusal_text(502, "Bad Gateway", b"") == "502 Bad Gateway"


# Raw answers as the real server's parts write them (upgrades#8, #20, #22).
ANSWERS = {
    "/405": b"HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\n\r\nbad method",
    "/404": b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(STATUS_404)}\r\n\r\n".encode()
    + STATUS_404,
    "/400": b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 52\r\n\r\nyou must specify at least 1 of stdin, stdout, stderr",
}


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ", 2)[1].decode()
        writer.write(ANSWERS[path])
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
    srv.close()
    await srv.wait_closed()


@pytest.mark.parametrize(
    ("path", "text"),
    [
        # aiohttp drops a close-delimited body on an upgrade: the hint stands in for it
        ("/405", "HTTP 405 Method Not Allowed: the server accepts WebSocket upgrades only as GET"),
        ("/404", 'HTTP 404 Not Found: pods "no-such-pod" not found'),
        ("/400", "HTTP 400 Bad Request: you must specify at least 1 of stdin, stdout, stderr"),
    ],
)
async def test_middleware_raises_with_the_servers_words(server: str, path: str, text: str) -> None:
    async with aiohttp.ClientSession(middlewares=(explain_refused_upgrade,)) as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await session.ws_connect(server + path, protocols=("v4.channel.k8s.io",))
    assert describe(err.value) == text


async def test_plain_requests_pass_through(server: str) -> None:
    async with (
        aiohttp.ClientSession(middlewares=(explain_refused_upgrade,)) as session,
        session.get(server + "/404") as resp,
    ):
        assert resp.status == 404
        assert json.loads(await resp.read())["reason"] == "NotFound"
