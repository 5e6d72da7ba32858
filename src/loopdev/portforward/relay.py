"""Relaying one local connection to a port-forward stream, with deadlines.

Why the linger: the v4 port-forward protocol cannot half-close, so after the local client
sends EOF (``nc -N``, HTTP/1.0 clients) the reply is still relayed, but only while it keeps
coming, so a pod that never answers cannot hold the connection open forever.
"""

from __future__ import annotations

import asyncio
import contextlib

from loopdev.portforward.stream import Stream

_CHUNK = 64 * 1024


async def relay(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stream: Stream, linger: float
) -> bool:
    """Copy both ways until the pod side ends; returns whether any byte came back."""
    loop = asyncio.get_running_loop()
    got_data = False
    last_data = loop.time()

    async def downstream() -> None:
        nonlocal got_data, last_data
        while data := await stream.read():
            got_data, last_data = True, loop.time()
            writer.write(data)
            await writer.drain()

    down = asyncio.create_task(downstream())

    async def upstream() -> None:
        nonlocal last_data
        while data := await reader.read(_CHUNK):
            await stream.write(data)
        last_data = max(last_data, loop.time())
        # Local EOF. v4 cannot half-close, so keep relaying the reply, but only while it
        # keeps coming: a pod that never answers must not hold the connection forever.
        while not down.done():
            idle = loop.time() - last_data
            if idle >= linger:
                down.cancel()
                return
            await asyncio.sleep(linger - idle)

    up = asyncio.create_task(upstream())
    current = asyncio.current_task()
    try:
        try:
            await down
        except asyncio.CancelledError:
            if current is not None and current.cancelling():
                raise  # we are being stopped; the linger watchdog cancels only ``down``
        except (ConnectionError, OSError, ValueError):
            pass  # either side broke off: nothing to flush
        else:
            if writer.can_write_eof():
                with contextlib.suppress(OSError):
                    writer.write_eof()
    finally:
        up.cancel()
        down.cancel()
        await asyncio.gather(up, down, return_exceptions=True)
        await stream.close()
    return got_data
