"""What the renderer knows about kinds: cluster scope, where pod specs sit, workloads."""

from __future__ import annotations

from typing import Any

# Built-in kinds that have no namespace (kubectl api-resources --namespaced=false).
CLUSTER_SCOPED = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "FlowSchema",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PodSecurityPolicy",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    }
)

# Where the pod spec sits in each workload kind.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}

WORKLOAD_KINDS = frozenset(POD_SPEC_PATHS)


def dig(obj: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` (mappings only), or None."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    path = POD_SPEC_PATHS.get(str(obj.get("kind")))
    found = dig(obj, path) if path else None
    return found if isinstance(found, dict) else None


def pod_metadata(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template's metadata (the Pod's own for a Pod), created when absent."""
    path = POD_SPEC_PATHS.get(str(obj.get("kind")))
    if path is None:
        return None
    parent = dig(obj, path[:-1]) if len(path) > 1 else obj
    if not isinstance(parent, dict):
        return None
    meta = parent.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        rest = {k: v for k, v in parent.items() if k != "metadata"}
        parent.clear()
        parent.update({"metadata": meta, **rest})  # metadata before spec, for readers
    return meta


def custom_scopes(objects: list[dict[str, Any]]) -> dict[str, bool]:
    """Kinds defined by CRDs among ``objects`` -> whether each is cluster-scoped."""
    scopes: dict[str, bool] = {}
    for obj in objects:
        if obj.get("kind") != "CustomResourceDefinition":
            continue
        kind = dig(obj, ("spec", "names", "kind"))
        if isinstance(kind, str):
            scopes[kind] = dig(obj, ("spec", "scope")) == "Cluster"
    return scopes


def is_cluster_scoped(kind: str, custom: dict[str, bool]) -> bool:
    return custom.get(kind, kind in CLUSTER_SCOPED)
