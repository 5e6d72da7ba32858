"""`loopdev ci` and `loopdev down` as whole CLI processes against the fake API server.

Measures, for a busybox project (one Deployment + one ConfigMap; pods are real containers):
- first `ci`: a fresh namespace each run (loopdev creates it; the image is already built);
- unchanged `ci`: the same project again once its pods have been Ready for 3 s;
- `down` of that namespace (loopdev made it: deleted with it) and of one holding a ConfigMap
  made by hand (our objects deleted, namespace kept): wall time and API requests by verb;
- startup: `up --no-tui` to its first "every resource ready" line (then Ctrl-C), `render`
  and `validate` as whole processes.
``--src DIR`` runs the CLI from another source tree (e.g. a checkout of main) for a before/
after in the same minutes; ``--against DIR`` runs this tree and DIR's in turn, run by run (the
machine is noisy), and prints each one's medians and their ratio. The CLI runs with its
bytecode cached, as an installed loopdev does (not into the source tree). Prints medians;
asserts nothing.
Run: .venv/bin/python bench/ci.py [--runs N] [--src DIR | --against DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
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
    def __init__(self, cluster: FakeCluster, root: Path, src: Path | None, tag: str) -> None:
        self.cluster, self.root, self.tag = cluster, root, tag
        self.env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "NO_COLOR": "1"}
        # Bytecode cached as for an installed loopdev (kept out of the source tree): with
        # PYTHONDONTWRITEBYTECODE, set on some dev machines, every run compiles every module.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env["PYTHONPYCACHEPREFIX"] = str(root.parent / "pycache")
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

    def up_ready(self, namespace: str) -> float:
        """`up --no-tui` from process start to its line saying the workload is ready."""
        path = write_project(self.root, PROJECT, namespace)
        cmd = [sys.executable, "-m", "loopdev", "-f", str(path), "up", "--no-tui"]
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        took = None
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("web ") and "│ ready" in line:
                took = time.perf_counter() - t0
                break
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
        if took is None:
            raise SystemExit(f"up --no-tui ended before web was ready (exit {proc.returncode})")
        return took

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


def measure(run: Runner, i: int, out: dict[str, list[float]]) -> dict[str, Counter[str]]:
    """Run ``i`` of every whole-process measure for one tree, into ``out``."""
    ns = f"bench-ci-{os.getpid()}-{run.tag}-{i}"
    out.setdefault("first", []).append(run.loopdev(ns, "ci", "--timeout", "120")[0])
    time.sleep(3.2)  # pods Ready for the settle (+1 s timestamp resolution) by their clock
    out.setdefault("noop", []).append(run.loopdev(ns, "ci", "--timeout", "120")[0])
    out.setdefault("up", []).append(run.up_ready(ns))
    out.setdefault("render", []).append(run.loopdev(ns, "render")[0])
    out.setdefault("validate", []).append(run.loopdev(ns, "validate")[0])
    if i % 2:
        run.foreign_configmap(ns)
        took, verbs = run.counted(ns, "down")
        out.setdefault("kept", []).append(took)
        run.drop_namespace(ns)
        return {"kept": verbs}
    took, verbs = run.counted(ns, "down")
    out.setdefault("down", []).append(took)
    return {"down": verbs}


def session_phases(run: Runner, runs: int, out: dict[str, list[float]]) -> None:
    ns = f"bench-ci-{os.getpid()}-{run.tag}-session"
    run.loopdev(ns, "ci", "--timeout", "120")
    time.sleep(3.2)
    phases = run.in_process(ns, max(3, runs))
    run.loopdev(ns, "down")
    out["open"] = [p[0] for p in phases]
    out["verdict"] = [p[1] for p in phases]
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import loopdev.cli"], env=run.env, check=True)
        out.setdefault("floor", []).append(time.perf_counter() - t0)


LABELS = [
    ("first", "first `loopdev ci` (new namespace)"),
    ("noop", "unchanged `loopdev ci`"),
    ("up", "`loopdev up --no-tui` to ready (unchanged)"),
    ("render", "`loopdev render`"),
    ("validate", "`loopdev validate`"),
    ("down", "`loopdev down`, namespace deleted with it"),
    ("kept", "`loopdev down`, namespace kept (foreign object)"),
    ("open", "  in process: open the session (warm imports)"),
    ("verdict", "  in process: session start -> verdict"),
    ("floor", "  floor: interpreter + `import loopdev.cli`"),
]


def report(name: str, out: dict[str, list[float]], verbs: dict[str, list[Counter[str]]]) -> None:
    print(f"--- {name}")
    for key, label in LABELS:
        if out.get(key):
            show(label, out[key])
        if verbs.get(key):
            print(f"{'':<44} {verbs_text(verbs[key])}")


def run_all(runners: dict[str, Runner], runs: int) -> None:
    for run in runners.values():
        warm = f"bench-ci-warm-{run.tag}"
        run.loopdev(warm, "ci", "--timeout", "120")  # builds the image once; compiles
        run.loopdev(warm, "down")
    outs: dict[str, dict[str, list[float]]] = {name: {} for name in runners}
    verbs: dict[str, dict[str, list[Counter[str]]]] = {name: {} for name in runners}
    names = list(runners)
    for i in range(runs):
        for name in names if i % 2 == 0 else reversed(names):  # alternate who goes first
            for key, counts in measure(runners[name], i, outs[name]).items():
                verbs[name].setdefault(key, []).append(counts)
    for name in names:
        session_phases(runners[name], runs, outs[name])
    for name in names:
        report(name, outs[name], verbs[name])
    if len(names) == 2:
        new, old = names
        print(f"--- ratio of medians, {new} / {old}")
        for key, label in LABELS:
            a, b = outs[new].get(key), outs[old].get(key)
            if a and b:
                print(f"{label:<44} {statistics.median(a) / statistics.median(b):5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--src", type=Path, default=None, help="run loopdev from this src/")
    parser.add_argument(
        "--against", type=Path, default=None, help="also run this src/, alternately (ratios)"
    )
    args = parser.parse_args()
    client = docker.from_env()
    ensure_busybox_image(client)
    with tempfile.TemporaryDirectory() as tmp:
        cluster = FakeCluster(client, Path(tmp) / "kubeconfig", "kind-bench", ServerOptions())
        cluster.start()
        try:
            root = Path(tmp) / "project"
            own = Path(__file__).resolve().parent.parent / "src"
            runners = {str(args.src or own): Runner(cluster, root, args.src or own, "a")}
            if args.against is not None:
                runners[str(args.against)] = Runner(cluster, root, args.against, "b")
            run_all(runners, args.runs)
        finally:
            cluster.close()


if __name__ == "__main__":
    main()
