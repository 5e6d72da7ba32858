"""Helm releases in their own namespaces, end to end against the fake API server (pods are
real busybox containers): ``web`` in the project namespace, ``cache`` in a namespace only
its release names (loopdev creates it). `loopdev ci` waits for both; in an `up` session a
synced edit reaches the cache pod and a port-forward to it answers; `loopdev down` removes
loopdev's objects in both namespaces and the namespace it created."""

from __future__ import annotations

import asyncio
import socket
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from loopdev.adapters.kube import KubeClient, resolve_target
from loopdev.config.namespaces import used_namespaces
from loopdev.engine.reconciler import SessionOptions
from loopdev.engine.session import Session, load_reconcilers
from loopdev.render import render_objects
from loopdev.render.labels import RESOURCE_LABEL
from tests.integration.deploy_support import DOCKERFILE, load, objects_in
from tests.integration.deploy_support import loopdev_cli as loopdev
from tests.support.wait import until

pytestmark = [pytest.mark.docker, pytest.mark.timeout(400)]

LOOPFILE = """\
version: v1
name: ithelmns
namespace: {namespace}
build: {{delivery: shared}}
images:
  it-web:
    context: .
    ignore: [charts]
    live:
      sync: [{{src: www/, dest: /www/}}]
deploy:
  helm:
    - chart: charts/web
      release: web
    - chart: charts/cache
      release: cache
      namespace: {other}
resources:
  cache:
    workload: deployment/cache
    portForwards: ["{port}:8080"]
"""

TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 1
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
        - name: main
          image: it-web
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "echo serving in $RELEASE_NAMESPACE; exec httpd -f -p 8080 -h /www"]
          env: [{name: RELEASE_NAMESPACE, value: {{ .Release.Namespace | quote }}}]
          readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data: {mode: test}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_project(root: Path, namespace: str, other: str, port: int) -> Path:
    for chart in ("web", "cache"):
        (root / "charts" / chart / "templates").mkdir(parents=True)
        (root / "charts" / chart / "Chart.yaml").write_text(
            f"apiVersion: v2\nname: {chart}\nversion: 0.1.0\n"
        )
        (root / "charts" / chart / "templates" / "app.yaml").write_text(TEMPLATE)
    (root / "www").mkdir()
    (root / "www" / "index.html").write_text("built\n")
    (root / "Dockerfile").write_text(DOCKERFILE)
    path = root / "loopfile.yaml"
    path.write_text(textwrap.dedent(LOOPFILE).format(namespace=namespace, other=other, port=port))
    return path


def page(cluster: Any, namespace: str, resource: str) -> str:
    """What the resource's Ready pod in ``namespace`` serves ("" while there is none)."""
    for pod in objects_in(cluster, "", "pods", namespace):
        conds = (pod.get("status") or {}).get("conditions") or []
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)
        if pod["metadata"]["labels"].get(RESOURCE_LABEL) == resource and ready:
            try:
                url = f"http://{pod['status']['podIP']}:8080/index.html"
                with urllib.request.urlopen(url, timeout=2) as resp:
                    return str(resp.read().decode())
            except OSError:
                return ""
    return ""


def forwarded(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2) as resp:
            return str(resp.read().decode())
    except OSError:
        return ""


def drop_namespace(cluster: Any, name: str) -> None:
    store = cluster.kube.store
    ns_res = store.kind_of(("", "namespaces"))

    def delete() -> None:
        if store.find(ns_res, "", name) is not None:
            store.delete(ns_res, "", name)

    cluster.call(delete)


async def test_a_release_in_its_own_namespace_is_deployed_followed_synced_and_torn_down(
    tmp_path: Path,
    fake_cluster: Any,
    namespace: str,
    busybox_image: str,
    helm_on_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(fake_cluster.kubeconfig))
    other = f"{namespace}-b"[:63]
    port = free_port()
    path = write_project(tmp_path, namespace, other, port)
    try:
        ci = await asyncio.to_thread(loopdev, fake_cluster, path, "ci", "--timeout", "120")
        assert ci.returncode == 0, ci.stdout + ci.stderr
        assert "every resource is ready (3)" in ci.stdout, ci.stdout  # it-web, web, cache
        created = fake_cluster.get_object("", "namespaces", "", other)
        assert created is not None  # made for the release, labelled as loopdev's
        assert created["metadata"]["labels"]["loopdev.dev/project"] == "ithelmns"
        cache = fake_cluster.get_object("apps", "deployments", other, "cache")
        env = cache["spec"]["template"]["spec"]["containers"][0]["env"]
        assert env == [{"name": "RELEASE_NAMESPACE", "value": other}]
        assert fake_cluster.get_object("apps", "deployments", namespace, "web") is not None
        assert fake_cluster.get_object("apps", "deployments", namespace, "cache") is None
        assert fake_cluster.get_object("", "configmaps", other, "cache-settings") is not None

        config = load(path)
        assert used_namespaces(config) == (namespace, other)
        kube = KubeClient(resolve_target(fake_cluster.context))
        session = Session(
            config, kube, fake_cluster.context, options=SessionOptions(),
            reconcilers=load_reconcilers(),
        )  # fmt: skip
        first_request = len(fake_cluster.requests())
        await session.start()
        try:
            await until(lambda: forwarded(port) == "built\n", "the forward to the cache pod")

            # One watch per kind per namespace, shared by status, logs, live update and the
            # forward (issue 16: no watch of its own per reconciler).
            def watches() -> dict[str, int]:
                opened = [
                    r.path
                    for r in fake_cluster.requests()[first_request:]
                    if r.method == "GET" and "watch=true" in r.query.lower()
                ]
                return {
                    ns: sum(f"/namespaces/{ns}/" in p for p in opened) for ns in (namespace, other)
                }

            await until(lambda: min(watches().values()) >= 5, "every informer's watch", 20)
            print(f"watches opened per namespace: {watches()}")
            assert watches() == {namespace: 5, other: 5}
            # `loopdev render` prints what `up` applies: the same objects, same namespaces.
            rendered = render_objects(config, dict(session.ctx.image_refs))
            homes = {(o["kind"], o["metadata"]["name"]): o["metadata"].get("namespace")
                     for o in rendered}  # fmt: skip
            assert homes[("Deployment", "cache")] == other
            assert homes[("Deployment", "web")] == namespace
            (tmp_path / "www" / "index.html").write_text("edited\n")
            await until(lambda: page(fake_cluster, other, "cache") == "edited\n", "cache sync")
            await until(lambda: page(fake_cluster, namespace, "web") == "edited\n", "web sync")
            await until(lambda: forwarded(port) == "edited\n", "the forward to serve the edit")
            # Its log streams from its own namespace.
            said = f"serving in {other}"
            await until(lambda: any(said in x for x in session.logs.tail("cache", 50)), said, 20)
        finally:
            await session.stop()
            kube.close()

        down = await asyncio.to_thread(loopdev, fake_cluster, path, "down", "--timeout", "60")
        assert down.returncode == 0, down.stdout + down.stderr
        assert f"deleted Namespace/{other}" in down.stdout
        assert not objects_in(fake_cluster, "apps", "deployments", namespace)
        assert not [
            c for c in objects_in(fake_cluster, "", "configmaps", namespace)
            if c["metadata"]["name"].endswith("-settings")
        ]  # fmt: skip
        gone = fake_cluster.get_object("", "namespaces", "", other)
        assert gone is None or gone["metadata"].get("deletionTimestamp")
    finally:
        await asyncio.to_thread(drop_namespace, fake_cluster, other)
