"""A realistic, deterministic dashboard state (fixed clock) for pilot and snapshot tests.

``python -m tests.tui.demo OUT.svg`` renders it; the README's docs/dashboard.svg comes from a
real session instead (tests/tui/demo_live.py).
"""

from __future__ import annotations

import asyncio
import sys

from loopdev.engine import actions as a
from loopdev.engine.logs import LogStore
from loopdev.engine.state import BuildInfo, ForwardInfo, ResourceStatus
from loopdev.engine.store import Store

NOW = 1000.0  # the injected monotonic clock: ages below are NOW - since
SECRET = "s3cr3t-db-pa55"  # a Secret value the demo app leaks into its logs


def clock() -> float:
    return NOW


def example_store() -> tuple[Store, LogStore]:
    """The examples/hello app, mid-session: image reused, web ready and forwarded."""
    store, logs = Store(clock=clock), LogStore()
    for act in (
        a.SessionStarted("hello", "kind-dev", "hello", ("dev",)),
        a.ResourceAdded(
            ResourceStatus(
                "hello-web",
                "image",
                state="ready",
                since=NOW - 95,
                build=BuildInfo("hello-web:loopdev-3f9a1c2e7b4d5a60", reused=True, duration=0.4),
            )
        ),
        a.ResourceAdded(
            ResourceStatus(
                "web",
                "workload",
                state="ready",
                since=NOW - 62,
                pods_ready=1,
                pods_total=1,
                forwards=(ForwardInfo(8080, 8000, state="listening"),),
                last_update="synced 3 files in 84 ms",
                objects=("Deployment/hello-web", "Service/hello-web", "ConfigMap/hello"),
                depends_on=("hello-web",),
                build=BuildInfo("hello-web:loopdev-3f9a1c2e7b4d5a60", reused=True, duration=0.4),
            )
        ),
        a.ResourceAdded(
            ResourceStatus(
                "worker",
                "workload",
                state="crashing",
                reason="CrashLoopBackOff: exit 1",
                since=NOW - 12,
                pods_ready=0,
                pods_total=1,
                restarts=4,
                last_error=f"CrashLoopBackOff: exit 1 (DB_PASSWORD={SECRET} rejected)",
                objects=("Deployment/hello-worker",),
            )
        ),
        a.ResourceAdded(
            ResourceStatus(
                "api",
                "workload",
                state="building",
                since=NOW - 3,
                build=BuildInfo(step="Step 4/7 : RUN pip install -r requirements.txt"),
            )
        ),
        a.ResourceAdded(
            ResourceStatus("docs", "local", state="ready", since=NOW - 40, last_update="served")
        ),
    ):
        store.reduce_now(act)
    for i in range(12):
        logs.append("web", f'10.244.0.1 - "GET /hello HTTP/1.1" 200 {18 + i}', "hello-web-7d9/web")
    logs.append("worker", f"connecting to db with password {SECRET}", "hello-worker-5c/worker")
    logs.append("worker", "FATAL: password authentication failed", "hello-worker-5c/worker")
    logs.append("worker", "Back-off restarting failed container", "event")
    logs.append("api", "Step 4/7 : RUN pip install -r requirements.txt", "build")
    logs.append("docs", "Serving on http://127.0.0.1:8001", "local")
    return store, logs


async def _screenshot(path: str) -> None:
    from loopdev.redact import REDACTOR
    from loopdev.tui.app import Dashboard

    REDACTOR.add(SECRET)
    store, logs = example_store()
    app = Dashboard(store, logs, clock=clock)
    async with app.run_test(size=(132, 32)) as pilot:
        await pilot.pause()
        svg = app.export_screenshot(title="loopdev up — examples/hello")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(svg)


if __name__ == "__main__":
    asyncio.run(_screenshot(sys.argv[1] if len(sys.argv) > 1 else "dashboard-demo.svg"))
