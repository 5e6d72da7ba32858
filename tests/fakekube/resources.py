"""The resource registry: which kinds exist, their REST paths and discovery data.

Built-in kinds are fixed; custom resources appear when a CRD is stored (see ``crd_resources``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CREATE = ("create",)
EXT = ("api-extensions",)


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    status_subresource: bool = field(default=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def singular(self) -> str:
        return self.kind.lower()

    def discovery(self) -> list[dict[str, Any]]:
        """APIResource entries (the resource plus its subresources) for /api/v1 or /apis/g/v."""
        main: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        if self.categories:
            main["categories"] = list(self.categories)
        out = [main]
        for sub in self.subresources:
            verbs = ["get", "patch", "update"] if sub in ("status", "scale") else ["get", "create"]
            kind = "Scale" if sub == "scale" else self.kind
            if sub in ("exec", "portforward", "attach"):
                kind = "PodExecOptions" if sub == "exec" else "PodPortForwardOptions"
            if sub == "log":
                kind, verbs = "Pod", ["get"]
            out.append(
                {
                    "name": f"{self.plural}/{sub}",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": kind,
                    "verbs": verbs,
                }
            )
        return out


def _r(
    group: str,
    version: str,
    plural: str,
    kind: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    subs: tuple[str, ...] = (),
    cats: tuple[str, ...] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
) -> Resource:
    return Resource(
        group,
        version,
        plural,
        kind,
        namespaced,
        short,
        subs,
        cats,
        verbs,
        status_subresource="status" in subs,
    )


BUILTIN: tuple[Resource, ...] = (
    _r("", "v1", "namespaces", "Namespace", False, ("ns",), ("status",)),
    _r("", "v1", "nodes", "Node", False, ("no",), ("status",)),
    _r("", "v1", "pods", "Pod", True, ("po",), ("status", "log", "exec", "portforward"), ("all",)),
    _r("", "v1", "services", "Service", True, ("svc",), ("status",), ("all",)),
    _r("", "v1", "endpoints", "Endpoints", True, ("ep",)),
    _r("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    _r("", "v1", "secrets", "Secret"),
    _r("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",)),
    _r("", "v1", "events", "Event", True, ("ev",)),
    _r("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ("pvc",), ("status",)),
    _r("", "v1", "persistentvolumes", "PersistentVolume", False, ("pv",), ("status",)),
    _r("", "v1", "limitranges", "LimitRange", True, ("limits",)),
    _r("", "v1", "podtemplates", "PodTemplate"),
    _r("", "v1", "replicationcontrollers", "ReplicationController", True, ("rc",), ("status",)),
    _r("", "v1", "resourcequotas", "ResourceQuota", True, ("quota",), ("status",)),
    _r("", "v1", "componentstatuses", "ComponentStatus", False, ("cs",), verbs=("get", "list")),
    _r("apps", "v1", "deployments", "Deployment", True, ("deploy",), ("status", "scale"), ("all",)),
    _r("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), ("status", "scale"), ("all",)),
    _r("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), ("status", "scale"), ("all",)),
    _r("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), ("status",), ("all",)),
    _r("apps", "v1", "controllerrevisions", "ControllerRevision"),
    _r("batch", "v1", "jobs", "Job", True, (), ("status",), ("all",)),
    _r("batch", "v1", "cronjobs", "CronJob", True, ("cj",), ("status",), ("all",)),
    _r("networking.k8s.io", "v1", "ingresses", "Ingress", True, ("ing",), ("status",)),
    _r("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
    _r("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ("netpol",)),
    _r("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _r(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ("crd", "crds"),
        ("status",),
    ),
    # Stored only (no controller), so manifests using them apply like on a real cluster.
    _r(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        True,
        ("hpa",),
        ("status",),
        ("all",),
    ),
    _r(
        "autoscaling",
        "v1",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        True,
        ("hpa",),
        ("status",),
        ("all",),
    ),
    _r("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",), ("status",)),
    _r("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    _r("coordination.k8s.io", "v1", "leases", "Lease"),
    _r("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ("sc",)),
    _r("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ("pc",)),
    # The rest of what a 1.28 server lists (real-1.28.7/discovery): stored only, so clients
    # that walk discovery (loopdev's prune and down, kubectl api-resources) see the same set.
    _r("storage.k8s.io", "v1", "csidrivers", "CSIDriver", False),
    _r("storage.k8s.io", "v1", "csinodes", "CSINode", False),
    _r("storage.k8s.io", "v1", "csistoragecapacities", "CSIStorageCapacity"),
    _r("storage.k8s.io", "v1", "volumeattachments", "VolumeAttachment", False, (), ("status",)),
    _r("events.k8s.io", "v1", "events", "Event", True, ("ev",)),
    _r("apiregistration.k8s.io", "v1", "apiservices", "APIService", False, (), ("status",), EXT),
    _r(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
        cats=EXT,
    ),
    _r(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
        cats=EXT,
    ),
    _r(
        "certificates.k8s.io",
        "v1",
        "certificatesigningrequests",
        "CertificateSigningRequest",
        False,
        ("csr",),
        ("status",),
    ),
    _r("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", False),
    _r(
        "flowcontrol.apiserver.k8s.io",
        "v1beta3",
        "flowschemas",
        "FlowSchema",
        False,
        (),
        ("status",),
    ),
    _r(
        "flowcontrol.apiserver.k8s.io",
        "v1beta3",
        "prioritylevelconfigurations",
        "PriorityLevelConfiguration",
        False,
        (),
        ("status",),
    ),
    _r(
        "flowcontrol.apiserver.k8s.io",
        "v1beta2",
        "flowschemas",
        "FlowSchema",
        False,
        (),
        ("status",),
    ),
    _r(
        "flowcontrol.apiserver.k8s.io",
        "v1beta2",
        "prioritylevelconfigurations",
        "PriorityLevelConfiguration",
        False,
        (),
        ("status",),
    ),
    _r("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False, verbs=CREATE),
    _r(
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "SelfSubjectReview",
        False,
        verbs=CREATE,
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "localsubjectaccessreviews",
        "LocalSubjectAccessReview",
        verbs=CREATE,
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        verbs=CREATE,
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "SelfSubjectRulesReview",
        False,
        verbs=CREATE,
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
        False,
        verbs=CREATE,
    ),
)

PREFERRED_ORDER = (
    "",
    "apps",
    "batch",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "apiextensions.k8s.io",
)


def crd_resources(crd: dict[str, Any]) -> list[Resource]:
    """Resources served for a stored CRD (one per served version)."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    out = []
    for ver in spec.get("versions", []):
        if not ver.get("served", True):
            continue
        subs = tuple(sorted((ver.get("subresources") or {}).keys()))
        out.append(
            Resource(
                group=spec.get("group", ""),
                version=ver["name"],
                plural=names.get("plural", ""),
                kind=names.get("kind", ""),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames", ())),
                subresources=subs,
                categories=tuple(names.get("categories", ())),
                status_subresource="status" in subs,
            )
        )
    return out


class Registry:
    """Looks resources up by (group, version, plural) and by kind; CRDs extend it at runtime."""

    def __init__(self) -> None:
        self._builtin = list(BUILTIN)
        self._custom: dict[str, list[Resource]] = {}

    def set_crd(self, name: str, crd: dict[str, Any] | None) -> None:
        if crd is None:
            self._custom.pop(name, None)
        else:
            self._custom[name] = crd_resources(crd)

    def custom(self, crd_name: str) -> list[Resource]:
        return list(self._custom.get(crd_name, []))

    def all(self) -> list[Resource]:
        return self._builtin + [r for rs in self._custom.values() for r in rs]

    def lookup(self, group: str, version: str, plural: str) -> Resource | None:
        for res in self.all():
            if res.group == group and res.version == version and res.plural == plural:
                return res
        return None

    def by_key(self, key: tuple[str, str]) -> Resource | None:
        for res in self.all():
            if res.key == key:
                return res
        return None

    def groups(self) -> dict[str, list[str]]:
        """group -> served versions, builtin groups first in a stable order."""
        out: dict[str, list[str]] = {}
        for res in self.all():
            versions = out.setdefault(res.group, [])
            if res.version not in versions:
                versions.append(res.version)
        order = {g: i for i, g in enumerate(PREFERRED_ORDER)}
        return dict(sorted(out.items(), key=lambda kv: (order.get(kv[0], 99), kv[0])))
