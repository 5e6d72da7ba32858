"""Apply order: what others depend on goes first; stable within a kind.

Namespaces, CRDs, then identities and RBAC, configuration, storage, Services, workloads,
then everything else (Ingresses, autoscalers, custom resources) in rendered order.
"""

from __future__ import annotations

from typing import Any

APPLY_ORDER: tuple[str, ...] = (
    "Namespace",
    "CustomResourceDefinition",
    "PriorityClass",
    "ResourceQuota",
    "LimitRange",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Secret",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "StatefulSet",
    "Job",
    "CronJob",
)
_RANK = {kind: i for i, kind in enumerate(APPLY_ORDER)}
_REST = len(APPLY_ORDER)


def apply_rank(kind: str) -> int:
    return _RANK.get(kind, _REST)


def order_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``objects`` sorted by kind rank; a stable sort keeps rendered order within a rank."""
    return sorted(objects, key=lambda obj: apply_rank(str(obj.get("kind"))))
