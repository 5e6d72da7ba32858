"""Fake cluster figures: server start time and exec round-trip latency (p50/p95).

    .venv/bin/python bench/fakekube.py [--execs 50]

Goals from issue #3: start < 1 s, exec round-trip < 100 ms median.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import kubernetes.client as k
from kubernetes.stream import stream

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakekube import FakeCluster  # noqa: E402
from tests.support.images import ensure_busybox_image  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--execs", type=int, default=50)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    client = docker.from_env()
    image = ensure_busybox_image(client)
    tmp = Path(tempfile.mkdtemp(prefix="fakekube-bench-"))

    starts = []
    for i in range(args.starts):
        t0 = time.perf_counter()
        cluster = FakeCluster(client, tmp / f"kc{i}").start()
        api = cluster.api_client()
        k.VersionApi(api).get_code()
        starts.append(time.perf_counter() - t0)
        api.close()
        if i < args.starts - 1:
            cluster.close()
    print(
        f"start (construct + serve + first request): p50 {statistics.median(starts) * 1000:.0f} ms"
        f"  max {max(starts) * 1000:.0f} ms  (n={len(starts)})"
    )

    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakekube", "--kubeconfig", str(tmp / "standalone")],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    cold = time.perf_counter() - t0
    proc.terminate()
    proc.wait(30)
    proc.stdout.close()
    print(
        f"cold start of `python -m tests.fakekube` (imports included): {cold * 1000:.0f} ms "
        f"({line.split()[2] if line else 'no output'})"
    )

    api = cluster.api_client()
    v1 = k.CoreV1Api(api)
    v1.create_namespace({"metadata": {"name": "bench"}})
    t0 = time.perf_counter()
    v1.create_namespaced_pod(
        "bench",
        {
            "metadata": {"name": "b"},
            "spec": {"containers": [{"name": "c", "image": image, "command": ["sleep", "3600"]}]},
        },
    )
    while True:
        pod = v1.read_namespaced_pod("b", "bench")
        if any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []):
            break
        time.sleep(0.01)
    print(f"pod create -> Ready: {(time.perf_counter() - t0) * 1000:.0f} ms")

    rtts = []
    for _ in range(args.execs):
        t0 = time.perf_counter()
        resp = stream(
            v1.connect_get_namespaced_pod_exec,
            "b",
            "bench",
            command=["true"],
            stdin=False,
            stdout=True,
            stderr=True,
            tty=False,
            _preload_content=False,
        )
        resp.run_forever(timeout=10)
        assert resp.returncode == 0
        resp.close()
        rtts.append((time.perf_counter() - t0) * 1000)
    print(
        f"exec round-trip (official client, `true`): p50 {statistics.median(rtts):.1f} ms  "
        f"p95 {pct(rtts, 0.95):.1f} ms  max {max(rtts):.1f} ms  (n={len(rtts)})"
    )
    raw = []
    cid = cluster.kube.kubelet.worker(pod.metadata.uid).running_id("c")
    container = client.containers.get(cid)
    for _ in range(args.execs):
        t0 = time.perf_counter()
        container.exec_run(["true"])
        raw.append((time.perf_counter() - t0) * 1000)
    print(
        f"baseline: raw docker exec_run of `true`: p50 {statistics.median(raw):.1f} ms  "
        f"p95 {pct(raw, 0.95):.1f} ms  (the floor the fake adds its overhead to)"
    )
    api.close()
    cluster.close()


if __name__ == "__main__":
    main()
