"""A pod still running an older Secret value prints it; `ci` masks it anyway: the value the
cluster held before this session's apply (listed at start) and one from two sessions ago
(remembered as a fingerprint), in plain and JSON output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.deploy_support import write_project

pytestmark = pytest.mark.docker

APP = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: main
          image: it-web
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "while true; do echo current $V; sleep 0.3; done"]
          env:
            - name: V
              valueFrom: {secretKeyRef: {name: creds, key: value}}
"""
SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  value: {value}
"""


def ci(path: Path, kubeconfig: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "NO_COLOR": "1"}
    env["XDG_CACHE_HOME"] = str(cache)  # this test's own memory of earlier sessions
    return subprocess.run(
        [sys.executable, "-m", "loopdev", "-f", str(path), "ci", "--timeout", "90", *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )


def test_values_of_earlier_renders_and_sessions_stay_masked(
    tmp_path: Path, fake_cluster, namespace: str, busybox_image: str
) -> None:
    path = write_project(tmp_path, "itsecrets", namespace, app=APP)
    secret = tmp_path / "k8s" / "secret.yaml"
    cache = tmp_path / "cache"

    secret.write_text(SECRET.format(value="alpha-7f3c1"))
    first = ci(path, fake_cluster.kubeconfig, cache)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "current ********" in first.stdout and "alpha-7f3c1" not in first.stdout

    # The pod template does not change: the pod keeps printing the first value.
    secret.write_text(SECRET.format(value="beta-9d2e4"))
    second = ci(path, fake_cluster.kubeconfig, cache)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "current ********" in second.stdout, second.stdout
    assert "alpha-7f3c1" not in second.stdout + second.stderr

    # Now the cluster holds beta: alpha is known only from the fingerprints remembered.
    secret.write_text(SECRET.format(value="gamma-5b8a6"))
    third = ci(path, fake_cluster.kubeconfig, cache, "--output", "json")
    assert third.returncode == 0, third.stdout + third.stderr
    assert "current ********" in third.stdout, third.stdout
    assert "alpha-7f3c1" not in third.stdout + third.stderr
    remembered = "".join(p.read_text() for p in (cache / "loopdev" / "secrets").iterdir())
    assert "alpha-7f3c1" not in remembered and "beta-9d2e4" not in remembered
