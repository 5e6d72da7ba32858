"""A tiny in-process stand-in for the API server's pods list/watch and port-forward endpoints.

Port-forwards are relayed to local TCP backends (pod name -> (host, port)), speaking the real
``v4.channel.k8s.io`` framing, so the adapter and forwarder are exercised end to end without
Docker. The shared fake Kubernetes server in tests/fakekube covers the container-backed case.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import struct
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

TOKEN = "pf-test-token"


def pod(
    name: str,
    ready: bool = True,
    created: str = "2024-01-01T00:00:00Z",
    ports: tuple[tuple[str, int], ...] = (("http", 8000),),
    deleting: bool = False,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "creationTimestamp": created, "labels": labels or {}}
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:10:00Z"
    return {
        "metadata": meta,
        "spec": {
            "containers": [
                {"name": "c", "ports": [{"name": n, "containerPort": p} for n, p in ports]}
            ]
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


class FakeApi:
    def __init__(self) -> None:
        self.pods: dict[str, dict[str, Any]] = {}
        self.backends: dict[str, tuple[str, int]] = {}
        self.version = 1
        self.dials = 0
        self._watchers: list[asyncio.Queue[dict[str, Any] | None]] = []
        self._history: list[tuple[int, dict[str, Any]]] = []  # what a watch from a version replays
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.url = ""

    # -- state changes tests make ---------------------------------------------------------
    def put(self, obj: dict[str, Any], backend: tuple[str, int] | None = None) -> None:
        name = obj["metadata"]["name"]
        kind = "MODIFIED" if name in self.pods else "ADDED"
        self.pods[name] = obj
        if backend is not None:
            self.backends[name] = backend
        self._emit(kind, obj)

    def delete(self, name: str) -> None:
        obj = self.pods.pop(name)
        self.backends.pop(name, None)
        self._emit("DELETED", obj)

    def expire_watches(self) -> None:
        """Tell every open watch its resourceVersion is too old (410 Gone), as etcd does."""
        for q in self._watchers:
            q.put_nowait({"type": "ERROR", "object": {"kind": "Status", "code": 410}})

    def _emit(self, kind: str, obj: dict[str, Any]) -> None:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        event = {"type": kind, "object": json.loads(json.dumps(obj))}  # as it was then
        self._history.append((self.version, event))
        for q in self._watchers:
            q.put_nowait(event)

    # -- server ---------------------------------------------------------------------------
    async def start(self, port: int = 0, ssl_context: ssl.SSLContext | None = None) -> None:
        """Serve on ``port`` (0: any free port; pass the old one to come back after stop)."""
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/api/v1/namespaces/{ns}/pods", self._pods)
        app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}/portforward", self._forward)
        self.runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(
            self.runner, "127.0.0.1", port, reuse_address=True, ssl_context=ssl_context
        )
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        scheme = "https" if ssl_context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        for q in self._watchers:
            q.put_nowait(None)
        self._watchers.clear()
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return web.json_response({"kind": "Status", "code": 401}, status=401)
        return await handler(request)

    @staticmethod
    def _selects(selector: str, obj: dict[str, Any]) -> bool:
        wanted = dict(kv.split("=", 1) for kv in selector.split(",") if kv)
        return all(obj["metadata"]["labels"].get(k) == v for k, v in wanted.items())

    def _matching(self, selector: str) -> list[dict[str, Any]]:
        return [p for p in self.pods.values() if self._selects(selector, p)]

    async def _pods(self, request: web.Request) -> web.StreamResponse:
        selector = request.query.get("labelSelector", "")
        if request.query.get("watch") not in ("1", "true"):
            return web.json_response(
                {
                    "kind": "PodList",
                    "items": self._matching(selector),
                    "metadata": {"resourceVersion": str(self.version)},
                }
            )
        resp = web.StreamResponse()
        await resp.prepare(request)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        since = int(request.query.get("resourceVersion") or self.version)
        for version, old in self._history:  # a real server starts the watch at the version
            if version > since:  # it was given: a change between list and watch is not lost
                queue.put_nowait(old)
        self._watchers.append(queue)
        try:
            while (event := await queue.get()) is not None:
                if event["type"] == "ERROR" or self._selects(selector, event["object"]):
                    await resp.write(json.dumps(event).encode() + b"\n")
        finally:
            if queue in self._watchers:
                self._watchers.remove(queue)
        return resp

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in self.pods:
            return web.json_response({"kind": "Status", "code": 404}, status=404)
        port = int(request.query["ports"])
        ws = web.WebSocketResponse(protocols=("v4.channel.k8s.io",), max_msg_size=0)
        await ws.prepare(request)
        self.dials += 1
        preamble = struct.pack("<H", port)
        await ws.send_bytes(b"\x00" + preamble)
        await ws.send_bytes(b"\x01" + preamble)
        backend = self.backends.get(name)
        try:
            if backend is None:
                raise OSError("no backend")
            reader, writer = await asyncio.open_connection(*backend)
        except OSError as err:
            await ws.send_bytes(b"\x01" + f"error forwarding port {port}: {err}".encode())
            await ws.close()
            return ws

        async def pump_out() -> None:
            while data := await reader.read(65536):
                await ws.send_bytes(b"\x00" + data)
            await ws.close()

        out = asyncio.create_task(pump_out())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY and msg.data[:1] == b"\x00":
                    writer.write(msg.data[1:])
                    await writer.drain()
        finally:
            out.cancel()
            with contextlib.suppress(BaseException):
                await out
            writer.close()
        return ws


# -- helpers the port-forward tests share ------------------------------------------------
async def http_backend(body: str) -> tuple[asyncio.Server, tuple[str, int]]:
    """A minimal HTTP/1.0 server answering ``body`` to any request."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()  # a health-check dial: connected, sent nothing
            return
        writer.write(
            b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body.encode())
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[:2]


async def get(port: int, timeout: float = 3.0) -> str:
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        data = await reader.read()
        writer.close()
    return data.decode().split("\r\n\r\n", 1)[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        assert loop.time() < end, "timed out"
        await asyncio.sleep(0.01)
