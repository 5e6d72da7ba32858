"""Defaulting and validation the real API server does on write, to the extent clients notice."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from .errors import invalid
from .resources import Resource
from .selectors import match_label_selector_obj

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def pull_policy(image: str) -> str:
    """Kubernetes' default: ``Always`` for ``:latest`` or untagged images, else IfNotPresent."""
    last = image.rsplit("/", 1)[-1]
    if "@" in image:
        return "IfNotPresent"
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _pod_spec_defaults(spec: dict[str, Any], restart: str = "Always") -> None:
    spec.setdefault("restartPolicy", restart)
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        if isinstance(c, dict) and c.get("image"):
            c.setdefault("imagePullPolicy", pull_policy(c["image"]))
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            c.setdefault("resources", {})
            for p in c.get("ports", []) or []:
                p.setdefault("protocol", "TCP")


def _secret_defaults(obj: dict[str, Any]) -> None:
    """stringData is write-only: the server folds it into data (base64) and drops it."""
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = dict(obj.get("data") or {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data
    obj.setdefault("type", "Opaque")


def apply_defaults(res: Resource, obj: dict[str, Any]) -> None:
    kind, spec = res.kind, obj.get("spec")
    if kind == "Secret" and res.group == "":
        _secret_defaults(obj)
    if kind == "Pod" and isinstance(spec, dict):
        _pod_spec_defaults(spec)
        obj.setdefault("status", {}).setdefault("phase", "Pending")
    elif kind in ("Deployment", "StatefulSet", "ReplicaSet") and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        if kind == "Deployment":
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault(
                "strategy",
                {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                },
            )
        if kind == "StatefulSet":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault(
                "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
            )
        tmpl = spec.get("template", {}).get("spec")
        if isinstance(tmpl, dict):
            _pod_spec_defaults(tmpl)
        # As the real server does, a new object has a status (replicas is required in the
        # StatefulSet and ReplicaSet status) before any controller runs.
        status = obj.setdefault("status", {})
        if kind != "Deployment":
            status.setdefault("replicas", 0)
    elif kind == "DaemonSet" and isinstance(spec, dict):
        spec.setdefault("revisionHistoryLimit", 10)
        tmpl = spec.get("template", {}).get("spec")
        if isinstance(tmpl, dict):
            _pod_spec_defaults(tmpl)
        # The real server answers a new DaemonSet with its required status counters at zero
        # (clients read status.numberReady right after create, before any controller ran).
        status = obj.setdefault("status", {})
        for key in (
            "currentNumberScheduled",
            "desiredNumberScheduled",
            "numberMisscheduled",
            "numberReady",
        ):
            status.setdefault(key, 0)
    elif kind == "Job" and isinstance(spec, dict):
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
        spec.setdefault("backoffLimit", 6)
        tmpl = spec.get("template", {}).get("spec")
        if isinstance(tmpl, dict):
            _pod_spec_defaults(tmpl, restart="Never")
    elif kind == "Service" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if "clusterIP" not in spec:
            # Deterministic per name so re-applies keep it; never routable (no kube-proxy here).
            digest = hashlib.sha256(obj["metadata"].get("name", "").encode()).digest()
            spec["clusterIP"] = f"10.96.{digest[0]}.{digest[1] % 254 + 1}"
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        for p in spec.get("ports", []) or []:
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p.get("port"))
    elif kind == "Namespace":  # as loopdev-get#50 / kubectl#139 show it
        ns_spec = obj.setdefault("spec", {})
        if isinstance(ns_spec, dict):
            ns_spec.setdefault("finalizers", ["kubernetes"])
        meta = obj.setdefault("metadata", {})
        labels = meta.get("labels") or {}
        meta["labels"] = {**labels, "kubernetes.io/metadata.name": meta.get("name", "")}
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")


def _containers_errors(spec: Any, path: str) -> list[tuple[str, str]]:
    if not isinstance(spec, dict):
        return [(path, "Required value")]
    errs = []
    containers = spec.get("containers")
    if not containers:
        errs.append((f"{path}.containers", "Required value"))
    for i, c in enumerate(containers or []):
        if not isinstance(c, dict) or not c.get("name"):
            errs.append((f"{path}.containers[{i}].name", "Required value"))
        elif not LABEL_NAME_RE.match(c["name"]):
            errs.append(
                (
                    f"{path}.containers[{i}].name",
                    f'Invalid value: "{c["name"]}": a lowercase RFC 1123 label must '
                    "consist of lower case alphanumeric characters or '-'",
                )
            )
        if isinstance(c, dict) and not c.get("image"):
            errs.append((f"{path}.containers[{i}].image", "Required value"))
    return errs


def validate(res: Resource, obj: dict[str, Any]) -> None:
    """Raise a 422 ``Invalid`` Status for the mistakes loopdev users actually make."""
    meta = obj.get("metadata") or {}
    name = meta.get("name", "")
    errs: list[tuple[str, str]] = []
    if not NAME_RE.match(name) or len(name) > 253:
        errs.append(
            (
                "metadata.name",
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain '
                "must consist of lower case alphanumeric characters, '-' or '.', and must "
                "start and end with an alphanumeric character",
            )
        )
    spec = obj.get("spec")
    if res.kind == "Pod":
        errs += _containers_errors(spec, "spec")
    elif res.kind in ("Deployment", "StatefulSet", "ReplicaSet", "Job", "DaemonSet"):
        spec = spec if isinstance(spec, dict) else {}
        tmpl = spec.get("template") or {}
        errs += _containers_errors(tmpl.get("spec"), "spec.template.spec")
        labels = (tmpl.get("metadata") or {}).get("labels") or {}
        if res.kind != "Job":
            if not spec.get("selector"):
                errs.append(("spec.selector", "Required value"))
            elif not match_label_selector_obj(spec["selector"], labels):
                errs.append(
                    (
                        "spec.template.metadata.labels",
                        f"Invalid value: {labels}: `selector` does not match template `labels`",
                    )
                )
    if errs:
        raise invalid(res.kind, res.group, name, errs)
