"""Standalone fake cluster for demos: prints the URL and serves until interrupted.

python -m tests.fakekube --port 0 --kubeconfig PATH --context kind-loopdev-demo
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

import docker

from .cluster import FakeCluster
from .server import ServerOptions


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakekube")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--kubeconfig", type=Path, default=Path("fakekube.kubeconfig"))
    parser.add_argument("--context", default="kind-loopdev-demo")
    parser.add_argument("--backoff-base", type=float, default=None)
    args = parser.parse_args()
    cluster = FakeCluster(
        docker.from_env(),
        args.kubeconfig.resolve(),
        args.context,
        ServerOptions(backoff_base=args.backoff_base),
    )
    cluster.port = args.port
    cluster.start()
    print(
        f"fakekube serving {cluster.url} (kubeconfig {cluster.kubeconfig}, "
        f"context {cluster.context})",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    cluster.close()


if __name__ == "__main__":
    main()
