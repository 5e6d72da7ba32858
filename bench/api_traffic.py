"""API requests loopdev sends, by verb and by path, against the fake API server.

Phases, each counted from a quiet server to a quiet server (no new request for ``--quiet``
seconds; a watch, log follow or port-forward is counted once, when it opens):
- a no-op ``loopdev ci`` (the project is already deployed and unchanged);
- ``loopdev up --no-tui``: start-up, one idle window (``--idle``, default 60 s; a shorter
  window is also printed scaled to a minute), one save that syncs, one save that rebuilds,
  a pod deletion (the Deployment replaces it and loopdev replays the synced files);
- a replay that keeps failing: the last edit undone (so a rebuild reuses the deployed image),
  then a pod of the project whose root filesystem is read-only (created through the fake's
  store), counted for ``--failing`` seconds from its creation;
- ``loopdev down``.
The project is a busybox web server (Deployment + Service, one port-forward, live sync of
``app/``). The pod is deleted through the fake's store, so the deletion itself is not counted.
Needs Docker. Prints figures, asserts nothing.
Run: .venv/bin/python bench/api_traffic.py [--idle 60] [--quiet 3]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker  # noqa: E402

from tests.fakekube import FakeCluster  # noqa: E402
from tests.support.images import ensure_busybox_image  # noqa: E402

NS = "traffic"
STREAMS = ("exec", "attach", "portforward", "log")
LOOPDEV_LABELS = ("loopdev.dev/", "app.kubernetes.io/managed-by")

LOOPFILE = """\
version: v1
name: traffic
namespace: {ns}
build:
  delivery: shared
images:
  traffic-web:
    context: .
    live:
      sync:
        - {{src: app/, dest: /app/}}
      rebuildOn: [Dockerfile]
deploy:
  manifests: [k8s/*.yaml]
resources:
  web:
    workload: deployment/web
    portForwards: ["{port}:8000"]
"""

DOCKERFILE = """\
FROM loopdev-test/busybox:1
LABEL loopdev-test=1
COPY app /app
CMD ["httpd", "-f", "-p", "8000", "-h", "/app"]
"""

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: traffic-web
          imagePullPolicy: IfNotPresent
          ports: [{containerPort: 8000}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 8000}]
"""


def verb(method: str, path: str, query: str) -> str:
    """The Kubernetes verb of a request (get/list/watch/create/patch/delete/...), a stream
    subresource (exec, log, portforward), "discovery" or "other"."""
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] not in ("api", "apis"):
        return "other"
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    if not rest:
        return "discovery"
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    if len(rest) >= 3 and rest[2] in STREAMS:
        return rest[2]
    if method == "GET":
        if parse_qs(query).get("watch", [""])[0] in ("true", "1"):
            return "watch"
        return "get" if len(rest) >= 2 else "list"
    if method == "DELETE":
        return "delete" if len(rest) >= 2 else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())


def pattern(path: str) -> str:
    path = re.sub(r"/namespaces/[^/]+", "/namespaces/{ns}", path)
    return re.sub(r"/(pods|replicasets)/[^/]+", r"/\1/{name}", path)


class Phases:
    """Request counts between marks of the fake's request log."""

    def __init__(self, cluster: FakeCluster, quiet: float) -> None:
        self.cluster, self.quiet = cluster, quiet
        self.rows: list[tuple[str, list[Any], float]] = []

    def mark(self) -> int:
        return len(self.cluster.requests())

    def wait_quiet(self, timeout: float = 180.0) -> None:
        """Until no request arrived for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        last, since = self.mark(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = self.mark()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= self.quiet:
                return
        print(f"  (never quiet within {timeout:.0f} s)")

    def record(self, name: str, start: int, seconds: float = 0.0) -> list[Any]:
        got = self.cluster.requests()[start:]
        self.rows.append((name, got, seconds))
        return got

    def report(self) -> None:
        print(f"{'phase':<40} {'total':>6}  by verb")
        for name, reqs, _ in self.rows:
            verbs = Counter(verb(r.method, r.path, r.query) for r in reqs)
            text = ", ".join(f"{v} {n}" for v, n in sorted(verbs.items(), key=lambda x: -x[1]))
            print(f"{name:<40} {len(reqs):>6}  {text}")
        print()
        for name, reqs, _ in self.rows:
            if not reqs:
                continue
            paths = Counter(f"{verb(r.method, r.path, r.query)} {pattern(r.path)}" for r in reqs)
            print(f"{name}: top paths")
            for path, n in paths.most_common(6):
                print(f"    {n:>4}  {path}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_project(root: Path, port: int) -> Path:
    (root / "app").mkdir(parents=True)
    (root / "k8s").mkdir()
    (root / "app" / "index.html").write_text("hello\n")
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "k8s" / "app.yaml").write_text(MANIFEST)
    (root / "loopfile.yaml").write_text(LOOPFILE.format(ns=NS, port=port))
    return root / "loopfile.yaml"


class Output:
    """The lines a subprocess prints, collected by a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, check: Callable[[str], bool], what: str, start: int = 0) -> int:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            for i, line in enumerate(self.lines[start:], start):
                if check(line):
                    return i
            time.sleep(0.05)
        tail = "\n".join(self.lines[-20:])
        raise TimeoutError(f"no line for {what}; last lines:\n{tail}")


def pods(cluster: FakeCluster) -> list[dict[str, Any]]:
    def read() -> list[dict[str, Any]]:
        store = cluster.kube.store
        return list(store.list(store.kind_of(("", "pods")), NS))

    return list(cluster.call(read))


def delete_pod(cluster: FakeCluster, name: str) -> None:
    """As ``kubectl delete pod`` would, but without an HTTP request of our own."""

    def delete() -> None:
        store = cluster.kube.store
        store.delete(store.kind_of(("", "pods")), NS, name)

    cluster.call(delete)


def add_read_only_pod(cluster: FakeCluster) -> str:
    """A second pod like the Deployment's, but with a read-only root: every replay into it
    fails the same way (tar cannot write /app)."""

    def create() -> str:
        store = cluster.kube.store
        res = store.kind_of(("", "pods"))
        [model] = [p for p in store.list(res, NS) if not p["metadata"].get("deletionTimestamp")]
        spec = {"containers": [dict(c) for c in model["spec"]["containers"]]}
        spec["containers"][0]["securityContext"] = {"readOnlyRootFilesystem": True}
        labels = model["metadata"]["labels"]  # loopdev's, not the ReplicaSet's selector
        mine = {k: v for k, v in labels.items() if k.startswith(LOOPDEV_LABELS)}
        meta = {"name": "web-readonly", "labels": mine}
        store.create(res, NS, {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
        return "web-readonly"

    return str(cluster.call(create))


def run(args: argparse.Namespace, cluster: FakeCluster, root: Path) -> None:
    port = free_port()
    loopfile = write_project(root, port)
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "NO_COLOR": "1"}
    cli = [sys.executable, "-m", "loopdev", "-f", str(loopfile)]
    ph = Phases(cluster, args.quiet)

    def ci(name: str) -> None:
        start = ph.mark()
        done = subprocess.run([*cli, "ci", "--timeout", "120"], env=env, capture_output=True)
        if done.returncode != 0:
            print(f"  {name} exited {done.returncode}: {done.stderr.decode()[-400:]}")
        ph.wait_quiet()
        ph.record(name, start)

    ci("first ci (deploys; for reference)")
    ci("no-op ci")

    start = ph.mark()
    proc = subprocess.Popen(
        [*cli, "up", "--no-tui"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    out = Output(proc)
    try:
        out.wait_for(lambda x: "listening" in x, "the port-forward")
        ph.wait_quiet()
        ph.record("up: start-up (until quiet)", start)

        start, t0 = ph.mark(), time.monotonic()
        time.sleep(args.idle)
        idle = ph.record(f"up: idle {args.idle:g} s", start, time.monotonic() - t0)
        if args.idle != 60:
            per_minute = len(idle) * 60 / args.idle
            print(f"idle window scaled to one minute: {per_minute:.1f} requests")

        start, first = ph.mark(), len(out.lines)
        (root / "app" / "index.html").write_text("hello again\n")
        out.wait_for(lambda x: "synced" in x, "the sync", first)
        ph.wait_quiet()
        ph.record("up: save that syncs", start)

        start, first = ph.mark(), len(out.lines)
        before = {p["metadata"]["name"] for p in pods(cluster)}
        with (root / "Dockerfile").open("a") as fh:
            fh.write("# a change that needs a rebuild\n")
        out.wait_for(lambda x: "rebuilding" in x, "the rebuild", first)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # the new pod is running, the old one gone
            now = {p["metadata"]["name"]: p for p in pods(cluster)}
            fresh = [p for n, p in now.items() if n not in before]
            running = [p for p in fresh if (p.get("status") or {}).get("phase") == "Running"]
            if running and not before & set(now):
                break
            time.sleep(0.2)
        ph.wait_quiet()
        ph.record("up: save that rebuilds (until rolled out)", start)

        # The rebuilt image holds every change: sync once more so a new pod needs a replay.
        (root / "app" / "index.html").write_text("hello a third time\n")
        first = len(out.lines)
        out.wait_for(lambda x: "synced" in x, "the sync before the pod deletion", first)
        ph.wait_quiet()
        start, first = ph.mark(), len(out.lines)
        [victim] = [p["metadata"]["name"] for p in pods(cluster)]
        delete_pod(cluster, victim)
        out.wait_for(lambda x: "replayed" in x, "the replay", first)
        ph.wait_quiet()
        ph.record("up: pod deleted, replaced, replayed", start)

        # Undo the last edit: the files are the deployed image's again, so the rebuild a
        # failed replay asks for reuses that image and nothing rolls out (the loop of the
        # issue: replay fails, rebuild reused, replay again).
        (root / "app" / "index.html").write_text("hello again\n")
        first = len(out.lines)
        out.wait_for(lambda x: "synced" in x, "the sync of the undo", first)
        ph.wait_quiet()
        start = ph.mark()
        name = add_read_only_pod(cluster)
        time.sleep(args.failing)
        ph.record(f"up: replay keeps failing, {args.failing:g} s", start)
        delete_pod(cluster, name)
        ph.wait_quiet()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    start = ph.mark()
    done = subprocess.run([*cli, "down"], env=env, capture_output=True)
    if done.returncode != 0:
        print(f"  down exited {done.returncode}: {done.stderr.decode()[-400:]}")
    ph.record("down", start)
    print()
    ph.report()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle `up`")
    parser.add_argument("--quiet", type=float, default=3.0, help="seconds without a request")
    parser.add_argument("--failing", type=float, default=20.0, help="seconds of failing replay")
    args = parser.parse_args()
    client = docker.from_env()
    ensure_busybox_image(client)
    with tempfile.TemporaryDirectory(prefix="loopdev-traffic-") as tmp:
        cluster = FakeCluster(client, Path(tmp) / "kubeconfig", "kind-traffic").start()
        try:
            run(args, cluster, Path(tmp) / "project")
        finally:
            cluster.close()
            for image in client.images.list(name="traffic-web"):
                for tag in image.tags:
                    client.images.remove(tag, force=True)


if __name__ == "__main__":
    main()
