"""pods/portforward over WebSocket, as ``kubernetes.stream.portforward`` speaks it.

Per requested port ``i``: data channel ``2*i`` and error channel ``2*i+1``; the first frame on
each starts with the port as two little-endian bytes. Data goes to ``podIP:port`` over TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from aiohttp import WSMsgType, web

from .errors import bad_request
from .kubelet import Kubelet

PROTOCOLS = ("v4.channel.k8s.io", "portforward.k8s.io", "SPDY/3.1+portforward.k8s.io")


async def portforward(
    request: web.Request, pod: dict[str, Any], kubelet: Kubelet
) -> web.StreamResponse:
    ports = [int(p) for p in request.query.getall("ports", [])]
    if not ports:
        raise bad_request('query parameter "ports" is required')
    worker = kubelet.worker(pod["metadata"]["uid"])
    ip = worker.ip if worker else ""
    if not ip:
        raise bad_request(f"pod {pod['metadata']['name']} does not have a host assigned")
    ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=0)
    await ws.prepare(request)
    writers: dict[int, asyncio.StreamWriter] = {}
    pumps: list[asyncio.Task[Any]] = []
    for i, port in enumerate(ports):
        prefix = port.to_bytes(2, "little")
        await ws.send_bytes(bytes([2 * i]) + prefix)
        await ws.send_bytes(bytes([2 * i + 1]) + prefix)
        try:
            reader, writer = await asyncio.open_connection(ip, port)
        except OSError as exc:
            msg = (
                f"error forwarding port {port} to pod {pod['metadata']['uid']}, uid : "
                f"dial tcp4 {ip}:{port}: connect: {_reason(exc)}"
            )
            await ws.send_bytes(bytes([2 * i + 1]) + msg.encode())
            continue
        writers[2 * i] = writer
        pumps.append(asyncio.ensure_future(_upstream(ws, reader, 2 * i)))
    try:
        if not pumps:
            return ws
        inbound = asyncio.ensure_future(_downstream(ws, writers))
        done = asyncio.ensure_future(asyncio.gather(*pumps, return_exceptions=True))
        await asyncio.wait([inbound, done], return_when=asyncio.FIRST_COMPLETED)
        inbound.cancel()
        done.cancel()
        await asyncio.gather(inbound, done, return_exceptions=True)
        return ws
    finally:
        for task in pumps:
            task.cancel()
        for writer in writers.values():
            with contextlib.suppress(Exception):
                writer.close()
        await ws.close()


async def _upstream(ws: web.WebSocketResponse, reader: asyncio.StreamReader, ch: int) -> None:
    with contextlib.suppress(ConnectionResetError):
        while data := await reader.read(65536):
            if ws.closed:
                return
            await ws.send_bytes(bytes([ch]) + data)


async def _downstream(
    ws: web.WebSocketResponse,
    writers: dict[int, asyncio.StreamWriter],
) -> None:
    async for msg in ws:
        if msg.type != WSMsgType.BINARY or not msg.data:
            continue
        writer = writers.get(msg.data[0])
        if writer is not None and len(msg.data) > 1 and not writer.is_closing():
            writer.write(msg.data[1:])
            with contextlib.suppress(ConnectionResetError):
                await writer.drain()


def _reason(exc: OSError) -> str:
    """Go-style lower-case errno text, e.g. ``connection refused``."""
    return os.strerror(exc.errno).lower() if exc.errno else str(exc)
