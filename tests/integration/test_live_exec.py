"""The live-update executor against the fake API server (pods are real containers): one
exec per container carries deletions and a tar, with and without tar, against a server that
negotiates v4 exec (1.28: no stdin close, the byte count ends the data) and one that
negotiates v5 (1.31)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest

from loopdev.adapters.kube_exec import KubeExec
from loopdev.config.model import RunStep
from loopdev.live.executor import Executor, Job
from loopdev.live.tarball import collect
from loopdev.live.targets import select_targets
from loopdev.render.labels import RESOURCE_LABEL, ownership_labels
from tests.support.wait import wait_for

pytestmark = pytest.mark.docker
PROJECT = "liveexec"
# 50 real files; the deletion list names 3000 paths (creating thousands of files in a
# container takes seconds on a loaded machine, and rm -rf of a missing path is a no-op)
MAKE_FILES = (
    "rm -rf /dst; mkdir -p /dst/gone && cd /dst/gone && "
    "i=0; while [ $i -lt 50 ]; do i=$((i+1)); : > $i; done"
)


def pod_manifest(image: str) -> dict[str, Any]:
    labels = {**ownership_labels(PROJECT), RESOURCE_LABEL: "web"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-0", "labels": labels},
        "spec": {
            "containers": [
                {"name": "side", "image": image, "command": ["sleep", "3600"]},
                {"name": "web", "image": image + "-x", "command": ["sleep", "3600"]},
            ]
        },
    }


@pytest.fixture(scope="module")
def running_pod(
    fake_cluster: Any, busybox_image: str, docker_client: Any
) -> Iterator[tuple[str, str]]:
    """A pod whose second container runs the 'built' image (a retag of busybox)."""
    ref = busybox_image + "-x"
    docker_client.images.get(busybox_image).tag(ref)
    api = fake_cluster.api_client()
    core = kubernetes.client.CoreV1Api(api)
    ns = "live-exec"
    core.create_namespace({"metadata": {"name": ns}})
    core.create_namespaced_pod(ns, pod_manifest(busybox_image))

    def running() -> Any:
        pod = core.read_namespaced_pod("web-0", ns).to_dict()
        statuses = (pod.get("status") or {}).get("container_statuses") or []
        return len([s for s in statuses if (s.get("state") or {}).get("running")]) == 2

    wait_for(running, 60, what="pod running")
    yield ns, ref
    core.delete_namespace(ns)
    api.close()
    docker_client.images.remove(ref)


@pytest.fixture
async def kexec(fake_cluster: Any) -> AsyncIterator[KubeExec]:
    wire = await KubeExec.connect(fake_cluster.context, str(fake_cluster.kubeconfig))
    yield wire
    await wire.close()


async def targets(kexec: KubeExec, ns: str, ref: str) -> list[Any]:
    pods, _ = await kexec.list_pods(ns, f"loopdev.dev/project={PROJECT}")
    return select_targets(pods, PROJECT, ref)


async def sh(kexec: KubeExec, ns: str, cmd: str) -> str:
    res = await kexec.exec(ns, "web-0", "web", ["sh", "-c", cmd])
    assert res.exit_code == 0, res
    return res.stdout.decode()


def tree(tmp_path: Path) -> Path:
    (tmp_path / "app" / "sub").mkdir(parents=True)
    (tmp_path / "app" / "a.txt").write_text("alpha\n")
    (tmp_path / "app" / "run.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(tmp_path / "app" / "run.sh", 0o751)
    (tmp_path / "app" / "sub" / "b.bin").write_bytes(bytes(range(256)) * 4)
    return tmp_path


@pytest.mark.parametrize(
    ("server_version", "protocol"),
    [("1.28", "v4.channel.k8s.io"), ("1.31", "v5.channel.k8s.io")],
    indirect=["server_version"],
)
@pytest.mark.parametrize("no_tar", [False, True])
async def test_copy_and_thousands_of_deletes_in_one_exec(
    running_pod: tuple[str, str],
    kexec: KubeExec,
    tmp_path: Path,
    server_version: str,
    protocol: str,
    no_tar: bool,
) -> None:
    ns, ref = running_pod
    assert (await kexec.exec(ns, "web-0", "web", ["true"])).protocol == protocol
    found = await targets(kexec, ns, ref)
    assert [(t.pod, t.container, t.resource) for t in found] == [("web-0", "web", "web")]
    await sh(kexec, ns, MAKE_FILES)
    root = tree(tmp_path)
    deletes = [f"/dst/gone/{i}" for i in range(1, 3001)] + ["/dst/gone", "/dst/never existed"]
    payload = collect([(str(root / "app"), "/dst/app")], deletes, str(root))
    executor = Executor(kexec)
    if no_tar:
        executor._no_tar.add(found[0].key)  # force the POSIX-shell path
    [out] = await executor.run([Job(found[0], payload, (RunStep("cat /dst/app/a.txt"),))])
    assert out.ok, out.error
    assert out.steps[0].output == "alpha\n"
    listing = await sh(kexec, ns, "ls /dst; stat -c '%a %s %n' /dst/app/run.sh /dst/app/sub/b.bin")
    assert listing.split("\n")[0] == "app"
    assert "751 18 /dst/app/run.sh" in listing and "644 1024 /dst/app/sub/b.bin" in listing
    digest = await sh(kexec, ns, "md5sum /dst/app/sub/b.bin")
    assert digest.split()[0] == hashlib.md5((root / "app/sub/b.bin").read_bytes()).hexdigest()


async def test_failing_step_and_vanished_file(
    running_pod: tuple[str, str], kexec: KubeExec, tmp_path: Path
) -> None:
    ns, ref = running_pod
    found = await targets(kexec, ns, ref)
    await sh(kexec, ns, "mkdir -p /dst2 && echo old > /dst2/vanished.txt")
    payload = collect([(str(tmp_path / "vanished.txt"), "/dst2/vanished.txt")], [], str(tmp_path))
    assert payload.deletes == ["/dst2/vanished.txt"]
    steps = (RunStep("echo before"), RunStep("exit 3"), RunStep("echo never"))
    [out] = await Executor(kexec).run([Job(found[0], payload, steps)])
    assert out.error == "'exit 3' failed in web-0/web (exit 3)"
    assert [s.exit_code for s in out.steps] == [0, 3]
    assert await sh(kexec, ns, "ls /dst2") == ""
