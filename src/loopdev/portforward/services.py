"""Forwarding to a Service (Skaffold's ``resourceType: service``): which pods, which port (pure).

A port-forward never goes through the Service's cluster IP (the API server's port-forward is
per pod); like ``kubectl port-forward svc/NAME``, it picks a Ready pod the Service selects and
maps the Service port to that pod's ``targetPort``, resolving a named target port in the pod.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Obj = Mapping[str, Any]


class ServiceProblem(ValueError):
    """A Service that cannot be forwarded to as asked (no selector, no such port)."""


def selected_pods(pods: Iterable[Obj], service: Obj) -> list[Obj]:
    """The pods whose labels carry every key/value of the Service's selector."""
    selector = (service.get("spec") or {}).get("selector") or {}
    if not selector:
        name = (service.get("metadata") or {}).get("name", "?")
        raise ServiceProblem(
            f"service {name} has no selector, expected a Service that selects pods "
            "(forward to its pods' workload instead)"
        )
    return [
        p
        for p in pods
        if all(
            ((p.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in selector.items()
        )
    ]


def target_port(service: Obj, remote: int | str) -> int | str:
    """The pod port behind Service port ``remote`` (a number, or the Service port's name):
    its ``targetPort`` (a number or a container port name), else the port itself."""
    ports = list((service.get("spec") or {}).get("ports") or ())
    wanted = int(remote) if isinstance(remote, str) and remote.isdigit() else remote
    for port in ports:
        if port.get("port") == wanted or (isinstance(wanted, str) and port.get("name") == wanted):
            target = port.get("targetPort", port.get("port"))
            return int(target) if isinstance(target, str) and target.isdigit() else target
    name = (service.get("metadata") or {}).get("name", "?")
    shown = ", ".join(_describe(p) for p in ports) or "none"
    raise ServiceProblem(f"service {name} has no port {remote!r}; its ports: {shown}")


def _describe(port: Obj) -> str:
    name = port.get("name")
    return f"{port.get('port')} ({name})" if name else str(port.get("port"))
