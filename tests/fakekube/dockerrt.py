"""Blocking Docker calls for the kubelet; callers run them in the runtime's thread pool.

Every container carries ``loopdev-test=1`` plus fakekube labels, so teardown can find them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors

from tests.support.labels import test_labels


@dataclass(frozen=True)
class PodRef:
    cluster: str
    namespace: str
    name: str
    uid: str

    def labels(self, container: str) -> dict[str, str]:
        return {
            **test_labels(),
            "fakekube.cluster": self.cluster,
            "fakekube.namespace": self.namespace,
            "fakekube.pod": self.name,
            "fakekube.pod-uid": self.uid,
            "fakekube.container": container,
        }

    def docker_name(self, container: str, attempt: int) -> str:
        return f"fk-{self.namespace}-{self.name}-{container}-{attempt}-{self.uid[:8]}"


def docker_socket() -> str:
    host = os.environ.get("DOCKER_HOST", "")
    return host[len("unix://") :] if host.startswith("unix://") else "/var/run/docker.sock"


def image_id(client: docker.DockerClient, image: str) -> str | None:
    try:
        return str(client.images.get(image).id)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError:
        return None


def run_sandbox(
    client: docker.DockerClient, ref: PodRef, image: str, attempt: int = 0
) -> tuple[str, str, str]:
    """The pod's network namespace holder (like the pause container); returns id, IP, gateway."""
    name = ref.docker_name("sandbox", attempt)
    c = client.containers.create(
        image,
        ["sleep", "2147483647"],
        name=name,
        hostname=ref.name[:63],
        labels=ref.labels("POD"),
        init=False,
    )
    try:
        c.start()
        c.reload()
    except docker.errors.APIError:
        c.remove(force=True)
        raise
    net = c.attrs["NetworkSettings"]
    return c.id, net.get("IPAddress", ""), net.get("Gateway", "")


def create_container(
    client: docker.DockerClient,
    ref: PodRef,
    sandbox: str,
    spec: dict[str, Any],
    env: dict[str, str],
    attempt: int,
    mounts: list[str],
) -> str:
    kwargs: dict[str, Any] = {
        "image": spec["image"],
        "name": ref.docker_name(spec["name"], attempt),
        "labels": ref.labels(spec["name"]),
        "network_mode": f"container:{sandbox}",
        "environment": env,
        "detach": True,
        "tty": bool(spec.get("tty")),
        "stdin_open": bool(spec.get("stdin")),
        "volumes": mounts,
    }
    if spec.get("command"):
        kwargs["entrypoint"] = list(spec["command"])
        kwargs["command"] = list(spec.get("args") or [])
    elif spec.get("args"):
        kwargs["command"] = list(spec["args"])
    if spec.get("workingDir"):
        kwargs["working_dir"] = spec["workingDir"]
    if (spec.get("securityContext") or {}).get("readOnlyRootFilesystem"):
        kwargs["read_only"] = True  # volumes stay writable, as on a kubelet
    return str(client.containers.create(**kwargs).id)


def start(client: docker.DockerClient, cid: str) -> dict[str, Any]:
    c = client.containers.get(cid)
    c.start()
    c.reload()
    return dict(c.attrs["State"])


def wait(client: docker.DockerClient, cid: str) -> dict[str, Any]:
    """Block until the container exits; returns its final ``State``."""
    try:
        client.api.wait(cid, timeout=None)
        return dict(client.api.inspect_container(cid)["State"])
    except docker.errors.NotFound:
        return {"ExitCode": 137, "Error": "removed", "FinishedAt": ""}


def stop_and_remove(
    client: docker.DockerClient, ids: list[str], timeout: int, remove: bool = True
) -> None:
    """Stop (SIGTERM, then SIGKILL after ``timeout`` s) and optionally remove containers."""
    for cid in ids:
        try:
            client.api.stop(cid, timeout=timeout)
        except docker.errors.APIError:
            pass
    if not remove:
        return
    for cid in ids:
        try:
            client.api.remove_container(cid, force=True, v=True)
        except docker.errors.APIError:
            pass


def remove_labelled(client: docker.DockerClient, label: str) -> int:
    """Force-remove every container and volume with ``label``; races with other removers."""
    found = client.api.containers(all=True, filters={"label": label})
    for c in found:
        try:
            client.api.remove_container(c["Id"], force=True, v=True)
        except docker.errors.APIError:
            pass
    for v in client.api.volumes(filters={"label": label}).get("Volumes") or []:
        try:
            client.api.remove_volume(v["Name"], force=True)
        except docker.errors.APIError:
            pass
    return len(found)


def exec_check(client: docker.DockerClient, cid: str, cmd: list[str]) -> bool:
    try:
        return int(client.containers.get(cid).exec_run(cmd)[0]) == 0
    except docker.errors.APIError:
        return False
