"""The narrow ports the forwarder needs: a dialer that opens streams to a pod port."""

from __future__ import annotations

from typing import Protocol


class DialError(Exception):
    """Opening a forwarded connection failed; the message is the cause shown to the user."""


class Stream(Protocol):
    error: str | None

    async def read(self) -> bytes:
        """Next bytes from the pod; b"" at the end."""
        ...

    async def check(self, wait: float) -> str | None:
        """An error the pod side reports within ``wait`` seconds (refused port), else None."""
        ...

    async def write(self, data: bytes) -> None: ...

    async def close(self, timeout: float = 1.0) -> None: ...


class Dialer(Protocol):
    async def dial(self, namespace: str, pod: str, port: int, timeout: float) -> Stream:
        """Raises DialError within ``timeout``."""
        ...
