"""`ci`'s settle decision from the pods' own timestamps (pure): pods Ready long before this
run need no wait; a recent Ready transition, container start or exit does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from loopdev.deploy.status import classify, settled, stable_since

T0 = 1_800_000_000.0  # an epoch second


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(ready_at: float | None, started: float, ended: float | None = None, **kw: Any) -> dict:
    conds = []
    if ready_at is not None:
        conds.append({"type": "Ready", "status": "True", "lastTransitionTime": iso(ready_at)})
    cs: dict[str, Any] = {"name": "app", "ready": True, "restartCount": 1 if ended else 0}
    cs["state"] = {"running": {"startedAt": iso(started)}}
    cs["lastState"] = {"terminated": {"exitCode": 0, "finishedAt": iso(ended)}} if ended else {}
    status = {"phase": "Running", "conditions": conds, "containerStatuses": [cs], **kw}
    return {"metadata": {"name": "p"}, "status": status}


def test_stable_since_is_the_latest_ready_transition_or_container_start_or_exit() -> None:
    assert stable_since([pod(T0 + 5, started=T0 + 3)]) == T0 + 5
    assert stable_since([pod(T0 + 5, started=T0 + 3), pod(T0 + 9, started=T0 + 8)]) == T0 + 9
    # A container that restarted (or exited) after the Ready transition, between two kubelet
    # status updates, leaves Ready's time old: its start and exit times count too.
    assert stable_since([pod(T0, started=T0 + 20, ended=T0 + 19)]) == T0 + 20
    assert stable_since([pod(T0, started=T0 + 1, ended=T0 + 30)]) == T0 + 30


def test_unknown_when_a_pod_is_not_ready_or_has_no_ready_time() -> None:
    assert stable_since([pod(None, started=T0)]) is None
    unready = pod(T0, started=T0)
    unready["status"]["conditions"][0]["status"] = "False"
    assert stable_since([unready]) is None
    missing = pod(T0, started=T0)
    del missing["status"]["conditions"][0]["lastTransitionTime"]
    assert stable_since([missing]) is None


def test_finished_pods_and_no_pods_never_change() -> None:
    done = pod(None, started=T0, phase="Succeeded")
    assert stable_since([done]) == 0.0 and stable_since([]) == 0.0


def test_settled_needs_settle_seconds_plus_the_timestamp_resolution() -> None:
    assert settled(T0, T0 + 3.0, settle=2.0)  # ready at T0 (truncated): at least 2 s ago
    assert not settled(T0, T0 + 2.9, settle=2.0)
    assert not settled(None, T0 + 100, settle=2.0)
    assert settled(T0 - 3600, T0, settle=2.0)  # ready an hour before this run: no wait


def test_classify_carries_stable_since_and_zero_for_what_cannot_change() -> None:
    dep = {
        "kind": "Deployment",
        "metadata": {"generation": 1},
        "spec": {"replicas": 1},
        "status": {"observedGeneration": 1, "updatedReplicas": 1, "readyReplicas": 1},
    }
    got = classify(dep, [pod(T0 + 5, started=T0 + 3)], now=T0 + 60)
    assert got.state == "ready" and got.stable_since == T0 + 5
    zero = {**dep, "spec": {"replicas": 0}, "status": {"observedGeneration": 1}}
    assert classify(zero, [], now=T0).stable_since == 0.0
    job = {"kind": "Job", "status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    assert classify(job, [pod(None, started=T0, phase="Succeeded")], now=T0).stable_since == 0.0
