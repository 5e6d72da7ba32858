"""Minimal OpenAPI v3 documents: enough for kubectl to see ``fieldValidation`` support.

kubectl (1.27+) asks /openapi/v3/<gv> whether a kind's PATCH takes ``fieldValidation``; if
so it validates server-side and never needs the full schemas.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .resources import Registry, Resource

_PARAMS = [
    {"name": n, "in": "query", "schema": {"type": "string"}, "uniqueItems": True}
    for n in ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")
]


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _paths(res: Resource) -> dict[str, Any]:
    gvk = {"group": res.group, "version": res.version, "kind": res.kind}
    base = "/" + _gv_path(res.group, res.version)
    if res.namespaced:
        base += "/namespaces/{namespace}"
    op = {
        "x-kubernetes-group-version-kind": gvk,
        "parameters": _PARAMS,
        "responses": {"200": {"description": "OK"}},
    }
    item = {
        verb: dict(op, operationId=f"{verb}{res.kind}")
        for verb in ("get", "put", "patch", "delete")
    }
    coll = {verb: dict(op, operationId=f"{verb}{res.kind}List") for verb in ("get", "post")}
    return {f"{base}/{res.plural}/{{name}}": item, f"{base}/{res.plural}": coll}


def group_doc(registry: Registry, gv: str) -> dict[str, Any] | None:
    paths: dict[str, Any] = {}
    for res in registry.all():
        if _gv_path(res.group, res.version) == gv:
            paths.update(_paths(res))
    if not paths:
        return None
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def root_doc(registry: Registry) -> dict[str, Any]:
    out = {}
    for gv in sorted({_gv_path(r.group, r.version) for r in registry.all()}):
        digest = hashlib.sha256(json.dumps(group_doc(registry, gv), sort_keys=True).encode())
        out[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest.hexdigest()[:32]}"}
    return {"paths": out}


def v2_doc(registry: Registry) -> dict[str, Any]:
    """A Swagger 2.0 document with every path (no schemas), for clients that fetch v2."""
    paths: dict[str, Any] = {}
    for res in registry.all():
        for path, ops in _paths(res).items():
            paths[path] = {
                verb: {k: v for k, v in op.items() if k != "parameters"} for verb, op in ops.items()
            }
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": dict(sorted(paths.items())),
        "definitions": {},
    }


def root_paths(registry: Registry) -> dict[str, Any]:
    """``GET /``: every served path, like the real server (discovery#13)."""
    out = {"/api", "/api/v1", "/apis", "/apis/", "/healthz", "/livez", "/readyz", "/version"}
    out |= {"/openapi/v2", "/openapi/v3", "/openapi/v3/"}
    for res in registry.all():
        if res.group:
            out |= {f"/apis/{res.group}", f"/apis/{res.group}/{res.version}"}
    return {"paths": sorted(out)}
