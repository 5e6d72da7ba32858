"""The fake API server: aiohttp app + store + controllers + kubelet on one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import docker
import trustme
from aiohttp import web

from tests.support.images import ensure_busybox_image

from . import kubeproto, openapi
from .api import Api, json_response, page_not_found
from .controllers import Controllers
from .errors import ApiError
from .kubelet import Kubelet, KubeletConfig
from .negotiate import etagged, last_modified
from .requestlog import RequestLog
from .resources import Registry
from .rootca import RootCaPublisher
from .store import Store
from .streams import PodStreams
from .version import DEFAULT_VERSION, ServerVersion

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass
class RequestRecord:
    method: str
    path: str
    query: str

    @property
    def is_write(self) -> bool:
        """Writes to objects; exec/attach/portforward (POSTable streams) do not count."""
        tail = self.path.rsplit("/", 1)[-1]
        return self.method in MUTATING and tail not in ("exec", "attach", "portforward")


@dataclass
class ServerOptions:
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    backoff_base: float | None = None
    grace_cap: int | None = None
    server_version: str = DEFAULT_VERSION  # the Kubernetes version claimed (see version.py)


class FakeKube:
    """Owns the state; ``serve``/``stop_serving`` may cycle while the state lives on."""

    def __init__(
        self,
        client: docker.DockerClient,
        options: ServerOptions | None = None,
        server_version: str | None = None,
    ) -> None:
        self.client = client
        self.options = options or ServerOptions()
        self.version = ServerVersion.parse(server_version or self.options.server_version)
        self.token = self.options.token
        self.cluster_id = secrets.token_hex(4)
        self.registry = Registry()
        self.store = Store(self.registry)
        self.requests = RequestLog()  # RequestRecords; counts in requestlog.py
        self.kubelet: Kubelet | None = None
        self.runner: web.AppRunner | None = None
        self.port = 0
        self._bg: list[asyncio.Task[Any]] = []
        # kubectl only sends bearer tokens over TLS, so the fake serves HTTPS with its own CA.
        self.ca = trustme.CA(key_type=trustme.KeyType.ECDSA)
        self.ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost", key_type=trustme.KeyType.ECDSA).configure_cert(
            self.ssl
        )

    @property
    def ca_pem(self) -> bytes:
        return bytes(self.ca.cert_pem.bytes())

    async def boot(self) -> None:
        """Start controllers and kubelet and seed system objects (once)."""
        sandbox = await asyncio.to_thread(ensure_busybox_image, self.client)
        cfg = KubeletConfig(cluster_id=self.cluster_id, sandbox_image=sandbox)
        if self.options.backoff_base is not None:
            cfg.backoff_base = self.options.backoff_base
        if self.options.grace_cap is not None:
            cfg.grace_cap = self.options.grace_cap
        self.kubelet = Kubelet(self.store, self.client, cfg)
        controllers = Controllers(self.store)
        self._bg.append(asyncio.get_running_loop().create_task(controllers.run()))
        self.store.listeners.append(self._namespace_defaults)
        self.store.listeners.append(RootCaPublisher(self.store, self.ca_pem))
        ns_res = self.store.kind_of(("", "namespaces"))
        for ns in SYSTEM_NAMESPACES:
            self.store.create(ns_res, "", {"metadata": {"name": ns}})
        self.store.create(self.store.kind_of(("", "nodes")), "", node_object(self.version))

    def _namespace_defaults(self, ev: Any) -> None:
        """Like the service-account controller: every new namespace gets ``default`` SA."""
        if ev.key == ("", "namespaces") and ev.type == "ADDED":
            name = ev.obj["metadata"]["name"]
            with contextlib.suppress(ApiError):
                self.store.create(
                    self.store.kind_of(("", "serviceaccounts")),
                    name,
                    {"metadata": {"name": "default"}},
                )

    def app(self) -> web.Application:
        assert self.kubelet is not None
        streams = PodStreams(self.kubelet, lambda: self.version)
        from .portforward import portforward

        async def pf(request: web.Request, pod: dict[str, Any]) -> web.StreamResponse:
            return await portforward(request, pod, self.kubelet)

        api = Api(self.store, {"exec": streams.exec, "log": streams.log, "portforward": pf})
        app = web.Application(middlewares=[self._middleware], client_max_size=1 << 30)
        app.router.add_get("/version", self._version)
        app.router.add_get("/version/", self._version)
        for probe in ("/healthz", "/readyz", "/livez"):
            app.router.add_get(probe, _ok)
        app.router.add_get("/", self._root_paths)
        app.router.add_get("/openapi/v2", self._openapi_v2)
        app.router.add_get("/openapi/v3", self._openapi_root)
        app.router.add_get("/openapi/v3/{gv:.*}", self._openapi_group)
        app.router.add_route("*", "/api{tail:.*}", api.handle)
        app.router.add_route("*", "/apis{tail:.*}", api.handle)
        app.router.add_route("*", "/{tail:.*}", _not_found)
        return app

    def set_server_version(self, version: str) -> None:
        """Claim another Kubernetes version from the next request on (``/version``, exec
        negotiation); the node object keeps the version it booted with."""
        self.version = ServerVersion.parse(version)

    async def _version(self, _request: web.Request) -> web.Response:
        return web.Response(text=json.dumps(self.version.info()), content_type="application/json")

    async def _openapi_root(self, request: web.Request) -> web.Response:
        # kubectl#3/#21: text/plain with Last-Modified, which kubectl revalidates (304)
        doc = openapi.root_doc(self.registry)
        return last_modified(request, doc, "text/plain; charset=utf-8")

    async def _openapi_v2(self, request: web.Request) -> web.Response:
        accept = request.headers.get("Accept", "*/*")
        if "protobuf" in accept and "json" not in accept:  # kubectl 1.28 (dispatcher#6)
            return web.Response(
                body=kubeproto.openapi_v2_document("Kubernetes", self.version.git_version),
                headers={
                    "Content-Type": "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
                },
            )
        return etagged(request, openapi.v2_doc(self.registry), "application/json")

    async def _root_paths(self, _request: web.Request) -> web.Response:
        return json_response(openapi.root_paths(self.registry))

    async def _openapi_group(self, request: web.Request) -> web.Response:
        doc = openapi.group_doc(self.registry, request.match_info["gv"])
        if doc is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return json_response(doc)

    @web.middleware
    async def _middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        self.requests.append(RequestRecord(request.method, request.path, request.query_string))
        if (
            request.path not in ("/healthz", "/readyz", "/livez")
            and request.headers.get("Authorization") != f"Bearer {self.token}"
        ):
            return json_response(ApiError(401, "Unauthorized", "Unauthorized").status(), 401)
        try:
            return await handler(request)
        except ApiError as exc:
            return json_response(exc.status(), exc.code)

    async def serve(self, port: int = 0, host: str = "127.0.0.1") -> int:
        if self.kubelet is None:
            await self.boot()
        self.runner = web.AppRunner(self.app(), handle_signals=False, shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port, reuse_address=True, ssl_context=self.ssl)
        await site.start()
        self.port = int(self.runner.addresses[0][1])
        return self.port

    async def stop_serving(self) -> None:
        """Drop every connection (watches end), keep the state and the containers."""
        for w in list(self.store.watchers):
            w.queue.put_nowait(None)
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def close(self) -> None:
        await self.stop_serving()
        for task in self._bg:
            task.cancel()
        if self.kubelet is not None:
            await self.kubelet.shutdown()


async def _not_found(_request: web.Request) -> web.Response:
    return page_not_found()


async def _ok(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def node_object(version: ServerVersion) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "fakekube-node",
            "labels": {
                "kubernetes.io/hostname": "fakekube-node",
                "kubernetes.io/os": "linux",
                "node-role.kubernetes.io/control-plane": "",
            },
        },
        "spec": {},
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                }
            ],
            "nodeInfo": {
                "kubeletVersion": version.git_version,
                "containerRuntimeVersion": "docker://fake",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": "fakekube-node"},
            ],
        },
    }
