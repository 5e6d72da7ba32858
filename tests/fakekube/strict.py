"""``fieldValidation=Strict``: unknown fields are a 400, as kubectl (which sends Strict) sees.

The real server checks against the full schema; the fake knows each built-in kind's top-level
fields and ObjectMeta's, which is where a typo in a manifest usually lands (kubectl#112).
Custom resources are not checked (the fake keeps no CRD schemas).
"""

from __future__ import annotations

from typing import Any

from . import errors
from .resources import BUILTIN, Resource

COMMON = {"apiVersion", "kind", "metadata"}
SPEC = COMMON | {"spec", "status"}
META = {
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
}
CORE_EVENT = {
    "involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count",
    "type", "eventTime", "series", "action", "related", "reportingComponent",
    "reportingInstance",
}  # fmt: skip
EVENTS_V1 = {
    "eventTime", "series", "reportingController", "reportingInstance", "action", "reason",
    "regarding", "related", "note", "type", "deprecatedSource", "deprecatedFirstTimestamp",
    "deprecatedLastTimestamp", "deprecatedCount",
}  # fmt: skip
# kind (by group) -> top-level fields besides apiVersion/kind/metadata, when not spec/status
FIELDS: dict[tuple[str, str], set[str]] = {
    ("", "ConfigMap"): {"data", "binaryData", "immutable"},
    ("", "Secret"): {"data", "stringData", "type", "immutable"},
    ("", "ServiceAccount"): {"secrets", "imagePullSecrets", "automountServiceAccountToken"},
    ("", "Endpoints"): {"subsets"},
    ("", "Event"): CORE_EVENT,
    ("", "PodTemplate"): {"template"},
    ("", "ComponentStatus"): {"conditions"},
    ("events.k8s.io", "Event"): EVENTS_V1,
    ("apps", "ControllerRevision"): {"data", "revision"},
    ("rbac.authorization.k8s.io", "Role"): {"rules"},
    ("rbac.authorization.k8s.io", "ClusterRole"): {"rules", "aggregationRule"},
    ("rbac.authorization.k8s.io", "RoleBinding"): {"subjects", "roleRef"},
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): {"subjects", "roleRef"},
    ("discovery.k8s.io", "EndpointSlice"): {"addressType", "endpoints", "ports"},
    ("scheduling.k8s.io", "PriorityClass"): {
        "value",
        "globalDefault",
        "description",
        "preemptionPolicy",
    },  # fmt: skip
    ("storage.k8s.io", "StorageClass"): {
        "provisioner",
        "parameters",
        "reclaimPolicy",
        "mountOptions",
        "allowVolumeExpansion",
        "volumeBindingMode",
        "allowedTopologies",
    },  # fmt: skip
    ("storage.k8s.io", "CSIStorageCapacity"): {
        "nodeTopology",
        "storageClassName",
        "capacity",
        "maximumVolumeSize",
    },  # fmt: skip
    ("node.k8s.io", "RuntimeClass"): {"handler", "overhead", "scheduling"},
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): {"webhooks"},
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): {"webhooks"},
}


def unknown_fields(res: Resource, body: dict[str, Any]) -> list[str]:
    """Dotted names of the fields the kind does not have (empty for custom resources)."""
    if res not in BUILTIN:
        return []
    extra = FIELDS.get((res.group, res.kind))
    allowed = COMMON | extra if extra is not None else SPEC
    out = [k for k in body if k not in allowed]
    meta = body.get("metadata")
    if isinstance(meta, dict):
        out += [f"metadata.{k}" for k in meta if k not in META]
    return out


def check(res: Resource, body: dict[str, Any], query: Any, apply: bool = False) -> None:
    """Raise the real server's 400 for unknown fields when the request asks Strict."""
    if query.get("fieldValidation") != "Strict":
        return
    bad = unknown_fields(res, body)
    if not bad:
        return
    if apply:
        gvk = f"{res.api_version if res.group else '/' + res.version}, Kind={res.kind}"
        raise errors.bad_request(
            f"failed to create typed patch object ({gvk}): "
            + "; ".join(f".{name}: field not declared in schema" for name in bad)
        )
    raise errors.bad_request(
        f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: '
        "strict decoding error: " + ", ".join(f'unknown field "{name}"' for name in bad)
    )
