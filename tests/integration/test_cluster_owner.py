"""The Docker lookup behind the context safety check: a kind-named context at a non-default
address is the cluster's when its control-plane container publishes that host and port."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator

import docker
import pytest

from loopdev.adapters.cluster_owner import published_by_tool
from tests.support.labels import test_labels as labels_for_tests

pytestmark = pytest.mark.docker


def _bridge_gateway(client: docker.DockerClient) -> str:
    """An address of this machine that is not loopback: the default bridge's gateway (given,
    or the subnet's first address, which dockerd assigns to the bridge by default)."""
    config = client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    if config.get("Gateway"):
        return str(config["Gateway"])
    return str(next(ipaddress.ip_network(config["Subnet"]).hosts()))


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@pytest.fixture
def fake_kind_node(
    docker_client: docker.DockerClient, busybox_image: str
) -> Iterator[tuple[str, str, int]]:
    cluster = f"ldown{os.getpid()}"
    host = _bridge_gateway(docker_client)
    port = _free_port(host)
    container = docker_client.containers.run(
        busybox_image,
        ["sleep", "300"],
        name=f"{cluster}-control-plane",
        ports={"6443/tcp": (host, port)},
        labels=labels_for_tests(),
        detach=True,
    )
    try:
        yield cluster, host, port
    finally:
        container.remove(force=True)


def test_the_tools_container_shows_its_endpoint(fake_kind_node: tuple[str, str, int]) -> None:
    cluster, host, port = fake_kind_node
    assert published_by_tool("kind", cluster, host, port)
    assert not published_by_tool("kind", cluster, host, port + 1)  # another endpoint
    assert not published_by_tool("kind", cluster, "10.255.255.1", port)
    assert not published_by_tool("kind", f"{cluster}-other", host, port)  # no such container
    assert not published_by_tool("k3d", cluster, host, port)  # k3d names its own containers
