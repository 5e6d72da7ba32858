"""SPDY/3.1 framing, as kubectl's and the kubelet's ``moby/spdystream`` speak it.

Frames (draft-mbelshe-httpbis-spdy-00 / SPDY draft 3): an 8-byte header, then the payload.
Control frames: ``1`` bit, version 3 (15 bits), type (16), flags (8), length (24); DATA
frames: ``0`` bit, stream id (31), flags (8), length (24). Header blocks (SYN_STREAM,
SYN_REPLY, HEADERS) are name/value pairs with 32-bit lengths, deflated by one zlib stream per
direction for the whole session, seeded with the SPDY/3 dictionary and sync-flushed per
block. spdystream does no flow control (it never sends WINDOW_UPDATE and ignores it), and
the recorded sessions (kubectl#52, #80) carry neither WINDOW_UPDATE nor SETTINGS, so this
framer only parses those.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
DATA, SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS = 0, 1, 2, 3, 4
PING, GOAWAY, HEADERS, WINDOW_UPDATE = 6, 7, 8, 9
FLAG_FIN = 0x01
PROTOCOL_ERROR, CANCEL = 1, 5  # RST_STREAM status codes
MAX_LENGTH = (1 << 24) - 1

_WORDS = (
    (
        "options head post put delete trace accept accept-charset accept-encoding accept-language "
        "accept-ranges age allow authorization cache-control connection content-base "
        "content-encoding content-language content-length content-location content-md5 "
        "content-range content-type date etag expect expires from host if-match "
        "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
        "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
        "server te trailer transfer-encoding upgrade user-agent vary via warning "
        "www-authenticate method get status"
    ).split()
    + ["200 OK"]
    + "version HTTP/1.1 url public set-cookie keep-alive origin".split()
)
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 "
    "Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 "
    "Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, "
    "Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
# The SPDY/3 header-compression dictionary: length-prefixed words, then plain text.
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()

Headers = dict[str, list[str]]


@dataclass(frozen=True)
class Frame:
    """One parsed frame. ``stream`` is the stream id (last-good id for GOAWAY, ping id for
    PING); ``status`` is RST_STREAM's/GOAWAY's status or WINDOW_UPDATE's delta."""

    kind: int
    stream: int = 0
    flags: int = 0
    data: bytes = b""
    headers: Headers = field(default_factory=dict)
    status: int = 0

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


class ProtocolError(Exception):
    """The peer sent something that is not SPDY/3.1."""


class Framer:
    """Both directions of one session: parses what arrives, encodes what leaves."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zdict=DICTIONARY)

    # ---- reading ---------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Frame]:
        """The frames completed by ``data`` (a partial frame waits for more)."""
        self._buf += data
        frames = []
        while len(self._buf) >= 8:
            length = int.from_bytes(self._buf[5:8], "big")
            if len(self._buf) < 8 + length:
                break
            head, payload = bytes(self._buf[:8]), bytes(self._buf[8 : 8 + length])
            del self._buf[: 8 + length]
            frames.append(self._parse(head, payload))
        return frames

    def _parse(self, head: bytes, payload: bytes) -> Frame:
        word, flags = struct.unpack(">I", head[:4])[0], head[4]
        if not word & 0x80000000:
            return Frame(DATA, word & 0x7FFFFFFF, flags, payload)
        version, kind = (word >> 16) & 0x7FFF, word & 0xFFFF
        if version != VERSION:
            raise ProtocolError(f"SPDY version {version}")
        if kind == SYN_STREAM:
            stream = _u31(payload, 0)
            return Frame(kind, stream, flags, headers=self._headers(payload[10:]))
        if kind in (SYN_REPLY, HEADERS):
            return Frame(kind, _u31(payload, 0), flags, headers=self._headers(payload[4:]))
        if kind in (RST_STREAM, GOAWAY, WINDOW_UPDATE):
            second = struct.unpack(">I", payload[4:8])[0] if len(payload) >= 8 else 0
            return Frame(kind, _u31(payload, 0), flags, status=second & 0x7FFFFFFF)
        if kind == PING:
            return Frame(kind, struct.unpack(">I", payload[:4])[0], flags)
        return Frame(kind, 0, flags, payload)  # SETTINGS and unknown types: not acted on

    def _headers(self, block: bytes) -> Headers:
        raw = self._inflate.decompress(block)
        count, pos = struct.unpack(">I", raw[:4])[0], 4
        out: Headers = {}
        for _ in range(count):
            name, pos = _string(raw, pos)
            value, pos = _string(raw, pos)
            out.setdefault(name.decode().lower(), []).extend(v.decode() for v in value.split(b"\0"))
        return out

    # ---- writing ---------------------------------------------------------------------
    def _control(self, kind: int, flags: int, payload: bytes) -> bytes:
        word = 0x80000000 | (VERSION << 16) | kind
        return struct.pack(">IB", word, flags) + len(payload).to_bytes(3, "big") + payload

    def _block(self, headers: Headers) -> bytes:
        raw = struct.pack(">I", len(headers))
        for name, values in headers.items():
            value = "\0".join(values).encode()
            raw += struct.pack(">I", len(name)) + name.lower().encode()
            raw += struct.pack(">I", len(value)) + value
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def data(self, stream: int, payload: bytes, fin: bool = False) -> bytes:
        head = struct.pack(">IB", stream & 0x7FFFFFFF, FLAG_FIN if fin else 0)
        return head + len(payload).to_bytes(3, "big") + payload

    def syn_stream(self, stream: int, headers: Headers, fin: bool = False) -> bytes:
        body = struct.pack(">IIH", stream, 0, 0) + self._block(headers)
        return self._control(SYN_STREAM, FLAG_FIN if fin else 0, body)

    def syn_reply(self, stream: int, headers: Headers | None = None) -> bytes:
        return self._control(SYN_REPLY, 0, struct.pack(">I", stream) + self._block(headers or {}))

    def rst_stream(self, stream: int, status: int = CANCEL) -> bytes:
        return self._control(RST_STREAM, 0, struct.pack(">II", stream, status))

    def ping(self, ping_id: int) -> bytes:
        return self._control(PING, 0, struct.pack(">I", ping_id))

    def goaway(self, last_stream: int, status: int = 0) -> bytes:
        return self._control(GOAWAY, 0, struct.pack(">II", last_stream, status))


def _u31(payload: bytes, pos: int) -> int:
    if len(payload) < pos + 4:
        raise ProtocolError("short control frame")
    return int(struct.unpack(">I", payload[pos : pos + 4])[0]) & 0x7FFFFFFF


def _string(raw: bytes, pos: int) -> tuple[bytes, int]:
    size = struct.unpack(">I", raw[pos : pos + 4])[0]
    return raw[pos + 4 : pos + 4 + size], pos + 4 + size
