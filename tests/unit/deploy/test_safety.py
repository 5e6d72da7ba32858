from __future__ import annotations

import pytest

from loopdev.deploy.safety import check_context, is_local, server_host
from loopdev.errors import EXIT_USAGE, ContextRefused


@pytest.mark.parametrize(
    "context",
    [
        "kind-dev",
        "k3d-x",
        "minikube",
        "docker-desktop",
        "docker-for-desktop",
        "rancher-desktop",
        "orbstack",
    ],
)
def test_local_names_are_allowed(context: str) -> None:
    assert is_local(context, "https://10.1.2.3:6443")
    check_context(context, "https://10.1.2.3:6443")


@pytest.mark.parametrize(
    "server",
    ["https://127.0.0.1:6443", "https://localhost:8443", "https://[::1]:6443", "127.0.0.1"],
)
def test_local_servers_are_allowed(server: str) -> None:
    assert is_local("prod-looking-name", server)


def test_remote_context_is_refused_with_how_to_allow() -> None:
    with pytest.raises(ContextRefused) as err:
        check_context("gke_prod_europe", "https://35.1.2.3")
    assert err.value.exit_code == EXIT_USAGE
    text = err.value.render()
    assert "gke_prod_europe" in text and "allowContexts" in text and "35.1.2.3" in text


def test_allow_contexts_allows_by_name_or_pattern() -> None:
    check_context("staging", "https://10.0.0.1", allow=["staging"])
    check_context("team-dev-1", "https://10.0.0.1", allow=["team-dev-*"])
    with pytest.raises(ContextRefused):
        check_context("kindred", "https://10.0.0.1", allow=["staging"])


def test_server_host_parses_ipv6_and_garbage() -> None:
    assert server_host("https://[::1]:6443") == "::1"
    assert server_host("http://[bad") == ""
