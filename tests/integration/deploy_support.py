"""Shared pieces of the deploy/session integration tests: a busybox project and a session."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loopdev.adapters.kube import KubeClient, resolve_target
from loopdev.commands.options import GlobalOptions
from loopdev.config.load import load_from_options
from loopdev.config.model import Loopfile
from loopdev.engine.reconciler import SessionOptions
from loopdev.engine.session import Session, load_reconcilers
from loopdev.engine.state import ResourceStatus

MINE = [
    "loopdev.reconcilers.build:BuildReconciler",
    "loopdev.reconcilers.deploy:DeployReconciler",
    "loopdev.reconcilers.status:StatusReconciler",
    "loopdev.reconcilers.logs:LogsReconciler",
]

LOOPFILE = """\
version: v1
name: {name}
namespace: {namespace}
build:
  delivery: {delivery}
images:
  it-web:
    context: .
    dockerfile: Dockerfile
deploy:
  manifests: [k8s/*.yaml]
resources:
  web:
    workload: deployment/web
"""

DOCKERFILE = """\
FROM loopdev-test/busybox:1
LABEL loopdev-test=1
COPY www /www
"""


def deployment(value: str = "one", command: str = "", image: str = "it-web") -> str:
    cmd = command or "echo hello $VALUE; exec httpd -f -p 8080 -h /www"
    return textwrap.dedent(
        f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          replicas: 1
          selector:
            matchLabels: {{app: web}}
          template:
            metadata:
              labels: {{app: web}}
            spec:
              containers:
                - name: main
                  image: {image}
                  imagePullPolicy: IfNotPresent
                  command: ["sh", "-c", "{cmd}"]
                  env:
                    - {{name: VALUE, value: "{value}"}}
        """
    )


CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: test
"""


def write_project(
    root: Path, name: str, namespace: str, app: str | None = None, delivery: str = "shared"
) -> Path:
    (root / "k8s").mkdir(parents=True, exist_ok=True)
    (root / "www").mkdir(exist_ok=True)
    (root / "www" / "index.html").write_text("hi\n")
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "k8s" / "app.yaml").write_text(app or deployment())
    (root / "k8s" / "config.yaml").write_text(CONFIGMAP)
    path = root / "loopfile.yaml"
    path.write_text(LOOPFILE.format(name=name, namespace=namespace, delivery=delivery))
    return path


def load(path: Path) -> Loopfile:
    return load_from_options(GlobalOptions(file=path), command="up")


def make_session(config: Loopfile, context: str, once: bool = False, docker: Any = None) -> Session:
    """A session with the real kube and Docker adapters and this issue's reconcilers."""
    kube = KubeClient(resolve_target(context))
    reconcilers = load_reconcilers(MINE)
    options = SessionOptions(once=once)
    return Session(config, kube, context, options=options, docker=docker, reconcilers=reconcilers)


async def wait_state(
    session: Session,
    name: str,
    check: Callable[[ResourceStatus], bool],
    timeout: float = 30.0,
) -> ResourceStatus:
    """Poll the engine state until ``check`` holds for resource ``name``."""
    deadline = asyncio.get_running_loop().time() + timeout
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = session.store.state.resource(name)
        if last is not None and check(last):
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never matched; last status: {last}")


def with_namespace(config: Loopfile, namespace: str) -> Loopfile:
    return dataclasses.replace(config, namespace=namespace)


def loopdev_cli(cluster: Any, path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``loopdev -f PATH ARGS...`` as its own process against the fake ``cluster``."""
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "loopdev", "-f", str(path), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def objects_in(cluster: Any, group: str, plural: str, namespace: str) -> list[dict[str, Any]]:
    """The fake cluster's live (not terminating) objects of a kind in ``namespace``."""

    def read() -> list[dict[str, Any]]:
        store = cluster.kube.store
        return [
            o
            for o in store.list(store.kind_of((group, plural)), namespace)
            if not o["metadata"].get("deletionTimestamp")
        ]

    return list(cluster.call(read))
