"""A hijacked Docker exec stream on asyncio: no threads, half-close for stdin EOF.

docker-py's ``exec_start(socket=True)`` can buffer the first output bytes inside its HTTP
reader; speaking the upgrade directly over the Unix socket keeps every byte and lets us
``write_eof()`` (Docker then closes the process' stdin).
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator

from .dockerrt import docker_socket


class ExecStream:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tty: bool
    ) -> None:
        self.reader, self.writer, self.tty = reader, writer, tty

    @classmethod
    async def open(cls, exec_id: str, tty: bool) -> ExecStream:
        reader, writer = await asyncio.open_unix_connection(docker_socket())
        body = json.dumps({"Detach": False, "Tty": tty}).encode()
        writer.write(
            f"POST /exec/{exec_id}/start HTTP/1.1\r\nHost: docker\r\n"
            f"Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status and b" 200 " not in status:
            writer.close()
            raise RuntimeError(f"docker exec start failed: {head.decode(errors='replace')}")
        return cls(reader, writer, tty)

    async def frames(self) -> AsyncIterator[tuple[int, bytes]]:
        """Yield (stream, payload): 1 stdout, 2 stderr (tty output is all stdout)."""
        while True:
            if self.tty:
                data = await self.reader.read(65536)
                if not data:
                    return
                yield 1, data
                continue
            try:
                header = await self.reader.readexactly(8)
            except asyncio.IncompleteReadError:
                return
            stream, size = header[0], struct.unpack(">I", header[4:])[0]
            try:
                payload = await self.reader.readexactly(size)
            except asyncio.IncompleteReadError as exc:
                payload = exc.partial
            yield (2 if stream == 2 else 1), payload

    async def write(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)
            await self.writer.drain()

    def close_stdin(self) -> None:
        if not self.writer.is_closing() and self.writer.can_write_eof():
            try:
                self.writer.write_eof()
            except OSError:
                pass

    def close(self) -> None:
        self.writer.close()
