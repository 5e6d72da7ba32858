"""How built images reach the cluster: shared daemon, kind/k3d/minikube load, or a registry.

``choose_delivery`` is the pure decision (unit-tested); ``detect_delivery`` gathers its
inputs (the KEP-1755 ``local-registry-hosting`` ConfigMap) and builds the ``Delivery``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlparse

import yaml

from loopdev.build.delivery_impl import CliLoad, NodeImport, Registry, SharedDaemon, registry_ref
from loopdev.config.model import Loopfile
from loopdev.errors import BuildError

T = TypeVar("T")
SHARED_CONTEXTS = ("docker-desktop", "docker-for-desktop", "orbstack", "rancher-desktop", "colima")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0", "host.docker.internal")


class Delivery(Protocol):
    """Where the cluster reads images; ``ref`` is always the locally built tag."""

    name: str

    def cluster_ref(self, ref: str) -> str:
        """The reference manifests must use for ``ref`` (no I/O)."""
        ...

    async def has_image(self, ref: str) -> bool: ...

    async def deliver(self, ref: str) -> str: ...


@dataclass(frozen=True)
class DeliveryChoice:
    kind: str  # "shared" | "kind" | "k3d" | "minikube" | "registry"
    cluster: str = ""
    registry: str = ""  # push to (host[:port][/prefix])
    pull_registry: str = ""  # what the cluster's runtime pulls from (KEP-1755)
    reason: str = ""

    def cluster_ref(self, ref: str) -> str:
        """The reference manifests use for the locally built ``ref`` under this delivery;
        equal to ``make_delivery(self, ...).cluster_ref(ref)`` (what ``up`` applies)."""
        return registry_ref(ref, self.pull_registry) if self.kind == "registry" else ref


def parse_registry_hosting(text: str | None) -> tuple[str, str] | None:
    """``localRegistryHosting.v1`` YAML -> (push host, host the container runtime pulls from)."""
    if not text:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict) or not data.get("host"):
        return None
    host = str(data["host"])
    return host, str(data.get("hostFromContainerRuntime") or host)


def needs_cluster_lookup(
    mode: str, registry: str | None, kube_context: str, env: Mapping[str, str]
) -> bool:
    """Whether the KEP-1755 ConfigMap could change ``choose_delivery``'s answer."""
    if mode not in ("auto", "registry") or registry:
        return False
    if mode == "auto" and (
        kube_context in SHARED_CONTEXTS or env.get("MINIKUBE_ACTIVE_DOCKERD") == kube_context
    ):
        return False
    return bool(kube_context)


def choose_delivery(
    mode: str,
    registry: str | None,
    kube_context: str,
    server_url: str | None,
    hosting: tuple[str, str] | None,
    env: Mapping[str, str],
    nodes_found: bool | None = None,
) -> DeliveryChoice:
    """Pick the delivery (pure): loopfile override, context name, KEP-1755, local server.

    ``nodes_found``: whether kind/k3d node containers for the context's cluster run on this
    Docker engine (None: not looked). A ``kind-*`` context without nodes here but with a
    local API server is a cluster on this engine (e.g. the test harness): shared daemon.
    """
    ctx = kube_context
    cluster = ctx.split("-", 1)[1] if ctx.startswith(("kind-", "k3d-")) else ctx
    if mode == "registry" or (mode == "auto" and registry):
        reg, pull = (registry, registry) if registry else (hosting or ("", ""))
        if not reg:
            raise BuildError(
                "build.delivery is 'registry' but no registry is known",
                "set build.registry in the loopfile (e.g. localhost:5000)",
            )
        return DeliveryChoice("registry", registry=reg, pull_registry=pull, reason="loopfile")
    if mode in ("shared", "kind", "k3d"):
        return DeliveryChoice(mode, cluster=cluster or "kind", reason="loopfile")
    if not ctx:
        return DeliveryChoice("shared", reason="no kube context: images stay in this Docker engine")
    if ctx in SHARED_CONTEXTS:
        return DeliveryChoice("shared", reason=f"context {ctx} runs on this Docker engine")
    if env.get("MINIKUBE_ACTIVE_DOCKERD") == ctx and ctx:
        return DeliveryChoice("shared", reason="minikube docker-env is active")
    if hosting:
        return DeliveryChoice("registry", registry=hosting[0], pull_registry=hosting[1],
                              reason="cluster announces a local registry (KEP-1755)")  # fmt: skip
    host = urlparse(server_url or "").hostname or ""
    if ctx.startswith(("kind-", "k3d-")):
        tool = ctx.split("-", 1)[0]
        if nodes_found is not False:
            return DeliveryChoice(tool, cluster=cluster, reason=f"{tool} cluster {cluster}")
        if host in LOCAL_HOSTS:
            why = f"no {tool} nodes on this Docker engine and the API server is local"
            return DeliveryChoice("shared", reason=why)
        raise BuildError(
            f"{tool} cluster {cluster} has no node containers on this Docker engine",
            f"start it ({tool} get clusters) or set build.delivery / build.registry",
        )
    if ctx == "minikube" or env.get("MINIKUBE_ACTIVE_DOCKERD"):
        return DeliveryChoice("minikube", cluster=ctx or "minikube", reason="minikube")
    if host in LOCAL_HOSTS:
        return DeliveryChoice("shared", reason=f"API server {host} runs on this machine")
    raise BuildError(
        f"cannot tell how images reach the cluster of context {ctx!r}",
        "set build.delivery (shared, kind, k3d, registry) or build.registry in the loopfile",
    )


async def read_registry_hosting(kube_api: object | None) -> tuple[str, str] | None:
    """Read the KEP-1755 ConfigMap through whatever kube client we were given (or None)."""
    if kube_api is None:
        return None
    data: Any = None
    try:
        if hasattr(kube_api, "served_kinds") and hasattr(kube_api, "get"):  # adapters.kube
            data = await kube_api.get("v1", "ConfigMap", "local-registry-hosting", "kube-public")
        elif hasattr(kube_api, "read_namespaced_config_map"):  # kubernetes.client.CoreV1Api
            cm = await asyncio.to_thread(
                kube_api.read_namespaced_config_map, "local-registry-hosting", "kube-public"
            )
            data = cm.data
    except Exception:  # noqa: BLE001 - absent ConfigMap or no permission: no registry announced
        return None
    if isinstance(data, dict) and "data" in data and isinstance(data["data"], dict):
        data = data["data"]
    return parse_registry_hosting((data or {}).get("localRegistryHosting.v1"))


def make_delivery(
    choice: DeliveryChoice, docker: Any, which: Callable[[str], str | None] = shutil.which
) -> Delivery:
    """The ``Delivery`` for a choice; kind/k3d fall back to importing into node containers."""
    if choice.kind == "shared":
        return SharedDaemon(docker)
    if choice.kind == "registry":
        return Registry(docker, choice.registry, choice.pull_registry)
    if choice.kind == "minikube":
        return CliLoad(docker, "minikube", ["minikube", "-p", choice.cluster, "image", "load"])
    tool = "kind" if choice.kind == "kind" else "k3d"
    label = f"io.x-k8s.kind.cluster={choice.cluster}" if tool == "kind" else (
        f"k3d.cluster={choice.cluster}"
    )  # fmt: skip
    nodes = NodeImport(docker, tool, label)
    if which(tool) is None:
        return nodes
    cmd = ["kind", "load", "docker-image", "--name", choice.cluster]
    if tool == "k3d":
        cmd = ["k3d", "image", "import", "-c", choice.cluster]
    return CliLoad(docker, tool, cmd, checker=nodes)


async def detect_delivery(
    config: Loopfile,
    kube_context: str,
    server_url: str | None,
    kube_api: object | None,
    docker: Any = None,
) -> Delivery:
    """Choose and build the delivery for this session (``docker``: a ``DockerAdapter``)."""
    if docker is None:
        from loopdev.adapters.docker import DockerAdapter

        docker = await DockerAdapter.connect()
    choice = await delivery_choice(config, kube_context, server_url, kube_api, docker)
    return make_delivery(choice, docker)


async def delivery_choice(
    config: Loopfile,
    kube_context: str,
    server_url: str | None,
    kube_api: object | None,
    docker: Any = None,
) -> DeliveryChoice:
    """The session's ``DeliveryChoice``: what ``up`` and ``build`` deliver with, and what
    ``render`` prefixes references by. Without ``docker`` (render) kind/k3d node containers
    are not looked for; that only tells kind from shared, which name images alike."""
    mode, registry = config.build.delivery, config.build.registry
    hosting = None
    if needs_cluster_lookup(mode, registry, kube_context, os.environ):
        hosting = await read_registry_hosting(kube_api)
    nodes = await _nodes_found(docker, mode, kube_context) if docker is not None else None
    return choose_delivery(mode, registry, kube_context, server_url, hosting, os.environ, nodes)


def lookup_client(kube_context: str) -> Any:
    """A kube adapter for the KEP-1755 lookup (short timeout); None when unusable."""
    try:
        from loopdev.adapters.kube import KubeClient, resolve_target

        return KubeClient(resolve_target(kube_context), request_timeout=3.0)
    except Exception:  # noqa: BLE001 - no cluster access: delivery falls back to the context name
        return None


def planned_cluster_refs(
    config: Loopfile, refs: Mapping[str, str], context: str | None
) -> tuple[dict[str, str], str | None]:
    """Local tags -> the references ``up`` applies (registry prefix included), through the
    ``DeliveryChoice`` ``up`` delivers with; an undecidable delivery leaves them as built
    and says why. Safe to call from a thread that runs a loop (async callers, tests)."""
    try:
        choice = _run_coroutine(planned_delivery(config, context))
    except BuildError as err:
        return dict(refs), f"{err.message}; images keep their local names"
    return {name: choice.cluster_ref(ref) for name, ref in refs.items()}, None


def _run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def planned_delivery(config: Loopfile, context: str | None) -> DeliveryChoice:
    """The choice for a command without a session (``render``): kubeconfig read directly,
    the cluster asked only when its KEP-1755 ConfigMap could change the answer."""
    from loopdev.build.kubeinfo import kube_target

    kube_context, server = kube_target(context)
    settings = config.build
    kube = None
    if needs_cluster_lookup(settings.delivery, settings.registry, kube_context, os.environ):
        kube = lookup_client(kube_context)
    try:
        return await delivery_choice(config, kube_context, server, kube)
    finally:
        if kube is not None:
            kube.close()


async def _nodes_found(docker: Any, mode: str, kube_context: str) -> bool | None:
    """For an auto-detected kind/k3d context: do its node containers run on this engine?"""
    if mode != "auto" or not kube_context.startswith(("kind-", "k3d-")):
        return None
    tool, cluster = kube_context.split("-", 1)
    label = f"io.x-k8s.kind.cluster={cluster}" if tool == "kind" else f"k3d.cluster={cluster}"
    return bool(await docker.containers_with_label(label))
