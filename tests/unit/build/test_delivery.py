"""Delivery choice (pure), reference mapping per delivery, and kubeconfig reading."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopdev.build.delivery import (
    DeliveryChoice,
    choose_delivery,
    make_delivery,
    needs_cluster_lookup,
    parse_registry_hosting,
    read_registry_hosting,
)
from loopdev.build.delivery_impl import CliLoad, NodeImport, Registry, SharedDaemon, containerd_name
from loopdev.build.kubeinfo import kube_target
from loopdev.errors import BuildError

HOSTING = ("localhost:5001", "kind-registry:5000")


def choose(
    ctx: str,
    server: str | None = None,
    mode: str = "auto",
    registry: str | None = None,
    hosting: tuple[str, str] | None = None,
    env: dict[str, str] | None = None,
    nodes: bool | None = None,
) -> DeliveryChoice:
    return choose_delivery(mode, registry, ctx, server, hosting, env or {}, nodes)


@pytest.mark.parametrize("ctx", ["docker-desktop", "orbstack", "rancher-desktop"])
def test_desktop_contexts_share_the_daemon_even_with_a_registry(ctx: str) -> None:
    assert choose(ctx, hosting=HOSTING).kind == "shared"


def test_kind_k3d_minikube_by_context_name() -> None:
    assert choose("kind-dev") == DeliveryChoice("kind", cluster="dev", reason="kind cluster dev")
    assert choose("k3d-x").kind == "k3d" and choose("k3d-x").cluster == "x"
    assert choose("minikube").kind == "minikube"
    assert choose("minikube", env={"MINIKUBE_ACTIVE_DOCKERD": "minikube"}).kind == "shared"


def test_kind_context_without_nodes_here() -> None:
    assert choose("kind-dev", "https://127.0.0.1:6443", nodes=True).kind == "kind"
    shared = choose("kind-loopdev-test", "https://127.0.0.1:40001", nodes=False)
    assert shared.kind == "shared" and "no kind nodes" in shared.reason
    with pytest.raises(BuildError, match="kind cluster dev has no node containers"):
        choose("kind-dev", "https://10.1.2.3:6443", nodes=False)


def test_kep_1755_registry_wins_over_node_loading() -> None:
    c = choose("kind-dev", hosting=HOSTING)
    assert (c.kind, c.registry, c.pull_registry) == ("registry", *HOSTING)


def test_local_api_server_shares_the_daemon_remote_is_refused() -> None:
    assert choose("fake", "https://127.0.0.1:6443").kind == "shared"
    assert choose("", None).kind == "shared"  # no cluster at all: images stay local
    with pytest.raises(BuildError, match="cannot tell how images reach") as info:
        choose("prod-eks", "https://abc.eks.amazonaws.com")
    assert "build.delivery" in (info.value.hint or "")


def test_loopfile_overrides() -> None:
    assert choose("kind-dev", mode="shared").kind == "shared"
    assert choose("docker-desktop", mode="kind").kind == "kind"
    reg = choose("docker-desktop", registry="localhost:5000")
    assert (reg.kind, reg.registry, reg.pull_registry) == (
        "registry",
        "localhost:5000",
        "localhost:5000",
    )
    with pytest.raises(BuildError, match="no registry is known"):
        choose("kind-dev", mode="registry")


def test_cluster_lookup_only_when_it_can_matter() -> None:
    assert not needs_cluster_lookup("auto", None, "docker-desktop", {})
    assert not needs_cluster_lookup("auto", "localhost:5000", "kind-x", {})
    assert not needs_cluster_lookup("shared", None, "kind-x", {})
    assert needs_cluster_lookup("auto", None, "kind-x", {})
    assert not needs_cluster_lookup("auto", None, "", {})


def test_parse_registry_hosting() -> None:
    text = 'host: "localhost:5001"\nhostFromContainerRuntime: "kind-registry:5000"\nhelp: x\n'
    assert parse_registry_hosting(text) == HOSTING
    assert parse_registry_hosting('host: "localhost:5000"') == ("localhost:5000",) * 2
    assert parse_registry_hosting("- not a map") is None
    assert parse_registry_hosting(":") is None and parse_registry_hosting(None) is None


async def test_read_registry_hosting_from_kube_adapter_shape() -> None:
    class FakeKube:
        async def served_kinds(self) -> set[tuple[str, str]]:
            return set()

        async def get(self, api_version: str, kind: str, name: str, ns: str) -> dict:
            assert (api_version, kind, name, ns) == (
                "v1", "ConfigMap", "local-registry-hosting", "kube-public",
            )  # fmt: skip
            return {"data": {"localRegistryHosting.v1": 'host: "localhost:5001"'}}

    assert await read_registry_hosting(FakeKube()) == ("localhost:5001", "localhost:5001")
    assert await read_registry_hosting(None) is None


def test_make_delivery_falls_back_to_node_import_without_the_cli() -> None:
    kind = DeliveryChoice("kind", cluster="dev")
    nodes = make_delivery(kind, docker=None, which=lambda _t: None)
    assert isinstance(nodes, NodeImport) and nodes.label == "io.x-k8s.kind.cluster=dev"
    cli = make_delivery(kind, docker=None, which=lambda t: f"/usr/bin/{t}")
    assert isinstance(cli, CliLoad) and cli.cmd == ["kind", "load", "docker-image", "--name", "dev"]
    k3d = make_delivery(DeliveryChoice("k3d", cluster="x"), None, which=lambda t: t)
    assert isinstance(k3d, CliLoad) and k3d.cmd == ["k3d", "image", "import", "-c", "x"]
    assert isinstance(make_delivery(DeliveryChoice("shared"), None), SharedDaemon)


def test_registry_refs() -> None:
    reg = Registry(None, "localhost:5001", "kind-registry:5000")
    assert reg.cluster_ref("api:loopdev-1") == "kind-registry:5000/api:loopdev-1"
    assert reg.cluster_ref("example.com/team/api:t") == "kind-registry:5000/team/api:t"
    assert Registry(None, "localhost:5000/dev/", "localhost:5000/dev").cluster_ref("a:t") == (
        "localhost:5000/dev/a:t"
    )


def test_containerd_names() -> None:
    assert containerd_name("api:t") == "docker.io/library/api:t"
    assert containerd_name("team/api:t") == "docker.io/team/api:t"
    assert containerd_name("localhost:5000/api:t") == "localhost:5000/api:t"
    assert containerd_name("ghcr.io/a/b:t") == "ghcr.io/a/b:t"


def test_kube_target_reads_merged_kubeconfig(tmp_path: Path) -> None:
    one = tmp_path / "one"
    one.write_text(
        "current-context: kind-dev\n"
        "contexts: [{name: kind-dev, context: {cluster: kind-dev, user: u}}]\n"
        "clusters: [{name: kind-dev, cluster: {server: 'https://127.0.0.1:41234'}}]\n"
    )
    two = tmp_path / "two"
    two.write_text(
        "current-context: other\n"
        "contexts: [{name: other, context: {cluster: c2}}]\n"
        "clusters: [{name: c2, cluster: {server: 'https://10.0.0.1'}}]\n"
    )
    env = {"KUBECONFIG": f"{one}:{two}"}
    assert kube_target(None, env) == ("kind-dev", "https://127.0.0.1:41234")
    assert kube_target("other", env) == ("other", "https://10.0.0.1")
    assert kube_target(None, {"KUBECONFIG": str(tmp_path / "missing")}) == ("", None)


async def test_read_registry_hosting_from_core_v1_api_shape() -> None:
    class FakeCoreV1:
        def read_namespaced_config_map(self, name: str, namespace: str) -> object:
            assert (name, namespace) == ("local-registry-hosting", "kube-public")
            return type("CM", (), {"data": {"localRegistryHosting.v1": "host: localhost:5002"}})

    class Missing:
        def read_namespaced_config_map(self, name: str, namespace: str) -> object:
            raise RuntimeError("404 Not Found")

    assert await read_registry_hosting(FakeCoreV1()) == ("localhost:5002", "localhost:5002")
    assert await read_registry_hosting(Missing()) is None


async def test_cli_load_runs_the_tool_and_reports_its_failure(tmp_path: Path) -> None:
    script = tmp_path / "kind"
    script.write_text(
        '#!/bin/sh\necho "$@" >> "$(dirname "$0")/calls"\n'
        'case "$5" in bad:*) echo "ERROR: image not present locally" >&2; exit 1;; esac\n'
    )
    script.chmod(0o755)
    load = CliLoad(None, "kind", [str(script), "load", "docker-image", "--name", "dev"])
    assert await load.deliver("api:loopdev-1") == "api:loopdev-1"
    assert (tmp_path / "calls").read_text() == "load docker-image --name dev api:loopdev-1\n"
    with pytest.raises(BuildError, match="image not present locally") as info:
        await load.deliver("bad:t")
    assert info.value.hint == "is the kind cluster running?"
    assert not await load.has_image("api:loopdev-1")  # no checker: always deliver
