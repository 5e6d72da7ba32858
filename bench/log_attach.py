"""Attaching to a pod with a long log history: how many lines `up` shows in its first 10 s
and how soon the first one arrives, now (session start + a 20-line tail) and as before (the
whole history: a session start of 0 makes every container count as started in the session).

    .venv/bin/python bench/log_attach.py [--history 8000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import docker
import kubernetes.client as k

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loopdev.adapters.kube import KubeClient, resolve_target  # noqa: E402
from loopdev.commands.options import GlobalOptions  # noqa: E402
from loopdev.config.load import load_from_options  # noqa: E402
from loopdev.engine.session import Session  # noqa: E402
from loopdev.reconcilers.logs import LogsReconciler  # noqa: E402
from loopdev.render.labels import RESOURCE_LABEL, ownership_labels  # noqa: E402
from tests.fakekube import FakeCluster  # noqa: E402
from tests.support.images import ensure_busybox_image  # noqa: E402

LOOPFILE = "version: v1\nname: bench\nnamespace: bench\ndeploy: {manifests: [k8s/*.yaml]}\n"


async def attach(tmp: Path, context: str, session_start: float | None) -> tuple[int, float]:
    config = load_from_options(GlobalOptions(file=tmp / "loopfile.yaml"), command="up")
    kube = KubeClient(resolve_target(context))
    session = Session(config, kube, context, reconcilers=[LogsReconciler(session_start)])
    first: list[float] = []
    session.logs.listen(lambda line: first.append(time.perf_counter()) if not first else None)
    t0 = time.perf_counter()
    await session.start()
    await asyncio.sleep(10)
    await session.stop()
    kube.close()
    return len(session.logs), (first[0] - t0) if first else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", type=int, default=8000)
    args = parser.parse_args()
    client = docker.from_env()
    image = ensure_busybox_image(client)
    tmp = Path(tempfile.mkdtemp(prefix="log-attach-bench-"))
    (tmp / "loopfile.yaml").write_text(LOOPFILE)
    (tmp / "k8s").mkdir()
    cluster = FakeCluster(client, tmp / "kubeconfig").start()
    os.environ["KUBECONFIG"] = str(cluster.kubeconfig)
    try:
        api = cluster.api_client()
        v1 = k.CoreV1Api(api)
        v1.create_namespace({"metadata": {"name": "bench"}})
        script = (
            f"i=0; while [ $i -lt {args.history} ]; do i=$((i+1)); echo history $i; done; "
            "while true; do echo live; sleep 0.1; done"
        )
        labels = {**ownership_labels("bench"), RESOURCE_LABEL: "web"}
        container = {"name": "main", "image": image, "command": ["sh", "-c", script]}
        pod = {"metadata": {"name": "old", "labels": labels}, "spec": {"containers": [container]}}
        v1.create_namespaced_pod("bench", pod)
        while v1.read_namespaced_pod("old", "bench").status.phase != "Running":
            time.sleep(0.2)
        time.sleep(5)  # the pod is older than the session
        for name, start in (("now (start + tail)", None), ("before (whole log)", 0.0)):
            lines, first = asyncio.run(attach(tmp, cluster.context, start))
            print(
                f"{name:20}: {lines:6} lines in the first 10 s,"
                f" first line after {first * 1000:.0f} ms"
            )
        api.close()
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
