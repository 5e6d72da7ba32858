"""A server-side SPDY/3.1 session on an aiohttp request, after its 101.

aiohttp only hands the connection over for WebSocket (or ``tcp``) upgrades, so the session
installs itself as the protocol's payload parser, as ``WebSocketResponse`` does: every later
byte the client sends arrives here, and frames go out through the prepared 101 response.
It behaves as apimachinery's spdystream connection does on the kubelet: every client stream
gets a SYN_REPLY (empty headers), PINGs are echoed, WINDOW_UPDATE/SETTINGS are ignored, and
closing resets every stream this side has not finished, then sends GOAWAY (kubectl#52, #58).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import zlib
from collections.abc import Callable
from typing import Any, cast

from aiohttp import hdrs, web

from . import spdy, wire
from .spdy_upgrade import PROTOCOL_HEADER, SPDY


class Stream:
    """One client-initiated stream: its headers and what the client sent on it."""

    def __init__(self, stream_id: int, headers: spdy.Headers) -> None:
        self.id = stream_id
        self.headers = headers
        self.inbox: asyncio.Queue[bytes | None] = asyncio.Queue()  # None: FIN or reset
        self.fin_sent = False
        self.reset = False  # the client reset it

    def header(self, name: str) -> str:
        return (self.headers.get(name) or [""])[0]


class Session:
    def __init__(self, request: web.Request, response: web.StreamResponse) -> None:
        self.response = response
        self.framer = spdy.Framer()
        self.streams: dict[int, Stream] = {}
        self.opened: asyncio.Queue[Stream | None] = asyncio.Queue()  # None: GOAWAY or EOF
        self.closed = asyncio.Event()  # the connection ended
        self.last_id = 0
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        protocol = request.protocol
        protocol.set_parser(cast(Any, _Feeder(self)))
        protocol.keep_alive(False)
        response.force_close()  # aiohttp keeps the response's keep-alive, not the protocol's

    @classmethod
    async def accept(cls, request: web.Request, protocol: str) -> Session:
        """``101 Switching Protocols`` with exactly the real server's three headers."""
        resp = wire.bare_response(101)
        resp.headers[hdrs.CONNECTION] = "Upgrade"
        resp.headers[hdrs.UPGRADE] = SPDY
        resp.headers[PROTOCOL_HEADER] = protocol
        await resp.prepare(request)
        return cls(request, resp)

    # ---- receiving ---------------------------------------------------------------------
    def received(self, data: bytes) -> None:
        try:
            frames = self.framer.feed(data)
        except (spdy.ProtocolError, zlib.error, struct.error, IndexError):
            self._spawn(self._fail)  # not SPDY/3.1: GOAWAY PROTOCOL_ERROR, then hang up
            return
        for frame in frames:
            self._dispatch(frame)

    def _dispatch(self, frame: spdy.Frame) -> None:
        if frame.kind == spdy.SYN_STREAM:
            if frame.stream <= self.last_id or frame.stream % 2 == 0:
                sid = frame.stream
                self._spawn(lambda: self._write(lambda f: f.rst_stream(sid, spdy.PROTOCOL_ERROR)))
                return
            stream = Stream(frame.stream, frame.headers)
            self.last_id = frame.stream
            self.streams[stream.id] = stream
            if frame.fin:
                stream.inbox.put_nowait(None)
            self.opened.put_nowait(stream)
        elif frame.kind == spdy.DATA:
            stream_or_none = self.streams.get(frame.stream)
            if stream_or_none is not None and not stream_or_none.reset:
                if frame.data:
                    stream_or_none.inbox.put_nowait(frame.data)
                if frame.fin:
                    stream_or_none.inbox.put_nowait(None)
        elif frame.kind == spdy.RST_STREAM:
            target = self.streams.get(frame.stream)
            if target is not None and not target.reset:
                target.reset = True
                target.inbox.put_nowait(None)
        elif frame.kind == spdy.PING and frame.stream % 2 == 1:  # the client's pings: echo
            ping_id = frame.stream
            self._spawn(lambda: self._write(lambda f: f.ping(ping_id)))
        elif frame.kind == spdy.GOAWAY:
            self.opened.put_nowait(None)

    def eof(self) -> None:
        self.closed.set()
        self.opened.put_nowait(None)
        for stream in self.streams.values():
            stream.inbox.put_nowait(None)

    def _spawn(self, make: Callable[[], Any]) -> None:
        task = asyncio.ensure_future(make())
        self._tasks.add(task)
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a write to a closed connection is expected here

    async def _fail(self) -> None:
        await self.goaway(status=1)
        self.eof()

    # ---- sending -----------------------------------------------------------------------
    async def _write(self, encode: Callable[[spdy.Framer], bytes]) -> None:
        """Encode and write under one lock: header blocks share one deflate stream, so
        frames must reach the wire in the order they were compressed."""
        if self.closed.is_set():
            raise ConnectionResetError("SPDY connection closed")
        async with self._lock:
            await self.response.write(encode(self.framer))

    async def reply(self, stream: Stream) -> None:
        await self._write(lambda f: f.syn_reply(stream.id))

    async def data(self, stream: Stream, payload: bytes, fin: bool = False) -> None:
        """DATA on a stream (nothing once this side finished it or the client reset it)."""
        if stream.fin_sent or stream.reset:
            return
        for start in range(0, max(len(payload), 1), spdy.MAX_LENGTH):
            chunk = payload[start : start + spdy.MAX_LENGTH]
            last = start + spdy.MAX_LENGTH >= len(payload)
            await self._write(_data_frame(stream.id, chunk, fin and last))
        stream.fin_sent = fin

    async def goaway(self, status: int = 0) -> None:
        with contextlib.suppress(ConnectionResetError):
            await self._write(lambda f: f.goaway(self.last_id, status))

    async def close(self) -> None:
        """apimachinery ``connection.Close``: reset the streams not finished, then GOAWAY."""
        for stream in sorted(self.streams.values(), key=lambda s: s.id):
            if not (stream.fin_sent or stream.reset):
                stream.reset = True
                await self._write(_rst_frame(stream.id))
        await self.goaway()
        for task in list(self._tasks):
            task.cancel()


def _data_frame(stream_id: int, payload: bytes, fin: bool) -> Callable[[spdy.Framer], bytes]:
    return lambda f: f.data(stream_id, payload, fin)


def _rst_frame(stream_id: int) -> Callable[[spdy.Framer], bytes]:
    return lambda f: f.rst_stream(stream_id, spdy.CANCEL)


class _Feeder:
    """What aiohttp's protocol feeds once an upgrade is taken over (``set_parser``)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.session.received(data)
        return False, b""

    def feed_eof(self) -> None:
        self.session.eof()
