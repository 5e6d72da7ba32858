from __future__ import annotations

from typing import Any

from loopdev.deploy.status import PROBE_GRACE, classify

NOW = 1_800_000_000.0


def deployment(gen: int = 1, observed: int = 1, want: int = 2, **status: Any) -> dict[str, Any]:
    st = {"observedGeneration": observed, **status}
    return {
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": gen},
        "spec": {"replicas": want},
        "status": st,
    }


def pod(name: str, ready: bool = True, **cs: Any) -> dict[str, Any]:
    container = {"name": "app", "image": "web:1", "restartCount": 0, "ready": ready, **cs}
    container.setdefault("state", {"running": {"startedAt": "2027-01-15T08:00:00Z"}})
    return {
        "metadata": {"name": name},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [container],
        },
    }


def ok_deployment() -> dict[str, Any]:
    return deployment(updatedReplicas=2, readyReplicas=2, replicas=2, availableReplicas=2)


def test_ready_when_rollout_finished_and_pods_ready() -> None:
    got = classify(ok_deployment(), [pod("a"), pod("b")], NOW)
    assert (got.state, got.pods_ready, got.pods_total) == ("ready", 2, 2)


def test_not_ready_while_controller_has_not_observed_new_generation() -> None:
    got = classify(
        deployment(gen=3, observed=2, updatedReplicas=2, readyReplicas=2, replicas=2),
        [pod("a"), pod("b")],
        NOW,
    )
    assert got.state == "updating" and "controller" in got.reason


def test_first_rollout_is_deploying_with_counts() -> None:
    got = classify(
        deployment(updatedReplicas=2, readyReplicas=1, replicas=2),
        [pod("a"), pod("b", ready=False, state={"waiting": {"reason": "ContainerCreating"}})],
        NOW,
    )
    assert got.state == "deploying" and got.reason == "1 of 2 ready"


def test_old_replicas_terminating_is_updating() -> None:
    got = classify(
        deployment(gen=2, observed=2, updatedReplicas=2, readyReplicas=3, replicas=3),
        [pod("a"), pod("b"), pod("old")],
        NOW,
    )
    assert got.state == "updating" and "old replicas" in got.reason


def test_terminating_pods_do_not_count() -> None:
    gone = pod("old", ready=False)
    gone["metadata"]["deletionTimestamp"] = "2027-01-01T00:00:00Z"
    got = classify(ok_deployment(), [pod("a"), pod("b"), gone], NOW)
    assert got.state == "ready" and got.pods_total == 2


def test_crash_loop_is_crashing_and_names_the_container() -> None:
    bad = pod(
        "a",
        ready=False,
        restartCount=4,
        state={"waiting": {"reason": "CrashLoopBackOff"}},
        lastState={"terminated": {"exitCode": 3}},
    )
    got = classify(deployment(updatedReplicas=2, readyReplicas=1, replicas=2), [pod("b"), bad], NOW)
    assert got.state == "crashing" and got.crashing == ("a", "app")
    assert "exit code 3" in got.reason and got.restarts == 4


def test_restarted_with_error_before_backoff_is_crashing() -> None:
    bad = pod("a", ready=False, restartCount=1, lastState={"terminated": {"exitCode": 1}})
    assert classify(ok_deployment(), [bad], NOW).state == "crashing"


def test_image_errors_outrank_everything() -> None:
    for why in ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull"):
        bad = pod("a", ready=False, state={"waiting": {"reason": why}})
        crash = pod(
            "b", ready=False, restartCount=2, state={"waiting": {"reason": "CrashLoopBackOff"}}
        )
        got = classify(deployment(), [crash, bad], NOW)
        assert got.state == "image-error" and why in got.reason


def test_unschedulable() -> None:
    p = {
        "metadata": {"name": "a"},
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/1 nodes are available: insufficient cpu",
                }
            ],
        },
    }
    got = classify(deployment(), [p], NOW)
    assert got.state == "unschedulable" and "insufficient cpu" in got.reason


def test_config_error_is_error() -> None:
    bad = pod(
        "a",
        ready=False,
        state={
            "waiting": {"reason": "CreateContainerConfigError", "message": "secret x not found"}
        },
    )
    got = classify(deployment(), [bad], NOW)
    assert got.state == "error" and "secret x not found" in got.reason


def test_probe_failing_only_after_grace() -> None:
    from datetime import UTC, datetime

    def started(ago: float) -> str:
        return datetime.fromtimestamp(NOW - ago, UTC).isoformat().replace("+00:00", "Z")

    dep = deployment(updatedReplicas=1, readyReplicas=0, replicas=1, want=1)
    fresh = pod("a", ready=False, state={"running": {"startedAt": started(1)}})
    old = pod("a", ready=False, state={"running": {"startedAt": started(PROBE_GRACE + 5)}})
    assert classify(dep, [fresh], NOW).state == "deploying"
    assert classify(dep, [old], NOW).state == "probe-failing"


def test_progress_deadline_is_error() -> None:
    dep = deployment(
        conditions=[
            {
                "type": "Progressing",
                "reason": "ProgressDeadlineExceeded",
                "message": "took too long",
            }
        ]
    )
    assert classify(dep, [], NOW).state == "error"


def test_missing_workload_is_deploying() -> None:
    assert classify(None, [], NOW).state == "deploying"


def test_statefulset_waits_for_revision() -> None:
    sts = {
        "kind": "StatefulSet",
        "metadata": {"generation": 1},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": 1,
            "currentRevision": "a",
            "updateRevision": "b",
            "readyReplicas": 1,
            "replicas": 1,
        },
    }
    assert classify(sts, [pod("db-0")], NOW).state != "ready"
    sts["status"].update(currentRevision="b", updatedReplicas=1)
    assert classify(sts, [pod("db-0")], NOW).state == "ready"


def test_job_complete_and_failed() -> None:
    job = {
        "kind": "Job",
        "metadata": {"generation": 1},
        "status": {"conditions": [{"type": "Complete", "status": "True"}]},
    }
    assert classify(job, [], NOW).state == "ready"
    job["status"]["conditions"] = [
        {"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}
    ]
    got = classify(job, [], NOW)
    assert got.state == "error" and "Backoff" in got.reason


def test_bare_pod() -> None:
    p = pod("solo")
    p["kind"] = "Pod"
    assert classify(p, [p], NOW).state == "ready"


def test_scaled_to_zero_is_ready() -> None:
    dep = deployment(want=0, updatedReplicas=0, readyReplicas=0)
    assert classify(dep, [], NOW).state == "ready"
