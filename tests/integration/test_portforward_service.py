"""A port-forward to a Service, end to end: `loopdev up` forwards the Service port to its
targetPort on a Ready pod the Service selects (real Docker-backed pod, fake API server)."""

from __future__ import annotations

import signal
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest

from tests.integration.test_portforward_session import (
    free_port,
    remove_web,
    start_up_until_listening,
    web_deployment,
)

pytestmark = pytest.mark.docker


def write_project(root: Path, namespace: str, image: str, port: int) -> Path:
    (root / "k8s").mkdir()
    service = """\
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web-svc}
        spec:
          selector: {app: web}
          ports: [{name: web, port: 80, targetPort: http}]
        """
    (root / "k8s" / "web.yaml").write_text(web_deployment(image) + textwrap.dedent(service))
    (root / "loopfile.yaml").write_text(
        textwrap.dedent(
            f"""\
            version: v1
            name: pfservice
            namespace: {namespace}
            deploy:
              manifests: ["k8s/*.yaml"]
            resources:
              web:
                portForwards: [{{local: {port}, service: web-svc, remote: web}}]
            """
        )
    )
    return root / "loopfile.yaml"


def test_up_forwards_a_service_port_to_its_target_port(
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
        assert body.strip().startswith("web-"), body  # the pod's hostname, served on 8000
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
        remove_web(kube_api, namespace)
    assert proc.returncode == 0, err
