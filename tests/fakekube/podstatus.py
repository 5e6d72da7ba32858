"""Pure pod-status composition: container states -> phase, conditions, containerStatuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ContainerState:
    """What the kubelet knows about one container; ``to_status`` is the API shape."""

    name: str
    image: str
    state: dict[str, Any] = field(
        default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}}
    )
    last_state: dict[str, Any] = field(default_factory=dict)
    ready: bool = False
    restart_count: int = 0
    image_id: str = ""
    container_id: str = ""
    done: bool = False  # terminated and will not restart

    def to_status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "image": self.image,
            "imageID": self.image_id,
            "ready": self.ready,
            "restartCount": self.restart_count,
            "started": "running" in self.state,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.container_id:
            out["containerID"] = self.container_id
        return out


def _cond(type_: str, ok: bool, ts: str, reason: str = "") -> dict[str, Any]:
    c: dict[str, Any] = {
        "type": type_,
        "status": "True" if ok else "False",
        "lastProbeTime": None,
        "lastTransitionTime": ts,
    }
    if reason and not ok:
        c["reason"] = reason
    return c


def phase_of(containers: list[ContainerState], init_done: bool, init_failed: bool) -> str:
    if init_failed:
        return "Failed"
    if not init_done:
        return "Pending"
    if containers and all(c.done for c in containers):
        exits = [c.state.get("terminated", {}).get("exitCode", 1) for c in containers]
        return "Succeeded" if all(e == 0 for e in exits) else "Failed"
    started = [c for c in containers if "running" in c.state or c.restart_count or c.done]
    return "Running" if containers and len(started) == len(containers) else "Pending"


def compose(
    containers: list[ContainerState],
    init: list[ContainerState],
    init_done: bool,
    init_failed: bool,
    started_at: str,
    pod_ip: str,
    host_ip: str,
    prev: dict[str, Any],
) -> dict[str, Any]:
    """The pod ``status``; condition timestamps only move when a condition flips."""
    phase = phase_of(containers, init_done, init_failed)
    ready = bool(containers) and all(c.ready for c in containers) and phase == "Running"
    old = {c["type"]: c for c in prev.get("conditions", [])}
    conds = []
    for type_, ok, reason in (
        ("PodReadyToStartContainers", bool(pod_ip), ""),
        ("Initialized", init_done, "ContainersNotInitialized"),
        ("Ready", ready, "ContainersNotReady"),
        ("ContainersReady", ready, "ContainersNotReady"),
        ("PodScheduled", True, ""),
    ):
        c = _cond(type_, ok, started_at)
        if type_ in old and old[type_]["status"] == c["status"]:
            c["lastTransitionTime"] = old[type_]["lastTransitionTime"]
        elif type_ in old:
            from .store import now_iso

            c["lastTransitionTime"] = now_iso()
        if reason and not ok:
            c["reason"] = reason
        conds.append(c)
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": conds,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": started_at,
        "qosClass": "BestEffort",
        "containerStatuses": [c.to_status() for c in containers],
    }
    if pod_ip:
        status["podIP"], status["podIPs"] = pod_ip, [{"ip": pod_ip}]
    if init:
        status["initContainerStatuses"] = [c.to_status() for c in init]
    return status
