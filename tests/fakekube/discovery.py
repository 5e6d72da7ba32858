"""Discovery documents (/version, /api, /apis...) built from the live resource registry."""

from __future__ import annotations

from typing import Any

from .resources import Registry, Resource

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-fakekube",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}


def api_groups(registry: Registry) -> dict[str, Any]:
    groups = [_group(g, vs) for g, vs in registry.groups().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, name: str) -> dict[str, Any] | None:
    versions = registry.groups().get(name)
    if not versions or not name:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    resources = [r for r in registry.all() if r.group == group and r.version == version]
    if not resources:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [entry for r in resources for entry in r.discovery()],
    }


def _aggregated_resource(res: Resource) -> dict[str, Any]:
    kind = {"group": "", "version": "", "kind": res.kind}
    entry: dict[str, Any] = {
        "resource": res.plural,
        "responseKind": kind,
        "scope": "Namespaced" if res.namespaced else "Cluster",
        "singularResource": res.singular,
        "verbs": list(res.verbs),
    }
    if res.short_names:
        entry["shortNames"] = list(res.short_names)
    if res.categories:
        entry["categories"] = list(res.categories)
    subs = [e for e in res.discovery()[1:]]
    if subs:
        entry["subresources"] = [
            {
                "subresource": e["name"].split("/", 1)[1],
                "responseKind": {"group": "", "version": "", "kind": e["kind"]},
                "verbs": e["verbs"],
            }
            for e in subs
        ]
    return entry


def aggregated(registry: Registry, legacy: bool) -> dict[str, Any]:
    """``APIGroupDiscoveryList`` v2beta1 (what a 1.28 server answers kubectl#5/#6) for /api or
    /apis, from the live registry."""
    items = []
    for group, versions in registry.groups().items():
        if (group == "") != legacy:
            continue
        meta: dict[str, Any] = {"creationTimestamp": None}
        if group:
            meta["name"] = group
        vers = []
        for version in versions:
            resources = [r for r in registry.all() if r.group == group and r.version == version]
            vers.append(
                {
                    "version": version,
                    "resources": [_aggregated_resource(r) for r in resources],
                    "freshness": "Current",
                }
            )
        items.append({"metadata": meta, "versions": vers})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2beta1",
        "metadata": {},
        "items": items,
    }
