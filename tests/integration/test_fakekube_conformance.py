"""Conformance: the inner-loop flow through the official client and through kubectl.

Each test walks one pod through apply -> watch -> logs -f -> exec (stdin tar) -> port-forward
(client) or apply --server-side -> get -w -> logs -f -> exec -i tar -> delete -l (kubectl).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile

import kubernetes.client as k
import pytest
from kubernetes import watch
from kubernetes.dynamic import DynamicClient
from kubernetes.stream import portforward, stream

from tests.fakekube import FakeCluster
from tests.support.wait import wait_for

pytestmark = pytest.mark.docker

SCRIPT = (
    "echo boot-1; echo boot-2; mkdir -p /www; echo index > /www/index.html; "
    "exec httpd -f -p 8080 -h /www"
)


def _manifest(ns: str, name: str, image: str) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": image,
                            "command": ["sh", "-c", SCRIPT],
                            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                        }
                    ]
                },
            },
        },
    }


def _tar(path: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(path)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize(
    ("server_version", "protocol"),
    [("1.28", "v4.channel.k8s.io"), ("1.31", "v5.channel.k8s.io")],
    indirect=["server_version"],
)
def test_official_client_flow(
    kube_api: k.ApiClient, namespace: str, busybox_image: str, server_version: str, protocol: str
) -> None:
    v1 = k.CoreV1Api(kube_api)
    deployments = DynamicClient(kube_api).resources.get(api_version="apps/v1", kind="Deployment")
    deployments.server_side_apply(
        _manifest(namespace, "flow", busybox_image),
        namespace=namespace,
        field_manager="loopdev",
        force_conflicts=True,
    )
    pod_name = ""
    w = watch.Watch()
    for ev in w.stream(
        v1.list_namespaced_pod, namespace, label_selector="app=flow", timeout_seconds=30
    ):
        conds = {c.type: c.status for c in ev["object"].status.conditions or []}
        if conds.get("Ready") == "True":
            pod_name = ev["object"].metadata.name
            w.stop()
    assert pod_name, "pod never became Ready in the watch stream"

    lines = []
    for line in watch.Watch().stream(v1.read_namespaced_pod_log, pod_name, namespace, follow=True):
        lines.append(line)
        if len(lines) == 2:
            break
    assert lines == ["boot-1", "boot-2"]

    payload = _tar("www/synced.txt", b"fresh\n")
    resp = stream(  # v4 cannot close stdin: the command reads the byte count it is given
        v1.connect_get_namespaced_pod_exec,
        pod_name,
        namespace,
        command=["sh", "-c", f"head -c {len(payload)} | tar -x -C / -f -"],
        stdin=True,
        stdout=True,
        stderr=True,
        tty=False,
        _preload_content=False,
        binary=True,
    )
    assert resp.subprotocol == protocol
    resp.write_stdin(payload)
    resp.close_channel(0)  # v5 only; the client skips it on v4
    resp.run_forever(timeout=10)
    assert resp.returncode == 0
    resp.close()

    pf = portforward(v1.connect_get_namespaced_pod_portforward, pod_name, namespace, ports="8080")
    sock = pf.socket(8080)
    sock.sendall(b"GET /synced.txt HTTP/1.0\r\n\r\n")
    body = b""
    while chunk := sock.recv(4096):
        body += chunk
    pf.close()
    assert body.endswith(b"fresh\n")


def _kubectl(
    cluster: FakeCluster, *args: str, stdin: bytes | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, KUBECONFIG=str(cluster.kubeconfig))
    proc = subprocess.run(
        ["kubectl", "--context", cluster.context, *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr.decode()}"
    return proc


# /usr/bin/kubectl runs kubectl.1.<server minor>: at a 1.28 claim that is kubectl 1.28.15,
# whose exec and port-forward speak SPDY/3.1 (and whose apply reads /openapi/v2); at 1.32,
# kubectl 1.32 execs over WebSocket v5. The dispatcher caches the server's version per
# host:port in the kube cache dir, so a test that changes the claim uses a cache of its own.
@pytest.mark.parametrize("server_version", ["1.28", "1.32"], indirect=True)
def test_kubectl_flow(
    fake_cluster: FakeCluster,
    namespace: str,
    busybox_image: str,
    tmp_path,
    server_version: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBECACHEDIR", str(tmp_path / "kube-cache"))
    manifest = tmp_path / "deploy.json"
    manifest.write_text(json.dumps(_manifest(namespace, "kflow", busybox_image)))
    out = _kubectl(fake_cluster, "apply", "--server-side", "-f", str(manifest)).stdout
    assert b"deployment.apps/kflow serverside-applied" in out

    env = dict(os.environ, KUBECONFIG=str(fake_cluster.kubeconfig))
    watcher = subprocess.Popen(
        [
            "kubectl",
            "--context",
            fake_cluster.context,
            "-n",
            namespace,
            "get",
            "pods",
            "-w",
            "-l",
            "app=kflow",
            "-o",
            "name",
        ],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert watcher.stdout is not None
        first = watcher.stdout.readline().decode().strip()
        assert first.startswith("pod/kflow-")
    finally:
        watcher.terminate()
        watcher.wait(10)
        watcher.stdout.close()
    pod = first.split("/", 1)[1]
    _kubectl(
        fake_cluster,
        "-n",
        namespace,
        "wait",
        "--for=condition=Ready",
        f"pod/{pod}",
        "--timeout=30s",
    )

    logs = subprocess.Popen(
        ["kubectl", "--context", fake_cluster.context, "-n", namespace, "logs", "-f", pod],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert logs.stdout is not None
        assert [logs.stdout.readline(), logs.stdout.readline()] == [b"boot-1\n", b"boot-2\n"]
    finally:
        logs.terminate()
        logs.wait(10)
        logs.stdout.close()

    _kubectl(
        fake_cluster,
        "-n",
        namespace,
        "exec",
        "-i",
        pod,
        "--",
        "tar",
        "-x",
        "-C",
        "/",
        "-f",
        "-",
        stdin=_tar("www/k.txt", b"from-kubectl\n"),
    )
    got = _kubectl(fake_cluster, "-n", namespace, "exec", pod, "--", "cat", "/www/k.txt")
    assert got.stdout == b"from-kubectl\n"

    _kubectl(fake_cluster, "-n", namespace, "delete", "deployment", "-l", "app=kflow")
    v1 = k.CoreV1Api(fake_cluster.api_client())
    try:
        wait_for(lambda: not v1.list_namespaced_pod(namespace).items, 20, what="pods gone")
    finally:
        v1.api_client.close()


async def test_exec_base64_subprotocol(
    fake_cluster: FakeCluster, namespace: str, busybox_image: str
) -> None:
    """Older clients negotiate ``v4.base64.channel.k8s.io``: text frames, digit + base64."""
    import asyncio
    import base64
    import ssl

    import aiohttp

    api = fake_cluster.api_client()
    v1 = k.CoreV1Api(api)
    try:
        await asyncio.to_thread(
            v1.create_namespaced_pod,
            namespace,
            {
                "metadata": {"name": "b64"},
                "spec": {
                    "containers": [
                        {"name": "c", "image": busybox_image, "command": ["sleep", "3600"]}
                    ]
                },
            },
        )

        def ready() -> bool:
            pod = v1.read_namespaced_pod("b64", namespace)
            return any(
                c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []
            )

        await asyncio.to_thread(wait_for, ready, 30, 0.05, "b64 ready")
    finally:
        api.close()
    ctx = ssl.create_default_context(cadata=fake_cluster.ca_pem.decode())
    url = (
        f"{fake_cluster.url}/api/v1/namespaces/{namespace}/pods/b64/exec"
        "?command=sh&command=-c&command=echo+hi;exit+4&stdout=true&stderr=true"
    )
    frames: dict[int, bytes] = {}
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            url,
            protocols=("v4.base64.channel.k8s.io",),
            ssl=ctx,
            headers={"Authorization": f"Bearer {fake_cluster.token}"},
        ) as ws,
    ):
        assert ws.protocol == "v4.base64.channel.k8s.io"
        async for msg in ws:
            assert msg.type == aiohttp.WSMsgType.TEXT
            ch = int(msg.data[0])
            frames[ch] = frames.get(ch, b"") + base64.b64decode(msg.data[1:])
    assert frames[1] == b"hi\n"
    status = json.loads(frames[3])
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "4"}]
