"""Kubernetes port-forward and pod watching over asyncio (aiohttp), configured by the
official client.

Why not ``kubernetes.stream.portforward``: it relays in a thread that polls, and notices the
remote side closing about a second late, which is exactly the window in which a replaced pod
looks alive. This module speaks the same WebSocket protocol on the event loop, while the
host, TLS material and credentials come from the official client's ``Configuration`` (loaded
from the same kubeconfig and context), so whatever works for the rest of loopdev works here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from loopdev.adapters.kube_upgrade import describe, explain_refused_upgrade
from loopdev.errors import ClusterUnreachable
from loopdev.portforward import frames
from loopdev.portforward.stream import DialError

_WATCH_RETRY = (0.2, 0.5, 1.0, 2.0)  # backoff between relists after a broken watch
_HEARTBEAT = 15.0  # ping idle forwards so a dead API server connection is noticed


async def load_configuration(
    context: str | None = None, config_file: str | None = None
) -> k8s_client.Configuration:
    """The official client's Configuration for a kubeconfig context (file I/O in a thread)."""
    cfg = k8s_client.Configuration()
    try:
        await asyncio.to_thread(
            k8s_config.load_kube_config,
            config_file=config_file,
            context=context,
            client_configuration=cfg,
        )
    except (k8s_config.ConfigException, OSError) as err:
        raise ClusterUnreachable(f"cannot load kubeconfig: {err}") from err
    return cfg


def _ssl_context(cfg: k8s_client.Configuration) -> ssl.SSLContext | bool:
    if not cfg.host.startswith("https"):
        return False
    if not cfg.verify_ssl:
        return False
    ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert or None)
    if cfg.cert_file:
        ctx.load_cert_chain(cfg.cert_file, cfg.key_file or None)
    if cfg.assert_hostname is False:
        ctx.check_hostname = False
    return ctx


class PortForwardStream:
    """One forwarded connection: bytes in and out of a pod port over one WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, channels: frames.ChannelState):
        self._ws = ws
        self._channels = channels
        self._early: list[bytes] = []  # data that arrived before both preambles
        self.error: str | None = None

    async def handshake(self) -> None:
        """Wait for both channels' port announcements; an error frame first fails the dial."""
        while not self._channels.ready:
            msg = await self._ws.receive()
            if msg.type != aiohttp.WSMsgType.BINARY:
                raise DialError(f"API server closed the port-forward ({msg.type.name})")
            frame = self._channels.feed(msg.data)
            if frame is None or not frame.payload:
                continue
            if frame.channel == frames.ERROR:
                raise DialError(frame.payload.decode("utf-8", "replace"))
            self._early.append(frame.payload)

    async def read(self) -> bytes:
        """The next data bytes; b"" once the pod side closed (``error`` says why, if it did)."""
        if self._early:
            return self._early.pop(0)
        while True:
            msg = await self._ws.receive()
            if msg.type != aiohttp.WSMsgType.BINARY:
                return b""  # CLOSE, CLOSED, ERROR: the stream is over
            frame = self._channels.feed(msg.data)
            if frame is None or not frame.payload:
                continue
            if frame.channel == frames.ERROR:
                self.error = (self.error or "") + frame.payload.decode("utf-8", "replace")
                return b""
            return frame.payload

    async def check(self, wait: float) -> str | None:
        """The error the pod side reports within ``wait`` seconds, if any.

        The kubelet announces the ports before it connects inside the pod, so a refused
        connection only shows up as a later error frame; health checks wait for it briefly.
        """
        try:
            data = await asyncio.wait_for(self.read(), wait)
        except TimeoutError:
            return None
        if data:
            self._early.insert(0, data)
            return None
        return self.error or "the pod closed the connection at once"

    async def write(self, data: bytes) -> None:
        await self._ws.send_bytes(frames.encode_data(data))

    async def close(self, timeout: float = 1.0) -> None:
        """Close within ``timeout``; a peer that never answers the close cannot hold us."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._ws.close(), timeout)


async def _close_quietly(ws: aiohttp.ClientWebSocketResponse) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(), 0.5)


class KubeWire:
    """Port-forward dials and pod watches against one cluster, sharing one HTTP session."""

    def __init__(self, cfg: k8s_client.Configuration) -> None:
        self._cfg = cfg
        self._host = cfg.host.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    async def connect(cls, context: str | None = None, config_file: str | None = None) -> KubeWire:
        return cls(await load_configuration(context, config_file))

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=_ssl_context(self._cfg), limit=0)
            self._session = aiohttp.ClientSession(
                connector=connector, middlewares=(explain_refused_upgrade,)
            )
        return self._session

    async def _headers(self) -> dict[str, str]:
        if self._cfg.refresh_api_key_hook is not None:  # exec/oidc credentials may expire
            await asyncio.to_thread(self._cfg.refresh_api_key_hook, self._cfg)
        headers: dict[str, str] = {}
        settings: Any = self._cfg.auth_settings()  # {name: {"in", "key", "value"}}
        for auth in settings.values():
            if auth.get("in") == "header" and auth.get("value"):
                headers[auth["key"]] = auth["value"]
        return headers

    async def dial(self, namespace: str, pod: str, port: int, timeout: float) -> PortForwardStream:
        """Open a forwarded connection to ``pod:port``; raises DialError within ``timeout``.

        A GET upgrade (RFC 6455; a real API server answers a POST upgrade with 405) offering
        ``v4.channel.k8s.io``, which every server from 1.25 on negotiates.
        """
        url = (
            f"{self._host}/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}"
            f"/portforward?{urlencode({'ports': port})}"
        )
        ws: aiohttp.ClientWebSocketResponse | None = None
        try:
            async with asyncio.timeout(timeout):
                ws = await self._http().ws_connect(
                    url,
                    protocols=frames.SUBPROTOCOLS,
                    headers=await self._headers(),
                    max_msg_size=0,
                    autoping=True,
                    heartbeat=_HEARTBEAT,
                )
                stream = PortForwardStream(ws, frames.ChannelState(port))
                await stream.handshake()
                return stream
        except DialError as err:
            reason = str(err)
        except TimeoutError:
            reason = f"no answer from the API server within {timeout:g}s"
        except aiohttp.WSServerHandshakeError as err:
            reason = f"API server refused port-forward to pod {pod}: {describe(err)}"
        except (aiohttp.ClientError, OSError, frames.FrameError) as err:
            reason = f"{type(err).__name__}: {err}"
        except asyncio.CancelledError:
            if ws is not None:  # cancelled mid-handshake: release the connection, then go
                await asyncio.shield(_close_quietly(ws))
            raise
        if ws is not None:
            await _close_quietly(ws)
        raise DialError(reason)

    async def list_pods(
        self, namespace: str, label_selector: str
    ) -> tuple[list[dict[str, Any]], str]:
        """Pods and the list's resourceVersion (the point a watch continues from)."""
        url = f"{self._host}/api/v1/namespaces/{quote(namespace)}/pods"
        async with self._http().get(
            url,
            params={"labelSelector": label_selector},
            headers=await self._headers(),
            timeout=aiohttp.ClientTimeout(total=10),
        ) as resp:
            if resp.status >= 400:
                raise ClusterUnreachable(f"listing pods: HTTP {resp.status} {await resp.text()}")
            body = await resp.json()
        return list(body.get("items") or []), str(body["metadata"].get("resourceVersion", ""))

    async def watch_pods(
        self, namespace: str, label_selector: str
    ) -> AsyncGenerator[list[dict[str, Any]], None]:
        """Yield the full set of matching pods now and after every change (list, then watch;
        relist when the watch breaks or the resourceVersion expires). Runs until cancelled."""
        attempt = 0
        while True:
            try:
                items, version = await self.list_pods(namespace, label_selector)
                pods = {p["metadata"]["name"]: p for p in items}
                attempt = 0
                yield list(pods.values())
                async with contextlib.aclosing(
                    self._watch(namespace, label_selector, version)
                ) as events:
                    async for kind, obj in events:
                        name = obj["metadata"]["name"]
                        if kind == "DELETED":
                            pods.pop(name, None)
                        else:
                            pods[name] = obj
                        yield list(pods.values())
            except (aiohttp.ClientError, OSError, ClusterUnreachable, TimeoutError, ValueError):
                pass
            await asyncio.sleep(_WATCH_RETRY[min(attempt, len(_WATCH_RETRY) - 1)])
            attempt += 1

    async def _watch(
        self, namespace: str, label_selector: str, version: str
    ) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
        url = f"{self._host}/api/v1/namespaces/{quote(namespace)}/pods"
        params = {
            "labelSelector": label_selector,
            "watch": "1",
            "resourceVersion": version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": "300",
        }
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=330)
        async with self._http().get(
            url, params=params, headers=await self._headers(), timeout=timeout
        ) as resp:
            if resp.status >= 400:
                return
            async for line in resp.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                kind = event.get("type")
                if kind == "ERROR":
                    return  # e.g. 410 Gone: relist
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    yield kind, event["object"]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
