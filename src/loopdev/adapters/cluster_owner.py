"""Whether a local cluster tool's own container publishes a given API server endpoint.

Used by the context safety check only when a kind/k3d-named context points at an address
outside the tool's defaults (``apiServerAddress: 192.168.1.5``): the tool's record (its
container on this machine's Docker engine, publishing port 6443 on that host and port)
then shows the endpoint is that cluster's. One inspect call with a short timeout; any
failure (no Docker, no such container) means "not shown".
"""

from __future__ import annotations

from typing import Any

_CONTAINERS = {
    "kind": "{}-control-plane",
    "k3d": "k3d-{}-serverlb",
}
_API_PORT = "6443/tcp"


def published_by_tool(tool: str, cluster: str, host: str, port: int | None) -> bool:
    """True when ``tool``'s container for ``cluster`` publishes the API on ``host:port``."""
    pattern = _CONTAINERS.get(tool)
    if pattern is None or port is None:
        return False
    try:
        import docker

        client: Any = docker.APIClient(timeout=2, **docker.utils.kwargs_from_env())
        try:
            info = client.inspect_container(pattern.format(cluster))
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - no engine, no container, no permission: not shown
        return False
    bindings = ((info.get("NetworkSettings") or {}).get("Ports") or {}).get(_API_PORT) or []
    return any(b.get("HostIp") == host and str(b.get("HostPort")) == str(port) for b in bindings)
