"""The deliveries themselves; each takes the locally built tag and makes the cluster see it."""

from __future__ import annotations

import asyncio
from typing import Any

from loopdev.errors import BuildError


class SharedDaemon:
    """The cluster runs on this Docker engine: a local tag is all it needs."""

    name = "shared"

    def __init__(self, docker: Any) -> None:
        self.docker = docker

    def cluster_ref(self, ref: str) -> str:
        return ref

    async def has_image(self, ref: str) -> bool:
        return bool(await self.docker.image_exists(ref))

    async def deliver(self, ref: str) -> str:
        return ref


def containerd_name(ref: str) -> str:
    """How containerd names a Docker short reference: ``api:x`` -> ``docker.io/library/api:x``."""
    first = ref.split("/", 1)[0]
    if "/" in ref and ("." in first or ":" in first or first == "localhost"):
        return ref
    return f"docker.io/{ref}" if "/" in ref else f"docker.io/library/{ref}"


class NodeImport:
    """kind/k3d without their CLI: ``docker save`` piped into ``ctr images import -`` per node."""

    def __init__(self, docker: Any, tool: str, label: str) -> None:
        self.docker, self.name, self.label = docker, tool, label

    def cluster_ref(self, ref: str) -> str:
        return ref

    async def nodes(self) -> list[str]:
        found = await self.docker.containers_with_label(self.label)
        if not found:
            raise BuildError(
                f"no {self.name} node containers found (label {self.label})",
                f"is the {self.name} cluster running? (docker ps --filter label={self.label})",
            )
        return list(found)

    async def has_image(self, ref: str) -> bool:
        cmd = ["ctr", "-n", "k8s.io", "images", "ls", "-q", f"name=={containerd_name(ref)}"]
        for node in await self.nodes():
            code, out = await self.docker.exec_output(node, cmd)
            if code != 0 or containerd_name(ref) not in out.split():
                return False
        return True

    async def deliver(self, ref: str) -> str:
        cmd = ["ctr", "-n", "k8s.io", "images", "import", "-"]
        nodes = await self.nodes()
        results = await asyncio.gather(
            *(self.docker.save_into_exec(ref, node, cmd) for node in nodes)
        )
        for node, (code, out) in zip(nodes, results, strict=True):
            if code != 0:
                raise BuildError(
                    f"loading {ref} into {self.name} node {node} failed: {out.strip()[-300:]}",
                    f"check the node with: docker exec {node} ctr -n k8s.io images ls",
                )
        return ref


class CliLoad:
    """``kind load docker-image`` / ``k3d image import`` / ``minikube image load``."""

    def __init__(self, docker: Any, tool: str, cmd: list[str], checker: Any = None) -> None:
        self.docker, self.name, self.cmd, self.checker = docker, tool, cmd, checker

    def cluster_ref(self, ref: str) -> str:
        return ref

    async def has_image(self, ref: str) -> bool:
        return bool(self.checker and await self.checker.has_image(ref))

    async def deliver(self, ref: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            *self.cmd, ref, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise BuildError(
                f"{' '.join(self.cmd[:3])} {ref} failed: {out.decode(errors='replace').strip()}",
                f"is the {self.name} cluster running?",
            )
        return ref


class Registry:
    """Tag for a registry and push; the cluster pulls from ``pull_host`` (KEP-1755)."""

    name = "registry"

    def __init__(self, docker: Any, host: str, pull_host: str) -> None:
        self.docker, self.host, self.pull_host = docker, host.rstrip("/"), pull_host.rstrip("/")

    def _target(self, ref: str, host: str) -> str:
        return registry_ref(ref, host)

    def cluster_ref(self, ref: str) -> str:
        return self._target(ref, self.pull_host)

    async def has_image(self, ref: str) -> bool:
        """Whether the registry already has this tag (HTTPS and auth as for the push)."""
        return bool(await self.docker.registry_has(self._target(ref, self.host)))

    async def deliver(self, ref: str) -> str:
        target = self._target(ref, self.host)
        await self.docker.tag(ref, target)
        await self.docker.push(target, lambda _line: None)
        return self.cluster_ref(ref)


def registry_ref(ref: str, registry: str) -> str:
    """``ref`` under ``registry`` (host[:port][/prefix]), in place of a registry ``ref`` names.

    The one place a registry prefix is applied: the push target, and the reference manifests
    use (``up`` through ``Registry.cluster_ref``, ``render`` through ``DeliveryChoice``).
    """
    registry = registry.rstrip("/")
    return f"{registry}/{ref.split('/', 1)[1] if _has_registry(ref) else ref}"


def _has_registry(ref: str) -> bool:
    first = ref.split("/", 1)[0]
    return "/" in ref and ("." in first or ":" in first or first == "localhost")
