"""Context safety: never write to a cluster that does not look local unless the user allowed it.

Tilt and Skaffold both guard against deploying a dev loop into production by accident; we
refuse before the first write, with a message that says exactly how to allow the context.

A name alone proves nothing (a context called ``kind-remote`` can point at any server), so
a local-looking name counts only with an address its tool actually uses:

- kind publishes the API server on ``127.0.0.1`` (its default ``apiServerAddress``) or on
  ``0.0.0.0``; ``kind get kubeconfig --internal`` names ``<cluster>-control-plane``.
- k3d publishes on ``0.0.0.0`` or ``127.0.0.1`` (its ``kubeAPI.hostIP``), writes
  ``host.docker.internal`` on Docker Desktop, and names ``k3d-<cluster>-serverlb`` inside.
- minikube: ``127.0.0.1`` with the Docker driver on macOS/Windows, else the node's private
  address: ``192.168.49.2`` (Docker/Podman network), ``192.168.39.x`` (kvm2),
  ``192.168.59.x``/``192.168.99.x`` (VirtualBox host-only), ``192.168.64.x`` (hyperkit,
  vfkit), ``172.x`` (Hyper-V): any private (RFC 1918) address.
- Docker Desktop: ``kubernetes.docker.internal`` (127.0.0.1 in the hosts file), or loopback.
- Rancher Desktop: ``127.0.0.1``. OrbStack: ``127.0.0.1`` (or ``k8s.orb.local``).

Any context whose server is on this machine (loopback, ``localhost``) is local by address.
For kind and k3d at another address, the tool's own record may show the endpoint is theirs
(their container publishing that host and port); ``owner`` asks, the CLI passes the Docker
lookup (``loopdev.adapters.cluster_owner``), tests pass their own.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from loopdev.errors import ContextRefused

LOCAL_CONTEXT_PATTERNS = (
    "kind-*",
    "k3d-*",
    "minikube",
    "docker-desktop",
    "docker-for-desktop",
    "rancher-desktop",
    "orbstack",
)
# Names that mean this machine from the machine itself.
THIS_MACHINE = frozenset({"localhost", "host.docker.internal", "0.0.0.0", "::"})


@dataclass(frozen=True)
class Tool:
    """A local cluster tool: the context names it writes, the server hosts it uses."""

    label: str
    patterns: tuple[str, ...]
    hosts: Callable[[str], frozenset[str]]  # cluster name -> host names it uses
    private_ok: bool  # whether its nodes sit on a private address of this machine
    where: str  # the addresses, in words, for the refusal


def _none(_: str) -> frozenset[str]:
    return frozenset()


TOOLS = (
    Tool(
        "kind",
        ("kind-*",),
        lambda c: frozenset({f"{c}-control-plane", f"{c}-external-load-balancer"}),
        False,
        "127.0.0.1 or 0.0.0.0 (its apiServerAddress), or <cluster>-control-plane",
    ),
    Tool(
        "k3d",
        ("k3d-*",),
        lambda c: frozenset({f"k3d-{c}-serverlb", f"k3d-{c}-server-0"}),
        False,
        "0.0.0.0 or 127.0.0.1 (its kubeAPI.hostIP), host.docker.internal or k3d-<cluster>-serverlb",
    ),
    Tool(
        "minikube",
        ("minikube",),
        _none,
        True,
        "127.0.0.1 or its node's private address (192.168.49.2 with the Docker driver)",
    ),
    Tool(
        "Docker Desktop",
        ("docker-desktop", "docker-for-desktop"),
        lambda _: frozenset({"kubernetes.docker.internal"}),
        False,
        "kubernetes.docker.internal or 127.0.0.1",
    ),
    Tool("Rancher Desktop", ("rancher-desktop",), _none, False, "127.0.0.1"),
    Tool("OrbStack", ("orbstack",), lambda _: frozenset({"k8s.orb.local"}), False, "127.0.0.1"),
)


def server_host(server: str) -> str:
    """The host part of an API server URL (brackets of IPv6 literals removed)."""
    try:
        host = urlsplit(server if "://" in server else f"https://{server}").hostname
    except ValueError:
        return ""
    return (host or "").lower().rstrip(".")


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped or ip


def on_this_machine(host: str) -> bool:
    """Loopback addresses, ``localhost`` (and ``*.localhost``), 0.0.0.0 and the Docker alias."""
    if host in THIS_MACHINE or host.endswith(".localhost"):
        return True
    ip = _address(host)
    return ip is not None and (ip.is_loopback or ip.is_unspecified)


def _tool(context: str) -> tuple[Tool, str] | None:
    """The local tool whose naming ``context`` follows, and the cluster name in it."""
    for tool in TOOLS:
        for pattern in tool.patterns:
            if fnmatchcase(context, pattern):
                prefix = pattern[:-1] if pattern.endswith("*") else ""
                return tool, context[len(prefix) :] if prefix else context
    return None


Owner = Callable[[str, str, str, "int | None"], bool]  # (tool, cluster, host, port) -> theirs?


def _port(server: str) -> int | None:
    try:
        return urlsplit(server if "://" in server else f"https://{server}").port or 443
    except ValueError:
        return None


def judge(context: str, server: str, owner: Owner | None = None) -> tuple[bool, str]:
    """(local?, why not): local by server address, or by a tool's name with its address
    (or, for kind and k3d, with an endpoint ``owner`` says the tool's container publishes)."""
    host = server_host(server)
    if host and on_this_machine(host):
        return True, ""
    named = _tool(context)
    if named is None:
        where = f"its API server {host or server}" if server else "it names no API server"
        return False, f"{where} is not on this machine and the name is no local cluster's"
    tool, cluster = named
    if not host:
        return False, f"it is named like a {tool.label} cluster but names no API server"
    ip = _address(host)
    if host in tool.hosts(cluster) or (tool.private_ok and ip is not None and ip.is_private):
        return True, ""
    if owner is not None and owner(tool.label, cluster, host, _port(server)):
        return True, ""
    return False, (
        f"it is named like a {tool.label} cluster, but its API server {host} is not an "
        f"address {tool.label} uses ({tool.where}){_owner_note(tool, cluster, owner)}; "
        "a context's name does not say where it points"
    )


def _owner_note(tool: Tool, cluster: str, owner: Owner | None) -> str:
    container = {"kind": f"{cluster}-control-plane", "k3d": f"k3d-{cluster}-serverlb"}
    if owner is None or tool.label not in container:
        return ""
    return f", and no Docker container {container[tool.label]} publishes it here"


def is_local(context: str, server: str = "") -> bool:
    """True for contexts whose server is on this machine, or is the one a local tool named
    by the context uses."""
    return judge(context, server)[0]


def check_context(
    context: str, server: str, allow: Iterable[str] = (), owner: Owner | None = None
) -> None:
    """Raise ContextRefused unless ``context`` is local or listed in ``allowContexts``."""
    allowed = tuple(allow)
    if any(fnmatchcase(context, pat) for pat in allowed):
        return
    local, why = judge(context, server, owner)
    if local:
        return
    raise ContextRefused(
        f"refusing to deploy to kube context '{context}': {why}",
        hint=(
            f"if this cluster is meant for development, add it to the loopfile: "
            f"allowContexts: ['{context}'] ; or pick a local one with --context "
            f"(local: an API server on this machine, or {', '.join(LOCAL_CONTEXT_PATTERNS)} "
            "at the addresses those tools use)"
        ),
    )
