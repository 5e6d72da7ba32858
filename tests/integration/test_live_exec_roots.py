"""Syncing deletions into containers that have nowhere to put a temp file: an image without
/tmp (distroless- or scratch-like), and ``readOnlyRootFilesystem: true`` with the synced
directory on an emptyDir. Paths with spaces, newlines, backslashes and leading dashes are
deleted and copied in the same one exec, over v4 and v5, with and without tar."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest

from loopdev.adapters.kube_exec import KubeExec
from loopdev.live.executor import Executor, Job
from loopdev.live.tarball import collect
from loopdev.live.targets import Target, select_targets
from loopdev.render.labels import RESOURCE_LABEL, ownership_labels
from tests.support.images import ensure_busybox_no_tmp_image
from tests.support.wait import wait_for

pytestmark = pytest.mark.docker
PROJECT = "liveroots"
ODD = ["a b", "-rf", "--", "new\nline", "back\\slash\\n", "tab\t", "trailing ", "e", "$(x)", "q'\""]
MAKE_ODD = 'rm -rf /dst/odd; mkdir -p /dst/odd && cd /dst/odd && for f in "$@"; do : > "./$f"; done'


def pod_manifest(no_tmp_ref: str, rofs_ref: str) -> dict[str, Any]:
    labels = {**ownership_labels(PROJECT), RESOURCE_LABEL: "web"}
    sleep = ["sleep", "3600"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-0", "labels": labels},
        "spec": {
            "containers": [
                {"name": "notmp", "image": no_tmp_ref, "command": sleep},
                {
                    "name": "rofs",
                    "image": rofs_ref,
                    "command": sleep,
                    "securityContext": {"readOnlyRootFilesystem": True},
                    "volumeMounts": [{"name": "dst", "mountPath": "/dst"}],
                },
            ],
            "volumes": [{"name": "dst", "emptyDir": {}}],
        },
    }


@pytest.fixture(scope="module")
def roots_pod(
    fake_cluster: Any, busybox_image: str, docker_client: Any
) -> Iterator[tuple[str, str, str]]:
    """One pod: a container of an image without /tmp, one with a read-only root."""
    no_tmp_ref = ensure_busybox_no_tmp_image(docker_client) + "-x"
    rofs_ref = busybox_image + "-rofs"
    docker_client.images.get(no_tmp_ref[: -len("-x")]).tag(no_tmp_ref)
    docker_client.images.get(busybox_image).tag(rofs_ref)
    api = fake_cluster.api_client()
    core = kubernetes.client.CoreV1Api(api)
    ns = "live-roots"
    core.create_namespace({"metadata": {"name": ns}})
    core.create_namespaced_pod(ns, pod_manifest(no_tmp_ref, rofs_ref))

    def running() -> Any:
        pod = core.read_namespaced_pod("web-0", ns).to_dict()
        statuses = (pod.get("status") or {}).get("container_statuses") or []
        return len([s for s in statuses if (s.get("state") or {}).get("running")]) == 2

    wait_for(running, 60, what="pod running")
    yield ns, no_tmp_ref, rofs_ref
    core.delete_namespace(ns)
    api.close()
    docker_client.images.remove(no_tmp_ref)
    docker_client.images.remove(rofs_ref)


@pytest.fixture
async def kexec(fake_cluster: Any) -> AsyncIterator[KubeExec]:
    wire = await KubeExec.connect(fake_cluster.context, str(fake_cluster.kubeconfig))
    yield wire
    await wire.close()


async def target(kexec: KubeExec, ns: str, ref: str) -> Target:
    pods, _ = await kexec.list_pods(ns, f"loopdev.dev/project={PROJECT}")
    [found] = select_targets(pods, PROJECT, ref)
    return found


async def sh(kexec: KubeExec, t: Target, cmd: str, *args: str) -> tuple[int, str]:
    res = await kexec.exec(t.namespace, t.pod, t.container, ["sh", "-c", cmd, "sh", *args])
    return res.exit_code, (res.stdout + res.stderr).decode()


async def test_the_containers_have_no_writable_temp_dir(
    roots_pod: tuple[str, str, str], kexec: KubeExec
) -> None:
    ns, no_tmp_ref, rofs_ref = roots_pod
    notmp, rofs = await target(kexec, ns, no_tmp_ref), await target(kexec, ns, rofs_ref)
    assert (await sh(kexec, notmp, "test -e /tmp"))[0] == 1
    assert (await sh(kexec, rofs, "touch /tmp/x"))[0] != 0  # read-only root
    assert (await sh(kexec, rofs, "touch /dst/x && rm /dst/x"))[0] == 0  # the emptyDir


@pytest.mark.parametrize(
    ("server_version", "protocol"),
    [("1.28", "v4.channel.k8s.io"), ("1.31", "v5.channel.k8s.io")],
    indirect=["server_version"],
)
@pytest.mark.parametrize("no_tar", [False, True])
@pytest.mark.parametrize("container", ["notmp", "rofs"])
async def test_odd_paths_deleted_and_copied_in_one_exec(
    roots_pod: tuple[str, str, str],
    kexec: KubeExec,
    tmp_path: Path,
    server_version: str,
    protocol: str,
    no_tar: bool,
    container: str,
) -> None:
    """Both stdin protocols: v4's byte count (a 1.28 server) and v5's CLOSE (1.30+)."""
    ns, no_tmp_ref, rofs_ref = roots_pod
    t = await target(kexec, ns, no_tmp_ref if container == "notmp" else rofs_ref)
    assert (await kexec.exec(t.namespace, t.pod, t.container, ["true"])).protocol == protocol
    code, out = await sh(kexec, t, MAKE_ODD, *ODD, "kept")
    assert code == 0, out
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "new file\n-x").write_text("copied\n")
    deletes = [f"/dst/odd/{name}" for name in ODD] + ["/dst/odd/never existed"]
    payload = collect([(str(tmp_path / "app"), "/dst/app")], deletes, str(tmp_path))
    executor = Executor(kexec)
    if no_tar:
        executor._no_tar.add(t.key)  # force the POSIX-shell path
    [outcome] = await executor.run([Job(t, payload)])
    assert outcome.ok, outcome.error
    code, listing = await sh(kexec, t, "ls -A /dst/odd; cat '/dst/app/new file\n-x'")
    assert (code, listing) == (0, "kept\ncopied\n")
