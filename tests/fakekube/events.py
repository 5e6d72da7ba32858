"""core/v1 Events for pod lifecycle (Scheduled, Pulled, Failed, Started, BackOff, Killing)."""

from __future__ import annotations

import secrets
from typing import Any

from .errors import ApiError
from .store import Store, now_iso

NODE_NAME = "fakekube-node"


def record(
    store: Store,
    obj: dict[str, Any],
    reason: str,
    message: str,
    type_: str = "Normal",
    component: str = "kubelet",
    field_path: str = "",
) -> None:
    """Store one Event about ``obj``; silently skipped when its namespace is going away."""
    meta = obj["metadata"]
    ns = meta.get("namespace") or "default"
    ts = now_iso()
    involved = {
        "kind": obj.get("kind"),
        "namespace": meta.get("namespace"),
        "name": meta["name"],
        "uid": meta.get("uid"),
        "apiVersion": obj.get("apiVersion"),
        "resourceVersion": meta.get("resourceVersion"),
    }
    if field_path:
        involved["fieldPath"] = field_path
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{secrets.token_hex(8)}", "namespace": ns},
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "type": type_,
        "source": {"component": component, "host": NODE_NAME},
        "firstTimestamp": ts,
        "lastTimestamp": ts,
        "count": 1,
        "reportingComponent": component,
        "reportingInstance": NODE_NAME,
    }
    res = store.kind_of(("", "events"))
    try:
        store.create(res, ns, event)
    except ApiError:
        pass
