"""Classify a workload and its pods into one state with a reason: pure, no client, no clock.

Pod problems (image pull, crash loop, scheduling) outrank rollout progress, because they
explain why a rollout is stuck; "ready" needs a finished rollout AND Ready pods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Obj = Mapping[str, Any]

IMAGE_ERRORS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "ErrImageNeverPull",
        "InvalidImageName",
        "RegistryUnavailable",
    }
)
CONFIG_ERRORS = frozenset(
    {"CreateContainerConfigError", "CreateContainerError", "RunContainerError", "PreStartHookError"}
)
PROBE_GRACE = 10.0  # seconds a started container may stay unready before we call it probe-failing
TIMESTAMP_SLACK = 1.0  # the API's RFC 3339 times are whole seconds (truncated)


@dataclass(frozen=True)
class Classified:
    state: str
    reason: str = ""
    pods_ready: int = 0
    pods_total: int = 0
    restarts: int = 0
    crashing: tuple[str, str] | None = None  # (pod, container) whose previous log explains it
    stable_since: float | None = None  # see ``stable_since``; 0.0: nothing left that can change


def _ts(value: Any) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _statuses(pod: Obj) -> list[Obj]:
    st = pod.get("status") or {}
    return [*(st.get("initContainerStatuses") or ()), *(st.get("containerStatuses") or ())]


def pod_ready(pod: Obj) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def stable_since(pods: Sequence[Obj]) -> float | None:
    """Since when (epoch seconds, the cluster's clock) every running pod has been Ready with
    no container started or ended: the latest Ready transition and container start or exit.
    None when a pod is not Ready or lacks the timestamps; 0.0 when no pod is running."""
    latest = 0.0
    for pod in pods:
        status = pod.get("status") or {}
        if status.get("phase") == "Succeeded":  # finished (a Job's): it cannot change
            continue
        conds: Sequence[Obj] = status.get("conditions") or ()
        cond: Obj = next((c for c in conds if c.get("type") == "Ready"), {})
        ready_at = _ts(cond.get("lastTransitionTime"))
        if cond.get("status") != "True" or ready_at is None:
            return None
        times = [ready_at]
        for cs in _statuses(pod):
            times.append(_ts(((cs.get("state") or {}).get("running") or {}).get("startedAt")) or 0)
            ended = ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
            times.append(_ts(ended) or 0)
        latest = max(latest, *times)
    return latest


def settled(since: float | None, now: float, settle: float) -> bool:
    """Pods have stayed Ready for ``settle`` seconds by their own timestamps (``now`` on the
    same wall clock), so `ci` need not watch them that long itself: true at once for pods
    that were ready well before this run."""
    return since is not None and now - since >= settle + TIMESTAMP_SLACK


def _pod_problem(pod: Obj, now: float) -> Classified | None:
    """The worst thing wrong with one pod, if anything."""
    name = (pod.get("metadata") or {}).get("name", "?")
    status = pod.get("status") or {}
    for cs in _statuses(pod):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        why, msg = waiting.get("reason", ""), waiting.get("message", "")
        container = cs.get("name", "?")
        if why in IMAGE_ERRORS:
            return Classified("image-error", f"{why}: {cs.get('image', '')} ({name}/{container})")
        if why == "CrashLoopBackOff" or _crashed(cs):
            code = ((cs.get("lastState") or {}).get("terminated") or {}).get("exitCode")
            tail = f", exit code {code}" if code is not None else ""
            reason = f"{name}/{container} crashed ({cs.get('restartCount', 0)} restarts{tail})"
            return Classified("crashing", reason, crashing=(name, container))
        if why in CONFIG_ERRORS:
            return Classified("error", f"{why}: {msg or container} ({name})")
    for cond in status.get("conditions") or ():
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "Unschedulable":
            return Classified("unschedulable", cond.get("message") or f"{name} cannot be scheduled")
    if status.get("phase") == "Failed":
        return Classified(
            "error", status.get("message") or status.get("reason") or f"{name} failed"
        )
    for cs in status.get("containerStatuses") or ():
        started = _ts(((cs.get("state") or {}).get("running") or {}).get("startedAt"))
        if started is not None and not cs.get("ready") and now - started > PROBE_GRACE:
            return Classified("probe-failing", f"{name}/{cs.get('name')} running but not ready")
    return None


def _crashed(cs: Obj) -> bool:
    """A container that exited non-zero and is being restarted (before the kubelet backs off)."""
    last = (cs.get("lastState") or {}).get("terminated") or {}
    now_term = (cs.get("state") or {}).get("terminated") or {}
    return (
        bool(cs.get("restartCount"))
        and (last.get("exitCode") or now_term.get("exitCode") or 0) != 0
    )


def _rollout(workload: Obj) -> tuple[bool, str]:
    """(finished, why not) for the workload kinds loopdev tracks."""
    kind = workload.get("kind", "")
    spec, st = workload.get("spec") or {}, workload.get("status") or {}
    gen = (workload.get("metadata") or {}).get("generation") or 0
    if kind != "Pod" and kind != "Job" and (st.get("observedGeneration") or 0) < gen:
        return False, "waiting for the controller to see the new spec"
    if kind == "Deployment":
        for c in st.get("conditions") or ():
            if c.get("reason") == "ProgressDeadlineExceeded":
                return False, "error: " + (c.get("message") or "progress deadline exceeded")
        want = spec.get("replicas", 1)
        return _replicas(
            want, st.get("updatedReplicas"), st.get("readyReplicas"), st.get("replicas")
        )
    if kind == "StatefulSet":
        want = spec.get("replicas", 1)
        if st.get("updateRevision") and st.get("currentRevision") != st.get("updateRevision"):
            return False, f"{st.get('updatedReplicas') or 0} of {want} updated"
        return _replicas(
            want, st.get("updatedReplicas", want), st.get("readyReplicas"), st.get("replicas")
        )
    if kind == "DaemonSet":
        want = st.get("desiredNumberScheduled") or 0
        return _replicas(want, st.get("updatedNumberScheduled"), st.get("numberReady"), None)
    return True, ""


def _replicas(want: int, updated: Any, ready: Any, total: Any) -> tuple[bool, str]:
    updated, ready = updated or 0, ready or 0
    if updated < want:
        return False, f"{updated} of {want} updated"
    if total is not None and (total or 0) > want:
        return False, f"{(total or 0) - want} old replicas terminating"
    if ready < want:
        return False, f"{ready} of {want} ready"
    return True, ""


def _job_state(job: Obj) -> Classified | None:
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("status") != "True":
            continue
        if c.get("type") == "Complete":
            return Classified("ready", "completed")
        if c.get("type") == "Failed":
            return Classified("error", c.get("message") or c.get("reason") or "job failed")
    return None


def classify(workload: Obj | None, pods: Sequence[Obj], now: float) -> Classified:
    """State of one resource from its workload object and its (non-terminating) pods."""
    live = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
    ready = sum(1 for p in live if pod_ready(p))
    restarts = sum(int(cs.get("restartCount") or 0) for p in live for cs in _statuses(p))

    def out(state: str, reason: str, crashing: tuple[str, str] | None = None) -> Classified:
        done = state == "ready" and (reason == "completed" or not live)
        since = 0.0 if done else stable_since(live)
        return Classified(state, reason, ready, len(live), restarts, crashing, since)

    if workload is None:
        return out("deploying", "waiting for the workload to appear")
    if workload.get("kind") == "Job" and (done := _job_state(workload)) is not None:
        return out(done.state, done.reason)
    problems = [p for p in (_pod_problem(pod, now) for pod in live) if p is not None]
    for state in ("image-error", "crashing", "error", "unschedulable"):
        for prob in problems:
            if prob.state == state:
                return out(prob.state, prob.reason, prob.crashing)
    finished, why = _rollout(workload)
    if why.startswith("error: "):
        return out("error", why.removeprefix("error: "))
    if workload.get("kind") == "Pod":
        finished = bool(live) and ready == len(live)
        why = "" if finished else "pod not ready"
    scaled_to_zero = (workload.get("spec") or {}).get("replicas", 1) == 0
    if finished and ready == len(live) and (live or scaled_to_zero):
        return out("ready", "scaled to 0" if scaled_to_zero else "")
    if problems:  # only probe-failing is left
        return out(problems[0].state, problems[0].reason)
    if finished and workload.get("kind") == "Job":
        return out("deploying", "job running")
    state = "updating" if _was_serving(workload) else "deploying"
    return out(state, why or f"{ready} of {len(live)} pods ready")


def _was_serving(workload: Obj) -> bool:
    """An update (vs a first deploy): the workload already had ready replicas of an older spec."""
    st = workload.get("status") or {}
    gen = (workload.get("metadata") or {}).get("generation") or 0
    return (st.get("readyReplicas") or st.get("numberReady") or 0) > 0 and gen > 1
