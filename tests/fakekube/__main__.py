"""Standalone fake cluster for demos: prints the URL and serves until interrupted.

python -m tests.fakekube --port 0 --kubeconfig PATH --context kind-loopdev-demo
    [--server-version 1.28]   # the Kubernetes version claimed (exec negotiates v5 from 1.30)
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

import docker

from .cluster import FakeCluster
from .server import ServerOptions
from .version import DEFAULT_VERSION, ServerVersion


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakekube")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--kubeconfig", type=Path, default=Path("fakekube.kubeconfig"))
    parser.add_argument("--context", default="kind-loopdev-demo")
    parser.add_argument("--backoff-base", type=float, default=None)
    parser.add_argument(
        "--server-version",
        default=DEFAULT_VERSION,
        help="Kubernetes version to claim, e.g. 1.28 (v4 exec only) or 1.31 (v5 exec)",
    )
    args = parser.parse_args()
    try:
        ServerVersion.parse(args.server_version)
    except ValueError as err:
        parser.error(str(err))
    cluster = FakeCluster(
        docker.from_env(),
        args.kubeconfig.resolve(),
        args.context,
        ServerOptions(backoff_base=args.backoff_base, server_version=args.server_version),
    )
    cluster.port = args.port
    cluster.start()
    print(
        f"fakekube serving {cluster.url} as Kubernetes {cluster.server_version} "
        f"(kubeconfig {cluster.kubeconfig}, context {cluster.context})",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    cluster.close()


if __name__ == "__main__":
    main()
