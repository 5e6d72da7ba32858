"""Workload controllers: Deployment -> ReplicaSet -> Pods, StatefulSet, Job.

Level-triggered: any change to a watched kind marks the world dirty and every workload is
reconciled against the store. All writes are idempotent, so the loop settles.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

from .errors import ApiError
from .store import Event, Store, now_iso, random_suffix

log = logging.getLogger("fakekube.controllers")
Obj = dict[str, Any]
WATCHED = {
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("batch", "jobs"),
    ("", "pods"),
}
SAFE = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: Obj) -> str:
    """A stable, DNS-safe hash of a pod template (like k8s' pod-template-hash)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(SAFE[b % len(SAFE)] for b in digest[:10])


def pod_ready(pod: Obj) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def owner_ref(owner: Obj) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def condition(old: list[Obj], type_: str, ok: bool, reason: str, message: str) -> Obj:
    """A condition whose timestamps move only when its status or reason changes."""
    prev = next((c for c in old if c.get("type") == type_), None)
    status = "True" if ok else "False"
    ts = now_iso()
    out = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": ts,
        "lastTransitionTime": ts,
    }
    if prev is not None:
        if prev.get("status") == status:
            out["lastTransitionTime"] = prev.get("lastTransitionTime", ts)
            if prev.get("reason") == reason:
                out["lastUpdateTime"] = prev.get("lastUpdateTime", ts)
    return out


def _progressing(d: Obj, old: list[Obj], rs_name: str, done: bool) -> Obj:
    """Progressing, turning False (ProgressDeadlineExceeded) when a rollout stalls too long."""
    if done:
        return condition(
            old,
            "Progressing",
            True,
            "NewReplicaSetAvailable",
            f'ReplicaSet "{rs_name}" has successfully progressed.',
        )
    prev = next((c for c in old if c.get("type") == "Progressing"), None)
    if (
        prev is not None
        and prev.get("reason") == "ProgressDeadlineExceeded"
        and f'"{rs_name}"' in prev.get("message", "")
    ):
        return prev
    cond = condition(
        old, "Progressing", True, "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.'
    )
    since = datetime.strptime(cond["lastUpdateTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    deadline = int(d["spec"].get("progressDeadlineSeconds", 600))
    if (datetime.now(UTC) - since).total_seconds() > deadline:
        return condition(
            old,
            "Progressing",
            False,
            "ProgressDeadlineExceeded",
            f'ReplicaSet "{rs_name}" has timed out progressing.',
        )
    return cond


class Controllers:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.dirty = asyncio.Event()
        store.listeners.append(self._on_event)

    def _on_event(self, ev: Event) -> None:
        if ev.key in WATCHED:
            self.dirty.set()

    async def run(self) -> None:
        while True:
            # A 1 s tick on top of events lets time-based conditions (progress deadline) fire.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.dirty.wait(), 1.0)
            self.dirty.clear()
            try:
                self.reconcile_all()
            except Exception:  # noqa: BLE001 - keep the controller alive; tests see the log
                log.exception("controller reconcile failed")
            await asyncio.sleep(0.005)

    def _res(self, group: str, plural: str) -> Any:
        return self.store.kind_of((group, plural))

    def _children(self, group: str, plural: str, owner: Obj) -> list[Obj]:
        uid = owner["metadata"]["uid"]
        return [
            o
            for o in self.store.list(self._res(group, plural), owner["metadata"]["namespace"])
            if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])
        ]

    def reconcile_all(self) -> None:
        for d in self.store.list(self._res("apps", "deployments"), None):
            self._deployment(d)
        for rs in self.store.list(self._res("apps", "replicasets"), None):
            self._replicaset(rs)
        for sts in self.store.list(self._res("apps", "statefulsets"), None):
            self._statefulset(sts)
        for job in self.store.list(self._res("batch", "jobs"), None):
            self._job(job)

    def _set_status(self, group: str, plural: str, obj: Obj, status: Obj) -> None:
        if obj.get("status") == status:
            return
        new = dict(obj)
        new["status"] = status
        self.store.put_internal(self._res(group, plural), new)

    def _create(self, group: str, plural: str, ns: str, body: Obj) -> None:
        try:
            self.store.create(self._res(group, plural), ns, body)
        except ApiError as exc:
            if exc.code not in (403, 404, 409):
                raise

    # ---- Deployment ----------------------------------------------------------------------
    def _deployment(self, d: Obj) -> None:
        if d["metadata"].get("deletionTimestamp"):
            return
        spec, ns, name = d["spec"], d["metadata"]["namespace"], d["metadata"]["name"]
        want = int(spec.get("replicas", 1))
        h = template_hash(spec["template"])
        rss = self._children("apps", "replicasets", d)
        new_rs = next(
            (r for r in rss if r["metadata"].get("labels", {}).get("pod-template-hash") == h), None
        )
        old_rss = [r for r in rss if r is not new_rs]
        rs_res = self._res("apps", "replicasets")
        if new_rs is None:
            tmpl = copy.deepcopy(spec["template"])
            tmpl.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
            selector = copy.deepcopy(spec["selector"])
            selector.setdefault("matchLabels", {})["pod-template-hash"] = h
            revs = [
                int(
                    r["metadata"]
                    .get("annotations", {})
                    .get("deployment.kubernetes.io/revision", "0")
                )
                for r in rss
            ]
            self._create(
                "apps",
                "replicasets",
                ns,
                {
                    "metadata": {
                        "name": f"{name}-{h}",
                        "labels": tmpl["metadata"]["labels"],
                        "annotations": {
                            "deployment.kubernetes.io/revision": str(max(revs, default=0) + 1),
                            "deployment.kubernetes.io/desired-replicas": str(want),
                        },
                        "ownerReferences": [owner_ref(d)],
                    },
                    "spec": {"replicas": want, "selector": selector, "template": tmpl},
                },
            )
            return
        if new_rs["spec"].get("replicas") != want:
            self._scale(rs_res, new_rs, want)
        recreate = spec.get("strategy", {}).get("type") == "Recreate"
        new_ready = sum(pod_ready(p) for p in self._children("", "pods", new_rs))
        if recreate or new_ready >= want:
            for r in old_rss:
                if r["spec"].get("replicas", 0) != 0:
                    self._scale(rs_res, r, 0)
        self._deployment_status(d, new_rs, old_rss, want)

    def _scale(self, res: Any, rs: Obj, replicas: int) -> None:
        new = copy.deepcopy(rs)
        new["spec"]["replicas"] = replicas
        self.store.put_internal(res, new)

    def _deployment_status(self, d: Obj, new_rs: Obj, old_rss: list[Obj], want: int) -> None:
        new_pods = [
            p
            for p in self._children("", "pods", new_rs)
            if not p["metadata"].get("deletionTimestamp")
        ]
        old_pods = [
            p
            for r in old_rss
            for p in self._children("", "pods", r)
            if not p["metadata"].get("deletionTimestamp")
        ]
        ready = sum(pod_ready(p) for p in new_pods + old_pods)
        total = len(new_pods) + len(old_pods)
        old = (d.get("status") or {}).get("conditions") or []
        done = len(new_pods) == want and not old_pods and sum(map(pod_ready, new_pods)) >= want
        status: Obj = {
            "observedGeneration": d["metadata"].get("generation", 1),
            "replicas": total,
            "updatedReplicas": len(new_pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(want - ready, 0),
            "conditions": [
                condition(
                    old,
                    "Available",
                    ready >= want,
                    "MinimumReplicasAvailable" if ready >= want else "MinimumReplicasUnavailable",
                    "Deployment has minimum availability."
                    if ready >= want
                    else "Deployment does not have minimum availability.",
                ),
                _progressing(d, old, new_rs["metadata"]["name"], done),
            ],
        }
        for key in (
            "readyReplicas",
            "availableReplicas",
            "updatedReplicas",
            "replicas",
            "unavailableReplicas",
        ):
            if status[key] == 0:
                del status[key]
        self._set_status("apps", "deployments", d, status)

    # ---- ReplicaSet ----------------------------------------------------------------------
    def _replicaset(self, rs: Obj) -> None:
        if rs["metadata"].get("deletionTimestamp"):
            return
        ns, name = rs["metadata"]["namespace"], rs["metadata"]["name"]
        want = int(rs["spec"].get("replicas", 1))
        pods = [
            p for p in self._children("", "pods", rs) if not p["metadata"].get("deletionTimestamp")
        ]
        pod_res = self._res("", "pods")
        for _ in range(want - len(pods)):
            tmpl = copy.deepcopy(rs["spec"]["template"])
            meta = tmpl.get("metadata") or {}
            meta.update({"name": f"{name}-{random_suffix()}", "ownerReferences": [owner_ref(rs)]})
            self._create("", "pods", ns, {"metadata": meta, "spec": tmpl["spec"]})
        if len(pods) > want:
            victims = sorted(pods, key=lambda p: (pod_ready(p), p["metadata"]["creationTimestamp"]))
            for p in victims[: len(pods) - want]:
                self.store.delete(pod_res, ns, p["metadata"]["name"])
        ready = sum(pod_ready(p) for p in pods)
        status: Obj = {
            "replicas": len(pods),
            "fullyLabeledReplicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        self._set_status("apps", "replicasets", rs, status)

    # ---- StatefulSet ---------------------------------------------------------------------
    def _statefulset(self, sts: Obj) -> None:
        if sts["metadata"].get("deletionTimestamp"):
            return
        spec, ns, name = sts["spec"], sts["metadata"]["namespace"], sts["metadata"]["name"]
        want = int(spec.get("replicas", 1))
        rev = f"{name}-{template_hash(spec['template'])}"
        pods = {p["metadata"]["name"]: p for p in self._children("", "pods", sts)}
        pod_res = self._res("", "pods")
        busy = any(
            p["metadata"].get("deletionTimestamp") or not pod_ready(p) for p in pods.values()
        )
        for i in range(want):
            pname = f"{name}-{i}"
            if pname not in pods:
                if busy and spec.get("podManagementPolicy") != "Parallel":
                    break
                tmpl = copy.deepcopy(spec["template"])
                meta = tmpl.get("metadata") or {}
                meta.setdefault("labels", {}).update(
                    {
                        "controller-revision-hash": rev,
                        "statefulset.kubernetes.io/pod-name": pname,
                        "apps.kubernetes.io/pod-index": str(i),
                    }
                )
                meta.update({"name": pname, "ownerReferences": [owner_ref(sts)]})
                pod_spec = dict(tmpl["spec"], hostname=pname)
                if spec.get("serviceName"):
                    pod_spec["subdomain"] = spec["serviceName"]
                self._create("", "pods", ns, {"metadata": meta, "spec": pod_spec})
                busy = True
        for pname, p in sorted(pods.items(), key=lambda kv: -int(kv[0].rsplit("-", 1)[1])):
            idx = int(pname.rsplit("-", 1)[1])
            outdated = p["metadata"].get("labels", {}).get("controller-revision-hash") != rev
            if p["metadata"].get("deletionTimestamp"):
                continue
            if idx >= want or (outdated and not busy):
                self.store.delete(pod_res, ns, pname)
                busy = True
        self._sts_status(sts, pods, rev, want)

    def _sts_status(self, sts: Obj, pods: dict[str, Obj], rev: str, want: int) -> None:
        live = [p for p in pods.values() if not p["metadata"].get("deletionTimestamp")]
        updated = [
            p
            for p in live
            if p["metadata"].get("labels", {}).get("controller-revision-hash") == rev
        ]
        ready = sum(pod_ready(p) for p in live)
        prev = (sts.get("status") or {}).get("currentRevision", rev)
        current = rev if len(updated) == want else prev
        status: Obj = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(live),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "currentReplicas": len(updated) if current == rev else len(live) - len(updated),
            "updatedReplicas": len(updated),
            "currentRevision": current,
            "updateRevision": rev,
            "collisionCount": 0,
        }
        self._set_status("apps", "statefulsets", sts, status)

    # ---- Job -----------------------------------------------------------------------------
    def _job(self, job: Obj) -> None:
        if job["metadata"].get("deletionTimestamp"):
            return
        spec, ns, name = job["spec"], job["metadata"]["namespace"], job["metadata"]["name"]
        status = copy.deepcopy(job.get("status") or {})
        conds = status.get("conditions") or []
        if any(
            c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conds
        ):
            return
        pods = self._children("", "pods", job)
        phases = [(p.get("status") or {}).get("phase") for p in pods]
        succeeded, failed = phases.count("Succeeded"), phases.count("Failed")
        active = [
            p
            for p, ph in zip(pods, phases, strict=True)
            if ph not in ("Succeeded", "Failed") and not p["metadata"].get("deletionTimestamp")
        ]
        completions = int(spec.get("completions", 1))
        status.setdefault("startTime", now_iso())
        status.update(
            {
                "succeeded": succeeded,
                "failed": failed,
                "active": len(active),
                "ready": sum(pod_ready(p) for p in active),
            }
        )
        if succeeded >= completions:
            status["completionTime"] = now_iso()
            status["conditions"] = [condition(conds, "Complete", True, "", "")]
        elif failed > int(spec.get("backoffLimit", 6)):
            status["conditions"] = [
                condition(
                    conds,
                    "Failed",
                    True,
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                )
            ]
            for p in active:
                self.store.delete(self._res("", "pods"), ns, p["metadata"]["name"])
        else:
            room = min(int(spec.get("parallelism", 1)), completions - succeeded) - len(active)
            for _ in range(room):
                tmpl = copy.deepcopy(spec["template"])
                meta = tmpl.get("metadata") or {}
                meta.setdefault("labels", {}).update(
                    {
                        "job-name": name,
                        "batch.kubernetes.io/job-name": name,
                        "controller-uid": job["metadata"]["uid"],
                    }
                )
                meta.update(
                    {"name": f"{name}-{random_suffix()}", "ownerReferences": [owner_ref(job)]}
                )
                self._create("", "pods", ns, {"metadata": meta, "spec": tmpl["spec"]})
        for key in [k for k, v in status.items() if v == 0]:
            del status[key]
        self._set_status("batch", "jobs", job, status)
