"""REST routes for every stored kind: CRUD, list/watch, patch flavours, apply, delete.

Paths are parsed by hand (``/api/v1/...`` and ``/apis/<g>/<v>/...``) because the namespace
object and namespaced collections share the ``namespaces/<name>`` prefix.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web

from . import discovery, errors, kubeproto, managed, negotiate, patch, strict, tables
from .errors import ApiError
from .headers import api_headers
from .resources import Resource
from .selectors import field_selector, label_selector
from .store import Store
from .watch import serve_watch, too_old

PodHandler = Callable[[web.Request, dict[str, Any]], Awaitable[web.StreamResponse]]


@dataclass
class Target:
    res: Resource
    ns: str
    name: str
    sub: str


def json_response(body: Any, status: int = 200) -> web.Response:
    """``Content-Type: application/json`` without a charset, as the real server sends it."""
    headers = {**api_headers(), "Content-Type": "application/json"}
    return web.Response(body=json.dumps(body).encode(), status=status, headers=headers)


def page_not_found() -> web.Response:
    """What the real server's mux answers for a group/version it does not serve (discovery#11)."""
    return web.Response(
        status=404,
        text="404 page not found\n",
        headers={
            **api_headers(),
            "Content-Type": "text/plain; charset=utf-8",
            "X-Content-Type-Options": "nosniff",
        },
    )


NOT_FOUND = "the server could not find the requested resource"


def partial(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def success_status(res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": obj["metadata"]["name"],
            **({"group": res.group} if res.group else {}),
            "kind": res.plural,
            "uid": obj["metadata"]["uid"],
        },
    }


class Api:
    def __init__(self, store: Store, pod_handlers: dict[str, PodHandler]) -> None:
        self.store = store
        self.pod_handlers = pod_handlers

    # ---- routing -----------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._route(request)
        except ApiError as exc:
            return json_response(exc.status(), exc.code)

    async def _route(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        reg = self.store.registry
        accept = request.headers.get("Accept", "")
        if len(parts) == 1:
            legacy = parts[0] == "api"
            if negotiate.discovery_kind(accept) == "aggregated":
                return negotiate.etagged(
                    request, discovery.aggregated(reg, legacy), negotiate.AGGREGATED
                )
            if legacy:
                return json_response(discovery.api_versions(request.host))
            return json_response(discovery.api_groups(reg))
        if parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        else:
            if len(parts) == 2:
                doc = discovery.api_group(reg, parts[1])
                return page_not_found() if doc is None else json_response(doc)
            group, version, rest = parts[1], parts[2], parts[3:]
        gv_doc = discovery.resource_list(reg, group, version)
        if gv_doc is None:
            return page_not_found()
        if not rest:
            negotiate.check_acceptable(accept)
            return json_response(gv_doc)
        ns = ""
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
            ns, rest = rest[1], rest[2:]
        res = reg.lookup(group, version, rest[0])
        if res is None or len(rest) > 3:
            raise ApiError(404, "NotFound", NOT_FOUND, {})
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if sub and sub not in res.subresources:
            raise ApiError(404, "NotFound", NOT_FOUND, {})
        target = Target(res, ns, name, sub)
        if sub not in self.pod_handlers:
            negotiate.check_acceptable(accept)
        if not name:
            return await self._collection(request, target)
        return await self._item(request, target)

    def _doc_or_404(self, doc: dict[str, Any] | None, path: str) -> web.Response:
        if doc is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return json_response(doc)

    # ---- collections -------------------------------------------------------------------
    async def _collection(self, request: web.Request, t: Target) -> web.StreamResponse:
        q = request.query
        lsel, fsel = label_selector(q.get("labelSelector")), field_selector(q.get("fieldSelector"))

        def pred(o: dict[str, Any]) -> bool:
            return lsel(o) and fsel(o)

        ns = t.ns or None
        if request.method == "GET":
            if q.get("watch") in ("true", "1"):
                return await serve_watch(
                    request,
                    self.store,
                    t.res,
                    ns,
                    pred,
                    tables.wants_table(request.headers.get("Accept", "")),
                )
            if q.get("resourceVersionMatch") == "Exact" and too_old(
                self.store, q.get("resourceVersion", "")
            ):
                raise ApiError(
                    410, "Expired", "The resourceVersion for the provided list is too old."
                )
            items = self.store.list(t.res, ns, pred)
            accept = request.headers.get("Accept", "")
            rv = str(self.store.rv)
            if tables.wants_table(accept):
                return json_response(tables.table(t.res.kind, items, rv))
            if negotiate.wants_as(accept, "PartialObjectMetadataList"):
                return json_response(
                    {
                        "kind": "PartialObjectMetadataList",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": {"resourceVersion": rv},
                        "items": [partial(o) for o in items] or None,
                    }
                )
            return json_response(
                {
                    "kind": f"{t.res.kind}List",
                    "apiVersion": t.res.api_version,
                    "metadata": {"resourceVersion": rv},
                    "items": items,
                }
            )
        if request.method == "POST":
            body = await _read_body(request, t.res)
            if not t.res.namespaced and t.ns:
                raise errors.bad_request("cluster-scoped resource in a namespace path")
            body_ns = (body.get("metadata") or {}).get("namespace")
            if t.res.namespaced and body_ns and body_ns != t.ns:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            _check_kind(t.res, body)
            strict.check(t.res, body, q)
            body.setdefault("metadata", {})["managedFields"] = managed.update_fields(
                None, body, _manager(request), t.res.api_version
            )
            obj = self.store.create(t.res, t.ns, body, dry_run=_dry(q))
            return json_response(obj, 201)
        if request.method == "DELETE":
            opts = await _delete_options(request)
            items = self.store.list(t.res, ns, pred)
            for obj in items:
                self.store.delete(
                    t.res, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], **opts
                )
            return json_response(
                {
                    "kind": f"{t.res.kind}List",
                    "apiVersion": t.res.api_version,
                    "metadata": {"resourceVersion": str(self.store.rv)},
                    "items": items,
                }
            )
        raise ApiError(405, "MethodNotAllowed", f"{request.method} is not supported")

    # ---- items -------------------------------------------------------------------------
    async def _item(self, request: web.Request, t: Target) -> web.StreamResponse:
        if t.res.namespaced and not t.ns:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if t.sub in self.pod_handlers and t.res.kind == "Pod":
            return await self.pod_handlers[t.sub](request, self.store.get(t.res, t.ns, t.name))
        if t.sub == "scale":
            return await self._scale(request, t)
        m = request.method
        if m == "GET":
            obj = self.store.get(t.res, t.ns, t.name)
            accept = request.headers.get("Accept", "")
            if tables.wants_table(accept) and not t.sub:
                return json_response(tables.table(t.res.kind, [obj], str(self.store.rv)))
            if negotiate.wants_as(accept, "PartialObjectMetadata") and not t.sub:
                return json_response(partial(obj))
            return json_response(obj)
        if m == "PUT":
            body = await _read_body(request, t.res)
            _check_kind(t.res, body)
            strict.check(t.res, body, request.query)
            live = self.store.get(t.res, t.ns, t.name)
            _track_update(request, t, live, body)
            obj = self.store.replace(
                t.res, t.ns, t.name, body, subresource=t.sub, dry_run=_dry(request.query)
            )
            return json_response(obj)
        if m == "PATCH":
            obj, code = await self._patch(request, t)
            return json_response(obj, code)
        if m == "DELETE":
            opts = await _delete_options(request)
            obj = self.store.delete(t.res, t.ns, t.name, **opts)
            # kubectl#129-#132, #139, pyclient#19: these kinds answer with the object itself
            if t.res.key in RETURNS_OBJECT:
                return json_response(obj)
            return json_response(success_status(t.res, obj))
        raise ApiError(405, "MethodNotAllowed", f"{m} is not supported")

    async def _patch(self, request: web.Request, t: Target) -> tuple[dict[str, Any], int]:
        ctype = request.content_type
        raw = await request.read()
        q = request.query
        if ctype == "application/apply-patch+yaml":
            return self._apply(t, _parse(raw, yaml_ok=True), q)
        live = self.store.get(t.res, t.ns, t.name)
        body = _parse(raw)
        if ctype == "application/merge-patch+json":
            new = patch.merge_patch(live, body)
        elif ctype == "application/strategic-merge-patch+json":
            new = patch.strategic_merge(live, body)
        elif ctype == "application/json-patch+json":
            new = patch.json_patch(copy.deepcopy(live), body)
        else:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format: {ctype}",
            )
        _track_update(request, t, live, new)
        obj = self.store.replace(t.res, t.ns, t.name, new, subresource=t.sub, dry_run=_dry(q))
        return obj, 200

    def _apply(self, t: Target, cfg: Any, q: Any) -> tuple[dict[str, Any], int]:
        """Server-side apply: 201 when it creates (kubectl#8-#11), 409 on another manager's
        fields unless ``force`` (kubectl#29/#30), managedFields kept per manager."""
        manager = q.get("fieldManager")
        if not manager:
            raise errors.bad_request("PATCH with apply requires a fieldManager query parameter")
        if not isinstance(cfg, dict):
            raise errors.bad_request("apply config must be an object")
        _check_kind(t.res, cfg, required=True)
        meta = cfg.setdefault("metadata", {})
        if meta.get("name", t.name) != t.name:
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not "
                f"match the name on the URL ({t.name})"
            )
        meta["name"] = t.name
        meta.pop("managedFields", None)
        strict.check(t.res, cfg, q, apply=True)
        live = self.store.find(t.res, t.ns, t.name)
        force = q.get("force") in ("true", "1")
        if live is None:
            if t.sub:
                raise errors.not_found(t.res.group, t.res.plural, t.name)
            body = copy.deepcopy(cfg)
            body["metadata"]["managedFields"], _ = managed.apply_fields(
                None, cfg, manager, t.res.api_version, force
            )
            obj, code = self.store.create(t.res, t.ns, body, dry_run=_dry(q)), 201
        else:
            fields, removed = managed.apply_fields(live, cfg, manager, t.res.api_version, force)
            merged = patch.strategic_merge(live, cfg)
            managed.prune(merged, removed)
            merged["metadata"]["managedFields"] = fields
            merged["metadata"]["resourceVersion"] = (
                meta.get("resourceVersion") or live["metadata"]["resourceVersion"]
            )
            obj = self.store.replace(
                t.res, t.ns, t.name, merged, subresource=t.sub, dry_run=_dry(q)
            )
            code = 200
        return obj, code

    async def _scale(self, request: web.Request, t: Target) -> web.Response:
        obj = self.store.get(t.res, t.ns, t.name)
        if request.method in ("PUT", "PATCH"):
            body = _parse(await request.read())
            replicas = (body.get("spec") or {}).get("replicas")
            if replicas is not None:
                new = copy.deepcopy(obj)
                new["spec"]["replicas"] = int(replicas)
                obj = self.store.replace(t.res, t.ns, t.name, new)
        return json_response(
            {
                "kind": "Scale",
                "apiVersion": "autoscaling/v1",
                "metadata": {
                    k: obj["metadata"][k] for k in ("name", "namespace", "uid", "resourceVersion")
                },
                "spec": {"replicas": obj["spec"].get("replicas", 1)},
                "status": {"replicas": (obj.get("status") or {}).get("replicas", 0)},
            }
        )


RETURNS_OBJECT = {("", "pods"), ("", "services"), ("", "namespaces")}


def _manager(request: web.Request) -> str:
    return request.query.get("fieldManager") or managed.default_manager(
        request.headers.get("User-Agent", "")
    )


def _track_update(request: web.Request, t: Target, live: dict[str, Any], new: Any) -> None:
    """A PUT/PATCH by a manager owns what it changed (status writes are not tracked)."""
    if not isinstance(new, dict):
        return
    meta = new.setdefault("metadata", {})
    if t.sub:
        meta["managedFields"] = copy.deepcopy(live["metadata"].get("managedFields"))
        if meta["managedFields"] is None:
            meta.pop("managedFields")
        return
    fields = managed.update_fields(live, new, _manager(request), t.res.api_version)
    if fields:
        meta["managedFields"] = fields
    else:
        meta.pop("managedFields", None)


def _dry(q: Any) -> bool:
    return "All" in q.getall("dryRun", [])


def _parse(raw: bytes, yaml_ok: bool = False) -> Any:
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        if yaml_ok:
            try:
                return yaml.safe_load(raw)
            except yaml.YAMLError:
                pass
        raise errors.bad_request(f"error decoding body: {exc}") from exc


def _unsupported(ctype: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"application/json, application/yaml, application/vnd.kubernetes.protobuf ({ctype})",
    )


async def _read_body(request: web.Request, res: Resource) -> dict[str, Any]:
    """JSON/YAML bodies, and protobuf for the kinds kubectl creates typed (kubectl#2/#93/#94)."""
    ctype = request.content_type
    if ctype == "application/vnd.kubernetes.protobuf":
        try:
            return kubeproto.decode(await request.read())
        except kubeproto.Unsupported as exc:
            raise _unsupported(ctype) from exc
    if "protobuf" in ctype or "cbor" in ctype:
        raise _unsupported(ctype)
    body = _parse(await request.read(), yaml_ok=True)
    if not isinstance(body, dict):
        raise errors.bad_request("request body must be a JSON object")
    return body


async def _delete_options(request: web.Request) -> dict[str, Any]:
    body = _parse(await request.read()) if request.can_read_body else {}
    q = request.query
    policy = q.get("propagationPolicy") or (body or {}).get("propagationPolicy") or "Background"
    grace = q.get("gracePeriodSeconds") or (body or {}).get("gracePeriodSeconds")
    return {
        "propagation": policy,
        "grace": None if grace is None else int(grace),
        "dry_run": _dry(q) or "All" in ((body or {}).get("dryRun") or []),
    }


def _check_kind(res: Resource, body: dict[str, Any], required: bool = False) -> None:
    kind, api_version = body.get("kind"), body.get("apiVersion")
    if required and (not kind or not api_version):
        raise errors.bad_request("apiVersion and kind are required")
    if kind and kind != res.kind:
        raise errors.bad_request(
            f"the kind of the object ({kind}) does not match the URL ({res.kind})"
        )
    if api_version and api_version != res.api_version:
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match "
            f"the expected API version ({res.api_version})"
        )
