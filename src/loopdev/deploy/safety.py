"""Context safety: never write to a cluster that does not look local unless the user allowed it.

Tilt and Skaffold both guard against deploying a dev loop into production by accident; we
refuse before the first write, with a message that says exactly how to allow the context.
"""

from __future__ import annotations

from collections.abc import Iterable
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
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "host.docker.internal"})


def server_host(server: str) -> str:
    """The host part of an API server URL (brackets of IPv6 literals removed)."""
    try:
        host = urlsplit(server if "://" in server else f"https://{server}").hostname
    except ValueError:
        return ""
    return (host or "").lower()


def is_local(context: str, server: str = "") -> bool:
    """True for contexts that are local by name, or whose server is on this machine."""
    if any(fnmatchcase(context, pat) for pat in LOCAL_CONTEXT_PATTERNS):
        return True
    host = server_host(server)
    return host in LOCAL_HOSTS or host.startswith("127.")


def check_context(context: str, server: str, allow: Iterable[str] = ()) -> None:
    """Raise ContextRefused unless ``context`` is local or listed in ``allowContexts``."""
    allowed = tuple(allow)
    if is_local(context, server) or any(fnmatchcase(context, pat) for pat in allowed):
        return
    where = f" (server {server_host(server) or server})" if server else ""
    raise ContextRefused(
        f"refusing to deploy to kube context '{context}'{where}: it does not look local",
        hint=(
            f"if this cluster is meant for development, add it to the loopfile: "
            f"allowContexts: ['{context}'] ; or pick a local one with --context "
            f"(local: {', '.join(LOCAL_CONTEXT_PATTERNS)}, or a server on localhost)"
        ),
    )
