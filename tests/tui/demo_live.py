"""The README screenshot from a real session: examples/hello (copied to a temp dir, never
edited in place) on the standalone fake cluster, with a live update, then torn down.

    .venv/bin/python -m tests.tui.demo_live docs/dashboard.svg
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import docker

from loopdev.commands.options import GlobalOptions
from loopdev.config.load import load_from_options
from loopdev.deploy.connect import connect
from loopdev.deploy.down import tear_down
from loopdev.engine.session import Session
from loopdev.engine.state import ResourceStatus
from loopdev.tui.app import Dashboard, kube_events
from tests.fakekube.cluster import FakeCluster
from tests.support.images import ensure_python_image

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello"


async def _wait(session: Session, check: Callable[[ResourceStatus], bool], what: str) -> None:
    """Poll the web resource until ``check``; on timeout show what the session saw."""
    deadline = time.monotonic() + 120
    while (web := session.store.state.resource("web")) is None or not check(web):
        if time.monotonic() > deadline:
            lines = (f"{x.resource} {x.source} {x.text}" for x in session.logs.lines())
            raise SystemExit(f"timed out waiting for {what}\n" + "\n".join(lines))
        await asyncio.sleep(0.2)


async def capture(out: Path, work: Path, context: str) -> None:
    config = load_from_options(GlobalOptions(file=work / "loopfile.yaml", profiles=("dev",)))
    kube = connect(config, context)
    session = Session(config, kube, kube.target.context)
    await session.start()
    events = kube_events(kube, config.namespace, session.store)
    app = Dashboard(session.store, session.logs, events=events)
    try:
        async with app.run_test(size=(132, 32)) as pilot:
            await _wait(session, lambda web: web.state == "ready", "web to be ready")
            await asyncio.sleep(2)
            (work / "app" / "message.txt").write_text("edited while running\n")
            await _wait(session, lambda web: "synced" in web.last_update, "a live update")
            await asyncio.sleep(1.5)
            await pilot.press("down")
            await pilot.pause()
            out.write_text(app.export_screenshot(title="loopdev up — examples/hello"), "utf-8")
            await pilot.press("q")
    finally:
        await session.stop()
        await tear_down(kube, config.namespace, config.name)
        kube.close()


def main(out: Path) -> None:
    client = docker.from_env()
    ensure_python_image(client)
    with tempfile.TemporaryDirectory(prefix="loopdev-demo-") as tmp:
        work = Path(tmp) / "hello"
        shutil.copytree(EXAMPLE, work)
        cluster = FakeCluster(client, Path(tmp) / "kubeconfig", "kind-loopdev-demo").start()
        os.environ["KUBECONFIG"] = str(cluster.kubeconfig)
        os.environ["LOOPDEV_OFFLINE"] = "1"  # the example's offline profile: local base image
        try:
            asyncio.run(capture(out, work, cluster.context))
        finally:
            cluster.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/dashboard.svg").resolve())
