"""The Kubernetes port-forward WebSocket framing (``v4.channel.k8s.io``), as pure functions.

One forwarded port uses two channels: data (0) and error (1). Every binary message starts
with its channel byte; the first message the server sends on each channel carries the port
number as two bytes, little-endian, and nothing else.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

DATA = 0
ERROR = 1
SUBPROTOCOLS = ("v4.channel.k8s.io", "portforward.k8s.io")


class FrameError(ValueError):
    """The server sent something this protocol does not allow."""


@dataclass(frozen=True)
class Frame:
    channel: int
    payload: bytes


def encode_data(data: bytes, channel: int = DATA) -> bytes:
    return bytes((channel,)) + data


def decode(message: bytes) -> Frame:
    if not message:
        raise FrameError("empty port-forward frame")
    channel = message[0]
    if channel not in (DATA, ERROR):
        raise FrameError(f"unexpected port-forward channel {channel}")
    return Frame(channel, bytes(message[1:]))


def port_of(payload: bytes) -> int:
    """The port announced by a channel's first frame."""
    if len(payload) != 2:
        raise FrameError(f"initial port-forward frame has {len(payload)} bytes, expected 2")
    return int(struct.unpack("<H", payload)[0])


class ChannelState:
    """Tracks which channels got their port preamble; turns messages into data or errors."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._announced: set[int] = set()

    @property
    def ready(self) -> bool:
        return self._announced == {DATA, ERROR}

    def feed(self, message: bytes) -> Frame | None:
        """The frame if it carries data or an error, None for a preamble."""
        frame = decode(message)
        if frame.channel not in self._announced:
            port = port_of(frame.payload)
            if port != self.port:
                raise FrameError(f"server announced port {port}, expected {self.port}")
            self._announced.add(frame.channel)
            return None
        return frame
