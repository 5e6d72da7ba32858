"""Which pods a Service forward may use, and which pod port a Service port means (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from loopdev.portforward.services import ServiceProblem, selected_pods, target_port


def svc(selector: dict[str, str] | None, *ports: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "web"}, "spec": {"selector": selector, "ports": list(ports)}}


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


def test_selected_pods_need_every_selector_label() -> None:
    pods = [pod("a", app="web", tier="fe"), pod("b", app="web"), pod("c", app="api")]
    chosen = selected_pods(pods, svc({"app": "web", "tier": "fe"}))
    assert [p["metadata"]["name"] for p in chosen] == ["a"]


def test_a_service_without_selector_is_refused() -> None:
    with pytest.raises(ServiceProblem, match="service web has no selector"):
        selected_pods([pod("a")], svc(None))


@pytest.mark.parametrize(
    ("remote", "expected"),
    [(80, 8080), ("80", 8080), ("http", 8080), (9000, "metrics"), ("grpc", 5000)],
)
def test_target_port_by_number_or_name(remote: int | str, expected: int | str) -> None:
    service = svc(
        {"app": "web"},
        {"name": "http", "port": 80, "targetPort": 8080},
        {"name": "m", "port": 9000, "targetPort": "metrics"},
        {"name": "grpc", "port": 5000},  # no targetPort: the port itself
    )
    assert target_port(service, remote) == expected


def test_unknown_service_port_names_the_valid_ones() -> None:
    service = svc({"app": "web"}, {"name": "http", "port": 80}, {"port": 81})
    with pytest.raises(ServiceProblem, match=r"no port 'web'; its ports: 80 \(http\), 81"):
        target_port(service, "web")
