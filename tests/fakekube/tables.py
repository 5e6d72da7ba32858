"""``meta.k8s.io/v1`` Table responses, so ``kubectl get`` prints real columns.

kubectl asks for ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``; only the kinds
people look at during a dev loop get specific columns, everything else gets Name and Age.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
Column = tuple[str, str, Callable[[Obj], Any]]


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def age(obj: Obj) -> str:
    ts = obj.get("metadata", {}).get("creationTimestamp")
    if not ts:
        return "<unknown>"
    created = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    secs = int((datetime.now(UTC) - created).total_seconds())
    if secs < 120:
        return f"{max(secs, 0)}s"
    if secs < 600:
        return f"{secs // 60}m{secs % 60}s" if secs % 60 else f"{secs // 60}m"
    if secs < 3 * 3600:
        return f"{secs // 60}m"
    return f"{secs // 3600}h" if secs < 48 * 3600 else f"{secs // 86400}d"


def _pod_status(p: Obj) -> str:
    if p["metadata"].get("deletionTimestamp"):
        return "Terminating"
    st = p.get("status") or {}
    for cs in st.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            return str(state["waiting"]["reason"])
        if "terminated" in state and st.get("phase") not in ("Succeeded", "Failed", "Running"):
            return str(state["terminated"].get("reason", "Terminated"))
    if st.get("phase") == "Succeeded":
        return "Completed"
    return str(st.get("phase", "Pending"))


def _ready(p: Obj) -> str:
    cs = (p.get("status") or {}).get("containerStatuses") or []
    total = len(p.get("spec", {}).get("containers", []))
    return f"{sum(1 for c in cs if c.get('ready'))}/{total}"


def _s(obj: Obj, key: str) -> Any:
    return (obj.get("status") or {}).get(key, 0)


def _name(o: Obj) -> str:
    return str(o["metadata"]["name"])


COLUMNS: dict[str, list[Column]] = {
    "Pod": [
        ("Ready", "string", _ready),
        ("Status", "string", _pod_status),
        (
            "Restarts",
            "string",
            lambda p: str(
                sum(
                    c.get("restartCount", 0)
                    for c in (p.get("status") or {}).get("containerStatuses") or []
                )
            ),
        ),
        ("Age", "string", age),
        ("IP", "string", lambda p: _s(p, "podIP") or "<none>"),
        ("Node", "string", lambda p: p["spec"].get("nodeName") or "<none>"),
    ],
    "Deployment": [
        ("Ready", "string", lambda d: f"{_s(d, 'readyReplicas')}/{d['spec'].get('replicas', 1)}"),
        ("Up-to-date", "integer", lambda d: _s(d, "updatedReplicas")),
        ("Available", "integer", lambda d: _s(d, "availableReplicas")),
        ("Age", "string", age),
    ],
    "ReplicaSet": [
        ("Desired", "integer", lambda r: r["spec"].get("replicas", 1)),
        ("Current", "integer", lambda r: _s(r, "replicas")),
        ("Ready", "integer", lambda r: _s(r, "readyReplicas")),
        ("Age", "string", age),
    ],
    "StatefulSet": [
        ("Ready", "string", lambda s: f"{_s(s, 'readyReplicas')}/{s['spec'].get('replicas', 1)}"),
        ("Age", "string", age),
    ],
    "Job": [
        (
            "Status",
            "string",
            lambda j: next(
                (c["type"] for c in _s(j, "conditions") or [] if c.get("status") == "True"),
                "Running",
            ),
        ),
        (
            "Completions",
            "string",
            lambda j: f"{_s(j, 'succeeded')}/{j['spec'].get('completions', 1)}",
        ),
        ("Age", "string", age),
    ],
    "Service": [
        ("Type", "string", lambda s: s["spec"].get("type", "ClusterIP")),
        ("Cluster-IP", "string", lambda s: s["spec"].get("clusterIP", "<none>")),
        (
            "Ports",
            "string",
            lambda s: (
                ",".join(
                    f"{p.get('port')}/{p.get('protocol', 'TCP')}"
                    for p in s["spec"].get("ports") or []
                )
                or "<none>"
            ),
        ),
        ("Age", "string", age),
    ],
    "Namespace": [
        ("Status", "string", lambda n: _s(n, "phase") or "Active"),
        ("Age", "string", age),
    ],
    "Event": [
        ("Type", "string", lambda e: e.get("type", "")),
        ("Reason", "string", lambda e: e.get("reason", "")),
        (
            "Object",
            "string",
            lambda e: (
                f"{e['involvedObject'].get('kind', '').lower()}/"
                f"{e['involvedObject'].get('name', '')}"
            ),
        ),
        ("Message", "string", lambda e: e.get("message", "")),
    ],
}
WIDE = {"IP", "Node"}


def table(kind: str, items: list[Obj], rv: str, headers: bool = True) -> Obj:
    cols: list[Column] = [("Name", "string", _name), *COLUMNS.get(kind, [("Age", "string", age)])]
    defs = [
        {
            "name": n,
            "type": t,
            "format": "name" if n == "Name" else "",
            "description": "",
            "priority": 1 if n in WIDE else 0,
        }
        for n, t, _ in cols
    ]
    rows = [
        {
            "cells": [fn(o) for _, _, fn in cols],
            "object": {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": o["metadata"],
            },
        }
        for o in items
    ]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": defs if headers else [],
        "rows": rows,
    }
