from __future__ import annotations

import pytest

from loopdev.deploy.safety import check_context, is_local, judge, server_host
from loopdev.errors import EXIT_USAGE, ContextRefused


@pytest.mark.parametrize(
    ("context", "server"),
    [
        ("kind-dev", "https://127.0.0.1:40123"),  # kind's default apiServerAddress
        ("kind-dev", "https://0.0.0.0:6443"),
        ("kind-dev", "https://dev-control-plane:6443"),  # kind get kubeconfig --internal
        ("k3d-x", "https://0.0.0.0:39271"),  # k3d's default kubeAPI.hostIP
        ("k3d-x", "https://host.docker.internal:6550"),
        ("k3d-x", "https://k3d-x-serverlb:6443"),
        ("minikube", "https://192.168.49.2:8443"),  # the Docker driver's network
        ("minikube", "https://192.168.59.100:8443"),  # VirtualBox host-only
        ("minikube", "https://172.17.120.5:8443"),  # Hyper-V
        ("minikube", "https://127.0.0.1:55000"),  # Docker driver on macOS
        ("docker-desktop", "https://kubernetes.docker.internal:6443"),
        ("docker-for-desktop", "https://localhost:6443"),
        ("rancher-desktop", "https://127.0.0.1:6443"),
        ("orbstack", "https://127.0.0.1:26443"),
    ],
)
def test_local_tools_at_the_addresses_they_use_are_allowed(context: str, server: str) -> None:
    assert is_local(context, server)
    check_context(context, server)


@pytest.mark.parametrize(
    ("context", "server", "tool"),
    [
        ("kind-remote", "https://10.255.255.1:6443", "kind"),  # the reported case
        ("kind-dev", "https://dev.example.com:6443", "kind"),
        ("kind-dev", "https://other-control-plane:6443", "kind"),  # another cluster's name
        ("k3d-x", "https://192.168.1.20:6443", "k3d"),
        ("minikube", "https://35.1.2.3:8443", "minikube"),  # public: not a local VM
        ("minikube", "https://minikube.example.com:8443", "minikube"),
        ("docker-desktop", "https://10.0.0.5:6443", "Docker Desktop"),
        ("rancher-desktop", "https://192.168.5.15:6443", "Rancher Desktop"),
        ("orbstack", "https://34.1.1.1", "OrbStack"),
    ],
)
def test_a_local_name_at_another_address_is_refused_and_explained(
    context: str, server: str, tool: str
) -> None:
    assert not is_local(context, server)
    with pytest.raises(ContextRefused) as err:
        check_context(context, server)
    text = err.value.render()
    assert f"named like a {tool} cluster, but its API server {server_host(server)}" in text
    assert "is not an address" in text and f"allowContexts: ['{context}']" in text


@pytest.mark.parametrize(
    "server",
    [
        "https://127.0.0.1:6443",
        "https://127.1.2.3:6443",
        "https://localhost:8443",
        "https://api.localhost:8443",
        "https://[::1]:6443",
        "https://[::ffff:127.0.0.1]:6443",
        "https://0.0.0.0:6443",
        "127.0.0.1",
    ],
)
def test_servers_on_this_machine_are_allowed_whatever_the_name(server: str) -> None:
    assert is_local("prod-looking-name", server)


def test_remote_context_is_refused_with_how_to_allow() -> None:
    with pytest.raises(ContextRefused) as err:
        check_context("gke_prod_europe", "https://35.1.2.3")
    assert err.value.exit_code == EXIT_USAGE
    text = err.value.render()
    assert "gke_prod_europe" in text and "allowContexts" in text and "35.1.2.3" in text
    assert "not on this machine" in text


def test_a_private_address_is_not_local_by_itself() -> None:
    local, why = judge("lab", "https://192.168.49.2:8443")
    assert not local and "192.168.49.2 is not on this machine" in why


def test_no_server_is_not_local_even_with_a_local_name() -> None:
    assert judge("kind-dev", "") == (
        False,
        "it is named like a kind cluster but names no API server",
    )


def test_allow_contexts_allows_by_name_or_pattern() -> None:
    check_context("staging", "https://10.0.0.1", allow=["staging"])
    check_context("team-dev-1", "https://10.0.0.1", allow=["team-dev-*"])
    check_context("kind-remote", "https://10.255.255.1", allow=["kind-remote"])
    with pytest.raises(ContextRefused):
        check_context("kindred", "https://10.0.0.1", allow=["staging"])


def test_server_host_parses_ipv6_and_garbage() -> None:
    assert server_host("https://[::1]:6443") == "::1"
    assert server_host("http://[bad") == ""
    assert server_host("https://Kubernetes.Docker.Internal.:6443") == "kubernetes.docker.internal"


def test_a_tool_record_can_show_a_non_default_endpoint_is_the_tools() -> None:
    """kind with ``apiServerAddress: 192.168.1.5``: local when the tool's container says so."""
    asked: list[tuple[str, str, str, int | None]] = []

    def owner(tool: str, cluster: str, host: str, port: int | None) -> bool:
        asked.append((tool, cluster, host, port))
        return (cluster, host, port) == ("lab", "192.168.1.5", 40123)

    check_context("kind-lab", "https://192.168.1.5:40123", owner=owner)
    assert asked == [("kind", "lab", "192.168.1.5", 40123)]
    with pytest.raises(ContextRefused) as err:
        check_context("kind-remote", "https://10.255.255.1:6443", owner=owner)
    assert "no Docker container remote-control-plane publishes it here" in err.value.render()
    asked.clear()
    check_context("kind-lab", "https://127.0.0.1:1")  # the defaults never ask
    assert asked == []
