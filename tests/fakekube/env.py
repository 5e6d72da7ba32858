"""Container environment from a pod spec: value, valueFrom (configMap/secret/field), envFrom."""

from __future__ import annotations

import base64
from typing import Any

from .store import Store


def _field(pod: dict[str, Any], path: str, pod_ip: str) -> str:
    meta = pod["metadata"]
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "status.podIP": pod_ip,
        "spec.nodeName": "fakekube-node",
        "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
        "status.hostIP": pod_ip,
    }
    if path in simple:
        return str(simple[path] or "")
    for prefix, src in (("metadata.labels", "labels"), ("metadata.annotations", "annotations")):
        if path.startswith(prefix + "['") and path.endswith("']"):
            return str((meta.get(src) or {}).get(path[len(prefix) + 2 : -2], ""))
    return ""


def _data(store: Store, kind: str, ns: str, name: str) -> dict[str, str] | None:
    res = store.kind_of(("", "configmaps" if kind == "cm" else "secrets"))
    obj = store.find(res, ns, name)
    if obj is None:
        return None
    if kind == "cm":
        return dict(obj.get("data") or {})
    out = {
        k: base64.b64decode(v).decode("utf-8", "replace")
        for k, v in (obj.get("data") or {}).items()
    }
    out.update(obj.get("stringData") or {})
    return out


class EnvError(Exception):
    """A referenced ConfigMap/Secret (key) is missing: CreateContainerConfigError."""


def resolve_env(
    store: Store, pod: dict[str, Any], container: dict[str, Any], pod_ip: str
) -> dict[str, str]:
    ns = pod["metadata"]["namespace"]
    env: dict[str, str] = {}
    for src in container.get("envFrom") or []:
        ref = src.get("configMapRef") or src.get("secretRef")
        kind = "cm" if "configMapRef" in src else "secret"
        data = _data(store, kind, ns, ref.get("name", ""))
        if data is None:
            if not ref.get("optional"):
                raise EnvError(
                    f'{"configmap" if kind == "cm" else "secret"} "{ref.get("name")}" not found'
                )
            continue
        env.update({src.get("prefix", "") + k: v for k, v in data.items()})
    for item in container.get("env") or []:
        name, vf = item["name"], item.get("valueFrom")
        if vf is None:
            env[name] = str(item.get("value", ""))
        elif "fieldRef" in vf:
            env[name] = _field(pod, vf["fieldRef"].get("fieldPath", ""), pod_ip)
        elif "configMapKeyRef" in vf or "secretKeyRef" in vf:
            kind = "cm" if "configMapKeyRef" in vf else "secret"
            ref = vf.get("configMapKeyRef") or vf.get("secretKeyRef")
            data = _data(store, kind, ns, ref.get("name", "")) or {}
            if ref.get("key") in data:
                env[name] = data[ref["key"]]
            elif not ref.get("optional"):
                what = "configmap" if kind == "cm" else "secret"
                raise EnvError(
                    f"couldn't find key {ref.get('key')} in {what} {ns}/{ref.get('name')}"
                )
    return env
