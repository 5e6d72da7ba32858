"""``FakeCluster``: the fake API server on its own thread and loop, for sync or async tests.

Start/stop cycles keep the state (objects, containers), so resilience tests can take the
server away and bring it back on the same port.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import docker

from tests.support.kubeconfig import write_kubeconfig

from .dockerrt import remove_labelled
from .server import FakeKube, RequestRecord, ServerOptions

if TYPE_CHECKING:
    import kubernetes.client

T = TypeVar("T")


class FakeCluster:
    def __init__(
        self,
        client: docker.DockerClient,
        kubeconfig: Path,
        context: str = "kind-loopdev-test",
        options: ServerOptions | None = None,
    ) -> None:
        self.kube = FakeKube(client, options)
        self.kubeconfig = kubeconfig
        self.context = context
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fakekube", daemon=True)
        self._thread.start()
        atexit.register(self._sweep_at_exit)

    def _sweep_at_exit(self) -> None:
        """A process that exits without ``close()`` still removes this cluster's containers."""
        remove_labelled(self.kube.client, f"fakekube.cluster={self.kube.cluster_id}")

    # ---- plumbing --------------------------------------------------------------------------
    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run a coroutine on the server's loop (state lives there) and wait for it."""
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(timeout)

    def call(self, fn: Any, *args: Any) -> Any:
        """Run a plain function on the server loop thread (store access is not thread-safe)."""

        async def wrapper() -> Any:
            return fn(*args)

        return self.run(wrapper())

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeCluster:
        self.port = self.run(self.kube.serve(self.port))
        write_kubeconfig(
            self.kubeconfig, self.url, self.token, self.context, ca_pem=self.kube.ca_pem
        )
        return self

    def stop(self) -> None:
        """Stop serving HTTP (connections drop) but keep objects and containers."""
        self.run(self.kube.stop_serving())

    def close(self) -> None:
        atexit.unregister(self._sweep_at_exit)
        try:
            self.run(self.kube.close(), timeout=120)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    # ---- accessors -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_pem(self) -> bytes:
        """PEM of the CA that signed the server certificate (also in the kubeconfig)."""
        return self.kube.ca_pem

    @property
    def token(self) -> str:
        return self.kube.token

    def write_kubeconfig(self, path: Path, context: str, namespace: str | None = None) -> Path:
        """Another kubeconfig for this same server under a context name the test chooses
        (e.g. ``prod-cluster`` to check that loopdev refuses non-local contexts)."""
        return write_kubeconfig(path, self.url, self.token, context, namespace, self.kube.ca_pem)

    def api_client(self) -> kubernetes.client.ApiClient:
        """A fresh official-client ApiClient configured from this cluster's kubeconfig."""
        import kubernetes.client  # lazy: the standalone server starts ~0.5 s faster without it
        import kubernetes.config

        cfg = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(
            str(self.kubeconfig), context=self.context, client_configuration=cfg
        )
        return kubernetes.client.ApiClient(cfg)

    @property
    def server_version(self) -> str:
        """The Kubernetes version the server claims, e.g. ``1.28``."""
        return str(self.kube.version)

    def set_server_version(self, version: str) -> None:
        """Claim another version (``/version``, exec negotiation) from the next request on."""
        self.call(self.kube.set_server_version, version)

    def requests(self) -> list[RequestRecord]:
        return list(self.kube.requests)

    def write_count(self) -> int:
        """How many object writes (POST/PUT/PATCH/DELETE, not exec/portforward) were served."""
        return sum(1 for r in self.kube.requests if r.is_write)

    def compact(self) -> int:
        """Drop watch history now; watches resuming from an older resourceVersion get 410."""
        return int(self.call(self.kube.store.compact))

    def get_object(self, group: str, plural: str, namespace: str, name: str) -> Any:
        """Read an object straight from the store (None if absent); no HTTP, not counted."""

        def read() -> Any:
            res = self.kube.store.kind_of((group, plural))
            return self.kube.store.find(res, namespace, name)

        return self.call(read)
