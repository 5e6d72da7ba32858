"""The object store: every kind in one map, a global resourceVersion and watch fan-out.

All methods run on the server's event loop thread; nothing here blocks. Stored objects are
never mutated in place: writes store fresh copies, so readers may serialize them freely.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import errors
from .defaults import apply_defaults, validate
from .resources import BUILTIN, Registry, Resource

Key = tuple[str, str]
Obj = dict[str, Any]
HISTORY = 20000
Dependents = list[tuple[Resource, Obj]]  # alias: Store.list shadows list in the class
CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
NO_GENERATION = {("", "namespaces"), ("", "services")}  # kubectl#28/#139: none on the wire


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def random_suffix(n: int = 5) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(secrets.choice(alphabet) for _ in range(n))


@dataclass
class Event:
    rv: int
    key: Key
    type: str  # ADDED | MODIFIED | DELETED
    obj: Obj
    old: Obj | None = None


@dataclass(eq=False)
class Watcher:
    key: Key
    namespace: str | None
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)


def _ns_name(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


def _spec_part(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


class Store:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.rv = 1000
        self.objects: dict[Key, dict[tuple[str, str], Obj]] = {}
        self.history: deque[Event] = deque(maxlen=HISTORY)
        self.watchers: set[Watcher] = set()
        self.listeners: list[Callable[[Event], None]] = []
        self.compacted_rv = 0

    def compact(self) -> int:
        """Forget watch history (like etcd compaction): older resumes get 410 Gone."""
        self.history.clear()
        self.compacted_rv = self.rv
        return self.rv

    # ---- reads -------------------------------------------------------------------------
    def get(self, res: Resource, ns: str, name: str) -> Obj:
        obj = self.objects.get(res.key, {}).get((ns if res.namespaced else "", name))
        if obj is None:
            raise errors.not_found(res.group, res.plural, name)
        return obj

    def find(self, res: Resource, ns: str, name: str) -> Obj | None:
        return self.objects.get(res.key, {}).get((ns if res.namespaced else "", name))

    def list(
        self, res: Resource, ns: str | None, pred: Callable[[Obj], bool] | None = None
    ) -> list[Obj]:
        items = []
        for (ons, _), obj in sorted(self.objects.get(res.key, {}).items()):
            if ns and res.namespaced and ons != ns:
                continue
            if pred is None or pred(obj):
                items.append(obj)
        return items

    def kind_of(self, key: Key) -> Resource:
        res = self.registry.by_key(key)
        assert res is not None, key
        return res

    # ---- writes ------------------------------------------------------------------------
    def _commit(self, res: Resource, obj: Obj, type_: str, old: Obj | None) -> Obj:
        if res.key == CRD_KEY and type_ == "DELETED":
            self._drop_custom_objects(obj["metadata"]["name"])
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        bucket = self.objects.setdefault(res.key, {})
        if type_ == "DELETED":
            bucket.pop(_ns_name(obj), None)
        else:
            bucket[_ns_name(obj)] = obj
        if res.key == CRD_KEY:
            self.registry.set_crd(obj["metadata"]["name"], None if type_ == "DELETED" else obj)
        event = Event(self.rv, res.key, type_, obj, old)
        self.history.append(event)
        for w in list(self.watchers):
            if w.key == res.key and (w.namespace is None or w.namespace == _ns_name(obj)[0]):
                w.queue.put_nowait(event)
        for listener in list(self.listeners):
            listener(event)
        return obj

    def _drop_custom_objects(self, crd_name: str) -> None:
        """Deleting a CRD deletes its custom objects (watchers see DELETED)."""
        for cres in self.registry.custom(crd_name):
            for obj in list(self.objects.get(cres.key, {}).values()):
                self._commit(cres, copy.deepcopy(obj), "DELETED", obj)
            self.objects.pop(cres.key, None)

    def _check_namespace(self, res: Resource, ns: str) -> None:
        if not res.namespaced:
            return
        ns_res = self.kind_of(("", "namespaces"))
        nso = self.find(ns_res, "", ns)
        if nso is None:
            raise errors.not_found("", "namespaces", ns)
        if nso["metadata"].get("deletionTimestamp"):
            raise errors.ApiError(
                403,
                "Forbidden",
                f'{res.plural} "{ns}" is forbidden: unable to create new '
                f"content in namespace {ns} because it is being terminated",
                {"name": ns, "kind": res.plural},
            )

    def create(self, res: Resource, ns: str, body: Obj, dry_run: bool = False) -> Obj:
        obj = copy.deepcopy(body)
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + random_suffix()
        if res.namespaced:
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        for drop in ("resourceVersion", "uid", "deletionTimestamp", "selfLink"):
            meta.pop(drop, None)
        apply_defaults(res, obj)
        validate(res, obj)
        self._check_namespace(res, ns)
        if self.find(res, ns, meta["name"]) is not None:
            raise errors.already_exists(res.group, res.plural, meta["name"])
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_iso()
        if ("spec" in obj and res.key not in NO_GENERATION) or res not in BUILTIN:
            meta["generation"] = 1
        if dry_run:
            meta["resourceVersion"] = str(self.rv)
            return obj
        return self._commit(res, obj, "ADDED", None)

    def replace(
        self,
        res: Resource,
        ns: str,
        name: str,
        body: Obj,
        *,
        subresource: str = "",
        dry_run: bool = False,
        check_rv: bool = True,
    ) -> Obj:
        """PUT semantics (also the end of every PATCH): preconditions, generation, status."""
        old = self.get(res, ns, name)
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        want_rv = meta.get("resourceVersion")
        if check_rv and want_rv and want_rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(res.group, res.plural, name)
        if meta.get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not "
                f"match the name on the URL ({name})"
            )
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        if subresource == "status":
            new = copy.deepcopy(old)
            new["status"] = obj.get("status", {})
            obj = new
        elif res.status_subresource and "status" in old:
            obj["status"] = copy.deepcopy(old["status"])
        elif res.status_subresource:
            obj.pop("status", None)
        meta = obj["metadata"]
        for keep in (
            "uid",
            "creationTimestamp",
            "namespace",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if keep in old["metadata"]:
                meta[keep] = old["metadata"][keep]
            else:
                meta.pop(keep, None)
        meta["name"] = name
        apply_defaults(res, obj)
        validate(res, obj)
        if "generation" in meta and _spec_part(obj) != _spec_part(old):
            meta["generation"] = int(meta["generation"]) + 1
        if dry_run:
            meta["resourceVersion"] = old["metadata"]["resourceVersion"]
            return obj
        if obj == old or _same_but_rv(obj, old):
            return old
        return self._commit(res, obj, "MODIFIED", old)

    def delete(
        self,
        res: Resource,
        ns: str,
        name: str,
        propagation: str = "Background",
        grace: int | None = None,
        dry_run: bool = False,
    ) -> Obj:
        obj = self.get(res, ns, name)
        if dry_run:
            return obj
        if res.kind == "Pod" and (obj.get("spec") or {}).get("nodeName"):
            if obj["metadata"].get("deletionTimestamp"):
                return obj
            marked = copy.deepcopy(obj)
            marked["metadata"]["deletionTimestamp"] = now_iso()
            g = grace if grace is not None else obj["spec"].get("terminationGracePeriodSeconds", 30)
            marked["metadata"]["deletionGracePeriodSeconds"] = g
            return self._commit(res, marked, "MODIFIED", obj)
        if res.kind == "Namespace":
            return self._delete_namespace(res, obj)
        return self.finalize_delete(res, obj, propagation)

    def finalize_delete(self, res: Resource, obj: Obj, propagation: str = "Background") -> Obj:
        """Remove for good, cascading to dependents (ownerReferences) unless orphaning."""
        current = self.find(res, *_ns_name(obj))
        if current is None:
            return obj
        gone = self._commit(res, copy.deepcopy(current), "DELETED", current)
        uid = current["metadata"]["uid"]
        for dep_res, dep in self._dependents(uid):
            if propagation == "Orphan":
                fixed = copy.deepcopy(dep)
                fixed["metadata"]["ownerReferences"] = [
                    r for r in dep["metadata"]["ownerReferences"] if r.get("uid") != uid
                ]
                self._commit(dep_res, fixed, "MODIFIED", dep)
            else:
                self.delete(dep_res, *_ns_name(dep))
        ns = _ns_name(current)[0]
        if ns and res.kind != "Namespace":
            self.maybe_finish_namespace(ns)
        return gone

    def _dependents(self, uid: str) -> Dependents:
        out = []
        for key, bucket in list(self.objects.items()):
            for dep in list(bucket.values()):
                refs = dep["metadata"].get("ownerReferences") or []
                if any(r.get("uid") == uid for r in refs):
                    out.append((self.kind_of(key), dep))
        return out

    def _delete_namespace(self, res: Resource, obj: Obj) -> Obj:
        if obj["metadata"].get("deletionTimestamp"):
            return obj
        marked = copy.deepcopy(obj)
        marked["metadata"]["deletionTimestamp"] = now_iso()
        marked.setdefault("status", {})["phase"] = "Terminating"
        marked = self._commit(res, marked, "MODIFIED", obj)
        name = obj["metadata"]["name"]
        for key, bucket in list(self.objects.items()):
            kres = self.kind_of(key)
            for (ons, oname), _ in list(bucket.items()):
                if kres.namespaced and ons == name and self.find(kres, ons, oname) is not None:
                    self.delete(kres, ons, oname)
        self.maybe_finish_namespace(name)
        return marked

    def maybe_finish_namespace(self, ns: str) -> None:
        ns_res = self.kind_of(("", "namespaces"))
        nso = self.find(ns_res, "", ns)
        if nso is None or not nso["metadata"].get("deletionTimestamp"):
            return
        for key, bucket in self.objects.items():
            if self.kind_of(key).namespaced and any(o == ns for o, _ in bucket):
                return
        self._commit(ns_res, copy.deepcopy(nso), "DELETED", nso)

    def put_internal(self, res: Resource, obj: Obj) -> Obj:
        """Controllers' write path: no validation, no preconditions, no-op if unchanged."""
        old = self.find(res, *_ns_name(obj))
        if old is None:
            return obj
        if _same_but_rv(obj, old):
            return old
        return self._commit(res, copy.deepcopy(obj), "MODIFIED", old)


def _same_but_rv(a: Obj, b: Obj) -> bool:
    ma = {k: v for k, v in a.get("metadata", {}).items() if k != "resourceVersion"}
    mb = {k: v for k, v in b.get("metadata", {}).items() if k != "resourceVersion"}
    return ma == mb and {k: v for k, v in a.items() if k != "metadata"} == {
        k: v for k, v in b.items() if k != "metadata"
    }


__all__ = ["Store", "Event", "Watcher", "now_iso", "random_suffix"]
