"""pods/portforward over WebSocket, as the real 1.28.7 server answers it (``upgrades.jsonl``).

Per requested port ``i``: data channel ``2*i`` and error channel ``2*i+1``; the first frame on
each is the port as two little-endian bytes (#29, #35). Data goes to ``podIP:port`` over TCP,
dialled at once as containerd does; a refused port still gets 101 and both preambles, then
the error text on its error channel, and the stream closes (1000) when every port is done
(#45, #46). The kubelet checks the ports before the handshake (400 text, #43/#44, #47).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from typing import Any

from aiohttp import web

from . import spdy_upgrade, wire
from .errors import bad_request
from .kubelet import Kubelet
from .spdy_streams import serve_portforward
from .streams import Channels, accept_websocket
from .version import PORTFORWARD_WS


def parse_ports(values: list[str]) -> list[int] | str:
    """``portforward.NewV4Options``: the ports, or the kubelet's complaint (query key ``port``
    is what the API server forwards ``ports`` as)."""
    if not values:
        return 'query parameter "port" is required'
    ports: list[int] = []
    for value in values:
        if not value:
            return 'query parameter "port" cannot be empty'
        for part in value.split(","):
            if not part.isdigit() or int(part) > 65535:
                return (
                    f'unable to parse "{value}" as a port: strconv.ParseUint: parsing '
                    f'"{part}": {"value out of range" if part.isdigit() else "invalid syntax"}'
                )
            if int(part) < 1:
                return f'port "{value}" must be > 0'
            ports.append(int(part))
    return ports


def refused_text(port: int, sandbox: str, exc: OSError) -> str:
    """containerd's words for a port nothing listens on (#45), with the fake's sandbox id."""
    netns = f"/var/run/netns/cni-{uuid.uuid5(uuid.NAMESPACE_OID, sandbox)}"
    return (
        f"error forwarding port {port} to pod {sandbox}, uid : failed to execute portforward "
        f'in network namespace "{netns}": failed to connect to localhost:{port} inside '
        f'namespace "{sandbox}", IPv4: dial tcp4 127.0.0.1:{port}: connect: {_reason(exc)} '
        "IPv6 dial tcp6: address localhost: no suitable address found "
    )


async def portforward(
    request: web.Request, pod: dict[str, Any], kubelet: Kubelet
) -> web.StreamResponse:
    worker = kubelet.worker(pod["metadata"]["uid"])
    ip = worker.ip if worker else ""
    if not ip:
        raise bad_request(f"pod {pod['metadata']['name']} does not have a host assigned")
    wire.require_upgrade(request)
    if not wire.is_websocket(request):  # SPDY/3.1: ports come per stream (upgrades#49-51)
        proto = spdy_upgrade.negotiate(request, spdy_upgrade.PORTFORWARD_PROTOCOLS, exec_=False)
        if isinstance(proto, web.StreamResponse):
            return proto
        sandbox = worker.sandbox if worker else ""
        return await serve_portforward(
            request, ip, lambda port, exc: refused_text(port, sandbox, exc)
        )
    ports = parse_ports(request.query.getall("ports", []))
    if isinstance(ports, str):
        return wire.kubelet_text(400, ports)
    resp, chans = await accept_websocket(request, (*PORTFORWARD_WS, ""))
    if chans is None:
        return resp
    ws = chans.ws
    writers: dict[int, asyncio.StreamWriter] = {}
    pumps: list[asyncio.Task[Any]] = []
    for i, port in enumerate(ports):
        prefix = port.to_bytes(2, "little")
        await chans.send(2 * i, prefix)
        await chans.send(2 * i + 1, prefix)
    for i, port in enumerate(ports):
        try:
            reader, writer = await asyncio.open_connection(ip, port)
        except OSError as exc:
            sandbox = worker.sandbox if worker else ""
            await chans.send(2 * i + 1, refused_text(port, sandbox, exc).encode())
            continue
        writers[2 * i] = writer
        pumps.append(asyncio.ensure_future(_upstream(chans, reader, 2 * i)))
    try:
        if not pumps:
            return ws
        inbound = asyncio.ensure_future(_downstream(chans, writers))
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


async def _upstream(chans: Channels, reader: asyncio.StreamReader, ch: int) -> None:
    with contextlib.suppress(ConnectionResetError):
        while data := await reader.read(65536):
            if chans.ws.closed:
                return
            await chans.send(ch, data)


async def _downstream(chans: Channels, writers: dict[int, asyncio.StreamWriter]) -> None:
    async for msg in chans.ws:
        frame = chans.decode(msg)
        if frame is None:
            continue
        channel, data = frame
        writer = writers.get(channel)
        if writer is not None and data and not writer.is_closing():
            writer.write(data)
            with contextlib.suppress(ConnectionResetError):
                await writer.drain()


def _reason(exc: OSError) -> str:
    """Go-style lower-case errno text, e.g. ``connection refused``."""
    return os.strerror(exc.errno).lower() if exc.errno else str(exc)
