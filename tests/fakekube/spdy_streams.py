"""exec and port-forward over SPDY/3.1, as the kubelet serves them (kubectl 1.28 always,
kubectl 1.32 after its WebSocket attempt gets 403 from a 1.28 server).

Exec (kubectl#52-#64, kubectl-dispatcher#18/#21): the client opens one stream per
``streamtype`` (``error``, ``stdin``, ``stdout``, ``stderr``, ``resize`` with a tty); once all
it asked for exist the command runs (through the same core as the WebSocket path). Output is
DATA on stdout/stderr, a FIN on each when the process ends, then the status on ``error``
(Go JSON on v4, only a failure's text on v1-v3); closing resets the rest and sends GOAWAY.
A failed start skips the FINs (kubectl#64). A client that goes away before its streams are
complete just sees the connection close (upgrades#23/#24).

Port-forward (kubectl#80-#89, kubectl-dispatcher#28): per connection an ``error`` and a
``data`` stream sharing ``requestid`` and ``port``; the pod's port is dialled once both
exist; bytes relay both ways; when the pod side ends: FIN on data, then the error text if
any (a refused port, kubectl#89) and FIN on error. GOAWAY from the client is answered with
GOAWAY once the open pairs finish (upgrades#49/#50).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from . import wire
from .dockerstream import ExecStream
from .spdy_session import Session, Stream

STREAM_CREATION_TIMEOUT = 30.0  # the kubelet's default streamCreationTimeout
CHANNEL_TYPES = {1: "stdout", 2: "stderr", 3: "error"}
RESIZABLE = ("v4.channel.k8s.io", "v3.channel.k8s.io")

Resize = Callable[[dict[str, Any]], Awaitable[None]]


class SpdyExec:
    """The exec core's output/input (``streams.ExecIO``) on SPDY streams."""

    def __init__(self, session: Session, proto: str) -> None:
        self.session = session
        self.proto = proto
        self.by_type: dict[str, Stream] = {}

    async def collect(self, wanted: set[str]) -> bool:
        """Reply to every stream the client opens until all ``wanted`` types exist (False
        when the client leaves first or takes longer than the kubelet waits)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STREAM_CREATION_TIMEOUT
        while not wanted <= self.by_type.keys():
            try:
                stream = await asyncio.wait_for(self.session.opened.get(), deadline - loop.time())
            except TimeoutError:
                return False
            if stream is None:
                return False
            await self.session.reply(stream)
            kind = stream.header("streamtype")
            if kind in wanted:
                self.by_type[kind] = stream
        return True

    async def send(self, channel: int, data: bytes) -> None:
        stream = self.by_type.get(CHANNEL_TYPES.get(channel, ""))
        if stream is not None and data:
            await self.session.data(stream, data)

    async def status(self, doc: dict[str, Any]) -> None:
        if self.proto.startswith("v4."):
            payload = wire.go_json(doc)
        elif doc.get("status") != "Success":
            payload = str(doc.get("message", "")).encode()
        else:
            return
        await self.session.data(self.by_type["error"], payload)

    async def end_output(self) -> None:
        for kind in ("stdout", "stderr"):
            if kind in self.by_type:
                await self.session.data(self.by_type[kind], b"", fin=True)

    async def pump_stdin(self, stream: ExecStream, resize: Resize) -> None:
        """stdin DATA into the process (FIN closes its stdin); resize JSON to the tty."""
        sizes = self.by_type.get("resize")
        resizing = asyncio.ensure_future(_resizes(sizes, resize)) if sizes else None
        try:
            source = self.by_type.get("stdin")
            if source is not None:
                while (chunk := await source.inbox.get()) is not None:
                    await stream.write(chunk)
                stream.close_stdin()
            if resizing is not None:
                await resizing
        finally:
            if resizing is not None:
                resizing.cancel()


async def _resizes(stream: Stream, resize: Resize) -> None:
    """The resize stream carries concatenated JSON objects ``{"Width":..,"Height":..}``."""
    decoder, buf = json.JSONDecoder(), ""
    while (chunk := await stream.inbox.get()) is not None:
        buf += chunk.decode(errors="replace")
        while buf.strip():
            try:
                size, end = decoder.raw_decode(buf.lstrip())
            except ValueError:
                break
            buf = buf.lstrip()[end:]
            if isinstance(size, dict):
                await resize(size)


def wanted_streams(proto: str, flags: dict[str, bool]) -> set[str]:
    """What the kubelet waits for: error, plus one per requested stdio, plus resize (tty)."""
    wanted = {"error"} | {k for k in ("stdin", "stdout", "stderr") if flags[k]}
    if flags["tty"] and proto in RESIZABLE:
        wanted.add("resize")
    return wanted


async def serve_exec(
    request: web.Request,
    proto: str,
    flags: dict[str, bool],
    run: Callable[[SpdyExec], Awaitable[None]],
) -> web.StreamResponse:
    session = await Session.accept(request, proto)
    io = SpdyExec(session, proto)
    with contextlib.suppress(ConnectionResetError):
        if await io.collect(wanted_streams(proto, flags)):
            await run(io)
            await session.close()
    return session.response


async def serve_portforward(
    request: web.Request, ip: str, refused: Callable[[int, OSError], str]
) -> web.StreamResponse:
    session = await Session.accept(request, "portforward.k8s.io")
    pairs: dict[str, dict[str, Stream]] = {}
    tasks: list[asyncio.Task[None]] = []
    try:
        while (stream := await session.opened.get()) is not None:
            await session.reply(stream)
            kind = stream.header("streamtype")
            if kind not in ("error", "data"):
                continue
            pair = pairs.setdefault(stream.header("requestid"), {})
            pair[kind] = stream
            if len(pair) == 2:
                forward = _forward(session, pair["error"], pair["data"], ip, refused)
                tasks.append(asyncio.ensure_future(forward))
        if not session.closed.is_set():  # GOAWAY: let the open connections finish
            await asyncio.gather(*tasks, return_exceptions=True)
        await session.goaway()
    except ConnectionResetError:
        pass
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return session.response


async def _forward(
    session: Session, error: Stream, data: Stream, ip: str, refused: Callable[[int, OSError], str]
) -> None:
    port = int(data.header("port") or 0) if data.header("port").isdigit() else 0
    problem = ""
    try:
        reader, writer = await asyncio.open_connection(ip, port)
    except OSError as exc:
        problem = refused(port, exc)
    else:
        up = asyncio.ensure_future(_pod_to_client(session, reader, data))
        down = asyncio.ensure_future(_client_to_pod(data, writer))
        try:
            done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            if up not in done and not data.reset:
                await up  # the client finished sending: the pod's answer still comes back
        finally:
            up.cancel()
            down.cancel()
            with contextlib.suppress(Exception):
                writer.close()
    with contextlib.suppress(ConnectionResetError):
        await session.data(data, b"", fin=True)
        if problem:
            await session.data(error, problem.encode())
        await session.data(error, b"", fin=True)


async def _pod_to_client(session: Session, reader: asyncio.StreamReader, data: Stream) -> None:
    with contextlib.suppress(ConnectionResetError):
        while chunk := await reader.read(65536):
            await session.data(data, chunk)


async def _client_to_pod(data: Stream, writer: asyncio.StreamWriter) -> None:
    """Client bytes to the pod; the client's FIN half-closes the pod connection."""
    with contextlib.suppress(ConnectionResetError, BrokenPipeError):
        while (chunk := await data.inbox.get()) is not None:
            writer.write(chunk)
            await writer.drain()
        if not data.reset and writer.can_write_eof():
            writer.write_eof()
