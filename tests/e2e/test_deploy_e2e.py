"""The deploy flow against a real cluster: ci to ready, a changed value rolls out, down.

Skipped unless LOOPDEV_E2E_KUBECONFIG names a kubeconfig whose current context is a local
cluster (kind, k3d, minikube...); images are delivered the way `loopdev` picks for it.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.deploy_support import deployment, write_project

KUBECONFIG = os.environ.get("LOOPDEV_E2E_KUBECONFIG", "")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.docker,
    pytest.mark.skipif(not KUBECONFIG, reason="LOOPDEV_E2E_KUBECONFIG is not set"),
]


def loopdev(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": KUBECONFIG, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "loopdev", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def pods(namespace: str) -> list[str]:
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(config_file=KUBECONFIG))
    items = api.list_namespaced_pod(namespace, label_selector="loopdev.dev/resource=web").items
    return sorted(p.metadata.name for p in items if p.metadata.deletion_timestamp is None)


def test_ci_redeploy_and_down_on_a_real_cluster(tmp_path: Path, busybox_image: str) -> None:
    namespace = f"loopdev-e2e-{secrets.token_hex(3)}"
    path = write_project(tmp_path, "e2e", namespace, delivery="auto")
    try:
        first = loopdev("-f", str(path), "ci", "--timeout", "300")
        assert first.returncode == 0, first.stdout + first.stderr
        before = pods(namespace)
        assert before

        (tmp_path / "k8s" / "app.yaml").write_text(deployment("two"))
        second = loopdev("-f", str(path), "ci", "--timeout", "300")
        assert second.returncode == 0, second.stdout + second.stderr
        assert "applied Deployment/web" in second.stdout
        assert not set(pods(namespace)) & set(before)

        third = loopdev("-f", str(path), "ci", "--timeout", "300")
        assert third.returncode == 0 and "objects unchanged" in third.stdout
    finally:
        down = loopdev("-f", str(path), "down", "--timeout", "120")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "deleted Deployment/web" in down.stdout
    assert f"deleted Namespace/{namespace}" in down.stdout
