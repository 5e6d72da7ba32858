from __future__ import annotations

from typing import Any

from loopdev.config.model import RunStep
from loopdev.live.planner import SyncPlan
from loopdev.live.replay import Ledgers
from loopdev.live.targets import select_targets
from loopdev.render.labels import PROJECT_LABEL, RESOURCE_LABEL

REF = "web:loopdev-abc"


def pod(
    name: str,
    project: str = "demo",
    containers: tuple[tuple[str, str, bool], ...] = (("web", REF, True),),
    phase: str = "Running",
    deleting: bool = False,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "ns",
        "uid": f"uid-{name}",
        "labels": {PROJECT_LABEL: project, RESOURCE_LABEL: "web"},
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "metadata": meta,
        "spec": {"containers": [{"name": n, "image": img} for n, img, _ in containers]},
        "status": {
            "phase": phase,
            "containerStatuses": [
                {
                    "name": n,
                    "containerID": f"docker://{name}-{n}",
                    "state": {"running": {}} if up else {"waiting": {"reason": "x"}},
                }
                for n, _, up in containers
            ],
        },
    }


def test_targets_match_image_reference_not_position() -> None:
    pods = [
        pod("a", containers=(("sidecar", "envoy:1", True), ("web", REF, True))),
        pod("other-project", project="theirs"),
        pod("old", deleting=True),
        pod("pending", phase="Pending"),
        pod("crashing", containers=(("web", REF, False),)),
        pod("b", containers=(("web", "web:loopdev-old", True),)),
    ]
    found = select_targets(pods, "demo", REF)
    assert [(t.pod, t.container, t.container_id, t.resource) for t in found] == [
        ("a", "web", "docker://a-web", "web")
    ]


def test_ledger_keeps_latest_fate_and_steps_until_reset() -> None:
    ledgers = Ledgers()
    led = ledgers.get("web")
    assert led.replay_plan() is None
    step = RunStep("pip install", ("requirements.txt",))
    led.record(SyncPlan((("/l/app/a.py", "/app/a.py"), ("/l/app/d/x", "/app/d/x")), ()))
    led.record(SyncPlan((), ("/app/d",), (step,)))
    led.record(SyncPlan((("/l/app/a.py", "/app/a.py"),), (), (step,)))
    assert led.replay_plan() == SyncPlan(
        (("/l/app/a.py", "/app/a.py"),), ("/app/d", "/app/d/x"), (step,), False
    )
    ledgers.reset("web")
    assert ledgers.get("web").empty
