"""`loopdev ci` and `loopdev down` as whole CLI processes against the fake API server.

Measures, for a busybox project (one Deployment + one ConfigMap; pods are real containers):
- first `ci`: a fresh namespace each run (loopdev creates it; the image is already built);
- unchanged `ci`: the same project again once its pods have been Ready for 3 s;
- `down` of that namespace (loopdev made it: deleted with it) and of one holding a ConfigMap
  made by hand (our objects deleted, namespace kept): wall time and API requests by verb.
``--src DIR`` runs the CLI from another source tree (e.g. a checkout of main) for a before/
after in the same minutes. Prints medians; asserts nothing.
Run: .venv/bin/python bench/ci.py [--runs N] [--src DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker  # noqa: E402
import kubernetes.client  # noqa: E402

from tests.fakekube import FakeCluster, ServerOptions  # noqa: E402
from tests.integration.deploy_support import write_project  # noqa: E402
from tests.support.images import ensure_busybox_image  # noqa: E402

PROJECT = "benchci"


def show(name: str, values: list[float]) -> None:
    print(
        f"{name:<44} n={len(values):<3} p50={statistics.median(values) * 1000:6.0f} ms  "
        f"min={min(values) * 1000:6.0f} ms  max={max(values) * 1000:6.0f} ms"
    )


# Runs in a child process (so ``--src`` applies): the session part of an unchanged `ci`,
# imports warm, N times: open the session (config, kube, Docker), then run it to the verdict.
IN_PROCESS = """
import asyncio, json, sys, time
from pathlib import Path
from loopdev.commands.options import GlobalOptions
from loopdev.commands.up import open_session
out = []
for _ in range(int(sys.argv[2])):
    t0 = time.perf_counter()
    s = open_session(GlobalOptions(file=Path(sys.argv[1])), "ci", presenter=None, once=True,
                     set_values=(), values_files=())
    t1 = time.perf_counter()
    verdict = asyncio.run(s.run_until_ready(60))
    s.ctx.kube.close()
    out.append([t1 - t0, time.perf_counter() - t1, verdict.ok])
print(json.dumps(out))
"""


class Runner:
    def __init__(self, cluster: FakeCluster, root: Path, src: Path | None) -> None:
        self.cluster, self.root = cluster, root
        self.env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "NO_COLOR": "1"}
        if src is not None:
            self.env["PYTHONPATH"] = str(src)

    def loopdev(self, namespace: str, *args: str) -> tuple[float, str]:
        path = write_project(self.root, PROJECT, namespace)
        cmd = [sys.executable, "-m", "loopdev", "-f", str(path), *args]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=self.env, capture_output=True, text=True)
        took = time.perf_counter() - t0
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed: {done.stdout}{done.stderr[-2000:]}")
        return took, done.stdout + done.stderr

    def in_process(self, namespace: str, n: int) -> list[list[float]]:
        path = write_project(self.root, PROJECT, namespace)
        cmd = [sys.executable, "-c", IN_PROCESS, str(path), str(n)]
        done = subprocess.run(cmd, env=self.env, capture_output=True, text=True, check=True)
        return list(json.loads(done.stdout.splitlines()[-1]))

    def counted(self, namespace: str, *args: str) -> tuple[float, Counter[str]]:
        log = self.cluster.kube.requests
        mark = log.mark()
        took, _ = self.loopdev(namespace, *args)
        return took, log.verbs(mark)

    def foreign_configmap(self, namespace: str) -> None:
        with self.cluster.api_client() as api:
            body = kubernetes.client.V1ConfigMap(
                metadata=kubernetes.client.V1ObjectMeta(name="by-hand"), data={"k": "v"}
            )
            kubernetes.client.CoreV1Api(api).create_namespaced_config_map(namespace, body)

    def drop_namespace(self, namespace: str) -> None:
        store = self.cluster.kube.store
        ns_res = store.kind_of(("", "namespaces"))

        def delete() -> None:
            if store.find(ns_res, "", namespace) is not None:
                store.delete(ns_res, "", namespace)

        self.cluster.call(delete)


def verbs_text(counts: list[Counter[str]]) -> str:
    total = [sum(c.values()) for c in counts]
    keys = sorted({k for c in counts for k in c})
    parts = ", ".join(f"{k} {statistics.median([c[k] for c in counts]):g}" for k in keys)
    return f"{statistics.median(total):g} requests ({parts})"


def measure(run: Runner, runs: int) -> None:
    run.loopdev("bench-ci-warm", "ci", "--timeout", "120")  # builds the image once
    run.loopdev("bench-ci-warm", "down")
    first, noop, down_t, kept_t = [], [], [], []
    down_n: list[Counter[str]] = []
    kept_n: list[Counter[str]] = []
    for i in range(runs):
        ns = f"bench-ci-{os.getpid()}-{i}"
        first.append(run.loopdev(ns, "ci", "--timeout", "120")[0])
        time.sleep(3.2)  # pods Ready for the settle (+1 s timestamp resolution) by their clock
        noop.append(run.loopdev(ns, "ci", "--timeout", "120")[0])
        if i % 2:
            run.foreign_configmap(ns)
            took, verbs = run.counted(ns, "down")
            kept_t.append(took)
            kept_n.append(verbs)
            run.drop_namespace(ns)
        else:
            took, verbs = run.counted(ns, "down")
            down_t.append(took)
            down_n.append(verbs)
    ns = f"bench-ci-{os.getpid()}-session"
    run.loopdev(ns, "ci", "--timeout", "120")
    time.sleep(3.2)
    phases = run.in_process(ns, max(3, runs))
    run.loopdev(ns, "down")
    show("first `loopdev ci` (new namespace)", first)
    show("unchanged `loopdev ci`", noop)
    show("`loopdev down`, namespace deleted with it", down_t)
    print(f"{'':<44} {verbs_text(down_n)}")
    if kept_t:
        show("`loopdev down`, namespace kept (foreign object)", kept_t)
        print(f"{'':<44} {verbs_text(kept_n)}")
    show("  in process: open the session (warm imports)", [p[0] for p in phases])
    show("  in process: session start -> verdict", [p[1] for p in phases])
    imports = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import loopdev.cli"], env=run.env, check=True)
        imports.append(time.perf_counter() - t0)
    show("  floor: interpreter + `import loopdev.cli`", imports)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--src", type=Path, default=None, help="run loopdev from this src/")
    args = parser.parse_args()
    client = docker.from_env()
    ensure_busybox_image(client)
    with tempfile.TemporaryDirectory() as tmp:
        cluster = FakeCluster(client, Path(tmp) / "kubeconfig", "kind-bench", ServerOptions())
        cluster.start()
        try:
            measure(Runner(cluster, Path(tmp) / "project", args.src), args.runs)
        finally:
            cluster.close()


if __name__ == "__main__":
    main()
