"""`loopdev up` end to end with a port-forward and a local `serve`: the forward answers from
the Deployment's pod, and Ctrl-C stops the forward and the local process group (checked by
pid) while the cluster keeps running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest

pytestmark = pytest.mark.docker

SERVE = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8000 -h /www"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def web_deployment(image: str) -> str:
    """The Deployment ``web``: busybox httpd serving its hostname on the named port http."""
    return textwrap.dedent(
        f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: web}}
        spec:
          replicas: 1
          selector: {{matchLabels: {{app: web}}}}
          template:
            metadata: {{labels: {{app: web}}}}
            spec:
              containers:
                - name: web
                  image: {image}
                  command: ["sh", "-c", "{SERVE}"]
                  ports: [{{name: http, containerPort: 8000}}]
                  readinessProbe: {{tcpSocket: {{port: 8000}}, periodSeconds: 1}}
        """
    )


def write_project(root: Path, namespace: str, image: str, port: int) -> Path:
    (root / "k8s").mkdir()
    (root / "k8s" / "web.yaml").write_text(web_deployment(image))
    (root / "loopfile.yaml").write_text(
        textwrap.dedent(
            f"""\
            version: v1
            name: pfsession
            namespace: {namespace}
            deploy:
              manifests: ["k8s/*.yaml"]
            resources:
              web:
                workload: deployment/web
                portForwards: ["{port}:http"]
            local:
              side:
                serve: "sleep 300 & echo $! > child.pid; wait"
            """
        )
    )
    return root / "loopfile.yaml"


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


def remove_web(api: kubernetes.client.ApiClient, namespace: str) -> None:
    """Delete the Deployment and wait for its pods, so nothing is recreated during teardown."""
    kubernetes.client.AppsV1Api(api).delete_namespaced_deployment("web", namespace)
    core = kubernetes.client.CoreV1Api(api)
    deadline = time.monotonic() + 30
    while core.list_namespaced_pod(namespace, label_selector="app=web").items:
        assert time.monotonic() < deadline, "pods of the deleted Deployment remain"
        time.sleep(0.1)


def start_up_until_listening(path: Path, fake_cluster: Any) -> subprocess.Popen[str]:
    """``loopdev up --no-tui`` on ``path``, returned once resource web's forward listens."""
    env = {**os.environ, "KUBECONFIG": str(fake_cluster.kubeconfig), "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "loopdev", "-f", str(path), "up", "--no-tui"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 90
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("web") and "forward" in line and line.rstrip().endswith("listening"):
            return proc
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise AssertionError("the forward never listened:\n" + "".join(lines))


def test_up_forwards_and_ctrl_c_stops_forward_and_local_processes(
    tmp_path: Path,
    fake_cluster: Any,
    namespace: str,
    busybox_image: str,
    kube_api: kubernetes.client.ApiClient,
) -> None:
    port = free_port()
    path = write_project(tmp_path, namespace, busybox_image, port)
    proc = start_up_until_listening(path, fake_cluster)
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
        assert body.strip().startswith("web-")
        child = int((tmp_path / "child.pid").read_text())
        assert alive(child)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
        stopped_in = time.monotonic() - started
        # Ctrl-C leaves the cluster as it is: the Deployment is still there.
        assert fake_cluster.get_object("apps", "deployments", namespace, "web") is not None
    finally:
        if proc.poll() is None:
            proc.kill()
        remove_web(kube_api, namespace)
    assert proc.returncode == 0, err
    print(f"loopdev up stopped {stopped_in:.2f}s after SIGINT")
    assert not alive(child), "the local serve command's child survived Ctrl-C"
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the forward still listens"
    assert stopped_in < 5, stopped_in  # the 2 s target is measured and printed above
