"""Helpers shared by the workload controllers: hashing, readiness, owners, conditions."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .store import now_iso

Obj = dict[str, Any]
SAFE = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: Obj) -> str:
    """A stable, DNS-safe hash of a pod template (like k8s' pod-template-hash)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(SAFE[b % len(SAFE)] for b in digest[:10])


def pod_ready(pod: Obj) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def owner_ref(owner: Obj) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def condition(old: list[Obj], type_: str, ok: bool, reason: str, message: str) -> Obj:
    """A condition whose timestamps move only when its status or reason changes."""
    prev = next((c for c in old if c.get("type") == type_), None)
    status = "True" if ok else "False"
    ts = now_iso()
    out = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": ts,
        "lastTransitionTime": ts,
    }
    if prev is not None:
        if prev.get("status") == status:
            out["lastTransitionTime"] = prev.get("lastTransitionTime", ts)
            if prev.get("reason") == reason:
                out["lastUpdateTime"] = prev.get("lastUpdateTime", ts)
    return out
